/*!
The HTTP surface: Stripe's `/v1/…` API (GET only) and the `/_fake/…` admin endpoints (switches, and the
changes of `mutate`: create / update / delete objects, random rounds, event API version, clock).

Every Stripe request goes through [`App::handle`]: latency, queued failures, rate limit, authentication,
`Stripe-Version` / `Stripe-Account` checks, forbidden prefixes, then the route. Every response carries a
`Request-Id`; Stripe responses also a `Stripe-Version`. Responses are pretty-printed like Stripe's.

With prerendered texts (`--prerender`, see `prerender`) a list page without `expand[]` is written by
splicing its objects' texts into the list envelope, when no fault is queued (faults edit the value); the
selection, checks and everything around the route stay the same, and so do the bytes.
*/

use crate::conn::Cut;
use crate::error::ApiError;
use crate::list::{self, Filter, List, Reply, Seq};
use crate::look::Person;
use crate::model::{Facts, Kind, Record};
use crate::mutate::{self, Change};
use crate::query::Query;
use crate::render::Renderer;
use crate::rng::Rng;
use crate::store::{Clock, Store};
use crate::switches::Limiter;
use crate::switches::{Failure, Fault, FaultKind, LoggedRequest, Switches};
use crate::templates::endpoint_params;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::RwLockWriteGuard;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The API version whose shapes the fake serves.
pub const API_VERSION: &str = "2024-06-20";

/// `/v1/events` lists, and `/v1/events/{id}` retrieves, events of the last 30 days only.
pub const EVENT_RETENTION: i64 = 30 * 86_400;

/// Whether an event is still within Stripe's retention at `now`.
fn retained(r: &Record, now: i64) -> bool {
    r.created >= now - EVENT_RETENTION
}

/// Shared server state.
pub struct App {
    /// The platform's (the key's own account's) data.
    pub store: RwLock<Store>,
    /// Connected accounts (a Connect platform): id and data, fixed at start.
    pub connected: Vec<(String, RwLock<Store>)>,
    pub switches: Switches,
    pub api_key: String,
    request_ids: Mutex<Rng>,
}

impl App {
    pub fn new(store: Store, api_key: String) -> App {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        App {
            store: RwLock::new(store),
            connected: Vec::new(),
            switches: Switches::default(),
            api_key,
            request_ids: Mutex::new(Rng::new(seed)),
        }
    }

    /// The store of an account: `None` or the platform's own id for the platform, else a connected
    /// account that is still listed (not deleted).
    fn store_lock(&self, account: Option<&str>) -> Result<&RwLock<Store>, ApiError> {
        let platform = self.store().account_id.clone();
        match account {
            None => Ok(&self.store),
            Some(a) if a == platform => Ok(&self.store),
            Some(a) => self
                .connected
                .iter()
                .find(|(id, _)| id == a)
                .filter(|_| self.store().gget(crate::generic::idx("account"), a).is_some())
                .map(|(_, s)| s)
                .ok_or_else(|| ApiError::no_such("account", a, "account", 404)),
        }
    }

    fn read(lock: &RwLock<Store>) -> std::sync::RwLockReadGuard<'_, Store> {
        lock.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to an account's data. Every change (objects, rounds, clock) takes it here, so this
    /// is where prerendered texts, valid only for the data they were rendered from, are dropped for
    /// good: a stale text is never served.
    fn write(lock: &RwLock<Store>) -> RwLockWriteGuard<'_, Store> {
        let mut store = lock.write().unwrap_or_else(|e| e.into_inner());
        store.prerendered = None;
        store
    }

    /// Creates an object in an account's data (`None`: the platform).
    pub fn create_in(&self, account: Option<&str>, resource: &str, fields: &Value) -> Result<Value, ApiError> {
        let lock = self.store_lock(account)?;
        let (v, change) = mutate::create(&mut Self::write(lock), resource, fields)?;
        self.to_connected_accounts(lock, std::slice::from_ref(&change));
        Ok(v)
    }

    /// Updates an object in an account's data. Updating a connected `account` (platform data) emits
    /// `account.updated` in that account's events.
    pub fn update_in(&self, account: Option<&str>, resource: &str, id: &str, changes: &Value) -> Result<Value, ApiError> {
        let lock = self.store_lock(account)?;
        if resource == "account" && std::ptr::eq(lock, &self.store) {
            // The platform's data emits nothing for a connected account; the account's own does.
            let before = self.objects_in(&self.store, "account").into_iter().find(|a| a["id"] == id);
            let (after, _) = mutate::update(&mut self.store_mut(), resource, id, changes)?;
            if let (Some(before), Ok(target)) = (before, self.store_lock(Some(id))) {
                if !std::ptr::eq(target, &self.store) {
                    mutate::push_updated(&mut Self::write(target), "account.updated", &before, &after);
                }
            }
            return Ok(after);
        }
        let (v, change) = mutate::update(&mut Self::write(lock), resource, id, changes)?;
        self.to_connected_accounts(lock, std::slice::from_ref(&change));
        Ok(v)
    }

    /// Deletes an object in an account's data.
    pub fn delete_in(&self, account: Option<&str>, resource: &str, id: &str) -> Result<Value, ApiError> {
        let lock = self.store_lock(account)?;
        let (v, change) = mutate::delete(&mut Self::write(lock), resource, id)?;
        self.to_connected_accounts(lock, std::slice::from_ref(&change));
        Ok(v)
    }

    /// Stripe lists the events of a connected account's own objects (`account.updated`,
    /// `person.*`) with that account's `Stripe-Account` header, not the platform's. The platform's
    /// data holds connected accounts and their persons, so their changes' events move from the
    /// platform's events to the account's. (Accounts without data of their own, in a fake started
    /// without `connected_accounts`, keep them.)
    fn to_connected_accounts(&self, changed_in: &RwLock<Store>, changes: &[Change]) {
        if !std::ptr::eq(changed_in, &self.store) {
            return;
        }
        for c in changes {
            let account = match c.resource.as_str() {
                "account" => Some(c.id.clone()),
                "person" => {
                    let store = self.store();
                    store.gget_or_deleted(crate::generic::idx("person"), &c.id).and_then(|r| r.parent().map(str::to_string))
                }
                _ => None,
            };
            let Some(target) = account.and_then(|a| self.store_lock(Some(&a)).ok()) else { continue };
            if std::ptr::eq(target, &self.store) || c.event_ids.is_empty() {
                continue;
            }
            let events: Vec<_> = {
                let mut platform = self.store_mut();
                c.event_ids.iter().filter_map(|id| platform.take_event(id)).collect()
            };
            let mut account_store = Self::write(target);
            for e in events {
                account_store.adopt_event(e);
            }
        }
    }

    /// What an account's data holds for `resource`, newest first.
    pub fn objects_of(&self, account: &str, resource: &str) -> Result<Vec<Value>, ApiError> {
        Ok(self.objects_in(self.store_lock(Some(account))?, resource))
    }

    pub fn store(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn store_mut(&self) -> RwLockWriteGuard<'_, Store> {
        Self::write(&self.store)
    }

    /// Creates an object (see `mutate`).
    pub fn create(&self, resource: &str, fields: &Value) -> Result<Value, ApiError> {
        self.create_in(None, resource, fields)
    }

    /// Updates an object (see `mutate`).
    pub fn update(&self, resource: &str, id: &str, changes: &Value) -> Result<Value, ApiError> {
        self.update_in(None, resource, id, changes)
    }

    /// Deletes an object (see `mutate`); returns the deleted stub.
    pub fn delete(&self, resource: &str, id: &str) -> Result<Value, ApiError> {
        mutate::delete(&mut self.store_mut(), resource, id).map(|(v, _)| v)
    }

    pub fn random_round(&self, seed: u64, operations: usize) -> Vec<Change> {
        let changes = mutate::random_round(&mut self.store_mut(), seed, operations);
        self.to_connected_accounts(&self.store, &changes);
        changes
    }

    pub fn set_event_api_version(&self, version: Option<&str>) -> Result<(), ApiError> {
        if let Some(v) = version {
            mutate::check_version(v)?;
        }
        // Not `store_mut`: the version is read only when a change creates an event, and that change drops
        // the prerendered texts itself; setting it alone changes no rendering (and the binary sets it at
        // start, after prerendering).
        let mut store = self.store.write().unwrap_or_else(|e| e.into_inner());
        store.event_api_version = version.filter(|v| *v != API_VERSION).map(str::to_string);
        Ok(())
    }

    /// Events created from now on list before those already made in their second (see
    /// [`Store::events_of_a_second_oldest_first`]), in every account.
    pub fn set_events_of_a_second_oldest_first(&self, on: bool) {
        for lock in std::iter::once(&self.store).chain(self.connected.iter().map(|(_, l)| l)) {
            lock.write().unwrap_or_else(|e| e.into_inner()).events_of_a_second_oldest_first = on;
        }
    }

    /// Removes an object with no event at all (as Stripe's "delete all test data" does, or a
    /// deletion in the moment between an event list and a read by id).
    pub fn purge_in(&self, account: Option<&str>, resource: &str, id: &str) -> Result<(), ApiError> {
        mutate::purge(&mut Self::write(self.store_lock(account)?), resource, id)
    }

    /// Moves the virtual clock forward; an error with the real clock or a negative step.
    pub fn advance_clock(&self, secs: i64) -> Result<i64, ApiError> {
        let mut s = self.store_mut();
        match s.clock {
            Clock::Real => Err(ApiError::invalid(
                "The fake runs on the real clock: start it with a fixed `now` (Options.now, --now) to get a virtual \
                 clock that can be advanced.",
            )),
            Clock::Virtual(_) if secs < 0 => Err(ApiError::invalid("The clock only moves forward.")),
            Clock::Virtual(t) => {
                s.clock = Clock::Virtual(t + secs);
                drop(s);
                // One clock for the platform and its connected accounts.
                for (_, store) in &self.connected {
                    let mut c = Self::write(store);
                    if let Clock::Virtual(ct) = c.clock {
                        c.clock = Clock::Virtual(ct + secs);
                    }
                }
                Ok(t + secs)
            }
        }
    }
    /// Routes a request as it is, without switches or checks (the page of `repeat_cursor`).
    fn route(&self, path: &str, query: &str) -> Result<Value, ApiError> {
        let store = self.store();
        let api = Api { store: &store, render: Renderer::new(&store) };
        api.route(path, query)?.into_value(&api.render)
    }

    fn request_id(&self) -> String {
        self.request_ids.lock().unwrap_or_else(|e| e.into_inner()).id("req_", 14)
    }

    /// What the fake holds for `resource` (an `object` name), newest first.
    pub fn objects(&self, resource: &str) -> Vec<Value> {
        self.objects_in(&self.store, resource)
    }

    /// `(parent id, object)` for each object of a child `resource` in an account's data: generic
    /// children under their parent (`item` under its checkout session, `credit_note_line_item`,
    /// `usage_record_summary`, ...), `balance_transaction` under the payout that paid it out (those
    /// no payout paid out are left out). Newest first; empty for other resources.
    pub fn children_of(&self, account: Option<&str>, resource: &str) -> Result<Vec<(String, Value)>, ApiError> {
        let store = Self::read(self.store_lock(account)?);
        let r = Renderer::new(&store);
        let Some(res) = crate::generic::index(resource) else { return Ok(Vec::new()) };
        Ok(store.gtable(res).rows().iter().rev().filter_map(|x| Some((x.parent()?.to_string(), r.render(x)))).collect())
    }

    fn objects_in(&self, lock: &RwLock<Store>, resource: &str) -> Vec<Value> {
        let store = Self::read(lock);
        let r = Renderer::new(&store);
        if let Some(res) = crate::generic::index(resource) {
            return store.gtable(res).rows().iter().rev().map(|x| r.render(x)).collect();
        }
        match Kind::from_object(resource) {
            Some(Kind::Event) => {
                let rows = store.table(Kind::Event).rows();
                rows.iter().rev().take_while(|x| retained(x, r.now)).map(|x| r.render(x)).collect()
            }
            Some(kind) => store.table(kind).rows().iter().rev().map(|x| r.render(x)).collect(),
            None => Vec::new(),
        }
    }

    /// Handles one Stripe API request (after latency). `splice`: a list page may be written from
    /// prerendered texts (the caller has no fault to apply to it).
    fn handle(&self, method: &Method, path: &str, query: &str, headers: &HeaderMap, splice: bool) -> Result<Answer, ApiError> {
        if let Some(f) = self.switches.take_failure(path) {
            let mut e = ApiError::simulated(f.status);
            if let Some(retry) = f.should_retry {
                e = e.with_header("Stripe-Should-Retry", retry.to_string());
            }
            if let Some(secs) = f.retry_after {
                e = e.with_header("Retry-After", secs.to_string());
            }
            return Err(e);
        }
        let endpoint = crate::templates::endpoint(method.as_str(), path);
        if let Err(limiter) = self.switches.take_token(&endpoint) {
            let limit = match limiter {
                Limiter::Global => self.switches.rate_limit(),
                Limiter::Endpoint => self.switches.endpoint_rate_limit(),
            };
            return Err(ApiError::rate_limited_by(limiter, &endpoint, limit));
        }
        if !self.switches.take_path_token(path) {
            return Err(ApiError::rate_limited());
        }
        let key = api_key(headers).ok_or_else(ApiError::missing_key)?;
        if key != self.api_key {
            return Err(ApiError::invalid_key(&key));
        }
        if let Some(v) = header_str(headers, "stripe-version") {
            if !valid_version(v) {
                return Err(ApiError::invalid(format!("Invalid Stripe API version: {v}")));
            }
        }
        let header = header_str(headers, "stripe-account");
        let context = self.store_lock(header).map_err(|_| ApiError::account_invalid(&key, header.unwrap_or("")))?;
        let context_id = Self::read(context).account_id.clone();
        if self.switches.is_forbidden(path) || self.switches.is_forbidden_in(&context_id, path) {
            return Err(ApiError::permission(&key, &context_id, &permission_for(path)));
        }
        if let Some(p) = self.switches.inactive_product(path) {
            return Err(ApiError::invalid(p.message));
        }
        if method != Method::GET {
            return Err(ApiError::unrecognized_url(method.as_str(), path));
        }
        let in_connected = !std::ptr::eq(context, &self.store);
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        // Whose data answers: `/v1/accounts[/{id}]` is the platform's list of connected accounts;
        // `/v1/accounts/{id}/…` the data of account `id`; anything else the context's.
        let (lock, path) = match segs.as_slice() {
            ["v1", "accounts"] if in_connected => return Err(ApiError::accounts_of_connected()),
            ["v1", "accounts"] => (&self.store, path.to_string()),
            ["v1", "account"] if in_connected => (&self.store, format!("/v1/accounts/{context_id}")),
            ["v1", "accounts", id, rest @ ..] if !id.is_empty() => {
                if in_connected && *id != context_id {
                    return Err(ApiError::account_invalid(&key, id));
                }
                let target = match self.store_lock(Some(id)) {
                    Ok(t) => t,
                    Err(_) if self.connected.is_empty() => return Err(ApiError::platform_only()),
                    Err(_) => return Err(ApiError::account_invalid(&key, id)),
                };
                (if rest.is_empty() { &self.store } else { target }, path.to_string())
            }
            _ => (context, path.to_string()),
        };
        let store = Self::read(lock);
        let api = Api { store: &store, render: Renderer::new(&store) };
        match (api.route(&path, query)?, &store.prerendered) {
            (Reply::List(page), Some(texts)) if splice && page.expand.is_empty() => {
                Ok(Answer::Spliced(texts.page_json(&page, &api.render)))
            }
            (reply, _) => reply.into_value(&api.render).map(Answer::Value),
        }
    }

    /// How many objects have prerendered list texts (0 without `--prerender` or after a change).
    pub fn prerendered(&self) -> usize {
        self.store().prerendered.as_ref().map_or(0, |p| p.len())
    }
}

/// A successful answer of [`App::handle`].
enum Answer {
    Value(Value),
    /// A list page written from prerendered texts: `serde_json::to_vec_pretty` of the list object.
    Spliced(Vec<u8>),
}

/// The key from `Authorization: Bearer <key>` or HTTP Basic with the key as user name.
fn api_key(headers: &HeaderMap) -> Option<String> {
    let value = header_str(headers, "authorization")?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let key = match scheme.to_ascii_lowercase().as_str() {
        "bearer" => rest.trim().to_string(),
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
            let text = String::from_utf8(decoded).ok()?;
            text.split(':').next().unwrap_or_default().to_string()
        }
        _ => return None,
    };
    (!key.is_empty()).then_some(key)
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `YYYY-MM-DD` optionally followed by `.name` (e.g. `2024-09-30.acacia`).
pub(crate) fn valid_version(v: &str) -> bool {
    let (date, name) = v.split_once('.').unwrap_or((v, "a"));
    let b = date.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_lowercase())
}

/// The restricted-key permission an endpoint needs, e.g. `rak_charge_read` for `/v1/charges`.
fn permission_for(path: &str) -> String {
    let resource = path.split('/').nth(2).unwrap_or("");
    let singular = resource.strip_suffix('s').unwrap_or(resource);
    format!("rak_{singular}_read")
}

/// Route handling for one request, under the store's read lock.
struct Api<'a> {
    store: &'a Store,
    render: Renderer<'a>,
}

impl<'a> Api<'a> {
    fn route(&self, path: &str, raw: &str) -> Result<Reply<'a>, ApiError> {
        if let Some(result) = crate::generic::route(self.store, &self.render, path, raw) {
            return result;
        }
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let q = |spec_path: &str| Query::parse(raw, endpoint_params(spec_path));
        match segs.as_slice() {
            ["v1", "account"] => {
                let q = q("/v1/account")?;
                self.expanded(self.render.account(), &q).map(Reply::Object)
            }
            ["v1", "customers"] => self.top_list(Kind::Customer, path, &q("/v1/customers")?),
            ["v1", "charges"] => self.top_list(Kind::Charge, path, &q("/v1/charges")?),
            ["v1", "events"] => self.top_list(Kind::Event, path, &q("/v1/events")?),
            ["v1", resource, id] => {
                let (kind, spec) = match *resource {
                    "customers" => (Kind::Customer, "/v1/customers/{customer}"),
                    "charges" => (Kind::Charge, "/v1/charges/{charge}"),
                    "events" => (Kind::Event, "/v1/events/{id}"),
                    _ => return Err(ApiError::unrecognized_url("GET", path)),
                };
                let q = q(spec)?;
                if kind == Kind::Customer && self.store.deleted(kind, id).is_some() {
                    // `anyOf [customer, deleted_customer]`: a deleted customer is retrieved as its stub.
                    return Ok(Reply::Object(json!({"id": id, "object": "customer", "deleted": true})));
                }
                let r = self
                    .store
                    .get(kind, id)
                    .filter(|r| kind != Kind::Event || retained(r, self.render.now))
                    .ok_or_else(|| ApiError::no_such(kind.object(), id, "id", 404))?;
                self.expanded(self.render.render(r), &q).map(Reply::Object)
            }
            _ => Err(ApiError::unrecognized_url("GET", path)),
        }
    }

    fn expanded(&self, mut v: Value, q: &Query) -> Result<Value, ApiError> {
        for path in q.array("expand") {
            self.render.expand(&mut v, path)?;
        }
        Ok(v)
    }

    /// A top-level list with the filters its endpoint declares.
    fn top_list(&self, kind: Kind, path: &str, q: &Query) -> Result<Reply<'a>, ApiError> {
        let store = self.store;
        let filter = self.filter(kind, q)?;
        let l = List {
            url: path.to_string(),
            seq: Seq::Rows(store.table(kind).rows()),
            cursor: Box::new(move |id| store.get(kind, id)),
            object: kind.object(),
            filter,
            floor: (kind == Kind::Event).then(|| self.render.now - EVENT_RETENTION),
        };
        list::select(l, q).map(Reply::List)
    }

    /// The filters of a top-level list, from the parameters other than paging, `created` and `expand`.
    fn filter(&self, kind: Kind, q: &Query) -> Result<Filter<'a>, ApiError> {
        let mut tests: Vec<Filter<'a>> = Vec::new();
        let render = Renderer::new(self.store);
        let eq = |name: &'static str| -> Option<Filter<'a>> {
            let want = q.str(name)?.to_string();
            let render = Renderer::new(render.store);
            Some(Box::new(move |r: &Record| field(&render, r, name).as_str() == Some(want.as_str())))
        };
        let names: &[&'static str] = match kind {
            Kind::Customer => &["email"],
            Kind::Charge => &["customer", "payment_intent", "transfer_group"],
            _ => &[],
        };
        tests.extend(names.iter().filter_map(|n| eq(n)));
        if kind == Kind::Customer && q.str("test_clock").is_some() {
            tests.push(Box::new(|_| false)); // no customer is on a test clock
        }
        if kind == Kind::Event {
            tests.extend(event_type_filter(q)?);
            if q.bool("delivery_success") == Some(false) {
                tests.push(Box::new(|_| false)); // no webhook endpoints: nothing failed delivery
            }
        }
        Ok(Box::new(move |r| tests.iter().all(|t| t(r))))
    }
}

/// One top-level field of a record, cheaply from facts where possible.
fn field(render: &Renderer, r: &Record, name: &str) -> Value {
    if let Some(v) = r.overrides.as_ref().and_then(|o| o.get(name)) {
        return v.clone();
    }
    match (&r.facts, name) {
        (Facts::Charge(c), "customer") => json!(c.customer),
        (Facts::Charge(c), "payment_intent") => json!(c.payment_intent),
        (Facts::Customer(c), "email") => json!(Person::from_seed(c.look).email),
        _ => render.render(r).get(name).cloned().unwrap_or(Value::Null),
    }
}

/// `type` (exact or with `*` wildcards) and `types[]` (up to 20 exact names) on `/v1/events`.
fn event_type_filter<'a>(q: &Query) -> Result<Option<Filter<'a>>, ApiError> {
    let types = q.array("types").to_vec();
    if q.has_array("types") && q.str("type").is_some() {
        return Err(ApiError::invalid("You may only specify one of these parameters: type, types."));
    }
    if types.len() > 20 {
        return Err(ApiError::invalid("You may only specify up to 20 event types in `types`.").with_param("types"));
    }
    let of = |r: &Record| match &r.facts {
        Facts::Event(e) => e.event_type.clone(),
        _ => String::new(),
    };
    if let Some(pattern) = q.str("type") {
        let pattern = pattern.to_string();
        return Ok(Some(Box::new(move |r| wildcard_match(&pattern, &of(r)))));
    }
    if q.has_array("types") {
        return Ok(Some(Box::new(move |r| types.contains(&of(r)))));
    }
    Ok(None)
}

/// `*` matches any run of characters (dots included): `customer.*` matches `customer.source.created`.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

fn json_bytes(body: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(body).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

fn json_response(status: u16, body: &Value, request_id: &str, extra: &[(&'static str, String)]) -> Response {
    bytes_response(status, "application/json", json_bytes(body), request_id, extra)
}

fn bytes_response(status: u16, content_type: &str, bytes: Vec<u8>, request_id: &str, extra: &[(&'static str, String)]) -> Response {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type)
        .header("Request-Id", request_id);
    for (k, v) in extra {
        b = b.header(*k, v.as_str());
    }
    b.body(Body::from(bytes)).expect("valid response")
}

/// What a proxy in front of Stripe might answer (`malformed_json`).
const BAD_GATEWAY_HTML: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>\n";

/// A successful, non-empty list response.
fn is_nonempty_list(body: &Value) -> bool {
    body["object"] == "list" && body["data"].as_array().is_some_and(|d| !d.is_empty())
}

/// The largest char boundary of `s` at or below `i`.
fn floor_boundary(s: &[u8], mut i: usize) -> usize {
    while i > 0 && i < s.len() && (s[i] & 0xC0) == 0x80 {
        i -= 1;
    }
    i
}

/// The fallback handler: every request that is not an admin endpoint.
async fn stripe(State(app): State<Arc<App>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let cut = req.extensions().get::<ConnectInfo<Cut>>().map(|c| c.0.clone());
    let request_id = app.request_id();
    let _in_flight = (!path.starts_with("/_fake/")).then(|| app.switches.enter());
    let latency = app.switches.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let stripe_path = !path.starts_with("/_fake/");
    // `delete_cursor`: the object the cursor names is deleted before the request is served.
    let cursor = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "starting_after").map(|(_, v)| v.into_owned());
    let mut deleted_cursor = None;
    if let (true, Some(id)) = (stripe_path, cursor) {
        if let Some(resource) = app.switches.take_delete_cursor(&path) {
            if let Err(e) = app.delete(&resource, &id) {
                eprintln!("fake-stripe: delete_cursor: cannot delete {resource} {id}: {}", e.message);
            }
            deleted_cursor = Some(format!("delete_cursor:{id}"));
        }
    }
    let wire = if stripe_path { app.switches.take_fault(&path, false) } else { None };
    let version = header_str(&headers, "stripe-version").unwrap_or(API_VERSION).to_string();
    // Faults edit the value (or its bytes), so a list is spliced from prerendered texts only when none is
    // queued; one queued meanwhile counts as queued after this request. (Queued failures answer before the
    // route, so they never meet a page.)
    let splice = stripe_path && wire.is_none() && !app.switches.has_faults();
    let (status, mut body, mut extra, spliced) = match app.handle(&method, &path, &query, &headers, splice) {
        Ok(Answer::Value(v)) => (200, v, Vec::new(), None),
        Ok(Answer::Spliced(bytes)) => (200, Value::Null, Vec::new(), Some(bytes)),
        Err(e) => (e.status, e.body(&request_id), e.headers.clone(), None),
    };
    let mut applied = wire.as_ref().map(|k| k.name().to_string()).or(deleted_cursor);
    if spliced.is_some() {
        // A list served normally, as below when no list fault applies.
        app.switches.set_last_list(&path, &query);
    } else if stripe_path && status == 200 && body["object"] == "list" {
        let list_fault = if wire.is_none() && is_nonempty_list(&body) { app.switches.take_fault(&path, true) } else { None };
        match list_fault {
            Some(FaultKind::RepeatCursor) => {
                let previous = app.switches.last_list(&path).unwrap_or_else(|| query.clone());
                if let Ok(v) = app.route(&path, &previous) {
                    body = v;
                }
                body["has_more"] = json!(true);
                applied = Some(FaultKind::RepeatCursor.name().to_string());
            }
            Some(FaultKind::DropObject) => {
                let data = body["data"].as_array_mut().expect("a list");
                let i = if data.len() >= 3 { data.len() / 2 } else { 0 };
                let dropped = data.remove(i);
                applied = Some(format!("drop_object:{}", dropped["id"].as_str().unwrap_or("")));
            }
            _ => app.switches.set_last_list(&path, &query),
        }
    }
    extra.push(("Stripe-Version", version));
    let limiter = extra
        .iter()
        .find(|(name, _)| *name == "Stripe-Rate-Limited-Reason")
        .and_then(|(_, v)| Limiter::from_reason(v))
        .map(|l| l.name().to_string());
    if stripe_path {
        app.switches.log(LoggedRequest {
            method: method.to_string(),
            path,
            query,
            stripe_version: header_str(&headers, "stripe-version").map(str::to_string),
            stripe_account: header_str(&headers, "stripe-account").map(str::to_string),
            status,
            fault: applied,
            limiter,
        });
    }
    match wire {
        Some(FaultKind::Slow(d)) => {
            tokio::time::sleep(d).await;
            json_response(status, &body, &request_id, &extra)
        }
        Some(FaultKind::ResetMidBody) => {
            let bytes = json_bytes(&body);
            match cut {
                Some(cut) => cut.arm(bytes.len() / 2),
                None => eprintln!("fake-stripe: reset_mid_body needs the connection (served without CutListener)"),
            }
            bytes_response(status, "application/json", bytes, &request_id, &extra)
        }
        Some(FaultKind::TruncatedJson) => {
            let mut bytes = json_bytes(&body);
            bytes.truncate(floor_boundary(&bytes, bytes.len() / 2));
            bytes_response(status, "application/json", bytes, &request_id, &extra)
        }
        Some(FaultKind::MalformedJson) => bytes_response(status, "text/html", BAD_GATEWAY_HTML.as_bytes().to_vec(), &request_id, &extra),
        _ => match spliced {
            Some(mut bytes) => {
                bytes.push(b'\n'); // as `json_bytes`
                bytes_response(status, "application/json", bytes, &request_id, &extra)
            }
            None => json_response(status, &body, &request_id, &extra),
        },
    }
}

/// The router: admin endpoints plus the Stripe API as fallback.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/_fake/health", get(health))
        .route("/_fake/switches", get(switches))
        .route("/_fake/latency", post(set_latency))
        .route("/_fake/fail", post(fail))
        .route("/_fake/fault", post(fault))
        .route("/_fake/rate_limit", post(rate_limit))
        .route("/_fake/endpoint_rate_limit", post(endpoint_rate_limit))
        .route("/_fake/forbid", post(forbid))
        .route("/_fake/products", post(products))
        .route("/_fake/reset", post(reset))
        .route("/_fake/requests", get(requests).delete(clear_requests))
        .route("/_fake/objects/{resource}", get(objects).post(create_object))
        .route("/_fake/objects/{resource}/{id}", post(update_object).delete(delete_object))
        .route("/_fake/round", post(round))
        .route("/_fake/event_api_version", post(event_api_version))
        .route("/_fake/clock/advance", post(advance_clock))
        .fallback(stripe)
        .with_state(app)
}

fn admin_ok(app: &App, body: Value) -> Response {
    json_response(200, &body, &app.request_id(), &[])
}

/// Parses an admin request body, or answers 400.
fn admin_body<T: for<'de> Deserialize<'de>>(app: &App, body: &Bytes, apply: impl FnOnce(T)) -> Response {
    match serde_json::from_slice(body) {
        Ok(b) => {
            apply(b);
            admin_ok(app, json!({"ok": true}))
        }
        Err(e) => {
            let message = format!("Invalid admin request body: {e}");
            let err = json!({"error": {"type": "invalid_request_error", "message": message}});
            json_response(400, &err, &app.request_id(), &[])
        }
    }
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let body = {
        let s = app.store();
        json!({
            "ok": true,
            "now": s.now(),
            "clock": if s.clock == Clock::Real { "real" } else { "virtual" },
            "account": s.account_id,
            "event_api_version": s.event_api_version.as_deref().unwrap_or(API_VERSION),
        })
    };
    admin_ok(&app, body)
}

async fn switches(State(app): State<Arc<App>>) -> Response {
    let s = &app.switches;
    let body = json!({
        "latency_ms": s.latency().as_millis() as u64,
        "failures": s.failures(),
        "faults": s.faults().iter().map(Fault::to_json).collect::<Vec<_>>(),
        "rate_limit": s.rate_limit(),
        "endpoint_rate_limit": s.endpoint_rate_limit(),
        "forbidden": s.forbidden_prefixes(),
        "products": s.products(),
    });
    admin_ok(&app, body)
}

#[derive(Deserialize)]
struct LatencyBody {
    ms: u64,
}

async fn set_latency(State(app): State<Arc<App>>, body: Bytes) -> Response {
    admin_body(&app, &body, |b: LatencyBody| app.switches.set_latency(Duration::from_millis(b.ms)))
}

async fn fail(State(app): State<Arc<App>>, body: Bytes) -> Response {
    admin_body(&app, &body, |f: Failure| app.switches.fail_next(f))
}

#[derive(Deserialize)]
struct FaultBody {
    kind: String,
    #[serde(default = "one")]
    count: usize,
    #[serde(default)]
    path_prefix: Option<String>,
    #[serde(default)]
    ms: Option<u64>,
    #[serde(default)]
    resource: Option<String>,
}

fn one() -> usize {
    1
}

async fn fault(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let result = serde_json::from_slice::<FaultBody>(&body).map_err(|e| format!("Invalid admin request body: {e}")).and_then(|b| {
        let kind = FaultKind::from_parts(&b.kind, b.ms, b.resource.as_deref()).map_err(|e| format!("Invalid admin request body: {e}"))?;
        Ok(Fault { kind, count: b.count, path_prefix: b.path_prefix })
    });
    match result {
        Ok(f) => {
            app.switches.fault_next(f);
            admin_ok(&app, json!({"ok": true}))
        }
        Err(message) => {
            let err = json!({"error": {"type": "invalid_request_error", "message": message}});
            json_response(400, &err, &app.request_id(), &[])
        }
    }
}

#[derive(Deserialize)]
struct RateLimitBody {
    per_second: Option<u32>,
}

async fn rate_limit(State(app): State<Arc<App>>, body: Bytes) -> Response {
    admin_body(&app, &body, |b: RateLimitBody| app.switches.set_rate_limit(b.per_second))
}

async fn endpoint_rate_limit(State(app): State<Arc<App>>, body: Bytes) -> Response {
    admin_body(&app, &body, |b: RateLimitBody| app.switches.set_endpoint_rate_limit(b.per_second))
}

#[derive(Deserialize)]
struct ForbidBody {
    path_prefix: String,
}

async fn forbid(State(app): State<Arc<App>>, body: Bytes) -> Response {
    admin_body(&app, &body, |b: ForbidBody| app.switches.forbid(&b.path_prefix))
}

#[derive(Deserialize)]
struct ProductBody {
    product: String,
    enabled: bool,
}

async fn products(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let result = serde_json::from_slice::<ProductBody>(&body)
        .map_err(|e| format!("Invalid admin request body: {e}"))
        .and_then(|b| app.switches.set_product(&b.product, b.enabled).map_err(|e| format!("Invalid admin request body: {e}")));
    match result {
        Ok(()) => admin_ok(&app, json!({"ok": true, "products": app.switches.products()})),
        Err(message) => {
            let err = json!({"error": {"type": "invalid_request_error", "message": message}});
            json_response(400, &err, &app.request_id(), &[])
        }
    }
}

async fn reset(State(app): State<Arc<App>>) -> Response {
    app.switches.reset();
    admin_ok(&app, json!({"ok": true}))
}

async fn requests(State(app): State<Arc<App>>) -> Response {
    let log = app.switches.requests();
    admin_ok(&app, json!(log))
}

async fn clear_requests(State(app): State<Arc<App>>) -> Response {
    app.switches.clear_requests();
    admin_ok(&app, json!({"ok": true}))
}

async fn objects(State(app): State<Arc<App>>, Path(resource): Path<String>) -> Response {
    let objects = app.objects(&resource);
    admin_ok(&app, json!(objects))
}

/// A change's answer: the value, or Stripe's error body with its status.
fn admin_result(app: &App, result: Result<Value, ApiError>) -> Response {
    let request_id = app.request_id();
    match result {
        Ok(v) => json_response(200, &v, &request_id, &[]),
        Err(e) => json_response(e.status, &e.body(&request_id), &request_id, &[]),
    }
}

/// An admin body as JSON (empty = `{}`).
fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("Invalid admin request body: {e}")))
}

async fn create_object(State(app): State<Arc<App>>, Path(resource): Path<String>, body: Bytes) -> Response {
    let result = json_body(&body).and_then(|fields| app.create(&resource, &fields));
    admin_result(&app, result)
}

async fn update_object(State(app): State<Arc<App>>, Path((resource, id)): Path<(String, String)>, body: Bytes) -> Response {
    let result = json_body(&body).and_then(|changes| app.update(&resource, &id, &changes));
    admin_result(&app, result)
}

async fn delete_object(State(app): State<Arc<App>>, Path((resource, id)): Path<(String, String)>) -> Response {
    let result = app.delete(&resource, &id);
    admin_result(&app, result)
}

#[derive(Deserialize)]
struct RoundBody {
    seed: u64,
    #[serde(default = "default_operations")]
    operations: usize,
}

fn default_operations() -> usize {
    20
}

async fn round(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let result = serde_json::from_slice::<RoundBody>(&body)
        .map_err(|e| ApiError::invalid(format!("Invalid admin request body: {e}")))
        .map(|b| json!(app.random_round(b.seed, b.operations)));
    admin_result(&app, result)
}

#[derive(Deserialize)]
struct VersionBody {
    version: Option<String>,
}

async fn event_api_version(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let result = serde_json::from_slice::<VersionBody>(&body)
        .map_err(|e| ApiError::invalid(format!("Invalid admin request body: {e}")))
        .and_then(|b| {
            app.set_event_api_version(b.version.as_deref())?;
            Ok(json!({"ok": true, "version": b.version.as_deref().unwrap_or(API_VERSION)}))
        });
    admin_result(&app, result)
}

#[derive(Deserialize)]
struct AdvanceBody {
    seconds: i64,
}

async fn advance_clock(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let result = serde_json::from_slice::<AdvanceBody>(&body)
        .map_err(|e| ApiError::invalid(format!("Invalid admin request body: {e}")))
        .and_then(|b| app.advance_clock(b.seconds))
        .map(|now| json!({"ok": true, "now": now}));
    admin_result(&app, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("customer.*", "customer.source.created"));
        assert!(wildcard_match("customer.*", "customer.created"));
        assert!(!wildcard_match("customer.*", "charge.succeeded"));
        assert!(wildcard_match("*.created", "invoice.created"));
        assert!(wildcard_match("charge.succeeded", "charge.succeeded"));
        assert!(!wildcard_match("charge.succeeded", "charge.succeeded.x"));
    }

    #[test]
    fn versions_and_keys() {
        assert!(valid_version("2024-06-20"));
        assert!(valid_version("2024-09-30.acacia"));
        assert!(!valid_version("yesterday"));
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer sk_test_x".parse().unwrap());
        assert_eq!(api_key(&h).as_deref(), Some("sk_test_x"));
        h.insert("authorization", "Basic c2tfdGVzdF95Og==".parse().unwrap()); // sk_test_y:
        assert_eq!(api_key(&h).as_deref(), Some("sk_test_y"));
        assert_eq!(permission_for("/v1/charges/ch_1"), "rak_charge_read");
    }
}
