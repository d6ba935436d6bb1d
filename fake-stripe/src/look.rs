/*!
Cosmetic values derived from a record's `look` seed: names, emails, addresses, card and bank details.

The same seed always gives the same values, so they need not be stored. Card numbers and routing numbers
are Stripe's documented test values.
*/

use crate::rng::Rng;

const FIRST: &[&str] = &[
    "Jenny", "Ava", "Liam", "Noah", "Mia", "Lucas", "Emma", "Olivia", "Ethan", "Sofia", "Mateo", "Amara", "Hiro", "Priya", "Chen",
    "Fatima", "Jonas", "Ines", "Kofi", "Lena", "Omar", "Yuki", "Zoe", "Ravi",
];
const LAST: &[&str] = &[
    "Rosen",
    "Smith",
    "Garcia",
    "Müller",
    "Nakamura",
    "Okafor",
    "Dubois",
    "Rossi",
    "Kowalski",
    "Singh",
    "Andersson",
    "Silva",
    "Haddad",
    "Kim",
    "Novak",
    "Ibrahim",
    "Larsen",
    "Moreau",
    "Costa",
    "Tanaka",
];
const COMPANIES: &[&str] = &[
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Labs",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Soylent",
    "Vandelay Industries",
    "Pied Piper",
];
const STREETS: &[&str] = &["Market Street", "Main Street", "Mission Street", "Oak Avenue", "Pine Road", "Elm Street", "Hill Road"];
/// (city, state, postal code prefix)
const CITIES: &[(&str, &str, &str)] = &[
    ("San Francisco", "CA", "941"),
    ("New York", "NY", "100"),
    ("Austin", "TX", "787"),
    ("Seattle", "WA", "981"),
    ("Chicago", "IL", "606"),
    ("Denver", "CO", "802"),
    ("Boston", "MA", "021"),
];

/// A US postal address.
#[derive(Debug, Clone)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: &'static str,
    pub state: &'static str,
    pub postal_code: String,
}

/// A customer's person (or company) details.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub description: Option<String>,
    pub preferred_locales: Vec<&'static str>,
    pub shipping: bool,
    pub metadata: Option<(&'static str, String)>,
}

impl Person {
    pub fn from_seed(seed: u64) -> Person {
        let mut r = Rng::new(seed);
        let first = *r.pick(FIRST);
        let last = *r.pick(LAST);
        let company = r.chance(0.25).then(|| *r.pick(COMPANIES));
        let name = match company {
            Some(c) => c.to_string(),
            None => format!("{first} {last}"),
        };
        let local: String = format!("{}.{}", first, last).to_lowercase().chars().map(|c| if c == 'ü' { 'u' } else { c }).collect();
        let email = format!("{local}{}@example.com", r.range(1, 999));
        let phone = r.chance(0.5).then(|| format!("+1415555{}", r.digits(4)));
        let address = r.chance(0.6).then(|| {
            let (city, state, zip) = *r.pick(CITIES);
            Address {
                line1: format!("{} {}", r.range(1, 2999), r.pick(STREETS)),
                line2: r.chance(0.2).then(|| format!("Suite {}", r.range(100, 999))),
                city,
                state,
                postal_code: format!("{zip}{}", r.digits(2)),
            }
        });
        let description = match company {
            Some(_) => Some("Business account".to_string()),
            None => r.chance(0.2).then(|| format!("Customer referred by {}", r.pick(FIRST))),
        };
        let preferred_locales = if r.chance(0.3) { vec!["en-US"] } else { vec![] };
        let shipping = address.is_some() && r.chance(0.3);
        let metadata = r.chance(0.4).then(|| ("crm_id", format!("CRM-{}", r.digits(6))));
        Person { name, email, phone, address, description, preferred_locales, shipping, metadata }
    }
}

/// A card: brand, test number, expiry.
#[derive(Debug, Clone)]
pub struct CardLook {
    /// As on a card object: `Visa`, `MasterCard`, `American Express`, `Discover`.
    pub brand: &'static str,
    /// As in `payment_method_details.card.brand`: `visa`, `mastercard`, `amex`, `discover`.
    pub pm_brand: &'static str,
    pub last4: &'static str,
    pub funding: &'static str,
    pub exp_month: i64,
    /// Years after the dataset's reference year.
    pub exp_years_ahead: i64,
    pub fingerprint: String,
    pub zip: Option<String>,
}

/// Stripe's test cards: (brand, payment method brand, last4, funding).
const CARDS: &[(&str, &str, &str, &str)] = &[
    ("Visa", "visa", "4242", "credit"),
    ("Visa", "visa", "5556", "debit"),
    ("MasterCard", "mastercard", "4444", "credit"),
    ("MasterCard", "mastercard", "8210", "debit"),
    ("American Express", "amex", "8431", "credit"),
    ("Discover", "discover", "1117", "credit"),
];

impl CardLook {
    pub fn from_seed(seed: u64) -> CardLook {
        let mut r = Rng::new(seed);
        let (brand, pm_brand, last4, funding) = *r.pick(CARDS);
        CardLook {
            brand,
            pm_brand,
            last4,
            funding,
            exp_month: r.range(1, 12),
            exp_years_ahead: r.range(1, 5),
            fingerprint: r.alnum(16),
            zip: r.chance(0.5).then(|| format!("941{}", r.digits(2))),
        }
    }
}

/// A US bank account from Stripe's test numbers.
#[derive(Debug, Clone)]
pub struct BankLook {
    pub bank_name: &'static str,
    pub routing_number: &'static str,
    pub last4: &'static str,
    pub holder_type: &'static str,
    pub fingerprint: String,
}

const BANKS: &[(&str, &str, &str)] =
    &[("STRIPE TEST BANK", "110000000", "6789"), ("STRIPE TEST BANK", "110000000", "2227"), ("STRIPE TEST BANK", "110000000", "0000")];

impl BankLook {
    pub fn from_seed(seed: u64) -> BankLook {
        let mut r = Rng::new(seed);
        let (bank_name, routing_number, last4) = *r.pick(BANKS);
        BankLook {
            bank_name,
            routing_number,
            last4,
            holder_type: if r.chance(0.3) { "company" } else { "individual" },
            fingerprint: r.alnum(16),
        }
    }
}

/// Things a business sells, for invoice lines: (name, unit amount in cents).
pub const PRODUCTS: &[(&str, i64)] = &[
    ("Starter plan", 900),
    ("Pro plan", 2900),
    ("Business plan", 9900),
    ("Extra seat", 1200),
    ("Onboarding session", 15000),
    ("Consulting hour", 18000),
    ("API calls (10k)", 500),
    ("Storage (100 GB)", 1000),
    ("Priority support", 4900),
    ("Custom domain", 300),
    ("Data export", 2500),
    ("Training workshop", 75000),
];

/// Things a charge pays for, for charge descriptions.
pub const ORDERS: &[&str] = &["Order", "Purchase", "Renewal", "Top-up", "Booking"];
