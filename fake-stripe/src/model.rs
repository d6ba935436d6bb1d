/*!
What the fake holds: one [`Record`] per Stripe object, made of the facts that generation decided.

A record keeps only what ties objects together (ids, amounts, statuses, timestamps) plus a `look` seed
from which cosmetic values (names, card numbers, URLs) are derived when the object is rendered, so a
100,000-charge dataset stays small in memory. `overrides` holds top-level fields replaced after
generation or by update calls (free-form fields such as `metadata`, `email`, `description`); rendering
applies them last. Facts that other objects depend on (balances, statuses, amounts) are changed in place
by `mutate`.
*/

use serde_json::{Map, Value};

/// The kinds of object the fake stores. `object` names follow Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Customer,
    Charge,
    Event,
    /// A resource served generically (see `generic`): which one is in [`Generic::res`]. Not in
    /// [`Kind::ALL`]; its records live in the store's generic tables.
    Generic,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Customer, Kind::Charge, Kind::Event];

    /// Stripe's `object` value, also the component schema name.
    pub fn object(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::Charge => "charge",
            Kind::Event => "event",
            Kind::Generic => "object",
        }
    }

    pub fn from_object(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.object() == name)
    }

    /// The id prefix Stripe uses for this kind.
    pub fn id_prefix(self) -> Option<&'static str> {
        Some(match self {
            Kind::Customer => "cus_",
            Kind::Charge => "ch_",
            Kind::Event => "evt_",
            Kind::Generic => return None,
        })
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One stored object.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    /// Creation time (unix seconds). Kept for every kind, also those without a `created` field
    /// (line items, a customer's cards and bank accounts), because it orders lists.
    pub created: i64,
    /// Insertion order: the tie-break between objects created in the same second (higher = newer).
    pub seq: u64,
    pub facts: Facts,
    /// Top-level fields replaced after generation (update calls); applied last when rendering.
    pub overrides: Option<Box<Map<String, Value>>>,
}

impl Record {
    pub fn kind(&self) -> Kind {
        self.facts.kind()
    }

    /// Order key of lists: newest first means descending `(created, seq)`.
    pub fn key(&self) -> (i64, u64) {
        (self.created, self.seq)
    }

    /// The parent id for objects listed under a parent (a generic record's parent).
    pub fn parent(&self) -> Option<&str> {
        match &self.facts {
            Facts::Generic(g) => g.parent.as_deref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Facts {
    Customer(Customer),
    Charge(Charge),
    Event(Event),
    Generic(Generic),
}

impl Facts {
    pub fn kind(&self) -> Kind {
        match self {
            Facts::Customer(_) => Kind::Customer,
            Facts::Charge(_) => Kind::Charge,
            Facts::Event(_) => Kind::Event,
            Facts::Generic(_) => Kind::Generic,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Customer {
    /// Seed of name, email, phone, address.
    pub look: u64,
    pub balance: i64,
    pub currency: Option<&'static str>,
    pub default_source: Option<String>,
    pub invoice_prefix: String,
    pub next_invoice_sequence: u32,
    pub delinquent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeStatus {
    Succeeded,
    Failed,
    /// Not settled yet (e.g. a bank debit); becomes succeeded or failed.
    Pending,
}

impl ChargeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::Succeeded => "succeeded",
            ChargeStatus::Failed => "failed",
            ChargeStatus::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Charge {
    pub customer: Option<String>,
    pub amount: i64,
    pub currency: &'static str,
    pub status: ChargeStatus,
    /// False for an authorization not captured yet (`capture=false`).
    pub captured: bool,
    pub amount_refunded: i64,
    /// The refunds making up `amount_refunded`, oldest first.
    pub refunds: Vec<Refund>,
    pub disputed: bool,
    pub balance_transaction: Option<String>,
    pub invoice: Option<String>,
    pub payment_intent: String,
    /// A saved card (`card_…`) or a PaymentMethod (`pm_…`).
    pub payment_method: String,
    /// Seed of the card's brand, number and expiry (the saved card's own seed when one was used).
    pub card_look: u64,
    pub description: Option<String>,
    /// Seed of receipt URL, risk score, metadata.
    pub look: u64,
}

/// A charge's refund (not a stored object of its own: it shows only in an expanded `charge.refunds`).
#[derive(Debug, Clone)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    pub balance_transaction: String,
    pub created: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

impl InvoiceStatus {
    const ALL: [InvoiceStatus; 5] =
        [InvoiceStatus::Draft, InvoiceStatus::Open, InvoiceStatus::Paid, InvoiceStatus::Void, InvoiceStatus::Uncollectible];

    /// The status named `s` (Stripe's `status` value).
    pub fn parse(s: &str) -> Option<InvoiceStatus> {
        InvoiceStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
            InvoiceStatus::Uncollectible => "uncollectible",
        }
    }
}

/// What generation or a change decides about an invoice (`rules::invoice` builds the object,
/// `rules::set_invoice` keeps it in line with changed facts, `rules::invoice_facts` reads them back).
#[derive(Debug, Clone)]
pub struct Invoice {
    pub customer: String,
    pub status: InvoiceStatus,
    /// `send_invoice` when true, else `charge_automatically`.
    pub send_invoice: bool,
    pub number: Option<String>,
    pub charge: Option<String>,
    pub payment_intent: Option<String>,
    pub paid_out_of_band: bool,
    /// Sum of the line amounts.
    pub subtotal: i64,
    pub finalized_at: Option<i64>,
    pub paid_at: Option<i64>,
    pub voided_at: Option<i64>,
    pub marked_uncollectible_at: Option<i64>,
    pub due_date: Option<i64>,
}

/// What generation or a create decides about a coupon (`rules::coupon` builds the object).
#[derive(Debug, Clone)]
pub struct Coupon {
    pub name: Option<String>,
    pub percent_off: Option<f64>,
    pub amount_off: Option<i64>,
    pub currency: Option<&'static str>,
    pub duration: &'static str,
    pub duration_in_months: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub times_redeemed: i64,
    pub redeem_by: Option<i64>,
}

/// What generation or a create decides about a dispute (`rules::dispute` builds the object, with the
/// balance transactions it caused).
#[derive(Debug, Clone)]
pub struct Dispute {
    pub charge: String,
    pub amount: i64,
    pub currency: &'static str,
    pub reason: &'static str,
    pub status: &'static str,
    /// Evidence was submitted (`evidence_details.has_evidence`).
    pub evidence_submitted: bool,
    pub payment_intent: String,
    pub card_look: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceKind {
    Charge,
    Refund,
    /// Funds withdrawn for a dispute (`type: adjustment`, `reporting_category: dispute`).
    DisputeWithdrawal,
    /// Funds returned when a dispute is won.
    DisputeReversal,
    Payout,
}

/// What generation or a change decides about a balance transaction (`rules::balance_transaction` builds
/// the object). The automatic payout that paid it out, if any, is the record's parent (`Generic::parent`),
/// not a Stripe field: the `payout` filter of `/v1/balance_transactions` reads it.
#[derive(Debug, Clone)]
pub struct BalanceTransaction {
    pub kind: BalanceKind,
    pub amount: i64,
    pub fee: i64,
    pub currency: &'static str,
    /// The object that caused it: `ch_…`, `re_…`, `dp_…`, `po_…`.
    pub source: String,
    pub description: Option<String>,
    pub available_on: i64,
}

/// What generation or a create decides about a customer balance transaction
/// (`rules::customer_balance_transaction` builds the object).
#[derive(Debug, Clone)]
pub struct CustomerBalanceTransaction {
    pub customer: String,
    pub amount: i64,
    pub ending_balance: i64,
    pub currency: &'static str,
    pub kind: &'static str,
    pub description: Option<String>,
    pub invoice: Option<String>,
}

/// What generation or a create decides about a customer's bank account (`rules::bank_account` builds
/// the object).
#[derive(Debug, Clone)]
pub struct BankAccount {
    pub customer: String,
    /// Seed of the bank, number and holder type.
    pub look: u64,
    pub status: &'static str,
}

/// What generation or a create decides about a customer's card (`rules::card` builds the object).
#[derive(Debug, Clone)]
pub struct Card {
    pub customer: String,
    /// Seed of the brand, number and expiry (also of the charges paid with the card).
    pub look: u64,
}

#[derive(Debug, Clone)]
pub struct Event {
    /// e.g. `customer.created`.
    pub event_type: String,
    /// The object as it was when the event happened.
    pub object: Snapshot,
    pub previous_attributes: Option<Map<String, Value>>,
    /// `(request id, idempotency key)` for API-made changes (DELETE requests carry no idempotency key),
    /// `None` for automatic ones.
    pub request: Option<(String, Option<String>)>,
    /// The API version `data` is rendered in; `None` for the fake's own (2024-06-20).
    pub api_version: Option<String>,
}

/// An event's `data.object`.
#[derive(Debug, Clone)]
pub enum Snapshot {
    /// A copy of the record, rendered when the event is read (generated events: cheap for big datasets).
    Record(Box<Record>),
    /// The object rendered when the event happened (events of changes made through `mutate`), so that
    /// later changes to related objects (an invoice's lines, a deleted customer) never alter it.
    Rendered(Box<Value>),
}

/// An object of a generic resource: its rendered JSON (embedded lists are filled from the children when
/// rendered) and the id of its parent (the object it is listed under), if any.
#[derive(Debug, Clone)]
pub struct Generic {
    /// Index into [`crate::generic::RES`].
    pub res: usize,
    pub value: Box<Value>,
    pub parent: Option<String>,
}
