/*!
The one pager: every list the tap reads (windows, children, the events pass, whole lists such as
the connected accounts, `check`) goes through [`Client::pages`].

[`Pages`] owns what every list read must get right: `limit=100`, `starting_after` from the last
object of the previous page, the loop guard and the short-page check ([`crate::page`]), and the
URL named in its errors. What a caller does about an HTTP error (a 403 that disables a stream, a
product not enabled, a deleted cursor) stays with the caller, which can [`Pages::restart`] the
list, or narrow its query ([`Pages::set`]).

It is a struct with an async `next`, not a `futures::Stream`: a caller that meets a deleted
cursor changes the query and reads on from the same state, which a stream would hide.
*/

use serde::de::DeserializeOwned;

use crate::client::{display_url, Client, Query};
use crate::error::{Error, Result};
use crate::page::{ListPage, Listed, Pager, PAGE_LIMIT};

/// One list read page by page.
pub struct Pages {
    client: Client,
    path: String,
    /// The list's own parameters (filters, `expand[]`), without `limit` and `starting_after`.
    params: Query,
    limit: u32,
    pager: Pager,
    /// The query of the last request sent.
    last: Option<Query>,
}

impl Client {
    /// The pages of the list at `path` with `params`, 100 objects a page.
    pub fn pages(&self, path: &str, params: Query) -> Pages {
        Pages { client: self.clone(), path: path.to_string(), params, limit: PAGE_LIMIT, pager: Pager::new(), last: None }
    }
}

impl Pages {
    /// Pages of `limit` objects (a sample reads one).
    pub fn limit(mut self, limit: u32) -> Pages {
        self.limit = limit;
        self
    }

    /// Reads on after the object `id` (an embedded first page ended there).
    pub fn after(mut self, id: String) -> Pages {
        self.pager = Pager::after(id);
        self
    }

    /// Nothing left to read (an embedded first page was the whole list).
    pub fn finished(mut self) -> Pages {
        self.pager = Pager::finished();
        self
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// `starting_after` of the next request; `None` for the first page.
    pub fn cursor(&self) -> Option<&str> {
        self.pager.cursor()
    }

    pub fn is_done(&self) -> bool {
        self.pager.is_done()
    }

    /// The query of the next request.
    pub fn query(&self) -> Query {
        let mut q = vec![("limit".to_string(), self.limit.to_string())];
        q.extend(self.params.iter().cloned());
        if let Some(c) = self.pager.cursor() {
            q.push(("starting_after".into(), c.to_string()));
        }
        q
    }

    /// The URL of the last request (of the next before any), for messages about its page.
    pub fn url(&self) -> String {
        display_url(&self.path, self.last.as_ref().unwrap_or(&self.query()))
    }

    /// Sets a parameter of the list (replacing it) for the requests that follow.
    pub fn set(&mut self, key: &str, value: String) {
        match self.params.iter_mut().find(|(k, _)| k == key) {
            Some(kv) => kv.1 = value,
            None => self.params.push((key.to_string(), value)),
        }
    }

    /// Reads the list again from its first page (the object of `starting_after` was deleted).
    pub fn restart(&mut self) {
        self.pager = Pager::new();
    }

    /// The next page, its objects read as `T`; `None` once the list is done.
    pub async fn next<T: DeserializeOwned + Listed>(&mut self) -> Result<Option<ListPage<T>>> {
        self.next_with(
            |client, path, q| async move { client.list_of::<T>(&path, &q).await },
            |page| (page.has_more, page.data.last().and_then(Listed::id)),
        )
        .await
    }

    /// The next page, read by `fetch` (given the client, the path and the query) into any form
    /// that tells `has_more` and its last object's id (`progress`); `None` once the list is done.
    pub async fn next_with<R, F, Fut>(&mut self, fetch: F, progress: impl Fn(&R) -> (bool, Option<String>)) -> Result<Option<R>>
    where
        F: FnOnce(Client, String, Query) -> Fut,
        Fut: std::future::Future<Output = Result<R>>,
    {
        if self.pager.is_done() {
            return Ok(None);
        }
        let q = self.query();
        self.last = Some(q.clone());
        let page = fetch(self.client.clone(), self.path.clone(), q.clone()).await?;
        let (has_more, last) = progress(&page);
        self.pager.advance_to(has_more, last).map_err(|problem| Error::BadResponse { url: display_url(&self.path, &q), problem })?;
        Ok(Some(page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> Pages {
        let config = crate::config::Config::from_value(serde_json::json!({"client_secret": "sk_test_1", "base_url": "http://127.0.0.1:9"}));
        let config = config.unwrap();
        Client::new(&config).unwrap().pages("/v1/charges", vec![("created[gte]".into(), "5".into())])
    }

    #[test]
    fn a_query_holds_the_limit_the_lists_params_and_the_cursor() {
        let p = pages();
        assert_eq!(p.query(), vec![("limit".to_string(), "100".to_string()), ("created[gte]".into(), "5".into())]);
        let mut p = p.limit(1).after("ch_9".into());
        p.set("created[lt]", "9".into());
        p.set("created[gte]", "6".into());
        let q: Vec<String> = p.query().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(q, ["limit=1", "created[gte]=6", "created[lt]=9", "starting_after=ch_9"]);
        p.restart();
        assert_eq!(p.cursor(), None, "a restart reads from the first page");
        assert!(p.finished().is_done());
    }
}
