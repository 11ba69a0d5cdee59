use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Where a citizen report stands, FixMyStreet-style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Filed, waiting for moderation.
    New,
    /// Accepted and routed to the office in charge.
    Confirmed,
    /// An intervention is planned or under way.
    InProgress,
    /// The problem is fixed.
    Fixed,
    /// Closed without intervention (duplicate, not a public matter, …).
    Closed,
}

impl Status {
    /// Moves the report to `to`, if the workflow allows it.
    pub fn transition(self, to: Status) -> Result<Status> {
        use Status::*;
        let allowed = matches!(
            (self, to),
            (New, Confirmed)
                | (New, Closed)
                | (Confirmed, InProgress)
                | (Confirmed, Fixed)
                | (Confirmed, Closed)
                | (InProgress, Fixed)
                | (InProgress, Closed)
                | (Fixed, Confirmed)
                | (Closed, Confirmed)
        );
        if allowed { Ok(to) } else { Err(Error::Transition { from: self, to }) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_report_cannot_be_fixed_before_it_is_confirmed() {
        assert!(Status::New.transition(Status::Fixed).is_err());
        assert_eq!(Status::New.transition(Status::Confirmed).unwrap(), Status::Confirmed);
        assert_eq!(Status::Fixed.transition(Status::Confirmed).unwrap(), Status::Confirmed, "reopened");
    }
}
