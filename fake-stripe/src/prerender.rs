/*!
Prerendered list texts (`--prerender`, `Options.prerender`): list pages written without building values.

Serving a list page mostly costs building each object as a `serde_json::Value` and serializing it. With
prerendering, the fake renders at start every object whose rendering does not read the clock to the text
`serde_json::to_vec_pretty` writes for it inside a list page's `data` (depth 2), and a list page without
`expand[]` is written by splicing those texts into the list envelope ([`Prerendered::page_json`]): the
same bytes as rendering the page, for almost no work. The price is memory, the size of the texts (about
3.5 KB per charge, 4 KB per event: some 550 MB for the benchmark's 100,000 charges), and start time.

Left out, and rendered afresh when listed: coupons, disputes and balance transactions (their `valid`,
and the `status` of balance transactions, embedded in disputes too, depend on `Renderer::now`, which moves
with the real clock),
events about them, and records with `overrides`. The texts are only valid for the data they were rendered
from: any change drops them for good (`App::write` in `http`), and the fake renders as without them.
*/

use crate::list::Page;
use crate::model::{Facts, Kind, Record, Snapshot};
use crate::render::Renderer;
use crate::store::Store;
use serde_json::Value;
use std::collections::HashMap;

/// The texts of one store's objects, as rendered when the store was in its current state.
pub struct Prerendered {
    /// Per table (typed kinds by [`Kind::index`], then generic resources by index): id → text.
    texts: Vec<HashMap<Box<str>, Box<str>>>,
}

impl std::fmt::Debug for Prerendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prerendered").field("objects", &self.len()).finish()
    }
}

/// The table a record lives in, as an index into [`Prerendered::texts`].
fn table_of(r: &Record) -> usize {
    match &r.facts {
        Facts::Generic(g) => Kind::ALL.len() + g.res,
        f => f.kind().index(),
    }
}

/// Whether a record's rendering is the same at any time (see the module docs).
fn clock_free(r: &Record) -> bool {
    match &r.facts {
        Facts::Generic(g) => crate::rules::clock_free(crate::generic::RES[g.res].name),
        Facts::Event(e) => match &e.object {
            Snapshot::Record(o) => clock_free(o),
            Snapshot::Rendered(_) => true,
        },
        _ => true,
    }
}

/// `v` as it appears in a list page's `data` array: `to_vec_pretty` output at depth 2, i.e. every line
/// after the first indented by four more spaces. Splitting on `\n` is safe because serde_json escapes
/// control characters inside strings, so every newline of its output is between tokens.
pub fn in_page(v: &Value) -> String {
    let flat = serde_json::to_string_pretty(v).expect("a Value always serializes");
    let mut out = String::with_capacity(flat.len() + flat.len() / 6);
    for (i, line) in flat.split('\n').enumerate() {
        if i > 0 {
            out.push_str("\n    ");
        }
        out.push_str(line);
    }
    out
}

impl Prerendered {
    /// Renders the texts of every cacheable object of `store`, on all cores (it takes about as long as
    /// serving every object once).
    pub fn build(store: &Store) -> Prerendered {
        let generic = crate::generic::RES.len();
        let tables = Kind::ALL.iter().map(|k| store.table(*k)).chain((0..generic).map(|res| store.gtable(res)));
        let records: Vec<&Record> = tables.flat_map(|t| t.rows()).filter(|r| r.overrides.is_none() && clock_free(r)).collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = records.len().div_ceil(threads).max(1);
        // (table, id, text) per worker.
        type Texts = Vec<(usize, Box<str>, Box<str>)>;
        let rendered: Vec<Texts> = std::thread::scope(|scope| {
            let workers: Vec<_> = records
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let render = Renderer::new(store);
                        part.iter().map(|r| (table_of(r), r.id.as_str().into(), in_page(&render.render(r)).into_boxed_str())).collect()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().expect("prerender worker")).collect()
        });
        let mut texts: Vec<HashMap<Box<str>, Box<str>>> = (0..Kind::ALL.len() + generic).map(|_| HashMap::new()).collect();
        for (table, id, text) in rendered.into_iter().flatten() {
            texts[table].insert(id, text);
        }
        Prerendered { texts }
    }

    /// How many objects have a text.
    pub fn len(&self) -> usize {
        self.texts.iter().map(HashMap::len).sum()
    }

    /// The prerendered text of a record, if it has one.
    fn text(&self, r: &Record) -> Option<&str> {
        self.texts.get(table_of(r))?.get(r.id.as_str()).map(|t| &**t)
    }

    /// `serde_json::to_vec_pretty` of `page.render(render)` (without `expand[]`), from the texts; records
    /// without one are rendered with `render`.
    pub fn page_json(&self, page: &Page, render: &Renderer) -> Vec<u8> {
        let size: usize = page.records.iter().map(|r| self.text(r).map_or(4096, str::len) + 6).sum();
        let mut out = Vec::with_capacity(size + 128);
        // The envelope of `Page::render`: {"object": "list", "data": [...], "has_more": …, "url": …}.
        out.extend_from_slice(b"{\n  \"object\": \"list\",\n  \"data\": [");
        for (i, r) in page.records.iter().enumerate() {
            out.extend_from_slice(if i == 0 { b"\n    " } else { b",\n    " });
            match self.text(r) {
                Some(text) => out.extend_from_slice(text.as_bytes()),
                None => out.extend_from_slice(in_page(&render.render(r)).as_bytes()),
            }
        }
        if !page.records.is_empty() {
            out.extend_from_slice(b"\n  ");
        }
        out.extend_from_slice(if page.has_more { b"],\n  \"has_more\": true" } else { b"],\n  \"has_more\": false" });
        out.extend_from_slice(b",\n  \"url\": ");
        serde_json::to_writer(&mut out, &page.url).expect("a string always serializes");
        out.extend_from_slice(b"\n}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{self, Dataset};

    /// Every table's pages (a few sizes, both ends, an empty one) spliced as rendered.
    #[test]
    fn spliced_pages_are_the_rendered_bytes() {
        let mut store = dataset::generate(&Dataset::default(), 3, 1_750_000_000, "acct_1test".into());
        // A record with overrides has no text: it is rendered afresh, with them.
        let charge = store.table(Kind::Charge).rows()[0].id.clone();
        let note = serde_json::json!({"note": "a \"quoted\"\nline"});
        store.get_mut(Kind::Charge, &charge).unwrap().overrides = Some(Box::new([("metadata".to_string(), note)].into_iter().collect()));
        let texts = Prerendered::build(&store);
        assert!(texts.len() > 1000, "{}", texts.len());
        assert!(texts.text(store.get(Kind::Charge, &charge).unwrap()).is_none());
        assert!(texts.text(&store.gtable(crate::generic::idx("coupon")).rows()[0]).is_none());
        let render = Renderer::new(&store);
        let generic = crate::generic::RES.len();
        let tables = Kind::ALL.iter().map(|k| store.table(*k)).chain((0..generic).map(|res| store.gtable(res)));
        let mut checked = 0;
        for rows in tables.map(|t| t.rows()) {
            let newest: Vec<&Record> = rows.iter().rev().collect();
            for (n, has_more) in [(0, false), (1, true), (10, true), (100, false)] {
                let n = n.min(newest.len());
                for records in [newest[..n].to_vec(), newest[newest.len() - n..].to_vec()] {
                    let page = Page { url: "/v1/x?\"é\"".into(), records, has_more, expand: Vec::new() };
                    let want = serde_json::to_vec_pretty(&page.render(&render).unwrap()).unwrap();
                    assert_eq!(String::from_utf8(texts.page_json(&page, &render)).unwrap(), String::from_utf8(want).unwrap());
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "{checked}");
    }
}
