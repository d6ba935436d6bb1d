"""Run Airbyte source-stripe 5.14.1 against the fake: rewrite https://api.stripe.com to the fake.

The manifest's url_base is https://api.stripe.com/v1; every request goes through
requests' HTTPAdapter.send, where the URL is rewritten just before it is sent (the CDK's
rate-limit budget, retries and pagination are untouched).
"""
import os
import sys

import requests.adapters

BASE = os.environ["BENCH_STRIPE_BASE"].rstrip("/")
_orig_send = requests.adapters.HTTPAdapter.send


def _send(self, request, *args, **kwargs):
    if request.url.startswith("https://api.stripe.com"):
        request.url = BASE + request.url[len("https://api.stripe.com"):]
    return _orig_send(self, request, *args, **kwargs)


requests.adapters.HTTPAdapter.send = _send

from source_stripe.run import run  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "source-stripe"
    sys.exit(run())
