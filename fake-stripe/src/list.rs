/*!
Stripe list semantics over an ordered sequence of records.

Newest first, ordered by `(created, seq)` descending. `limit` 1–100 (default 10); `starting_after`
returns the objects older than the cursor, `ending_before` the `limit` objects just newer than it (still
newest first); the cursor must exist in the list's scope but need not match the filters. `has_more` says
whether more objects lie beyond the page in the direction of travel. `created` filters use binary search
(the sequence is sorted by time); other filters are applied while walking.

[`select`] checks the parameters and picks the page's records ([`Page`]); rendering is a separate step
([`Page::render`]), so a page can also be written from prerendered text (see `prerender`) with the same
selection, errors included.
*/

use crate::error::ApiError;
use crate::model::Record;
use crate::query::Query;
use crate::render::Renderer;
use serde_json::{json, Value};

/// The objects a list can return, oldest first.
pub enum Seq<'a> {
    /// A whole table.
    Rows(&'a [Record]),
    /// A selection (children of a parent), sorted by key.
    Refs(Vec<&'a Record>),
}

impl<'a> Seq<'a> {
    fn len(&self) -> usize {
        match self {
            Seq::Rows(r) => r.len(),
            Seq::Refs(r) => r.len(),
        }
    }

    fn get(&self, i: usize) -> &'a Record {
        match self {
            Seq::Rows(rows) => {
                let rows: &'a [Record] = rows;
                &rows[i]
            }
            Seq::Refs(r) => r[i],
        }
    }

    /// The first index where `pred` turns false (`pred` must be true then false along the sequence).
    fn partition(&self, pred: impl Fn(&Record) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if pred(self.get(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// A test on records (list filters).
pub type Filter<'a> = Box<dyn Fn(&Record) -> bool + 'a>;
/// Finds a cursor object by id.
pub type CursorLookup<'a> = Box<dyn Fn(&str) -> Option<&'a Record> + 'a>;

/// One list request.
pub struct List<'a> {
    /// `url` of the response, e.g. `/v1/invoices/in_123/lines`.
    pub url: String,
    pub seq: Seq<'a>,
    /// Finds a cursor object in the list's scope.
    pub cursor: CursorLookup<'a>,
    /// Object name for "No such …" errors about cursors.
    pub object: &'static str,
    /// Extra filters from query parameters.
    pub filter: Filter<'a>,
    /// Objects created before this time are out of the list (events: Stripe keeps 30 days).
    pub floor: Option<i64>,
}

impl<'a> List<'a> {
    /// A list whose scope is a selection; cursors are looked up in it.
    pub fn of_refs(url: String, object: &'static str, refs: Vec<&'a Record>) -> List<'a> {
        let copy = refs.clone();
        List {
            url,
            seq: Seq::Refs(refs),
            cursor: Box::new(move |id| copy.iter().find(|x| x.id == id).copied()),
            object,
            filter: Box::new(|_| true),
            floor: None,
        }
    }
}

/// The checked `limit`.
pub fn limit(q: &Query) -> Result<usize, ApiError> {
    match q.int("limit") {
        None => Ok(10),
        Some(n) if n < 1 => Err(ApiError::invalid("This value must be greater than or equal to 1.").with_param("limit")),
        Some(n) if n > 100 => Err(ApiError::invalid("This value must be less than or equal to 100.").with_param("limit")),
        Some(n) => Ok(n as usize),
    }
}

/// The `expand[]` paths of a list call, without their `data.` prefix.
pub fn list_expansions(q: &Query) -> Result<Vec<String>, ApiError> {
    q.array("expand")
        .iter()
        .map(|p| {
            p.strip_prefix("data.").map(str::to_string).ok_or_else(|| {
                ApiError::invalid(format!("This property cannot be expanded ({p}). You may want to try expanding 'data.{p}' instead."))
            })
        })
        .collect()
}

/// One page of a list, selected but not rendered yet.
pub struct Page<'a> {
    /// `url` of the response.
    pub url: String,
    /// The page's records, in response order (newest first).
    pub records: Vec<&'a Record>,
    pub has_more: bool,
    /// The `expand[]` paths (without `data.`), applied when rendering.
    pub expand: Vec<String>,
}

impl Page<'_> {
    /// The list object: each record rendered and expanded (expansion errors surface here).
    pub fn render(&self, renderer: &Renderer) -> Result<Value, ApiError> {
        let mut data = Vec::with_capacity(self.records.len());
        for r in &self.records {
            let mut v = renderer.render(r);
            for path in &self.expand {
                renderer.expand(&mut v, path)?;
            }
            data.push(v);
        }
        // `prerender::page_json` writes this same envelope as text: keep the two in step.
        Ok(json!({"object": "list", "data": data, "has_more": self.has_more, "url": self.url}))
    }
}

/// What a route answers: an object, or a list page left unrendered so that the caller can pick how to
/// write it (rendered as a value, or spliced from prerendered text).
pub enum Reply<'a> {
    Object(Value),
    List(Page<'a>),
}

impl Reply<'_> {
    /// The answer as a value (a list page rendered).
    pub fn into_value(self, renderer: &Renderer) -> Result<Value, ApiError> {
        match self {
            Reply::Object(v) => Ok(v),
            Reply::List(page) => page.render(renderer),
        }
    }
}

/// Selects a list request's page: parameter checks, paging, `created`, filters.
pub fn select<'a>(list: List<'a>, q: &Query) -> Result<Page<'a>, ApiError> {
    let limit = limit(q)?;
    let expand = list_expansions(q)?;
    let after = q.str("starting_after");
    let before = q.str("ending_before");
    if after.is_some() && before.is_some() {
        return Err(ApiError::invalid("You may only specify one of these parameters: ending_before, starting_after."));
    }
    let cursor = match (after, before) {
        (Some(id), _) => Some(((list.cursor)(id).ok_or_else(|| ApiError::no_such(list.object, id, "starting_after", 400))?, true)),
        (_, Some(id)) => Some(((list.cursor)(id).ok_or_else(|| ApiError::no_such(list.object, id, "ending_before", 400))?, false)),
        _ => None,
    };

    let seq = &list.seq;
    let (lo, hi) = match q.range("created") {
        Some(r) => {
            let (a, b) = r.bounds();
            (seq.partition(|x| x.created < a), seq.partition(|x| x.created <= b))
        }
        None => (0, seq.len()),
    };
    let lo = match list.floor {
        Some(floor) => lo.max(seq.partition(|x| x.created < floor)),
        None => lo,
    };
    let mut page: Vec<&'a Record> = Vec::with_capacity(limit + 1);
    match cursor {
        Some((c, false)) => {
            let start = seq.partition(|x| x.key() <= c.key()).max(lo);
            for i in start..hi {
                let r = seq.get(i);
                if (list.filter)(r) {
                    page.push(r);
                    if page.len() > limit {
                        break;
                    }
                }
            }
        }
        _ => {
            let end = match cursor {
                Some((c, _)) => seq.partition(|x| x.key() < c.key()).min(hi),
                None => hi,
            };
            for i in (lo..end.max(lo)).rev() {
                let r = seq.get(i);
                if (list.filter)(r) {
                    page.push(r);
                    if page.len() > limit {
                        break;
                    }
                }
            }
        }
    }
    let has_more = page.len() > limit;
    page.truncate(limit);
    if matches!(cursor, Some((_, false))) {
        page.reverse();
    }
    Ok(Page { url: list.url, records: page, has_more, expand })
}
