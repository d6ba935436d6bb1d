/*!
Children removed from a parent that lives on: a subscription item deleted, a line removed from a
draft invoice. Stripe sends no event about the child (subscription items and invoice lines have
none); only the parent's `*.updated` event tells, in `data.previous_attributes`: the parent's
embedded list as it was before the change (Stripe gives a changed array or list whole).

When the events pass re-reads the children of a changed parent, each child of an earlier list that
is not among the children now (nor emitted otherwise in this run) is emitted as its last snapshot
with `is_deleted: true`. Every event of the parent in the pass is looked at, not only the newest:
the removal may be an older change.

A heuristic with known limits (README): an embedded list holds the first 10 children only, so a
child removed from past the tenth is not seen; and a change whose event carries no old list (none
does for children listed only through their own endpoint) cannot be seen either.
*/

use serde_json::Value;

/// The children listed under `field` in the event's `previous_attributes` that `present` says
/// are not there any more.
pub fn removed<'a>(event: &'a Value, field: &str, present: impl Fn(&str) -> bool + 'a) -> impl Iterator<Item = &'a Value> + 'a {
    event["data"]["previous_attributes"][field]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |c| c["id"].as_str().is_some_and(|id| !present(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn children_of_the_old_list_not_present_now_are_removed() {
        let event = json!({"type": "customer.subscription.updated", "data": {
            "object": {"id": "sub_1", "items": {"object": "list", "data": [{"id": "si_2"}]}},
            "previous_attributes": {"items": {"object": "list", "data": [{"id": "si_1", "quantity": 3}, {"id": "si_2"}]}}}});
        let gone: Vec<&Value> = removed(&event, "items", |id| id == "si_2").collect();
        assert_eq!(gone, [&json!({"id": "si_1", "quantity": 3})], "the last snapshot of the removed child");
        assert_eq!(removed(&event, "lines", |_| false).count(), 0, "no old list of that field");
        let no_prev = json!({"data": {"object": {"id": "sub_1"}}});
        assert_eq!(removed(&no_prev, "items", |_| false).count(), 0);
    }
}
