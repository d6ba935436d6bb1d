#!/usr/bin/env python3
"""Generate fake-stripe/templates/ from Stripe's OpenAPI description (API version 2024-06-20).

    python3 fake-stripe/tools/make_templates.py [DIR]   # DIR defaults to vendor/stripe-openapi (needs cargo)

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
  objects.rs        The names of the templates, which src/templates.rs embeds.

The resources and paths are those of the tap's stream registry (src/streams.rs, read through
`cargo run --bin gen-catalog -- --registry`) plus the typed model's own (TYPED, TYPED_PATHS): a stream
added to the registry gets its template and endpoint parameters by re-running this script.

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
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "templates")
ROOT = os.path.dirname(os.path.dirname(HERE))
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

# The resources of the fake's typed model (src/model.rs), conformed strictly: every optional property
# missing from the example gets a default. `price` and `refund` are rendered inside charges and invoices.
TYPED = [
    "account", "balance_transaction", "bank_account", "card", "charge", "coupon", "customer",
    "customer_balance_transaction", "dispute", "event", "invoice", "line_item", "price", "refund",
]
# GET paths the typed model serves beyond the registry's: the account itself, the balance history alias and
# a customer's other sources.
TYPED_PATHS = [
    "/v1/account", "/v1/balance/history", "/v1/customers/{customer}/cards", "/v1/customers/{customer}/cards/{id}",
    "/v1/customers/{customer}/sources", "/v1/customers/{customer}/sources/{id}",
]


def registry():
    """The tap's stream registry (src/streams.rs), as `gen-catalog --registry` prints it: per stream its
    `resource` and the paths it is read from."""
    out = subprocess.run(["cargo", "run", "--quiet", "--bin", "gen-catalog", "--", "--registry"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def shape(path):
    """`path` without its query, every `{name}` written `{}`."""
    return "/".join("{}" if s.startswith("{") else s for s in path.split("?")[0].split("/"))


def served_paths(spec, streams):
    """The spec's GET paths the fake serves: each registry path, the `{path}/{id}` retrieving one of its
    objects and the top-level list of a retrieve path (`/v1/payment_methods` of `/v1/payment_methods/{id}`)
    where the spec has them (as src/generic.rs serves them), and TYPED_PATHS; written as in the spec."""
    by_shape = {shape(p): p for p, ops in spec["paths"].items() if "get" in ops}
    paths = set(TYPED_PATHS)
    for s in streams:
        for p in s["paths"]:
            candidates = [shape(p), shape(p) + "/{}"]
            if shape(p).endswith("/{}") and shape(p).count("{}") == 1:
                candidates.append(shape(p)[: -len("/{}")])
            paths.update(by_shape[c] for c in candidates if c in by_shape)
    return sorted(paths)


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
    streams = registry()
    # Every other resource of the registry is served generically (src/generic.rs): optional non-nullable
    # properties missing from the example are conditional (e.g. a payment method's `sepa_debit` hash when
    # its type is `card`).
    generic = sorted({s["resource"] for s in streams} - set(TYPED))
    resources = TYPED + generic

    schema_out = {}
    for name in resources:
        schema = c.schemas[name]
        warn(f"{name}:")
        auto = [] if name in generic else None
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
        json.dump({p: endpoint_params(spec, p) for p in served_paths(spec, streams)}, f, indent=1, sort_keys=True)
        f.write("\n")
    # The list of templates the fake embeds (src/templates.rs includes it).
    with open(os.path.join(OUT, "objects.rs"), "w") as f:
        f.write("// Written by tools/make_templates.py: the templates the fake embeds, by `object` name.\n")
        f.write("embed!(\n" + "".join(f"    \"{name}\",\n" for name in sorted(resources)) + ")\n")


if __name__ == "__main__":
    main()
