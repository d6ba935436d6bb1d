//! The accounts a run reads: one in a plain sync; in a Connect sync the platform's own and the
//! connected accounts (`account_ids`, or every one with `connected_accounts: all`), each read
//! with its `Stripe-Account` header and bookmarked on its own, all sharing one pacer.

use std::sync::Arc;

use serde_json::Value;

use crate::catalog::Selection;
use crate::client::Client;
use crate::config::{Accounts, Config};
use crate::error::{Error, Result};
use crate::log;
use crate::page::Listed;
use crate::streams::Scope;

/// One account a sync reads: a plain sync reads one; a Connect sync several, each with its own
/// `Stripe-Account` header and bookmarks, all sharing one pacer.
pub(crate) struct Account {
    /// The account id: the `account` column of its records and `{account}` in paths.
    pub id: String,
    /// Key of its bookmarks under each stream's entry (`accounts.<id>`) in a Connect sync;
    /// `None` in a plain sync, whose bookmarks are the stream's entry itself.
    pub bookmarks: Option<String>,
    /// Requests reading this account.
    pub client: Client,
    /// Whether this run reads the account's streams: `false` only for a connected account of
    /// another `account_shard`, kept by shard 1 for its changes to the platform's streams.
    pub held: bool,
}

/// The accounts this run reads, the platform's own first. A plain sync reads one account: the
/// `account_id`, or the key's own (whose id `/v1/account` gives, for the `account` column).
pub(crate) async fn resolve(config: &Config, client: &Client, selected: &[Selection]) -> Result<Vec<Arc<Account>>> {
    let own_id = match &config.account_id {
        Some(id) => id.clone(),
        None => own_account_id(client).await?,
    };
    let shard = config.account_shard;
    let connect = |id: String| -> Result<Arc<Account>> {
        let held = shard.is_none_or(|s| s.holds(&id));
        Ok(Arc::new(Account { client: client.for_account(&id)?, bookmarks: Some(id.clone()), id, held }))
    };
    let held = shard.is_none_or(|s| s.holds_platform());
    let own = |bookmarks: Option<String>| Arc::new(Account { id: own_id.clone(), bookmarks, client: client.clone(), held });
    let accounts = match &config.accounts {
        Accounts::One => vec![own(None)],
        Accounts::Listed(ids) => {
            // Platform streams (connected accounts and their persons) are read as the key's
            // account; each listed account's streams with its header.
            let mut out = Vec::new();
            if selected.iter().any(|s| s.stream.scope == Scope::Platform) {
                out.push(own(None));
            }
            for id in ids {
                out.push(connect(id.clone())?);
            }
            out
        }
        Accounts::AllConnected => {
            let mut out = vec![own(Some(own_id.clone()))];
            for id in connected_account_ids(client).await? {
                if id != own_id {
                    out.push(connect(id)?);
                }
            }
            log::info(&format!("connected_accounts: all: syncing {} accounts ({} connected)", out.len(), out.len() - 1));
            out
        }
    };
    let follows = selected.iter().any(|s| s.stream.scope == Scope::Platform);
    Ok(match shard {
        Some(s) => s.keep(accounts, |a| a.held, follows),
        None => accounts,
    })
}

/// The id of the key's own account (`GET /v1/account`).
async fn own_account_id(client: &Client) -> Result<String> {
    let why = "tap-stripe needs the account id for the `account` column";
    match client.get_value("/v1/account", &Vec::new()).await {
        Ok(v) => v
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::BadResponse { url: "/v1/account".into(), problem: "the account has no `id`".into() }),
        Err(Error::Http { status: Some(403), message, .. }) => Err(Error::Config {
            key: "account_id".into(),
            problem: format!("is not set and the key cannot read its own account ({message}); {why}: set account_id to your acct_… id"),
        }),
        Err(e) => Err(e),
    }
}

/// Every connected account of the platform (`GET /v1/accounts`, paged).
async fn connected_account_ids(client: &Client) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut pages = client.pages("/v1/accounts", Vec::new());
    loop {
        match pages.next::<Value>().await {
            Ok(Some(page)) => ids.extend(page.data.iter().filter_map(Listed::id).filter(|id| !id.is_empty())),
            Ok(None) => return Ok(ids),
            Err(Error::Http { status: Some(status @ (400 | 403)), message, .. }) => {
                return Err(Error::Config {
                    key: "connected_accounts".into(),
                    problem: format!(
                        "is `all`, but Stripe refused to list the connected accounts ({status}: {message}); \
                         use a platform's secret key, or list the accounts in account_ids"
                    ),
                })
            }
            Err(e) => return Err(e),
        }
    }
}
