//! `fake-stripe`: serve the fake Stripe API until killed.

use clap::Parser;
use fake_stripe::{Dataset, FakeStripe, Options};
use std::process::ExitCode;
use std::time::Duration;

/// The fake builds every object it serves as a tree of small allocations; mimalloc makes that
/// about twice as cheap as the system allocator, so the fake takes less of the CPU a benchmark
/// or test shares with the tap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A fake Stripe API (version 2024-06-20 shapes) with a deterministic dataset.
#[derive(Parser, Debug)]
#[command(name = "fake-stripe", version)]
struct Cli {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 12111)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The API key clients must send.
    #[arg(long, default_value = "sk_test_fake")]
    key: String,
    /// Seed of the dataset.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Multiply the demo dataset (60 customers, ~1,500 objects) by this factor.
    #[arg(long, conflicts_with = "customers")]
    scale: Option<f64>,
    /// Number of customers (other counts scale along).
    #[arg(long)]
    customers: Option<usize>,
    /// Mean number of direct charges per customer (default 2.5).
    #[arg(long)]
    charges_per_customer: Option<f64>,
    /// Mean number of invoices per customer (default 1.5).
    #[arg(long)]
    invoices_per_customer: Option<f64>,
    /// About how many objects of each generic resource (subscriptions, payment methods, payouts, …)
    /// to generate with their children (default: none for --customers and --scale, 3 otherwise).
    #[arg(long)]
    generic_objects: Option<usize>,
    /// Reference time of the dataset, unix seconds; starts a virtual clock (default: the real clock).
    #[arg(long)]
    now: Option<i64>,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Requests per second allowed (429 beyond).
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Requests per second allowed to each endpoint (method and path template), while --rate-limit
    /// is set; 0 for no per-endpoint limit.
    #[arg(long, default_value_t = 25)]
    endpoint_rate_limit: u32,
    /// API version of the events created by changes (e.g. 2020-08-27; default 2024-06-20).
    #[arg(long)]
    event_api_version: Option<String>,
    /// Connected accounts of the platform (each with its own small dataset; `Stripe-Account` selects one).
    #[arg(long, default_value_t = 0)]
    connected_accounts: usize,
    /// Render list texts at start and serve list pages from them (same bytes, much less CPU; about
    /// 3.5 KB of memory per charge). Any change drops them.
    #[arg(long)]
    prerender: bool,
    /// Activate a product the account lacks by default (`issuing`); may be repeated.
    #[arg(long = "enable", value_name = "PRODUCT")]
    enable: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut dataset = match (cli.scale, cli.customers) {
        (Some(f), _) => Dataset::scaled(f),
        (_, Some(n)) => Dataset::with_customers(n),
        _ => Dataset::default(),
    };
    if let Some(c) = cli.charges_per_customer {
        dataset.charges_per_customer = c;
    }
    if let Some(i) = cli.invoices_per_customer {
        dataset.invoices_per_customer = i;
    }
    if let Some(g) = cli.generic_objects {
        dataset.new_resources = g;
    }
    let mut products = Vec::new();
    for name in &cli.enable {
        match fake_stripe::product(name) {
            Some(p) => products.push(p.name),
            None => {
                eprintln!("fake-stripe: --enable {name}: unknown product (known: issuing)");
                return ExitCode::from(2);
            }
        }
    }
    let opts = Options {
        api_key: cli.key,
        seed: cli.seed,
        dataset,
        now: cli.now,
        account_id: None,
        latency: Duration::from_millis(cli.latency_ms),
        rate_limit: cli.rate_limit,
        endpoint_rate_limit: Some(cli.endpoint_rate_limit).filter(|&n| n > 0),
        connected_accounts: cli.connected_accounts,
        prerender: cli.prerender,
        products,
        ..Options::default()
    };
    match FakeStripe::bind(opts, &format!("{}:{}", cli.host, cli.port)) {
        Ok(fake) => {
            if let Err(e) = fake.try_set_event_api_version(cli.event_api_version.as_deref()) {
                eprintln!("fake-stripe: --event-api-version: {e}");
                return ExitCode::from(2);
            }
            println!("listening on {}", fake.base_url);
            fake.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fake-stripe: cannot listen on {}:{}: {e}", cli.host, cli.port);
            ExitCode::from(2)
        }
    }
}
