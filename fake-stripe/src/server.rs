/*!
[`FakeStripe`]: the server on its own OS thread and tokio runtime, driven synchronously.

Changes (`create`, `update`, `delete`, `random_round`) take the store's write lock, so they are atomic
with respect to API requests: a request sees the state before or after a change, never half of it.
*/

use crate::conn::{Cut, CutListener};
use crate::dataset::{self, Dataset};
use crate::http::{router, App};
use crate::mutate::Change;
use crate::prerender::Prerendered;
use crate::rng::Rng;
use crate::store::{real_now, Clock};
use crate::switches::{Failure, Fault, LoggedRequest};
use serde_json::Value;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How to start the fake.
#[derive(Debug, Clone)]
pub struct Options {
    /// The only accepted API key (default `sk_test_fake`).
    pub api_key: String,
    /// Seed of the dataset (default 1).
    pub seed: u64,
    /// How much data to generate (default: the demo dataset, ~60 customers).
    pub dataset: Dataset,
    /// The dataset's reference time in unix seconds. `Some(t)`: a virtual clock starting at `t`, moved
    /// only by [`FakeStripe::advance_clock`]; `None` (default): the real clock (the dataset ends at the
    /// start time, and changes are stamped with the current time).
    pub now: Option<i64>,
    /// The account id (`acct_…`) of the key; default derived from the seed.
    pub account_id: Option<String>,
    /// Initial latency per request.
    pub latency: Duration,
    /// Initial rate limit, requests per second (default none).
    pub rate_limit: Option<u32>,
    /// Initial limit of each endpoint, requests per second (default 25, Stripe's), applied only
    /// while `rate_limit` (the global one) is set; `None`: no per-endpoint limit.
    pub endpoint_rate_limit: Option<u32>,
    /// Connected accounts (default 0). With N > 0 the fake is a Connect platform: `GET /v1/accounts`
    /// lists N accounts (`acct_…`, deterministic per seed), each with its own data generated from
    /// `connected_dataset` (and its own seed), served with `Stripe-Account: acct_…`.
    pub connected_accounts: usize,
    /// The dataset of each connected account (default [`Dataset::connected`]: 4 customers and two of
    /// every generic resource).
    pub connected_dataset: Dataset,
    /// Prerender list texts at start (default false): list pages are then written from them, byte for
    /// byte what rendering gives, for a fraction of the CPU, at the cost of memory (about 3.5 KB per
    /// charge) and start time. Any change drops them (lists are then rendered again).
    pub prerender: bool,
    /// Products the account has activated, of `switches::PRODUCTS` (default none: like most accounts,
    /// it has no Issuing, and `/v1/issuing/…` answers 400 "Your account is not set up to use Issuing.").
    pub products: Vec<&'static str>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            api_key: "sk_test_fake".to_string(),
            seed: 1,
            dataset: Dataset::default(),
            now: None,
            account_id: None,
            latency: Duration::ZERO,
            rate_limit: None,
            endpoint_rate_limit: Some(crate::switches::ENDPOINT_RATE_LIMIT),
            connected_accounts: 0,
            connected_dataset: Dataset::connected(),
            prerender: false,
            products: Vec::new(),
        }
    }
}

/// A running fake Stripe API. The server stops when this is dropped.
pub struct FakeStripe {
    /// e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub base_url: String,
    app: Arc<App>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeStripe {
    /// Generates the dataset, binds `127.0.0.1:0` and returns once the server is listening.
    pub fn start(opts: Options) -> FakeStripe {
        FakeStripe::bind(opts, "127.0.0.1:0").expect("fake-stripe: bind 127.0.0.1:0")
    }

    /// Like [`FakeStripe::start`] on a given address (`host:port`).
    pub fn bind(opts: Options, addr: &str) -> std::io::Result<FakeStripe> {
        let now = opts.now.unwrap_or_else(real_now);
        let account_id = opts.account_id.clone().unwrap_or_else(|| format!("acct_1{}", Rng::new(opts.seed).alnum(15)));
        let mut store = dataset::generate(&opts.dataset, opts.seed, now, account_id);
        let clock = if opts.now.is_none() { Clock::Real } else { store.clock };
        store.clock = clock;
        let mut connected = Vec::with_capacity(opts.connected_accounts);
        for i in 0..opts.connected_accounts {
            let seed = opts.seed.wrapping_mul(1_000_003).wrapping_add(i as u64 + 1) ^ 0x000C_011E_C7ED;
            let mut rng = Rng::new(seed);
            let id = format!("acct_1{}", rng.alnum(15));
            let created = now - opts.dataset.history_days.max(1) * 86_400 + rng.range(0, opts.dataset.history_days.max(1) * 86_400 - 3600);
            let mut s = dataset::generate(&opts.connected_dataset, seed, now, id.clone());
            s.connected = true;
            s.clock = clock;
            crate::generic::add_account(&mut store, &id, created, rng.next_u64());
            if opts.prerender {
                s.prerendered = Some(Prerendered::build(&s));
            }
            connected.push((id, std::sync::RwLock::new(s)));
        }
        if opts.prerender {
            store.prerendered = Some(Prerendered::build(&store));
        }
        let mut app = App::new(store, opts.api_key.clone());
        app.connected = connected;
        let app = Arc::new(app);
        app.switches.set_latency(opts.latency);
        app.switches.set_rate_limit(opts.rate_limit);
        app.switches.set_endpoint_rate_limit(opts.endpoint_rate_limit);
        for p in &opts.products {
            app.switches.set_product(p, true).map_err(std::io::Error::other)?;
        }

        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = app.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get().min(4)))
            .thread_name("fake-stripe")
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new().name("fake-stripe".into()).spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = router(served).into_make_service_with_connect_info::<Cut>();
                let server = axum::serve(CutListener(listener), app);
                tokio::select! {
                    r = async { server.await } => {
                        if let Err(e) = r {
                            eprintln!("fake-stripe: server error: {e}");
                        }
                    }
                    _ = rx => {}
                }
            });
            // Open keep-alive connections are dropped rather than waited for.
            runtime.shutdown_timeout(Duration::from_millis(200));
        })?;
        Ok(FakeStripe { base_url: format!("http://{local}"), app, shutdown: Some(tx), thread: Some(thread) })
    }

    /// Blocks until the server stops (for the binary).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn api_key(&self) -> &str {
        &self.app.api_key
    }

    /// The account the key belongs to (the platform, when there are connected accounts).
    pub fn account_id(&self) -> String {
        self.app.store().account_id.clone()
    }

    /// The connected accounts' ids (`Options.connected_accounts` of them), in creation order.
    pub fn connected_account_ids(&self) -> Vec<String> {
        self.app.connected.iter().map(|(id, _)| id.clone()).collect()
    }

    /// What a connected account's data holds for `resource` (as [`FakeStripe::objects`]; the platform's
    /// own id gives the platform's). Panics for an unknown account.
    pub fn objects_of(&self, account: &str, resource: &str) -> Vec<Value> {
        self.app.objects_of(account, resource).unwrap_or_else(|e| panic!("fake-stripe: objects_of {account}: {}", e.message))
    }

    /// `(parent id, object)` for the objects of a child resource that Stripe lists under a parent,
    /// whether or not the object names it: generic children (`item` under its checkout session,
    /// `credit_note_line_item` under its credit note, `fee_refund`, `subscription_item`, ...) and
    /// `balance_transaction` under the payout that paid it out. `account`: `None` for the
    /// platform's data. Newest first; empty for a resource that has no parent. Read-only (for
    /// tests that compare a sync with what the fake holds).
    pub fn children_of(&self, account: Option<&str>, resource: &str) -> Vec<(String, Value)> {
        self.app.children_of(account, resource).unwrap_or_else(|e| panic!("fake-stripe: children_of {account:?}: {}", e.message))
    }

    /// Whether the fake runs on a virtual clock (`Options.now` was given): [`FakeStripe::now`]
    /// moves only with [`FakeStripe::advance_clock`].
    pub fn clock_is_virtual(&self) -> bool {
        self.app.store().clock != crate::store::Clock::Real
    }

    /// [`FakeStripe::create`] in a connected account's data: its events go to that account's events.
    pub fn create_in(&self, account: &str, resource: &str, fields: Value) -> Value {
        self.try_create_in(account, resource, fields).unwrap_or_else(|e| panic!("fake-stripe: create {resource} in {account}: {e}"))
    }

    /// [`FakeStripe::update`] in a connected account's data.
    pub fn update_in(&self, account: &str, resource: &str, id: &str, changes: Value) -> Value {
        self.try_update_in(account, resource, id, changes)
            .unwrap_or_else(|e| panic!("fake-stripe: update {resource} {id} in {account}: {e}"))
    }

    /// [`FakeStripe::delete`] in a connected account's data.
    pub fn delete_in(&self, account: &str, resource: &str, id: &str) -> Value {
        self.try_delete_in(account, resource, id).unwrap_or_else(|e| panic!("fake-stripe: delete {resource} {id} in {account}: {e}"))
    }

    /// [`FakeStripe::create_in`] returning Stripe's error message instead of panicking.
    pub fn try_create_in(&self, account: &str, resource: &str, fields: Value) -> Result<Value, String> {
        self.app.create_in(Some(account), resource, &fields).map_err(|e| e.message)
    }

    /// [`FakeStripe::update_in`] returning Stripe's error message instead of panicking.
    pub fn try_update_in(&self, account: &str, resource: &str, id: &str, changes: Value) -> Result<Value, String> {
        self.app.update_in(Some(account), resource, id, &changes).map_err(|e| e.message)
    }

    /// [`FakeStripe::delete_in`] returning Stripe's error message instead of panicking.
    pub fn try_delete_in(&self, account: &str, resource: &str, id: &str) -> Result<Value, String> {
        self.app.delete_in(Some(account), resource, id).map_err(|e| e.message)
    }

    /// The clock's current time (unix seconds): the real time, or the virtual clock when `Options.now`
    /// was given (its start plus every [`FakeStripe::advance_clock`]).
    pub fn now(&self) -> i64 {
        self.app.store().now()
    }

    /// Moves the virtual clock forward by `secs`. Panics when the fake runs on the real clock
    /// (`Options.now` was `None`) or when `secs` is negative.
    pub fn advance_clock(&self, secs: i64) {
        if let Err(e) = self.app.advance_clock(secs) {
            panic!("fake-stripe: advance_clock: {}", e.message);
        }
    }

    /// Creates an object and emits Stripe's events for it; returns the object (2024-06-20 shape).
    /// `resource`: `customer`, `charge`, `invoice` (a draft), `line_item` (a line on a draft invoice),
    /// `coupon`, `dispute`, `customer_balance_transaction`, `bank_account` or `card`. `fields` sets
    /// fields (Stripe's create parameters, see the README); a missing parent (`customer`, `invoice`,
    /// `charge`) is picked at random among the live ones. Panics with Stripe's error message when
    /// Stripe would refuse the request.
    pub fn create(&self, resource: &str, fields: Value) -> Value {
        self.try_create(resource, fields).unwrap_or_else(|e| panic!("fake-stripe: create {resource}: {e}"))
    }

    /// Updates an object: top-level `changes` are merged in (`metadata` keys merged, a null or empty
    /// value unsets a key), with Stripe's events; returns the new object. Some fields are actions
    /// (`status` of invoices, disputes and pending charges, `refunded` / `amount_refunded` and `captured`
    /// of charges, see the README). Panics when Stripe would refuse the change.
    pub fn update(&self, resource: &str, id: &str, changes: Value) -> Value {
        self.try_update(resource, id, changes).unwrap_or_else(|e| panic!("fake-stripe: update {resource} {id}: {e}"))
    }

    /// Deletes what Stripe can delete (customers, coupons, draft invoices, cards and bank accounts) with
    /// the `*.deleted` event; returns the deleted stub `{"id", "object", "deleted": true}`. Panics
    /// otherwise (e.g. a finalized invoice).
    pub fn delete(&self, resource: &str, id: &str) -> Value {
        self.try_delete(resource, id).unwrap_or_else(|e| panic!("fake-stripe: delete {resource} {id}: {e}"))
    }

    /// [`FakeStripe::create`] returning Stripe's error message instead of panicking.
    pub fn try_create(&self, resource: &str, fields: Value) -> Result<Value, String> {
        self.app.create(resource, &fields).map_err(|e| e.message)
    }

    /// [`FakeStripe::update`] returning Stripe's error message instead of panicking.
    pub fn try_update(&self, resource: &str, id: &str, changes: Value) -> Result<Value, String> {
        self.app.update(resource, id, &changes).map_err(|e| e.message)
    }

    /// [`FakeStripe::delete`] returning Stripe's error message instead of panicking.
    pub fn try_delete(&self, resource: &str, id: &str) -> Result<Value, String> {
        self.app.delete(resource, id).map_err(|e| e.message)
    }

    /// `operations` random creates, updates and deletes across every changeable resource, each with
    /// Stripe's events. Deterministic for a seed given the current store (and clock).
    pub fn random_round(&self, seed: u64, operations: usize) -> Vec<Change> {
        self.app.random_round(seed, operations)
    }

    /// Events created from now on carry `api_version: version` and render `data.object` in that
    /// version's shape (see the README); lists and retrievals keep 2024-06-20. `None`: back to
    /// 2024-06-20. Panics on a malformed version.
    pub fn set_event_api_version(&self, version: Option<&str>) {
        if let Err(e) = self.try_set_event_api_version(version) {
            panic!("fake-stripe: set_event_api_version: {e}");
        }
    }

    /// [`FakeStripe::set_event_api_version`] returning an error message instead of panicking.
    pub fn try_set_event_api_version(&self, version: Option<&str>) -> Result<(), String> {
        self.app.set_event_api_version(version).map_err(|e| e.message)
    }

    /// Events created from now on list before the events already made in the same second (oldest
    /// first within a second; Stripe does not document that order). `false`: newest first again.
    pub fn set_events_of_a_second_oldest_first(&self, on: bool) {
        self.app.set_events_of_a_second_oldest_first(on);
    }

    /// Removes an object of the platform's data without any event (Stripe's "delete all test
    /// data", or a deletion whose event a reader has not seen yet). Panics when there is no such object.
    pub fn purge(&self, resource: &str, id: &str) {
        if let Err(e) = self.app.purge_in(None, resource, id) {
            panic!("fake-stripe: purge {resource} {id}: {}", e.message);
        }
    }

    pub fn set_latency(&self, d: Duration) {
        self.app.switches.set_latency(d);
    }

    /// Fails the next `n` requests (whose path starts with `path_prefix`, if given) with `status`,
    /// optionally with `Stripe-Should-Retry`.
    pub fn fail_next(&self, n: usize, status: u16, path_prefix: Option<&str>, should_retry: Option<bool>) {
        self.fail_next_with(Failure { count: n, status, path_prefix: path_prefix.map(str::to_string), should_retry, retry_after: None });
    }

    /// Queues a failure rule with every option (e.g. `retry_after`).
    pub fn fail_next_with(&self, f: Failure) {
        self.app.switches.fail_next(f);
    }

    /// Queues a fault: the next `fault.count` requests (whose path starts with `fault.path_prefix`, if
    /// given) get `fault.kind` (see [`FaultKind`](crate::FaultKind)); list-only kinds count successful,
    /// non-empty list responses only. Each affected request is logged with `fault` set.
    pub fn fault_next(&self, fault: Fault) {
        self.app.switches.fault_next(fault);
    }

    /// Pending fault rules.
    pub fn faults(&self) -> Vec<Fault> {
        self.app.switches.faults()
    }

    /// Requests per second allowed (token bucket, bursts up to one second's worth); `None` for no limit
    /// (and then no per-endpoint limit either).
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        self.app.switches.set_rate_limit(per_second);
    }

    /// Requests per second allowed to each endpoint (method and path template, ids replaced) while a
    /// global rate limit is set; default 25, Stripe's; `None` for none. A request refused by it gets
    /// 429 with `Stripe-Rate-Limited-Reason: endpoint-rate` and is logged with `limiter: "endpoint"`.
    pub fn set_endpoint_rate_limit(&self, per_second: Option<u32>) {
        self.app.switches.set_endpoint_rate_limit(per_second);
    }

    /// Answers 403 (missing restricted-key permission) to requests whose path starts with `path_prefix`.
    pub fn forbid(&self, path_prefix: &str) {
        self.app.switches.forbid(path_prefix);
    }

    /// [`forbid`](Self::forbid) in one account only: `account` is a connected account's id (the
    /// request's `Stripe-Account`) or the platform's own.
    pub fn forbid_in(&self, account: &str, path_prefix: &str) {
        self.app.switches.forbid_in(account, path_prefix);
    }

    /// A rate limit of its own for paths starting with `prefix` (like Stripe's 20 requests/s for
    /// Files and Search), on top of [`set_rate_limit`](Self::set_rate_limit); `None` removes it.
    pub fn set_rate_limit_on(&self, prefix: &str, per_second: Option<u32>) {
        self.app.switches.set_rate_limit_on(prefix, per_second);
    }

    /// The most Stripe API requests the fake was handling at once (from arrival, latency included,
    /// to the answer) since it started or since [`clear_requests`](Self::clear_requests).
    pub fn max_in_flight(&self) -> usize {
        self.app.switches.max_in_flight()
    }

    /// Activates (`true`) or deactivates a product the account needs activated (`"issuing"`, see
    /// `Options.products`); panics on an unknown name.
    pub fn enable_product(&self, product: &str, enabled: bool) {
        self.app.switches.set_product(product, enabled).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Clears latency, queued failures and faults, rate limit and forbidden prefixes.
    pub fn reset_switches(&self) {
        self.app.switches.reset();
    }

    /// How many objects have prerendered list texts in the platform's data ([`Options::prerender`]): 0
    /// without prerendering, or once a change dropped them.
    pub fn prerendered(&self) -> usize {
        self.app.prerendered()
    }

    /// Every Stripe API request so far, in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.app.switches.requests()
    }

    pub fn clear_requests(&self) {
        self.app.switches.clear_requests();
    }

    /// What the fake holds for `resource` (`customer`, `charge`, `line_item`, `event`, a generic resource
    /// such as `subscription` or `checkout.session`, `account` for the connected accounts, ...), rendered
    /// as the API returns it (without expansions), newest first.
    pub fn objects(&self, resource: &str) -> Vec<serde_json::Value> {
        self.app.objects(resource)
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
