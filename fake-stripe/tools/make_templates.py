#!/usr/bin/env python3
"""Generate fake-stripe/templates/ from Stripe's OpenAPI description (API version 2024-06-20).

    python3 fake-stripe/tools/make_templates.py [DIR]   # DIR defaults to vendor/stripe-openapi

DIR must hold `spec3-2024-06-20.json` and `fixtures3.json`, each possibly gzip-compressed (`.json.gz`, as in
the repository's vendor/stripe-openapi/). The fake never reads DIR at run time: it embeds
the files written here (commit them).

Outputs, all under fake-stripe/templates/:

  <resource>.json   The base object of a resource: Stripe's example from fixtures3.json conformed to the
                    2024-06-20 component schema, then the BASE overrides below. The fake's generator clones it
                    and fills in ids, timestamps, amounts and names.
  schema.json       Per resource: every property of the component schema (with `nullable`), the
                    `x-expandableFields`, and `conditional`: the properties Stripe leaves out of an object
                    unless they apply (includable fields shown only when expanded, Connect-only fields, ...).
  endpoints.json    Per GET path the fake serves: the query parameters the spec declares and their style.

Conforming rules (fixtures3.json follows a newer API version, so its field set differs):
  * a resource (a schema with `x-resourceId`) gets every property of its schema, except `conditional` ones;
    a property missing from the example becomes null when nullable (else a typed default, reported);
  * a nested non-resource object keeps the example's keys that the schema knows and gains every missing
    property that is required or nullable (null when nullable); other optional keys stay absent, as with
    `payment_method_details.<type>` where only the used type is present;
  * keys the 2024-06-20 schema does not know are dropped (reported on stderr).
Keys are written `id`, `object`, then alphabetically, like Stripe's responses.
"""
import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "templates")
# The spec and fixtures vendored in the repository.
VENDORED = os.path.join(os.path.dirname(os.path.dirname(HERE)), "vendor", "stripe-openapi")


def load(src, name):
    """`name` in `src`, as it is or gzip-compressed (`name.gz`)."""
    path = os.path.join(src, name)
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    with gzip.open(path + ".gz", "rt") as f:
        return json.load(f)

# The resources the fake serves (and nested resources it renders).
RESOURCES = [
    "account", "balance_transaction", "bank_account", "card", "charge", "coupon", "customer",
    "customer_balance_transaction", "dispute", "event", "invoice", "line_item", "price", "refund",
    # Generic resources (stored as rendered JSON, see src/generic.rs).
    "application_fee", "checkout.session", "credit_note", "credit_note_line_item", "fee_refund", "file",
    "file_link", "invoiceitem", "issuing.authorization", "issuing.card", "issuing.cardholder",
    "issuing.transaction", "item", "payment_intent", "payment_link", "payment_method", "payout", "person",
    "plan", "product", "promotion_code", "quote", "radar.early_fraud_warning", "review", "setup_attempt",
    "setup_intent", "shipping_rate", "subscription", "subscription_item", "subscription_schedule", "tax_id",
    "tax_rate", "topup", "transfer", "transfer_reversal", "usage_record_summary",
]

# Resources served generically (src/generic.rs): optional non-nullable properties missing from the example
# are conditional (e.g. a payment method's `sepa_debit` hash when its type is `card`).
GENERIC = RESOURCES[RESOURCES.index("application_fee"):]

# Properties Stripe omits unless they apply. Keep the reason next to each.
CONDITIONAL = {
    # Includable fields: present only with expand[] (https://docs.stripe.com/api/customers/object).
    "customer": ["cash_balance", "invoice_credit_balance", "sources", "subscriptions", "tax", "tax_ids"],
    # refunds: only when expanded since 2022-11-15; transfer: only on destination charges.
    "charge": ["refunds", "transfer"],
    # threshold_reason: only for billing_reason=subscription_threshold;
    # subscription_proration_date: only on subscription invoices with prorations.
    "invoice": ["threshold_reason", "subscription_proration_date"],
    # invoice_item for type=invoiceitem lines, subscription_item for type=subscription lines.
    "line_item": ["invoice_item", "subscription_item"],
    # Connect events only.
    "event": ["account"],
    # company / individual / external_accounts: only for accounts the platform controls.
    "account": ["company", "individual", "external_accounts"],
    # Includable fields (listed in x-expandableFields although they are plain objects).
    "price": ["currency_options", "tiers"],
    "coupon": ["applies_to", "currency_options"],
    "card": ["networks"],
    # Only for refunds that failed, need customer action or carry a description.
    "refund": ["description", "failure_balance_transaction", "failure_reason", "instructions_email", "next_action"],
    # Includable lists (x-expandableFields, shown only when expanded).
    "checkout.session": ["line_items"],
    "quote": ["line_items", "computed_upfront_line_items"],
    "payment_link": ["line_items"],
    "file": ["links"],
    # Only for payment intents / setup intents that need an action or use a mandate... kept when null.
}

# Realistic base values where the example has placeholders. Dotted keys reach into nested objects.
BASE = {
    "customer": {
        "address": None, "discount": None, "shipping": None, "id": "cus_TEMPLATE",
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                             "rendering_options": None},
    },
    "charge": {
        "id": "ch_TEMPLATE", "fraud_details": {}, "shipping": None, "transfer_data": None,
        "outcome": {"network_status": "approved_by_network", "reason": None, "risk_level": "normal",
                    "risk_score": 32, "seller_message": "Payment complete.", "type": "authorized"},
        "radar_options": {},
        "payment_method_details.card.wallet": None,
        "payment_method_details.card.installments": None,
        "payment_method_details.card.overcapture": {"maximum_amount_capturable": 0, "status": "unavailable"},
    },
    "invoice": {
        "id": "in_TEMPLATE", "from_invoice": None, "last_finalization_error": None, "shipping_cost": None,
        "customer_shipping": None, "shipping_details": None, "customer_address": None,
        "rendering": {"amount_tax_display": None, "pdf": {"page_size": "auto"}},
        "payment_settings": {"default_mandate": None, "payment_method_options": None,
                             "payment_method_types": None},
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "lines": {"object": "list", "data": [], "has_more": False, "total_count": 0, "url": ""},
    },
    "line_item": {
        "id": "il_TEMPLATE", "type": "invoiceitem", "proration": False, "proration_details": {"credited_items": None},
        "tax_amounts": [], "tax_rates": [],
    },
    "price": {"id": "price_TEMPLATE", "recurring": None, "type": "one_time", "lookup_key": None,
              "tax_behavior": "unspecified", "custom_unit_amount": None, "transform_quantity": None},
    "dispute": {"id": "dp_TEMPLATE"},
    "event": {"id": "evt_TEMPLATE", "api_version": "2024-06-20", "data": {"object": {}}},
    "bank_account": {"id": "ba_TEMPLATE", "account_type": None},
    "card": {"id": "card_TEMPLATE"},
    "refund": {"id": "re_TEMPLATE", "reason": "requested_by_customer"},
    "coupon": {"id": "TEMPLATE", "duration_in_months": None, "redeem_by": None},
    "account": {
        "charges_enabled": True, "payouts_enabled": True, "details_submitted": True,
        "email": "owner@example.com", "business_type": "company",
        "business_profile.name": "Fake Stripe Demo", "business_profile.url": "https://example.com",
        "business_profile.mcc": "5734", "business_profile.product_description": "Software subscriptions",
        "business_profile.support_email": "support@example.com",
        "requirements": {"alternatives": [], "current_deadline": None, "currently_due": [],
                         "disabled_reason": None, "errors": [], "eventually_due": [], "past_due": [],
                         "pending_verification": []},
        "settings.dashboard.display_name": "Fake Stripe Demo",
        "settings.payments.statement_descriptor": "FAKE STRIPE DEMO",
        "tos_acceptance": {"date": 1609459200, "ip": "203.0.113.7", "user_agent": None},
    },
    # Generic resources: no Connect transfers, embedded lists start empty (filled from children).
    "payment_intent": {"id": "pi_TEMPLATE", "transfer_data": None, "on_behalf_of": None, "next_action": None,
                       "last_payment_error": None},
    "setup_intent": {"id": "seti_TEMPLATE", "next_action": None, "last_setup_error": None},
    "payment_link": {"id": "plink_TEMPLATE", "transfer_data": None, "on_behalf_of": None},
    "quote": {"id": "qt_TEMPLATE", "transfer_data": None, "on_behalf_of": None},
    "subscription": {"id": "sub_TEMPLATE", "transfer_data": None, "on_behalf_of": None,
                     "items": {"object": "list", "data": [], "has_more": False, "total_count": 0, "url": ""}},
    "subscription_schedule": {"id": "sub_sched_TEMPLATE", "phases": [],
                              "default_settings.transfer_data": None, "default_settings.on_behalf_of": None},
    "topup": {"id": "tu_TEMPLATE", "source": None},
    "credit_note": {"id": "cn_TEMPLATE",
                    "lines": {"object": "list", "data": [], "has_more": False, "total_count": 0, "url": ""}},
    "application_fee": {"id": "fee_TEMPLATE",
                        "refunds": {"object": "list", "data": [], "has_more": False, "total_count": 0, "url": ""}},
    "transfer": {"id": "tr_TEMPLATE",
                 "reversals": {"object": "list", "data": [], "has_more": False, "total_count": 0, "url": ""}},
    "usage_record_summary": {"id": "sis_TEMPLATE", "livemode": False, "period": {"end": None, "start": None},
                             "subscription_item": "si_TEMPLATE", "total_usage": 0, "invoice": None},
}

# Served GET paths whose query parameters the fake validates.
PATHS = [
    "/v1/account", "/v1/balance/history", "/v1/balance_transactions", "/v1/balance_transactions/{id}",
    "/v1/charges", "/v1/charges/{charge}", "/v1/coupons", "/v1/coupons/{coupon}",
    "/v1/customers", "/v1/customers/{customer}", "/v1/customers/{customer}/balance_transactions",
    "/v1/customers/{customer}/balance_transactions/{transaction}", "/v1/customers/{customer}/bank_accounts",
    "/v1/customers/{customer}/bank_accounts/{id}", "/v1/customers/{customer}/cards",
    "/v1/customers/{customer}/cards/{id}", "/v1/customers/{customer}/sources",
    "/v1/customers/{customer}/sources/{id}", "/v1/disputes", "/v1/disputes/{dispute}", "/v1/events",
    "/v1/events/{id}", "/v1/invoices", "/v1/invoices/{invoice}", "/v1/invoices/{invoice}/lines",
    # Generic resources and Connect.
    "/v1/accounts", "/v1/accounts/{account}", "/v1/accounts/{account}/external_accounts",
    "/v1/accounts/{account}/external_accounts/{id}", "/v1/accounts/{account}/persons",
    "/v1/accounts/{account}/persons/{person}",
    "/v1/application_fees", "/v1/application_fees/{id}", "/v1/application_fees/{id}/refunds",
    "/v1/application_fees/{fee}/refunds/{id}",
    "/v1/checkout/sessions", "/v1/checkout/sessions/{session}", "/v1/checkout/sessions/{session}/line_items",
    "/v1/credit_notes", "/v1/credit_notes/{id}", "/v1/credit_notes/{credit_note}/lines",
    "/v1/customers/{customer}/payment_methods", "/v1/customers/{customer}/payment_methods/{payment_method}",
    "/v1/customers/{customer}/tax_ids", "/v1/customers/{customer}/tax_ids/{id}",
    "/v1/file_links", "/v1/file_links/{link}", "/v1/files", "/v1/files/{file}",
    "/v1/invoiceitems", "/v1/invoiceitems/{invoiceitem}",
    "/v1/issuing/authorizations", "/v1/issuing/authorizations/{authorization}",
    "/v1/issuing/cardholders", "/v1/issuing/cardholders/{cardholder}", "/v1/issuing/cards",
    "/v1/issuing/cards/{card}", "/v1/issuing/transactions", "/v1/issuing/transactions/{transaction}",
    "/v1/payment_intents", "/v1/payment_intents/{intent}", "/v1/payment_links",
    "/v1/payment_links/{payment_link}", "/v1/payment_methods", "/v1/payment_methods/{payment_method}",
    "/v1/payouts", "/v1/payouts/{payout}", "/v1/plans", "/v1/plans/{plan}", "/v1/prices", "/v1/prices/{price}",
    "/v1/products", "/v1/products/{id}", "/v1/promotion_codes", "/v1/promotion_codes/{promotion_code}",
    "/v1/quotes", "/v1/quotes/{quote}", "/v1/radar/early_fraud_warnings",
    "/v1/radar/early_fraud_warnings/{early_fraud_warning}", "/v1/refunds", "/v1/refunds/{refund}",
    "/v1/reviews", "/v1/reviews/{review}", "/v1/setup_attempts", "/v1/setup_intents",
    "/v1/setup_intents/{intent}", "/v1/shipping_rates", "/v1/shipping_rates/{shipping_rate_token}",
    "/v1/subscription_items", "/v1/subscription_items/{item}",
    "/v1/subscription_items/{subscription_item}/usage_record_summaries", "/v1/subscription_schedules",
    "/v1/subscription_schedules/{schedule}", "/v1/subscriptions", "/v1/subscriptions/{subscription_exposed_id}",
    "/v1/tax_rates", "/v1/tax_rates/{tax_rate}", "/v1/topups", "/v1/topups/{topup}", "/v1/transfers",
    "/v1/transfers/{transfer}", "/v1/transfers/{id}/reversals", "/v1/transfers/{transfer}/reversals/{id}",
]


def warn(msg):
    print(msg, file=sys.stderr)


class Conformer:
    def __init__(self, spec):
        self.schemas = spec["components"]["schemas"]

    def resolve(self, schema):
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].split("/")[-1]]
        return schema

    def default(self, schema, where):
        schema = self.resolve(schema)
        if "anyOf" in schema:
            schema = self.resolve(schema["anyOf"][0])
        t = schema.get("type")
        warn(f"  default for non-nullable {where} ({t})")
        if t == "object":
            return self.nested({}, schema, where)
        return {"array": [], "string": "", "integer": 0, "number": 0, "boolean": False}.get(t)

    def value(self, value, schema, where):
        schema = self.resolve(schema)
        if value is None:
            return None
        if "anyOf" in schema:
            branches = [self.resolve(b) for b in schema["anyOf"]]
            if isinstance(value, str):
                return value
            if isinstance(value, dict):
                def score(b):
                    enum = b.get("properties", {}).get("object", {}).get("enum")
                    if enum and value.get("object") in enum:
                        return 10**6
                    return len(set(value) & set(b.get("properties", {})))
                return self.value(value, max(branches, key=score), where)
            return value
        if schema.get("type") == "array" and isinstance(value, list):
            return [self.value(v, schema.get("items", {}), where + "[]") for v in value]
        if schema.get("type") == "object" and isinstance(value, dict) and "properties" in schema:
            if schema.get("x-resourceId"):
                return self.resource(value, schema, where)
            return self.nested(value, schema, where)
        return value

    def ordered(self, obj):
        keys = sorted(obj, key=lambda k: (k != "id", k != "object", k))
        return {k: obj[k] for k in keys}

    def nested(self, value, schema, where):
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        out = {}
        for k, v in value.items():
            if k in props:
                out[k] = self.value(v, props[k], f"{where}.{k}")
            else:
                warn(f"  drop {where}.{k} (not in 2024-06-20)")
        for k, p in props.items():
            if k in out:
                continue
            if self.resolve(p).get("nullable") or p.get("nullable"):
                out[k] = None
            elif k in required:
                out[k] = self.default(p, f"{where}.{k}")
        return self.ordered(out)

    def resource(self, value, schema, where, auto=None):
        """`auto`: a list collecting the optional (not required, not nullable) properties missing from the
        example; they are left out as conditional (generic resources only)."""
        name = schema["x-resourceId"]
        props = schema["properties"]
        skip = set(CONDITIONAL.get(name, []))
        required = set(schema.get("required", []))
        out = {}
        for k, v in value.items():
            if k in props and k not in skip:
                out[k] = self.value(v, props[k], f"{where}.{k}")
            elif k not in props:
                warn(f"  drop {where}.{k} (not in 2024-06-20)")
        for k, p in props.items():
            if k in out or k in skip:
                continue
            if p.get("nullable"):
                out[k] = None
            elif auto is not None and k not in required:
                auto.append(k)
            else:
                out[k] = self.default(p, f"{where}.{k}")
        return self.ordered(out)


def set_path(obj, dotted, value):
    parts = dotted.split(".")
    for p in parts[:-1]:
        obj = obj[p]
    obj[parts[-1]] = value


def endpoint_params(spec, path):
    op = spec["paths"][path]["get"]
    params = {}
    for p in op.get("parameters", []):
        if p["in"] != "query":
            continue
        schema = p["schema"]
        if p.get("style") == "deepObject" and schema.get("type") == "array":
            kind = "array"
        elif p.get("style") == "deepObject" and schema.get("type") == "object":
            kind = "hash"  # e.g. recurring[interval]=month, customer_details[email]=...
        elif p.get("style") == "deepObject":
            kind = "range"  # created / due_date: N or [gt|gte|lt|lte]=N
        elif schema.get("type") == "integer":
            kind = "integer"
        elif schema.get("type") == "boolean":
            kind = "boolean"
        else:
            kind = "string"
        params[p["name"]] = kind
    return dict(sorted(params.items()))


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else VENDORED
    spec = load(src, "spec3-2024-06-20.json")
    fixtures = load(src, "fixtures3.json")["resources"]
    assert spec["info"]["version"] == "2024-06-20", spec["info"]["version"]
    c = Conformer(spec)
    os.makedirs(OUT, exist_ok=True)

    schema_out = {}
    for name in RESOURCES:
        schema = c.schemas[name]
        warn(f"{name}:")
        auto = [] if name in GENERIC else None
        example = {k: v for k, v in fixtures.get(name, {"object": name}).items() if k not in BASE.get(name, {})}
        obj = c.resource(example, schema, name, auto)
        for k, v in BASE.get(name, {}).items():
            set_path(obj, k, v)
        obj = c.ordered(obj)
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        schema_out[name] = {
            "properties": {k: {"nullable": bool(v.get("nullable"))} for k, v in schema["properties"].items()},
            "expandable": schema.get("x-expandableFields", []),
            "conditional": CONDITIONAL.get(name, []) + sorted(auto or []),
        }
    with open(os.path.join(OUT, "schema.json"), "w") as f:
        json.dump(schema_out, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(OUT, "endpoints.json"), "w") as f:
        json.dump({p: endpoint_params(spec, p) for p in PATHS}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
