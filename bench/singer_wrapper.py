"""Run singer-io tap-stripe 3.3.0 against the fake.

stripe-python keeps api_base = https://api.stripe.com (the tap's request timer parses the
URL with a regex on api.stripe.com and crashes on any other host); the URL is rewritten to
the fake in requests' HTTPAdapter.send, just before it goes out (stripe-python's
RequestsClient uses requests).

Workaround: 3.3.0 checks the key with GET /v1/accounts/{account_id}; the fake serves only
GET /v1/account (the key's own account, the same object), so Account.retrieve is redirected
to the id-less form. One request either way.
"""
import os
import sys

import stripe

import requests.adapters

BASE = os.environ["BENCH_STRIPE_BASE"].rstrip("/")
_orig_send = requests.adapters.HTTPAdapter.send


def _send(self, request, *args, **kwargs):
    if request.url.startswith("https://api.stripe.com"):
        request.url = BASE + request.url[len("https://api.stripe.com"):]
    return _orig_send(self, request, *args, **kwargs)


requests.adapters.HTTPAdapter.send = _send
_orig_retrieve = stripe.Account.retrieve


def _retrieve_own(id=None, **params):  # noqa: A002
    return _orig_retrieve(**params)


stripe.Account.retrieve = _retrieve_own

import tap_stripe  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "tap-stripe"
    sys.exit(tap_stripe.main())
