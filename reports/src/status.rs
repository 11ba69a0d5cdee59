//! The workflow of a report: `new` → `acknowledged` (presa in carico) → `in_progress` → `resolved` → `closed`,
//! side exits `rejected` and `duplicate`, and `reopened` back from any end.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Filed; not yet taken in charge.
    New,
    /// Taken in charge by the comune (presa in carico).
    Acknowledged,
    /// An intervention is planned or under way.
    InProgress,
    /// The problem is fixed; the reporter may still say it is not.
    Resolved,
    /// Done for good.
    Closed,
    /// Not a matter for the comune, or not a problem (with a reason).
    Rejected,
    /// Another report is about the same problem (with a link to it).
    Duplicate,
    /// Reopened after it ended.
    Reopened,
}

impl Status {
    /// Every status, in workflow order.
    pub const ALL: [Status; 8] = [
        Status::New,
        Status::Acknowledged,
        Status::InProgress,
        Status::Resolved,
        Status::Closed,
        Status::Rejected,
        Status::Duplicate,
        Status::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Rejected => "rejected",
            Status::Duplicate => "duplicate",
            Status::Reopened => "reopened",
        }
    }

    /// The Italian label the web app and emails show.
    pub fn label_it(self) -> &'static str {
        match self {
            Status::New => "Nuova",
            Status::Acknowledged => "Presa in carico",
            Status::InProgress => "In lavorazione",
            Status::Resolved => "Risolta",
            Status::Closed => "Chiusa",
            Status::Rejected => "Respinta",
            Status::Duplicate => "Duplicata",
            Status::Reopened => "Riaperta",
        }
    }

    /// Whether the problem still waits for the comune (Open311 `open`).
    pub fn is_open(self) -> bool {
        matches!(self, Status::New | Status::Acknowledged | Status::InProgress | Status::Reopened)
    }

    /// The Open311 GeoReport v2 status: `open` or `closed`.
    pub fn open311(self) -> &'static str {
        if self.is_open() { "open" } else { "closed" }
    }

    /// Where a report may go from here.
    pub fn allowed(self) -> &'static [Status] {
        use Status::*;
        match self {
            New => &[Acknowledged, InProgress, Resolved, Rejected, Duplicate],
            Acknowledged => &[InProgress, Resolved, Rejected, Duplicate],
            InProgress => &[Resolved, Rejected, Duplicate],
            Resolved => &[Closed, Reopened],
            Closed | Rejected | Duplicate => &[Reopened],
            Reopened => &[Acknowledged, InProgress, Resolved, Rejected, Duplicate],
        }
    }

    /// Moves the report to `to`, if the workflow allows it; the error lists what is allowed.
    pub fn transition(self, to: Status) -> Result<Status> {
        if self.allowed().contains(&to) {
            Ok(to)
        } else {
            Err(Error::Transition { from: self, to, allowed: self.allowed().to_vec() })
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = Error;

    fn from_str(s: &str) -> Result<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            Error::Invalid(format!("`{s}` is not a report status; one of {}", names(&Status::ALL)))
        })
    }
}

/// `a, b, c` of statuses.
pub fn names(statuses: &[Status]) -> String {
    statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_workflow_runs_and_ends_can_be_reopened() {
        let mut s = Status::New;
        for to in
            [Status::Acknowledged, Status::InProgress, Status::Resolved, Status::Closed, Status::Reopened]
        {
            s = s.transition(to).unwrap();
        }
        assert_eq!(s, Status::Reopened);
        assert_eq!(Status::Rejected.transition(Status::Reopened).unwrap(), Status::Reopened);
        assert_eq!(Status::Duplicate.transition(Status::Reopened).unwrap(), Status::Reopened);
    }

    #[test]
    fn an_illegal_step_lists_the_allowed_ones() {
        let err = Status::Closed.transition(Status::InProgress).unwrap_err();
        assert_eq!(err.to_string(), "a report that is closed cannot become in_progress; allowed: reopened");
        assert!(Status::New.transition(Status::Closed).is_err(), "closing needs a resolution first");
        assert!(Status::New.transition(Status::New).is_err());
    }

    #[test]
    fn statuses_read_and_map_to_open311() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        assert!("done".parse::<Status>().is_err());
        assert_eq!(Status::Reopened.open311(), "open");
        assert_eq!(Status::Duplicate.open311(), "closed");
    }
}
