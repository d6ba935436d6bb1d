//! Records to the writer: an object of a member's stream shaped into its row (`record::shape`),
//! its deselected fields dropped, written as a RECORD line of the run's protocol.

use serde_json::Value;
use tokio::sync::mpsc;

use super::message::Message;
use super::plan::Member;
use super::record::{shape, Change};
use crate::error::{Error, Result};
use crate::raw::RawObject;

/// Turns an object into a RECORD line of `member`'s stream and hands it to the writer.
pub(crate) async fn send_record(
    member: &Member,
    object: Value,
    parent: Option<&Value>,
    change: Change,
    extracted: &str,
    tx: &mpsc::Sender<Message>,
) -> Result<()> {
    let Value::Object(mut record): Value = object else {
        return Err(Error::BadResponse { url: member.name().to_string(), problem: "a list item is not a JSON object".into() });
    };
    shape(&mut record, member.sel.stream, parent, change, &member.account.id);
    member.sel.apply(&mut record);
    let line = member.output.record_line(member.name(), &record, extracted);
    let _ = tx.send(Message::Record { stream: member.name(), line, kind: change.kind() }).await;
    Ok(())
}

/// [`send_record`]'s RECORD line for an object passed through unparsed (a top-level list read:
/// no parent, no event, no deselected field).
pub(crate) fn raw_record_line(member: &Member, mut record: RawObject<'_>, extracted: &str) -> String {
    shape(&mut record, member.sel.stream, None, Change::default(), &member.account.id);
    member.output.record_line_with(member.name(), record.len_hint(), extracted, |line| record.write_json(line))
}
