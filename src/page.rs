/*!
List paging: `limit=100`, `starting_after=<last id>`, until `has_more` is false.

The pager refuses to loop: a page that says `has_more` but is empty, or a cursor that was already
used, stops the listing with an error instead of requesting the same page forever.

Stripe fills every page but the last: a page fetched with `limit=L` that says `has_more` holds
exactly `L` objects. One holding fewer lost an object on the way ([`check_full`]); the client
treats it as a transient fault and requests the page again. A short *last* page cannot be told
apart from a shorter list. Embedded first pages (`lines`, `sources` inside a parent, 10 items)
are not fetched with a limit and are not checked.
*/

use serde::Deserialize;
use serde_json::Value;

/// Largest page Stripe serves.
pub const PAGE_LIMIT: u32 = 100;

/// One page of a Stripe list (`{"object":"list","data":[...],"has_more":...}`), its objects
/// parsed (`Value`) or passed through ([`crate::raw::RawObject`]).
#[derive(Debug, Deserialize)]
pub struct ListPage<T = Value> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// An object of a list page: the pager continues after its `id`.
pub trait Listed {
    fn id(&self) -> Option<String>;
}

impl Listed for Value {
    fn id(&self) -> Option<String> {
        self.get("id").and_then(Value::as_str).map(str::to_string)
    }
}

impl Listed for crate::raw::RawObject<'_> {
    fn id(&self) -> Option<String> {
        self.str("id")
    }
}

/// The `limit` a list request asked for, if its query sets one.
pub fn requested_limit(query: &[(String, String)]) -> Option<u32> {
    query.iter().rev().find(|(k, _)| k == "limit").and_then(|(_, v)| v.parse().ok())
}

/// Stripe's page rule: a page fetched with `limit` that says `has_more` holds exactly `limit`
/// objects. `Err` describes a page that breaks it (an object is missing from it).
pub fn check_full<T>(page: &ListPage<T>, limit: u32) -> Result<(), String> {
    let held = page.data.len();
    if page.has_more && held < limit as usize {
        return Err(format!("the page says has_more but holds {held} objects, fewer than limit={limit}: an object is missing from it"));
    }
    Ok(())
}

/// Cursor state of one listing.
#[derive(Debug, Default)]
pub struct Pager {
    cursor: Option<String>,
    used: std::collections::HashSet<String>,
    done: bool,
}

impl Pager {
    /// A pager for a list that starts from its first page.
    pub fn new() -> Pager {
        Pager::default()
    }

    /// A pager that continues after `id` (an embedded first page ended there).
    pub fn after(id: String) -> Pager {
        Pager { cursor: Some(id), ..Pager::default() }
    }

    /// A pager with nothing left to read (an embedded page that was the whole list).
    pub fn finished() -> Pager {
        Pager { done: true, ..Pager::default() }
    }

    /// `starting_after` for the next request; `None` for the first page.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Takes in a page; returns an error message when the list would loop.
    pub fn advance<T: Listed>(&mut self, page: &ListPage<T>) -> Result<(), String> {
        self.advance_to(page.has_more, page.data.last().and_then(Listed::id))
    }

    /// [`Pager::advance`] from what a page said: `has_more` and the id of its last object.
    pub fn advance_to(&mut self, has_more: bool, last: Option<String>) -> Result<(), String> {
        if !has_more {
            self.done = true;
            return Ok(());
        }
        let last = last.ok_or_else(|| "the page says has_more but has no object with an id to continue after".to_string())?;
        if !self.used.insert(last.clone()) {
            return Err(format!("the list repeats: starting_after={last} was already requested (loop guard)"));
        }
        self.cursor = Some(last);
        Ok(())
    }
}

/// Stripe lists newest first (`created` descending). `created` values of a page in list order,
/// after `before` (the last `created` of the previous page): the page's last `created`, or what is
/// out of order. A list in another order would let a bookmark move past objects not yet read, so
/// it stops the run instead.
pub fn check_newest_first(created: impl IntoIterator<Item = i64>, before: Option<i64>) -> Result<Option<i64>, String> {
    let mut last = before;
    for c in created {
        if let Some(l) = last.filter(|l| c > *l) {
            return Err(format!("the list is not newest first (created {c} after {l}), which Stripe guarantees"));
        }
        last = Some(c);
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_must_come_newest_first() {
        assert_eq!(check_newest_first([5, 5, 3], None), Ok(Some(3)));
        assert_eq!(check_newest_first([], Some(4)), Ok(Some(4)));
        assert_eq!(check_newest_first([4, 2], Some(4)), Ok(Some(2)), "one second may go on into the next page");
        assert!(check_newest_first([3, 4], None).unwrap_err().contains("not newest first"));
        assert!(check_newest_first([5], Some(4)).is_err(), "across pages too");
    }

    fn page(ids: &[&str], has_more: bool) -> ListPage {
        ListPage { data: ids.iter().map(|i| json!({"id": i})).collect(), has_more }
    }

    #[test]
    fn follows_the_last_id_until_has_more_is_false() {
        let mut p = Pager::new();
        assert_eq!(p.cursor(), None);
        p.advance(&page(&["c3", "c2"], true)).unwrap();
        assert_eq!(p.cursor(), Some("c2"));
        p.advance(&page(&["c1"], false)).unwrap();
        assert!(p.is_done());
    }

    #[test]
    fn a_repeated_cursor_is_an_error() {
        let mut p = Pager::new();
        p.advance(&page(&["a", "b"], true)).unwrap();
        let e = p.advance(&page(&["x", "b"], true)).unwrap_err();
        assert!(e.contains("loop guard"), "{e}");
    }

    #[test]
    fn has_more_with_an_empty_page_is_an_error() {
        assert!(Pager::new().advance(&page(&[], true)).is_err());
        let mut p = Pager::new();
        p.advance(&page(&[], false)).unwrap();
        assert!(p.is_done());
    }

    #[test]
    fn a_page_with_more_behind_it_must_be_full() {
        assert!(check_full(&page(&["a", "b", "c"], true), 3).is_ok());
        let e = check_full(&page(&["a", "c"], true), 3).unwrap_err();
        assert!(e.contains("2 objects") && e.contains("limit=3"), "{e}");
        assert!(check_full(&page(&[], true), 100).is_err(), "empty with has_more");
    }

    #[test]
    fn a_short_last_page_is_fine() {
        assert!(check_full(&page(&["a"], false), 100).is_ok());
        assert!(check_full(&page(&[], false), 100).is_ok());
    }

    #[test]
    fn the_limit_is_read_from_the_query() {
        let q = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert_eq!(requested_limit(&q(&[("limit", "100"), ("starting_after", "ch_1")])), Some(100));
        assert_eq!(requested_limit(&q(&[("starting_after", "ch_1")])), None);
        assert_eq!(requested_limit(&q(&[("limit", "x")])), None);
    }

    #[test]
    fn continues_after_an_embedded_page() {
        let p = Pager::after("il_10".into());
        assert_eq!(p.cursor(), Some("il_10"));
    }
}
