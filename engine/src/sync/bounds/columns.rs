//! What a change will cost automerge, read from its column layout without decoding its
//! operations: how many operations, how many predecessors they name, how many bytes their
//! keys take once repeated, and which actors they name; and whether it sets a mark.
//!
//! Automerge stores a change's operations column by column, each column run-length encoded
//! (<https://alexjg.github.io/automerge-storage-docs/#change-chunks>). A run of a billion
//! equal values takes a few bytes, so the number of operations is *not* bounded by the
//! change's size: automerge 0.12 counts them one by one when it reads a change, builds a
//! vector of every predecessor an operation names, and trusts the actor numbers it finds.
//! Counting the runs here is linear in the bytes and allocates nothing.

use std::fmt;

use super::{Bound, BoundsError, MAX_ACTOR_BYTES, MAX_CHANGE_ACTORS};

/// Column types (the low three bits of a column specification).
const GROUP: u32 = 0;
const ACTOR: u32 = 1;
const INTEGER: u32 = 2;
const STRING: u32 = 5;
/// The deflate bit of a column specification.
const DEFLATED: u32 = 0b1000;
/// The column id of the operations' actions: one value per operation.
const ACTION_ID: u32 = 4;
/// The action that sets a rich-text mark. No document holds marks, and automerge 0.12
/// panics applying some (a mark's end on a map).
const MARK: u64 = 7;
/// More columns than any automerge version writes (a change has 14 kinds).
const MAX_COLUMNS: u64 = 64;
/// Bytes of a change hash.
const HASH_BYTES: u64 = 32;

/// What one change will cost, counted from its columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Operations (values of the action column).
    pub ops: u64,
    /// Predecessors named by all operations (sum of the group column).
    pub preds: u64,
    /// Bytes of string values once every run is repeated (keys, mark names).
    pub string_bytes: u64,
}

/// Reads the body of a change chunk (what follows its header) far enough to count its cost.
/// `Damaged` when the layout cannot be read or names an actor the change does not list.
pub fn cost(body: &[u8]) -> Result<Cost, BoundsError> {
    let mut input = Reader { rest: body };
    let deps = input.unsigned("dependencies")?;
    input.skip(deps.saturating_mul(HASH_BYTES), "dependencies")?;
    input.actor()?;
    input.unsigned("sequence number")?;
    input.unsigned("start operation")?;
    input.signed("time")?;
    let message = input.unsigned("message")?;
    input.skip(message, "message")?;
    let others = input.unsigned("actors")?;
    if others > MAX_CHANGE_ACTORS {
        return Err(BoundsError::Over { bound: Bound::Actors, found: others.saturating_add(1), limit: MAX_CHANGE_ACTORS + 1 });
    }
    for _ in 0..others {
        input.actor()?;
    }
    let columns = input.unsigned("columns")?;
    if columns > MAX_COLUMNS {
        return Err(damaged(format!("it declares {columns} columns")));
    }
    let mut layout = Vec::new();
    for _ in 0..columns {
        let spec = input.unsigned("column")?;
        let spec = u32::try_from(spec).map_err(|_| damaged(format!("column specification {spec} is out of range")))?;
        let len = input.unsigned("column")?;
        layout.push((spec, len));
    }
    let actors = others + 1;
    let mut cost = Cost::default();
    for (spec, len) in layout {
        let data = input.take(len, "column data")?;
        if spec & DEFLATED != 0 {
            return Err(damaged("it holds deflated columns, which automerge does not read".into()));
        }
        let runs = Runs { col: Reader { rest: data }, spec };
        match spec & 0b111 {
            INTEGER if spec >> 4 == ACTION_ID => {
                let ops = runs.count(|action, _| match action {
                    MARK => Err(damaged("it sets a rich-text mark, which no document holds".into())),
                    _ => Ok(()),
                })?;
                cost.ops = cost.ops.saturating_add(ops);
            }
            GROUP => {
                runs.count(|preds, repeat| {
                    cost.preds = cost.preds.saturating_add(preds.saturating_mul(repeat));
                    Ok(())
                })?;
            }
            ACTOR => {
                runs.count(|index, _| match index {
                    index if index < actors => Ok(()),
                    index => Err(damaged(format!("an operation names actor number {index}, but the change lists {actors}"))),
                })?;
            }
            STRING => {
                runs.count(|len, repeat| {
                    cost.string_bytes = cost.string_bytes.saturating_add(len.saturating_mul(repeat));
                    Ok(())
                })?;
            }
            _ => {}
        }
    }
    Ok(cost)
}

fn damaged(detail: String) -> BoundsError {
    BoundsError::Damaged(format!("the change's layout cannot be read: {detail}"))
}

/// A cursor over bytes that reads LEB128 numbers (with the crate automerge uses).
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn unsigned(&mut self, what: &str) -> Result<u64, BoundsError> {
        leb128::read::unsigned(&mut self.rest).map_err(|e| damaged(format!("{what}: {}", Leb(e))))
    }

    fn signed(&mut self, what: &str) -> Result<i64, BoundsError> {
        leb128::read::signed(&mut self.rest).map_err(|e| damaged(format!("{what}: {}", Leb(e))))
    }

    fn take(&mut self, len: u64, what: &str) -> Result<&'a [u8], BoundsError> {
        let len = usize::try_from(len).ok().filter(|&len| len <= self.rest.len());
        let Some(len) = len else { return Err(damaged(format!("{what} runs past the end"))) };
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    fn skip(&mut self, len: u64, what: &str) -> Result<(), BoundsError> {
        self.take(len, what).map(|_| ())
    }

    /// A length-prefixed actor id, neither empty (automerge 0.12 panics applying a change
    /// that names one) nor longer than [`MAX_ACTOR_BYTES`].
    fn actor(&mut self) -> Result<(), BoundsError> {
        let len = self.unsigned("actor")?;
        if len == 0 {
            return Err(damaged("an actor id is empty".into()));
        }
        if len > MAX_ACTOR_BYTES as u64 {
            return Err(BoundsError::Over { bound: Bound::ActorBytes, found: len, limit: MAX_ACTOR_BYTES as u64 });
        }
        self.skip(len, "actor")
    }
}

/// The runs of one run-length encoded column: a signed count, then one value repeated
/// `count` times (count > 0), `-count` literal values (count < 0), or a number of nulls
/// (count = 0). A value is a LEB128 number, or for a string column its length in bytes
/// (the bytes follow).
struct Runs<'a> {
    col: Reader<'a>,
    spec: u32,
}

impl Runs<'_> {
    /// Calls `seen` on each value with how many times it repeats, and returns the number
    /// of entries (nulls included). Linear in the column's bytes: every value read takes at
    /// least one byte, so a literal run cannot loop past the end.
    fn count(mut self, mut seen: impl FnMut(u64, u64) -> Result<(), BoundsError>) -> Result<u64, BoundsError> {
        let mut entries = 0_u64;
        while !self.col.rest.is_empty() {
            let count = self.col.signed(&self.column())?;
            let run = if count > 0 {
                let value = self.value()?;
                seen(value, count.unsigned_abs())?;
                count.unsigned_abs()
            } else if count < 0 {
                for _ in 0..count.unsigned_abs() {
                    let value = self.value()?;
                    seen(value, 1)?;
                }
                count.unsigned_abs()
            } else {
                self.col.unsigned(&self.column())?
            };
            entries = entries.saturating_add(run);
        }
        Ok(entries)
    }

    fn value(&mut self) -> Result<u64, BoundsError> {
        let value = self.col.unsigned(&self.column())?;
        if self.spec & 0b111 == STRING {
            self.col.skip(value, "string")?;
        }
        Ok(value)
    }

    fn column(&self) -> String {
        format!("column {:#x}", self.spec)
    }
}

/// A LEB128 error in words.
struct Leb(leb128::read::Error);

impl fmt::Display for Leb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            leb128::read::Error::IoError(_) => f.write_str("the number runs past the end"),
            leb128::read::Error::Overflow => f.write_str("the number is too large"),
        }
    }
}
