/*!
A fake Stripe API server for tap-stripe's tests, benchmarks and demo.

It serves a deterministic dataset (same seed, same objects) shaped like Stripe's API version 2024-06-20
on 127.0.0.1, with Stripe's list semantics, errors and authentication, plus switches to inject latency,
failures, rate limits and permission errors.

```no_run
use fake_stripe::{FakeStripe, Options};
let fake = FakeStripe::start(Options::default());
// GET {fake.base_url}/v1/customers with `Authorization: Bearer sk_test_fake`
fake.fail_next(2, 503, Some("/v1/charges"), Some(true));
assert!(fake.requests().is_empty());
```

# Layout

- [`server`]: [`FakeStripe`] (own thread + tokio runtime, synchronous handle) and [`Options`].
- `dataset`: [`Dataset`] and the deterministic generator filling the store.
- `generic`: the resource table, derived from the tap's stream registry (`tap_stripe::streams::STREAMS`)
  plus the fake's business rules: generation, routes and change rules of the resources stored as JSON
  (subscriptions, payouts, products, …, and the `OWN` rows: coupons, invoices and their lines, disputes,
  balance transactions, customer balance transactions, cards and bank accounts). Every registry stream is
  served: by `generic` or, for the compact model's customers, charges and events, by `http`.
- `model`: the compact model (a [`Kind`], ids, facts; cosmetic values come from a seed), kept for the
  high-volume resources so that benchmark datasets of a million charges fit in memory, and the facts
  generation decides for the `OWN` rows' builders.
- `store`: one ordered table per kind and per row, with id and parent indexes; the clock.
- `rules`: what reading needs of the `OWN` rows: how their objects are built, fields that change with
  time and no event, includable fields.
- `mutate`: create / update / delete with the events Stripe emits, and random rounds of changes.
- `render`: records → Stripe JSON from `templates/` (conformed to the 2024-06-20 spec), embedded lists,
  includable fields and `expand[]`.
- `query` and `list`: query-string checking against the spec's parameters, paging and filters.
- `prerender`: list texts rendered at start (`Options::prerender`), spliced into list pages.
- `error`: Stripe's error bodies. `switches`: latency, failures, faults, rate limit, 403s, request log.
- `conn`: connections a handler can cut mid-response (`reset_mid_body`).
- `http`: the `/v1/…` routes and the `/_fake/…` admin endpoints.
- `templates`: the embedded files written by `tools/make_templates.py`.
*/

mod conn;
mod dataset;
mod error;
mod generic;
mod http;
mod list;
mod look;
mod model;
mod mutate;
mod prerender;
mod query;
mod render;
mod rng;
mod rules;
pub mod server;
mod store;
mod switches;
mod templates;

pub use dataset::Dataset;
pub use http::API_VERSION;
pub use model::Kind;
pub use mutate::{Change, Op};
pub use server::{FakeStripe, Options};
pub use switches::{product, Failure, Fault, FaultKind, Limiter, LoggedRequest, Product, ENDPOINT_RATE_LIMIT, PRODUCTS};
