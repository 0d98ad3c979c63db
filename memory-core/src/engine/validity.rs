//! Which memories a read sees in time: the current ones (the default), all
//! of them including superseded ones, or what was believed at a moment.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::filter::{Condition, Field, Op};
use crate::{Error, Filter, Result};

/// Which memories a search, list or context sees.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    /// Memories no newer memory has superseded.
    #[default]
    Current,
    /// Every memory, superseded ones included.
    All,
    /// What was believed at this time: true from `valid_from` (or creation)
    /// until `valid_until`.
    AsOf(DateTime<Utc>),
}

impl Validity {
    /// From the `include_superseded` and `as_of` options of a request.
    pub fn from_options(include_superseded: bool, as_of: Option<DateTime<Utc>>) -> Result<Self> {
        match (include_superseded, as_of) {
            (true, Some(_)) => Err(Error::invalid(
                "as_of: cannot be combined with include_superseded (as_of already selects superseded memories that were current then)",
            )),
            (true, None) => Ok(Self::All),
            (false, Some(t)) => Ok(Self::AsOf(t)),
            (false, None) => Ok(Self::Current),
        }
    }

    /// The filter that selects these memories; `None` selects all.
    pub fn filter(self) -> Option<Filter> {
        let cond =
            |field, op, value: serde_json::Value| Filter::Cond(Condition { field, op, value });
        let absent = |field| cond(field, Op::Exists, false.into());
        match self {
            Self::All => None,
            Self::Current => Some(absent(Field::ValidUntil)),
            Self::AsOf(t) => {
                let t = t.timestamp_millis();
                Some(Filter::And(vec![
                    Filter::Or(vec![
                        cond(Field::ValidFrom, Op::Lte, t.into()),
                        Filter::And(vec![
                            absent(Field::ValidFrom),
                            cond(Field::CreatedAt, Op::Lte, t.into()),
                        ]),
                    ]),
                    Filter::Or(vec![
                        absent(Field::ValidUntil),
                        cond(Field::ValidUntil, Op::Gt, t.into()),
                    ]),
                ]))
            }
        }
    }

    /// `filter` and-ed with this validity's filter.
    pub(crate) fn and(self, filter: Option<Filter>) -> Option<Filter> {
        match (filter, self.filter()) {
            (Some(a), Some(b)) => Some(a.and(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(created: i64, from: Option<i64>, until: Option<i64>) -> crate::MemoryRecord {
        let t = |ms| DateTime::from_timestamp_millis(ms).unwrap();
        let mut r = crate::MemoryRecord::new(crate::Scope::user("u"), "x");
        r.created_at = t(created);
        r.valid_from = from.map(t);
        r.valid_until = until.map(t);
        r
    }

    #[test]
    fn as_of_sees_what_was_true_then() {
        let at = |ms| {
            Validity::AsOf(DateTime::from_timestamp_millis(ms).unwrap())
                .filter()
                .unwrap()
        };
        let lisbon = record(100, None, Some(500));
        let berlin = record(600, Some(500), None);
        assert!(at(300).matches(&lisbon) && !at(300).matches(&berlin));
        assert!(!at(550).matches(&lisbon) && at(550).matches(&berlin));
        // Before it was written, nothing was believed.
        assert!(!at(50).matches(&lisbon));
        let current = Validity::Current.filter().unwrap();
        assert!(!current.matches(&lisbon) && current.matches(&berlin));
        assert!(Validity::All.filter().is_none());
    }

    #[test]
    fn options_exclude_each_other() {
        assert_eq!(
            Validity::from_options(false, None).unwrap(),
            Validity::Current
        );
        assert_eq!(Validity::from_options(true, None).unwrap(), Validity::All);
        let e = Validity::from_options(true, Some(Utc::now())).unwrap_err();
        assert!(e.message().contains("as_of"), "{e}");
    }
}
