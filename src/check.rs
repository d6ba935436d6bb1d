/*!
Airbyte `check`: is the config valid, does Stripe accept the key, and which streams can it read?

One cheap request per stream (`limit=1`; a child stream is probed under the first object its
parent returns). A 401, an unreachable `base_url` or an invalid config fail the check; streams
answering 403 (a restricted key without that permission) are named in a successful check's
message, since the others can still be synced. Streams of a product the account has not activated
(a 400 such as "Your account is not set up to use Issuing.", see `refusal`) are named as not
enabled on this account; they hold no data, and a sync skips them with a warning and exit 0.
*/

use serde_json::Value;

use crate::client::{split_query, Client, Query};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::page::ListPage;
use crate::retry::Policy;
use crate::streams::{Source, StreamDef, STREAMS};

/// The check's verdict and message.
pub async fn check(config_paths: &[String]) -> (bool, String) {
    let config = match Config::load(config_paths) {
        Ok(c) => c,
        Err(e) => return (false, e.to_string()),
    };
    let policy = Policy { max_attempts: 3, ..Policy::default() };
    let client = match Client::with_policy(&config, policy) {
        Ok(c) => c,
        Err(e) => return (false, e.to_string()),
    };
    // `{account}` in paths (the account's external accounts): `account_id`, or the key's own.
    let account = match &config.account_id {
        Some(id) => id.clone(),
        None => match client.get_value("/v1/account", &Vec::new()).await {
            Ok(v) => v["id"].as_str().unwrap_or_default().to_string(),
            Err(e @ (Error::Auth { .. } | Error::Http { status: None, .. })) => return (false, e.to_string()),
            Err(_) => String::new(),
        },
    };
    let mut forbidden: Vec<String> = Vec::new();
    let mut not_enabled: Vec<String> = Vec::new();
    let mut readable = 0;
    for def in STREAMS {
        let Some(probe) = probe(&client, def, &account).await else {
            // No parent object to probe under: nothing to refuse.
            readable += 1;
            continue;
        };
        match probe {
            Ok(_) => readable += 1,
            Err(Error::Http { status: Some(403), message, .. }) => forbidden.push(format!("{} ({message})", def.name)),
            Err(Error::Http { status: Some(status), message, .. }) if crate::refusal::product_not_enabled(status, &message) => {
                not_enabled.push(format!("{} ({message})", def.name))
            }
            // 404: nothing to list there (the key's own account has no external accounts
            // endpoint unless it is a Connect account); 400: a platform-only list.
            Err(Error::Http { status: Some(400 | 404), .. }) => readable += 1,
            Err(e) => return (false, e.to_string()),
        }
    }
    if readable == 0 && !forbidden.is_empty() {
        return (false, format!("the key cannot read any stream: {}", forbidden.join("; ")));
    }
    let mut message = format!("Stripe accepted the key; it can read {readable} of {} streams.", STREAMS.len());
    if !forbidden.is_empty() {
        message.push_str(&format!(
            " No permission (403) for: {}. Give the key read access to them, or do not select them.",
            forbidden.join("; ")
        ));
    }
    if !not_enabled.is_empty() {
        message.push_str(&format!(
            " Not enabled on this account (Stripe answered 400; these streams hold no data and a sync skips them \
             with a warning): {}.",
            not_enabled.join("; ")
        ));
    }
    (true, message)
}

/// One request to the stream's endpoint; `None` when a child stream has no parent object to be
/// listed under (or its parent cannot be read).
async fn probe(client: &Client, def: &StreamDef, account: &str) -> Option<Result<Option<ListPage>>> {
    match def.source {
        Source::List { path, .. } => {
            let params = def.params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            Some(first_page(client, &path.replace("{account}", account), params).await)
        }
        Source::Child(child) => {
            // Probe under the first parent object (and with `via`, its first intermediate
            // object), if the parent can be read and has one.
            let parent = crate::streams::find(child.parent).expect("registered parent");
            let Source::List { path: parent_path, .. } = parent.source else { return None };
            let mut under = first_id(client, &parent_path.replace("{account}", account)).await?;
            if let Some(via) = child.via.and_then(crate::streams::find).and_then(|v| v.child()) {
                under = first_id(client, &via.path.replace("{parent}", &under)).await?;
            }
            let full = child.path.replace("{parent}", &under);
            let (path, params) = split_query(&full);
            Some(first_page(client, path, params).await)
        }
    }
}

/// The first page of one object of a list.
async fn first_page(client: &Client, path: &str, params: Query) -> Result<Option<ListPage>> {
    client.pages(path, params).limit(1).next::<Value>().await
}

/// The id of the first object a list returns, if it can be read and has one.
async fn first_id(client: &Client, full: &str) -> Option<String> {
    let (path, params) = split_query(full);
    let page = first_page(client, path, params).await.ok()??;
    page.data.into_iter().next()?.get("id")?.as_str().map(str::to_string)
}
