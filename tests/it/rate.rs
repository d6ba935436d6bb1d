//! Stripe's two rate limits, global and per endpoint, and the requests a sync saves by expanding
//! children into their parents' lists.
//!
//! Nothing here depends on the machine's speed: the tests count what the fake logged (which
//! limiter refused, requests per endpoint) and what the tap logged (which limiter it slowed).
//! How close the tap runs to Stripe's limits is the benchmark's to measure.

use std::collections::HashSet;

use fake_stripe::{Dataset, FakeStripe, Options};
use serde_json::json;

use crate::tap_run::{catalog_selecting, clocked, config_for, sync_env, tap_clock, Files};

fn dense_charges(customers: usize) -> FakeStripe {
    let dataset = Dataset { customers, charges_per_customer: 10.0, invoices_per_customer: 0.0, new_resources: 0, ..Dataset::default() };
    clocked(Options { dataset, ..Options::default() })
}

fn ids(fake: &FakeStripe, resource: &str) -> HashSet<String> {
    fake.objects(resource).iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
}

/// The tap is told a per-endpoint limit higher than the fake enforces (100/s against 5/s), so
/// the fake refuses some requests to `/v1/charges` with `Stripe-Rate-Limited-Reason:
/// endpoint-rate` (some for sure: the fake allows 5 at once, then 5 a second, and the tap sends
/// its 20-odd pages at up to 100/s). The tap slows that endpoint only: it never logs pacing
/// every request, nor any other endpoint. (Before per-endpoint pacing, every 429 halved every
/// request's rate: "pacing every request at ...".)
#[test]
fn a_429_of_one_endpoint_slows_that_endpoint_only() {
    let fake = dense_charges(200);
    fake.set_rate_limit(Some(100_000));
    fake.set_endpoint_rate_limit(Some(5));
    let files = Files::new();
    let mut config = config_for(&fake);
    config["max_requests_per_second_per_endpoint"] = json!(100);
    let env = tap_clock(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = sync_env(&files, &config, &catalog_selecting(&["charges", "customers"]), None, &env);
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(out.id_set("charges"), ids(&fake, "charge"));
    assert_eq!(out.id_set("customers"), ids(&fake, "customer"));

    let refused: Vec<_> = fake.requests().into_iter().filter(|r| r.status == 429).collect();
    assert!(!refused.is_empty(), "the fake's 5/s per endpoint refused some of the tap's 100/s");
    for r in &refused {
        assert_eq!((r.path.as_str(), r.limiter.as_deref()), ("/v1/charges", Some("endpoint")), "{r:?}");
    }
    let pacing: Vec<&str> = out.stderr.lines().filter(|l| l.contains("answered 429")).collect();
    assert!(
        pacing.iter().any(|l| l.contains("(rate limited, endpoint-rate): pacing GET /v1/charges at")),
        "the endpoint was slowed: {pacing:#?}"
    );
    for line in &pacing {
        assert!(line.contains("pacing GET /v1/charges at"), "only /v1/charges slowed, nothing else: {line}");
    }
    assert!(!out.stderr.contains("pacing every request"), "the global rate was never lowered: {}", out.stderr);
}

/// At Stripe's documented limits (the fake's global 100/s and 25/s per endpoint, the tap's
/// defaults for them): a dense stream read in parallel parts arrives whole, and the global
/// limiter never refuses (the tap sends one endpoint's requests at 25/s at most, far below the
/// global bucket's 100). How many per-endpoint 429s a run meets depends on how evenly the
/// machine delivers requests, so it is printed, not asserted: the benchmark measures it.
#[test]
fn at_stripes_limits_a_dense_stream_arrives_whole_and_the_global_limit_is_never_hit() {
    let fake = dense_charges(200);
    fake.set_rate_limit(Some(100));
    let files = Files::new();
    let mut config = config_for(&fake);
    config["max_requests_per_second"] = json!(100);
    let env = tap_clock(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = sync_env(&files, &config, &catalog_selecting(&["charges"]), None, &env);
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(out.id_set("charges"), ids(&fake, "charge"));
    let requests = fake.requests();
    assert!(!requests.iter().any(|r| r.limiter.as_deref() == Some("global")), "no global 429");
    let endpoint_429s = requests.iter().filter(|r| r.limiter.as_deref() == Some("endpoint")).count();
    eprintln!("{} requests to /v1/charges, {endpoint_429s} refused by the per-endpoint limit", requests.len());
}

/// Customers' tax ids and checkout sessions' line items come embedded in their parents' lists
/// (`expand[]=data.tax_ids`, `expand[]=data.line_items`): their endpoints are asked only for a
/// parent with more than the 10 embedded. Before, every customer cost one request to
/// `/v1/customers/{id}/tax_ids` and every session one to its line items: 1,000 per 1,000.
#[test]
fn children_embedded_in_their_parents_cost_no_request_per_parent() {
    let dataset = Dataset {
        customers: 1000,
        charges_per_customer: 0.0,
        invoices_per_customer: 0.0,
        sources_per_customer: 0.0,
        customers_with_many_sources: 0,
        balance_transactions_per_customer: 0.0,
        new_resources: 40,
        ..Dataset::default()
    };
    let fake = clocked(Options { dataset, ..Options::default() });
    // One customer with more tax ids than a list embeds.
    let many = fake.objects("customer")[0]["id"].as_str().unwrap().to_string();
    for _ in 0..12 {
        fake.create("tax_id", json!({"customer": many, "type": "eu_vat", "value": "DE123456789"}));
    }
    let files = Files::new();
    let config = config_for(&fake);
    let env = tap_clock(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let streams = ["customers", "tax_ids", "checkout_sessions", "checkout_sessions_line_items"];
    let out = sync_env(&files, &config, &catalog_selecting(&streams), None, &env);
    assert!(out.success(), "{}", out.stderr);

    let children = |resource: &str| -> HashSet<String> {
        fake.children_of(None, resource).iter().map(|(_, o)| o["id"].as_str().unwrap().to_string()).collect()
    };
    let customers = ids(&fake, "customer");
    let sessions = ids(&fake, "checkout.session");
    assert!(customers.len() >= 1000 && sessions.len() >= 20, "{} customers, {} sessions", customers.len(), sessions.len());
    assert_eq!(out.id_set("tax_ids"), children("tax_id"), "every tax id");
    assert_eq!(out.id_set("checkout_sessions_line_items"), children("item"), "every line item");

    let requests = fake.requests();
    let to = |prefix: &str, suffix: &str| -> Vec<String> {
        requests.iter().filter(|r| r.path.starts_with(prefix) && r.path.ends_with(suffix)).map(|r| r.path.clone()).collect()
    };
    assert_eq!(to("/v1/customers/", "/tax_ids"), vec![format!("/v1/customers/{many}/tax_ids")], "only the customer with 13 tax ids");
    assert!(to("/v1/checkout/sessions/", "/line_items").is_empty(), "every session's line items were embedded");
    let lists = |path: &str| requests.iter().filter(|r| r.path == path).collect::<Vec<_>>();
    assert!(lists("/v1/customers").iter().all(|r| r.params().contains(&("expand[]".into(), "data.tax_ids".into()))));
    assert!(lists("/v1/checkout/sessions").iter().all(|r| r.params().contains(&("expand[]".into(), "data.line_items".into()))));
    // The parents' records keep their own shape: the expanded lists are left out.
    assert!(out.records("customers").iter().all(|r| r.get("tax_ids").is_none()));
    assert!(out.records("checkout_sessions").iter().all(|r| r.get("line_items").is_none()));
}
