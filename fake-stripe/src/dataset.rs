/*!
Deterministic dataset generation: the same [`Dataset`], seed and `now` always give the same objects.

Shape of the data (per customer, counts drawn around the configured means):
- sources: cards and bank accounts, the first attached in the customer's creation second and set as
  `default_source`; a few customers have more than ten of each kind so that the embedded `sources` list
  and `/sources` paging both matter;
- customer balance transactions with a running `ending_balance` (the customer's `balance` is the last);
- charges, each succeeded one with a `charge` balance transaction; some refunded (a `refund` balance
  transaction) and some disputed (a dispute with its withdrawal balance transaction, plus a reversal when
  won);
- invoices with 1–25 line items (a few with more than 100), paid ones with their charge.

Plus coupons, a product catalog, and automatic payouts (`payout` balance transactions) sweeping the
balance at a fixed interval. Timestamps spread over `history_days` before `now`; about one object in
eight shares the second of the previous object of its kind, so lists have ties. Finally every object
created within `event_days` of `now` gets its creation event.
*/

use crate::generic::idx;
use crate::look::{Person, ORDERS, PRODUCTS};
use crate::model::*;
use crate::rng::Rng;
use crate::rules::{Line, NewInvoice};
use crate::store::{Product, Store};
use serde_json::Value;
use std::collections::HashMap;

const DAY: i64 = 86_400;

/// How much data to generate. `Default` is the demo dataset (about 60 customers, ~1,500 objects).
#[derive(Debug, Clone)]
pub struct Dataset {
    pub customers: usize,
    /// Objects are created within this many days before `now`.
    pub history_days: i64,
    /// Mean number of direct charges per customer (invoice payments come on top).
    pub charges_per_customer: f64,
    pub invoices_per_customer: f64,
    /// Upper bound of line items on an ordinary invoice.
    pub max_lines_per_invoice: usize,
    /// Invoices with more than 100 line items.
    pub large_invoices: usize,
    pub sources_per_customer: f64,
    /// Customers with more than ten cards and more than ten bank accounts.
    pub customers_with_many_sources: usize,
    pub balance_transactions_per_customer: f64,
    /// Share of succeeded charges that are disputed.
    pub dispute_rate: f64,
    /// Share of succeeded charges that are refunded (fully or in part).
    pub refund_rate: f64,
    pub coupons: usize,
    /// Days between automatic payouts; 0 for none.
    pub payout_interval_days: i64,
    /// Objects created within this many days of `now` get a creation event.
    pub event_days: i64,
    /// About how many objects of each generic resource (subscriptions, payouts, products, …; see
    /// `generic::RES`) to generate, with their children; 0 for none (the benchmark datasets).
    pub new_resources: usize,
}

impl Default for Dataset {
    fn default() -> Dataset {
        Dataset {
            customers: 60,
            history_days: 400,
            charges_per_customer: 2.5,
            invoices_per_customer: 1.5,
            max_lines_per_invoice: 25,
            large_invoices: 1,
            sources_per_customer: 1.5,
            customers_with_many_sources: 2,
            balance_transactions_per_customer: 1.5,
            dispute_rate: 0.04,
            refund_rate: 0.06,
            coupons: 6,
            payout_interval_days: 7,
            event_days: 30,
            new_resources: 3,
        }
    }
}

impl Dataset {
    /// The demo dataset with `n` customers (other counts scale along).
    pub fn with_customers(n: usize) -> Dataset {
        let d = Dataset::default();
        let factor = n as f64 / d.customers as f64;
        Dataset {
            customers: n,
            large_invoices: ((d.large_invoices as f64 * factor).round() as usize).max(usize::from(n > 0)),
            customers_with_many_sources: ((d.customers_with_many_sources as f64 * factor).round() as usize).min(n),
            coupons: ((d.coupons as f64 * factor).round() as usize).max(1),
            new_resources: 0,
            ..d
        }
    }

    /// The demo dataset scaled by `factor` (e.g. 10.0 for ~15,000 objects).
    pub fn scaled(factor: f64) -> Dataset {
        Dataset::with_customers((Dataset::default().customers as f64 * factor).round() as usize)
    }

    /// No objects at all (for tests that build their own).
    pub fn empty() -> Dataset {
        Dataset { customers: 0, coupons: 0, large_invoices: 0, customers_with_many_sources: 0, new_resources: 0, ..Dataset::default() }
    }

    /// The default dataset of a connected account: a few customers with their charges, invoices and
    /// events, and a couple of objects of every generic resource.
    pub fn connected() -> Dataset {
        Dataset {
            customers: 4,
            large_invoices: 0,
            customers_with_many_sources: 0,
            coupons: 1,
            history_days: 120,
            new_resources: 2,
            ..Dataset::default()
        }
    }
}

/// Builds the store for a dataset.
pub fn generate(ds: &Dataset, seed: u64, now: i64, account_id: String) -> Store {
    let mut rng = Rng::new(seed);
    let store = Store::new(now, account_id, rng.fork());
    let mut g = Gen { ds, rng, store, now, last_ts: HashMap::new() };
    g.products();
    g.coupons();
    let many: Vec<usize> =
        (0..ds.customers_with_many_sources).map(|k| (2 * k + 1) * ds.customers / (2 * ds.customers_with_many_sources)).collect();
    let large: Vec<usize> = (0..ds.large_invoices.min(ds.customers))
        .map(|k| (2 * k + 1) * ds.customers / (2 * ds.large_invoices.min(ds.customers)) + 1)
        .map(|i| i.min(ds.customers - 1))
        .collect();
    for i in 0..ds.customers {
        let spec = CustomerSpec { many_sources: many.contains(&i), large_invoice: large.contains(&i) };
        g.customer(spec);
    }
    g.payouts();
    g.store.reindex();
    g.events();
    g.store.reindex();
    let mut store = g.store;
    crate::generic::generate(&mut store, seed, ds.new_resources, ds.history_days, ds.event_days);
    store
}

struct CustomerSpec {
    many_sources: bool,
    large_invoice: bool,
}

struct Gen<'a> {
    ds: &'a Dataset,
    rng: Rng,
    store: Store,
    now: i64,
    /// The last timestamp drawn per object name, reused now and then to make ties.
    last_ts: HashMap<&'static str, i64>,
}

/// What a charge or an invoice needs to know about its customer.
struct Payer {
    id: String,
    /// The customer's `look` (its name and email in dispute evidence).
    look: u64,
    cards: Vec<(String, u64)>,
    /// The customer's details (copied onto its invoices).
    person: Person,
}

impl Gen<'_> {
    fn record(&mut self, id: String, created: i64, facts: Facts) -> Record {
        let seq = self.store.next_seq();
        Record { id, created, seq, facts, overrides: None }
    }

    fn add(&mut self, id: String, created: i64, facts: Facts) {
        let r = self.record(id, created, facts);
        self.store.push(r);
    }

    /// A creation time in `lo..=hi`; about one in eight repeats the previous one of the same kind.
    fn ts(&mut self, object: &'static str, lo: i64, hi: i64) -> i64 {
        let hi = hi.max(lo);
        if let Some(&last) = self.last_ts.get(object) {
            if (lo..=hi).contains(&last) && self.rng.chance(0.12) {
                return last;
            }
        }
        let t = self.rng.range(lo, hi);
        self.last_ts.insert(object, t);
        t
    }

    fn products(&mut self) {
        let start = self.now - (self.ds.history_days + 30) * DAY;
        for (name, unit_amount) in PRODUCTS {
            let p = Product {
                name,
                product_id: self.rng.id("prod_", 14),
                price_id: self.rng.id("price_", 24),
                unit_amount: *unit_amount,
                created: start + self.rng.range(0, 20 * DAY),
            };
            self.store.products.push(p);
        }
    }

    fn coupons(&mut self) {
        const CODES: &[&str] = &["SUMMER25", "WELCOME10", "BLACKFRIDAY", "PARTNER15", "LAUNCH50", "LOYALTY"];
        let start = self.now - self.ds.history_days * DAY;
        for i in 0..self.ds.coupons {
            let created = self.ts("coupon", start, self.now - 3600);
            let mut id = if let Some(code) = CODES.get(i).filter(|_| self.rng.chance(0.5)) { code.to_string() } else { self.rng.upper(8) };
            while self.pending_coupon(&id) {
                id.push_str(&self.rng.digits(1));
            }
            let (percent_off, amount_off, name) = if self.rng.chance(0.6) {
                let p = *self.rng.pick(&[10.0, 15.0, 20.0, 25.0, 50.0, 12.5]);
                (Some(p), None, format!("{p}% off"))
            } else {
                let a = *self.rng.pick(&[500i64, 1000, 2000, 5000]);
                (None, Some(a), format!("${} off", a / 100))
            };
            let (duration, duration_in_months) = match self.rng.below(3) {
                0 => ("once", None),
                1 => ("forever", None),
                _ => ("repeating", Some(*self.rng.pick(&[3i64, 6, 12]))),
            };
            let redeem_by = self.rng.chance(0.3).then(|| created + self.rng.range(30, 180) * DAY);
            let max_redemptions = self.rng.chance(0.4).then(|| *self.rng.pick(&[50i64, 100, 500]));
            let times_redeemed = self.rng.range(0, max_redemptions.unwrap_or(80).min(80));
            let terms = Coupon {
                name: self.rng.chance(0.85).then_some(name),
                percent_off,
                amount_off,
                currency: amount_off.map(|_| "usd"),
                duration,
                duration_in_months,
                max_redemptions,
                times_redeemed,
                redeem_by,
            };
            let value = crate::rules::coupon(&id, created, &terms);
            self.add(id, created, Facts::Generic(Generic { res: idx("coupon"), value: Box::new(value), parent: None }));
        }
    }

    fn pending_coupon(&self, id: &str) -> bool {
        self.store.gtable(idx("coupon")).rows().iter().any(|r| r.id == id)
    }

    fn customer(&mut self, spec: CustomerSpec) {
        let now = self.now;
        let created = self.ts("customer", now - self.ds.history_days * DAY, now - 3600);
        // Taken first so the customer sorts before the source attached in the same second.
        let seq = self.store.next_seq();
        let id = self.rng.id("cus_", 14);
        let look = self.rng.next_u64();
        let holder = Person::from_seed(look);
        let invoice_prefix = format!("{:08X}", self.rng.next_u64() as u32);

        // Sources: the first one is attached when the customer is created and becomes the default.
        let (cards, banks) = if spec.many_sources {
            (self.rng.range(11, 13) as usize, self.rng.range(11, 14) as usize)
        } else {
            let n = self.rng.count_around(self.ds.sources_per_customer);
            let cards = (0..n).filter(|_| self.rng.chance(0.6)).count();
            (cards, n - cards)
        };
        let mut kinds: Vec<bool> = (0..cards).map(|_| true).chain((0..banks).map(|_| false)).collect();
        for i in (1..kinds.len()).rev() {
            kinds.swap(i, self.rng.below(i + 1));
        }
        let mut payer = Payer { id: id.clone(), look, cards: Vec::new(), person: Person::from_seed(look) };
        let mut default_source = None;
        for (n, is_card) in kinds.into_iter().enumerate() {
            let at = if n == 0 { created } else { self.ts("card", created, now) };
            let look = self.rng.next_u64();
            let (sid, res, value) = if is_card {
                let sid = self.rng.id("card_", 24);
                payer.cards.push((sid.clone(), look));
                self.store.card_looks.insert(sid.clone(), look);
                let value = crate::rules::card(&sid, at, &Card { customer: id.clone(), look }, &holder);
                (sid, idx("card"), value)
            } else {
                let status = *self.rng.pick(&["new", "validated", "verified", "verified"]);
                let sid = self.rng.id("ba_", 24);
                (
                    sid.clone(),
                    idx("bank_account"),
                    crate::rules::bank_account(&sid, &BankAccount { customer: id.clone(), look, status }, &holder),
                )
            };
            if n == 0 {
                default_source = Some(sid.clone());
            }
            self.add(sid, at, Facts::Generic(Generic { res, value: Box::new(value), parent: Some(id.clone()) }));
        }

        // Customer balance: credits are negative, debits positive.
        let n = self.rng.count_around(self.ds.balance_transactions_per_customer);
        let mut times: Vec<i64> = (0..n).map(|_| self.ts("customer_balance_transaction", created, now)).collect();
        times.sort();
        let mut balance = 0;
        for (i, at) in times.into_iter().enumerate() {
            let (kind, amount, description) = if i == 0 && self.rng.chance(0.3) {
                ("initial", -self.rng.range(5, 50) * 100, Some("Starting credit"))
            } else if self.rng.chance(0.7) {
                let d = *self.rng.pick(&["Goodwill credit", "Referral credit", "Service outage credit"]);
                ("adjustment", -self.rng.range(1, 40) * 100, Some(d))
            } else {
                ("adjustment", self.rng.range(1, 20) * 100, self.rng.chance(0.5).then_some("Manual correction"))
            };
            balance += amount;
            let entry = CustomerBalanceTransaction {
                customer: id.clone(),
                amount,
                ending_balance: balance,
                currency: "usd",
                kind,
                description: description.map(str::to_string),
                invoice: None,
            };
            let tid = self.rng.id("cbtxn_", 24);
            let value = crate::rules::customer_balance_transaction(&tid, at, &entry);
            let res = idx("customer_balance_transaction");
            self.add(tid, at, Facts::Generic(Generic { res, value: Box::new(value), parent: Some(id.clone()) }));
        }

        // Direct charges.
        let charges = self.rng.count_around(self.ds.charges_per_customer);
        for _ in 0..charges {
            let at = self.ts("charge", created, now);
            let amount = self.rng.range(5, 400) * 100 + if self.rng.chance(0.3) { 99 } else { 0 };
            let failed = self.rng.chance(0.08);
            self.charge(&payer, at, amount, None, failed);
        }

        // Invoices, numbered in finalization order.
        let mut n = self.rng.count_around(self.ds.invoices_per_customer);
        if spec.large_invoice {
            n = n.max(1);
        }
        let mut times: Vec<i64> = (0..n).map(|_| self.ts("invoice", created, now)).collect();
        times.sort();
        let large_at = spec.large_invoice.then(|| self.rng.below(n));
        let mut sequence = 0;
        let mut delinquent = false;
        for (i, at) in times.into_iter().enumerate() {
            let lines = if large_at == Some(i) {
                self.rng.range(101, 130) as usize
            } else if self.rng.chance(0.3) {
                self.rng.range(1, self.ds.max_lines_per_invoice as i64) as usize
            } else {
                self.rng.range(1, 6.min(self.ds.max_lines_per_invoice as i64)) as usize
            };
            let status = self.invoice(&payer, at, lines, &invoice_prefix, &mut sequence);
            delinquent |= status == InvoiceStatus::Uncollectible;
        }

        let facts = Facts::Customer(Customer {
            look,
            balance,
            currency: (charges + n > 0 || balance != 0).then_some("usd"),
            default_source,
            invoice_prefix,
            next_invoice_sequence: sequence + 1,
            delinquent,
        });
        self.store.push(Record { id, created, seq, facts, overrides: None });
    }

    /// A charge (with its balance transaction, and perhaps a refund and a dispute). Returns its id and
    /// payment intent.
    fn charge(&mut self, payer: &Payer, at: i64, amount: i64, invoice: Option<&str>, failed: bool) -> (String, String) {
        let suffix = self.rng.alnum(24);
        let id = format!("ch_{suffix}");
        let payment_intent = format!("pi_{suffix}");
        let (payment_method, card_look) = if !payer.cards.is_empty() && self.rng.chance(0.5) {
            let (card, look) = self.rng.pick(&payer.cards);
            (card.clone(), *look)
        } else {
            (self.rng.id("pm_", 24), self.rng.next_u64())
        };
        let description = match invoice {
            Some(_) => Some("Payment for Invoice".to_string()),
            None => self.rng.chance(0.7).then(|| format!("{} #{}", self.rng.pick(ORDERS), self.rng.digits(5))),
        };
        let mut charge = Charge {
            customer: Some(payer.id.clone()),
            amount,
            currency: "usd",
            status: if failed { ChargeStatus::Failed } else { ChargeStatus::Succeeded },
            captured: !failed,
            amount_refunded: 0,
            refunds: Vec::new(),
            disputed: false,
            balance_transaction: None,
            invoice: invoice.map(str::to_string),
            payment_intent: payment_intent.clone(),
            payment_method,
            card_look,
            description: description.clone(),
            look: self.rng.next_u64(),
        };
        if !failed {
            let fee = (amount * 29 + 500) / 1000 + 30;
            let txn = self.balance_transaction(BalanceKind::Charge, at, amount, fee, &id, description.clone());
            charge.balance_transaction = Some(txn);

            if self.rng.chance(self.ds.refund_rate) {
                let refunded = if self.rng.chance(0.6) { amount } else { amount / 2 };
                let when = self.rng.range(at, (at + 20 * DAY).min(self.now));
                let refund_id = self.rng.id("re_", 24);
                let what = description.clone().unwrap_or_else(|| id.clone());
                let text = format!("REFUND FOR CHARGE ({what})");
                let txn = self.balance_transaction(BalanceKind::Refund, when, -refunded, 0, &refund_id, Some(text));
                charge.amount_refunded = refunded;
                charge.refunds.push(Refund { id: refund_id, amount: refunded, balance_transaction: txn, created: when });
            }
            let opened = at + self.rng.range(DAY, 40 * DAY);
            if charge.amount_refunded < amount && opened <= self.now && self.rng.chance(self.ds.dispute_rate) {
                self.dispute(payer, &mut charge, &id, opened);
            }
        }
        self.add(id.clone(), at, Facts::Charge(charge));
        (id, payment_intent)
    }

    fn balance_transaction(
        &mut self,
        kind: BalanceKind,
        at: i64,
        amount: i64,
        fee: i64,
        source: &str,
        description: Option<String>,
    ) -> String {
        let id = self.rng.id("txn_", 24);
        let available_on = match kind {
            BalanceKind::Payout => at,
            _ => (at / DAY + 2) * DAY,
        };
        let t = BalanceTransaction { kind, amount, fee, currency: "usd", source: source.to_string(), description, available_on };
        let value = crate::rules::balance_transaction(&id, at, &t);
        self.add(id.clone(), at, Facts::Generic(Generic { res: idx("balance_transaction"), value: Box::new(value), parent: None }));
        id
    }

    /// The object of a balance transaction pushed lately (found from the end: tables are indexed after
    /// generation).
    fn pushed_transaction(&self, id: &str) -> Value {
        let rows = self.store.gtable(idx("balance_transaction")).rows();
        match rows.iter().rev().find(|r| r.id == id).map(|r| &r.facts) {
            Some(Facts::Generic(g)) => (*g.value).clone(),
            _ => unreachable!("balance transaction {id} was pushed"),
        }
    }

    fn dispute(&mut self, payer: &Payer, charge: &mut Charge, charge_id: &str, at: i64) {
        const REASONS: &[&str] = &[
            "fraudulent",
            "fraudulent",
            "product_not_received",
            "duplicate",
            "subscription_canceled",
            "credit_not_processed",
            "general",
            "unrecognized",
        ];
        let id = self.rng.id("dp_", 24);
        let age = self.now - at;
        let status = if age < 7 * DAY {
            "needs_response"
        } else if age < 30 * DAY {
            "under_review"
        } else if self.rng.chance(0.5) {
            "won"
        } else {
            "lost"
        };
        let amount = charge.amount - charge.amount_refunded;
        let text = format!("Chargeback withdrawal for {charge_id}");
        let mut txns = vec![self.balance_transaction(BalanceKind::DisputeWithdrawal, at, -amount, 1500, &id, Some(text))];
        if status == "won" {
            let when = (at + self.rng.range(20, 29) * DAY).min(self.now);
            let text = format!("Chargeback reversal for {charge_id}");
            txns.push(self.balance_transaction(BalanceKind::DisputeReversal, when, amount, -1500, &id, Some(text)));
        }
        let terms = Dispute {
            charge: charge_id.to_string(),
            amount,
            currency: charge.currency,
            reason: REASONS[self.rng.below(REASONS.len())],
            status,
            evidence_submitted: status != "needs_response",
            payment_intent: charge.payment_intent.clone(),
            card_look: charge.card_look,
        };
        let customer = terms.evidence_submitted.then(|| Person::from_seed(payer.look));
        let txns = txns.iter().map(|t| self.pushed_transaction(t)).collect();
        let value = crate::rules::dispute(&id, at, &terms, customer.as_ref(), txns);
        self.add(id, at, Facts::Generic(Generic { res: idx("dispute"), value: Box::new(value), parent: None }));
        charge.disputed = true;
    }

    /// An invoice with its line items (and its payment). Returns its status.
    fn invoice(&mut self, payer: &Payer, at: i64, lines: usize, prefix: &str, sequence: &mut u32) -> InvoiceStatus {
        let now = self.now;
        let id = self.rng.id("in_", 24);
        let recent = now - at < 2 * DAY;
        let status = match self.rng.below(100) {
            _ if recent && self.rng.chance(0.5) => InvoiceStatus::Draft,
            0..=64 => InvoiceStatus::Paid,
            65..=79 => InvoiceStatus::Open,
            80..=87 => InvoiceStatus::Draft,
            88..=94 => InvoiceStatus::Void,
            _ => InvoiceStatus::Uncollectible,
        };
        let send_invoice = self.rng.chance(0.3);

        // Line items share the invoice's second; the first line gets the highest seq (listed first).
        let mut items = Vec::with_capacity(lines);
        let mut subtotal = 0;
        for _ in 0..lines {
            let product = self.rng.below(self.store.products.len());
            let quantity = if self.rng.chance(0.7) { 1 } else { self.rng.range(2, 5) };
            subtotal += self.store.products[product].unit_amount * quantity;
            let invoice_item = self.rng.id("ii_", 24);
            let lid = self.rng.id("il_", 24);
            let line = Line { invoice: &id, product: &self.store.products[product], quantity, invoice_item: &invoice_item, at };
            let value = crate::rules::line_item(&lid, &line);
            items.push((lid, value));
        }
        let res = idx("line_item");
        for (lid, value) in items.into_iter().rev() {
            self.add(lid, at, Facts::Generic(Generic { res, value: Box::new(value), parent: Some(id.clone()) }));
        }

        let finalized_at = (status != InvoiceStatus::Draft).then(|| (at + self.rng.range(60, 3600)).min(now));
        let number = finalized_at.map(|_| {
            *sequence += 1;
            format!("{prefix}-{:04}", *sequence)
        });
        let mut invoice = Invoice {
            customer: payer.id.clone(),
            status,
            send_invoice,
            number,
            charge: None,
            payment_intent: None,
            paid_out_of_band: false,
            subtotal,
            finalized_at,
            paid_at: None,
            voided_at: None,
            marked_uncollectible_at: None,
            due_date: send_invoice.then_some(at + 30 * DAY),
        };
        let look = self.rng.next_u64();
        if let Some(fin) = finalized_at {
            match status {
                InvoiceStatus::Paid => {
                    let paid_at = (fin + self.rng.range(0, 3 * DAY)).min(now);
                    invoice.paid_at = Some(paid_at);
                    if send_invoice && self.rng.chance(0.3) {
                        invoice.paid_out_of_band = true;
                    } else {
                        let (charge, pi) = self.charge(payer, paid_at, subtotal, Some(&id), false);
                        invoice.charge = Some(charge);
                        invoice.payment_intent = Some(pi);
                    }
                }
                InvoiceStatus::Open if !send_invoice => {
                    // Its automatic payment attempt failed.
                    let (charge, pi) = self.charge(payer, fin, subtotal, Some(&id), true);
                    invoice.charge = Some(charge);
                    invoice.payment_intent = Some(pi);
                }
                InvoiceStatus::Void => invoice.voided_at = Some((fin + self.rng.range(DAY, 10 * DAY)).min(now)),
                InvoiceStatus::Uncollectible => {
                    invoice.marked_uncollectible_at = Some((fin + 30 * DAY).min(now));
                }
                _ => {}
            }
        }
        let account = self.store.account_id.clone();
        let new = NewInvoice { id: &id, created: at, look, customer: &payer.person, account: &account };
        let value = crate::rules::invoice(&new, &invoice);
        self.add(id, at, Facts::Generic(Generic { res: idx("invoice"), value: Box::new(value), parent: None }));
        status
    }

    /// Automatic payouts: every `payout_interval_days`, the available balance is paid out. A paid-out
    /// transaction's parent is its payout.
    fn payouts(&mut self) {
        let every = self.ds.payout_interval_days;
        if every <= 0 {
            return;
        }
        let now = self.now;
        let rows = self.store.grows_mut(idx("balance_transaction"));
        let field = |r: &Record, name: &str| match &r.facts {
            Facts::Generic(g) => g.value[name].as_i64().unwrap_or(0),
            _ => unreachable!(),
        };
        // (available_on, net) of each row.
        let facts: Vec<(i64, i64)> = rows.iter().map(|r| (field(r, "available_on"), field(r, "amount") - field(r, "fee"))).collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| (facts[i].0, rows[i].seq));
        let first = now - self.ds.history_days * DAY;
        let mut day = (first / DAY + every) * DAY + 3 * 3600;
        let mut next = 0;
        let mut payouts = Vec::new();
        while day <= now {
            let id = self.rng.id("po_", 24);
            let mut total = 0;
            while next < order.len() {
                let (available_on, net) = facts[order[next]];
                if available_on > day {
                    break;
                }
                total += net;
                if let Facts::Generic(g) = &mut rows[order[next]].facts {
                    g.parent = Some(id.clone());
                }
                next += 1;
            }
            if total > 0 {
                payouts.push((id, day, total));
            }
            day += every * DAY;
        }
        for (id, at, total) in payouts {
            self.balance_transaction(BalanceKind::Payout, at, -total, 0, &id, Some("STRIPE PAYOUT".into()));
        }
    }

    /// A creation event for every object created within `event_days` of `now`.
    fn events(&mut self) {
        let since = self.now - self.ds.event_days * DAY;
        let mut events = Vec::new();
        for (name, event_type) in [("coupon", "coupon.created"), ("invoice", "invoice.created")] {
            for r in self.store.gtable(idx(name)).rows().iter().rev().take_while(|r| r.created >= since) {
                events.push((event_type, r.clone(), true));
            }
        }
        for name in ["card", "bank_account"] {
            for r in self.store.gtable(idx(name)).rows().iter().rev().take_while(|r| r.created >= since) {
                events.push(("customer.source.created", r.clone(), true));
            }
        }
        // Opened by the card network: no request.
        for r in self.store.gtable(idx("dispute")).rows().iter().rev().take_while(|r| r.created >= since) {
            events.push(("charge.dispute.created", r.clone(), false));
        }
        for kind in [Kind::Customer, Kind::Charge] {
            for r in self.store.table(kind).rows().iter().rev().take_while(|r| r.created >= since) {
                let (event_type, by_api) = match &r.facts {
                    Facts::Customer(_) => ("customer.created", true),
                    Facts::Charge(c) if c.status == ChargeStatus::Failed => ("charge.failed", c.invoice.is_none()),
                    Facts::Charge(c) => ("charge.succeeded", c.invoice.is_none()),
                    _ => continue,
                };
                events.push((event_type, r.clone(), by_api));
            }
        }
        events.sort_by_key(|(_, r, _)| r.key());
        for (event_type, object, by_api) in events {
            let request = by_api.then(|| (self.rng.id("req_", 14), Some(self.rng.uuid())));
            let id = self.rng.id("evt_", 24);
            let created = object.created;
            let facts = Facts::Event(Event {
                event_type: event_type.to_string(),
                object: Snapshot::Record(Box::new(object)),
                previous_attributes: None,
                request,
                api_version: None,
            });
            self.add(id, created, facts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_dataset_has_the_promised_shape() {
        let now = 1_750_000_000;
        let s = generate(&Dataset::default(), 1, now, "acct_test".into());
        let count = |k: Kind| s.table(k).rows().len();
        let gcount = |name: &str| s.gtable(idx(name)).rows().len();
        assert_eq!(count(Kind::Customer), 60);
        let own = crate::generic::RES.iter().enumerate().filter(|(_, r)| r.own).map(|(res, _)| s.gtable(res).rows().len());
        let total: usize = Kind::ALL.iter().filter(|k| **k != Kind::Event).map(|k| count(*k)).sum::<usize>() + own.sum::<usize>();
        assert!((1000..=2500).contains(&total), "{total} objects");
        assert!(count(Kind::Event) > 10);
        assert!(gcount("dispute") >= 1);
        // Some invoice has more than 100 lines, some more than 10.
        let lines: Vec<usize> = s.gtable(idx("invoice")).rows().iter().map(|r| s.gchildren(idx("line_item"), &r.id).len()).collect();
        assert!(lines.iter().any(|&n| n > 100));
        assert!(lines.iter().filter(|&&n| n > 10).count() >= 3);
        // Some customer has more than ten bank accounts.
        assert!(s.table(Kind::Customer).rows().iter().any(|c| s.gchildren(idx("bank_account"), &c.id).len() > 10));
        for k in Kind::ALL {
            for r in s.table(k).rows() {
                assert!(r.created <= now, "{k:?} {} in the future", r.id);
            }
        }
    }
}
