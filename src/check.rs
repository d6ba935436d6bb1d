/*!
Airbyte `check`: is the config valid, does Stripe accept the key, and which streams can it read?

One cheap request per stream (`limit=1`; a child stream is probed under the first object its
parent returns). A 401, an unreachable `base_url` or an invalid config fail the check; streams
answering 403 (a restricted key without that permission) are named in a successful check's
message, since the others can still be synced.
*/

use crate::client::Client;
use crate::config::Config;
use crate::error::Error;
use crate::retry::Policy;
use crate::streams::{Source, STREAMS};

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
    let limit = vec![("limit".to_string(), "1".to_string())];
    let mut forbidden: Vec<String> = Vec::new();
    let mut readable = 0;
    for def in STREAMS {
        let probe = match def.source {
            Source::List { path, .. } => client.list(path, &limit).await,
            Source::Child(child) => {
                // Probe under the first parent object, if the parent can be read and has one.
                let parent = crate::streams::find(child.parent).expect("registered parent");
                let Source::List { path: parent_path, .. } = parent.source else { continue };
                let first = match client.list(parent_path, &limit).await {
                    Ok(page) => page.data.into_iter().next(),
                    Err(_) => None,
                };
                match first.as_ref().and_then(|p| p.get("id")).and_then(|v| v.as_str()) {
                    Some(id) => client.list(&child.path.replace("{parent}", id), &limit).await,
                    None => {
                        readable += 1;
                        continue;
                    }
                }
            }
        };
        match probe {
            Ok(_) => readable += 1,
            Err(Error::Http { status: Some(403), message, .. }) => forbidden.push(format!("{} ({message})", def.name)),
            Err(Error::Http { status: Some(404), .. }) => readable += 1,
            Err(e) => return (false, e.to_string()),
        }
    }
    if readable == 0 {
        return (false, format!("the key cannot read any stream: {}", forbidden.join("; ")));
    }
    let mut message = format!("Stripe accepted the key; it can read {readable} of {} streams.", STREAMS.len());
    if !forbidden.is_empty() {
        message.push_str(&format!(
            " No permission (403) for: {}. Give the key read access to them, or do not select them.",
            forbidden.join("; ")
        ));
    }
    (true, message)
}
