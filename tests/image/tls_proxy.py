"""An HTTPS front for the fake Stripe server, for the image's TLS test: serves TLS on 127.0.0.1 (a free
port) with the certificate and key given, forwards every request to the fake (plain HTTP) and
returns its answer. Prints `listening on https://127.0.0.1:PORT`, then serves until terminated.

    python tls_proxy.py http://127.0.0.1:FAKE_PORT cert.pem key.pem
"""

from __future__ import annotations

import ssl
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM, CERT, KEY = sys.argv[1:4]
FORWARDED = ("Authorization", "Stripe-Version", "Stripe-Account", "Content-Type", "Idempotency-Key")


class Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: self.headers[k] for k in FORWARDED if self.headers.get(k)}
        request = urllib.request.Request(UPSTREAM + self.path, data=body, method=self.command, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                status, reply, content_type = resp.status, resp.read(), resp.headers.get("Content-Type")
        except urllib.error.HTTPError as e:
            status, reply, content_type = e.code, e.read(), e.headers.get("Content-Type")
        self.send_response(status)
        self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = forward
    do_POST = forward
    do_DELETE = forward

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERT, KEY)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening on https://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
