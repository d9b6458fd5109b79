//! The wall clock, read in one place: what `Now()` sees in plans and at the command line, and
//! the audit log's timestamps. The planner itself never reads it (it gets `now` as an input).

use crate::expr::{DateTime, UNIX_EPOCH_TICKS};

/// Now, as the expression language's date-time (UTC, 100 ns ticks since 0001-01-01).
pub(crate) fn now() -> DateTime {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let ticks = i64::try_from(since_epoch.as_nanos() / 100).unwrap_or(0);
    DateTime {
        ticks: UNIX_EPOCH_TICKS + ticks,
        offset: None,
        local: false,
    }
}
