//! How an alert maps onto CAP's coded values.
//!
//! | alert | `severity` | `urgency` | `responseType` |
//! |---|---|---|---|
//! | gialla | Moderate | Future | Monitor |
//! | arancione | Severe | Expected | Prepare |
//! | rossa | Extreme | Immediate | Prepare, Avoid |
//! | verde | Minor | Future | Monitor |
//! | any colour, resolved or withdrawn (`Cancel`) | Minor | Past | AllClear |
//! | hazard `tecnico` (network fault), any colour | Minor | Unknown | None |
//!
//! `certainty` is `Observed` for alerts raised by rules over measurements (the event is happening, a sensor saw it)
//! and `Likely` for manual alerts (an operator copying a forecast bulletin's colour); `Observed` for `tecnico`.
//! The colour → severity scale follows the MeteoAlarm convention used by European CAP feeds (yellow = Moderate,
//! orange = Severe, red = Extreme), which is also written as the `awareness_level` parameter.
//!
//! `category`: idraulico → Met (CAP counts floods as meteorological), idrogeologico → Geo and Met (landslides and
//! flash floods), temporali → Met, tecnico → Infra.
//!
//! `msgType`: `Cancel` for a resolution or a withdrawal; `Update` for an escalation, a de-escalation, an operator's
//! update, and any other change once a message was published for the alert; `Alert` for the first message.

use crate::Level;
use crate::cap::input::{CapChange, CapInput, Hazard, Origin};

/// CAP `msgType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MsgType {
    /// The first message of an alert.
    Alert,
    /// Supersedes the previous messages.
    Update,
    /// Cancels the previous messages (the alert ended).
    Cancel,
}

impl MsgType {
    /// The CAP value.
    pub fn as_str(self) -> &'static str {
        match self {
            MsgType::Alert => "Alert",
            MsgType::Update => "Update",
            MsgType::Cancel => "Cancel",
        }
    }
}

impl CapChange {
    /// The CAP `msgType` of a message for this change, given whether earlier messages were published.
    /// `None` when the change needs earlier messages to refer to and there are none (escalation, de-escalation,
    /// update, resolution, withdrawal).
    pub fn msg_type(self, has_previous: bool) -> Option<MsgType> {
        match (self, has_previous) {
            (CapChange::Resolved | CapChange::Withdrawn, true) => Some(MsgType::Cancel),
            (CapChange::Escalated | CapChange::Deescalated | CapChange::Updated, true) => {
                Some(MsgType::Update)
            }
            (
                CapChange::Resolved
                | CapChange::Withdrawn
                | CapChange::Escalated
                | CapChange::Deescalated
                | CapChange::Updated,
                false,
            ) => None,
            (CapChange::Opened | CapChange::Fired | CapChange::Manual, true) => Some(MsgType::Update),
            (CapChange::Opened | CapChange::Fired | CapChange::Manual, false) => Some(MsgType::Alert),
        }
    }
}

/// The coded values of one message (the same in both languages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Codes {
    pub categories: &'static [&'static str],
    pub response_types: &'static [&'static str],
    pub urgency: &'static str,
    pub severity: &'static str,
    pub certainty: &'static str,
}

pub(crate) fn codes(input: &CapInput) -> Codes {
    let categories: &'static [&'static str] = match input.hazard {
        Hazard::Idraulico | Hazard::Temporali => &["Met"],
        Hazard::Idrogeologico => &["Geo", "Met"],
        Hazard::Tecnico => &["Infra"],
    };
    let certainty = match (input.hazard, input.origin) {
        (Hazard::Tecnico, _) | (_, Origin::Measured) => "Observed",
        (_, Origin::Manual) => "Likely",
    };
    let (response_types, urgency, severity): (&'static [&'static str], _, _) = if input.change.ends() {
        (&["AllClear"], "Past", "Minor")
    } else if input.hazard == Hazard::Tecnico {
        (&["None"], "Unknown", "Minor")
    } else {
        match input.level {
            Level::Verde => (&["Monitor"], "Future", "Minor"),
            Level::Gialla => (&["Monitor"], "Future", "Moderate"),
            Level::Arancione => (&["Prepare"], "Expected", "Severe"),
            Level::Rossa => (&["Prepare", "Avoid"], "Immediate", "Extreme"),
        }
    };
    Codes { categories, response_types, urgency, severity, certainty }
}

/// MeteoAlarm's `awareness_level` parameter value for a colour.
pub(crate) fn awareness_level(level: Level) -> &'static str {
    match level {
        Level::Verde => "1; green; Minor",
        Level::Gialla => "2; yellow; Moderate",
        Level::Arancione => "3; orange; Severe",
        Level::Rossa => "4; red; Extreme",
    }
}

/// MeteoAlarm's `awareness_type` parameter value for a hazard (none for a technical fault).
pub(crate) fn awareness_type(hazard: Hazard) -> Option<&'static str> {
    match hazard {
        Hazard::Idraulico => Some("12; flooding"),
        Hazard::Idrogeologico => Some("13; rain-flood"),
        Hazard::Temporali => Some("3; thunderstorm"),
        Hazard::Tecnico => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_cancel_and_changes_update_once_something_was_published() {
        assert_eq!(CapChange::Fired.msg_type(false), Some(MsgType::Alert));
        assert_eq!(CapChange::Fired.msg_type(true), Some(MsgType::Update));
        assert_eq!(CapChange::Escalated.msg_type(true), Some(MsgType::Update));
        assert_eq!(CapChange::Resolved.msg_type(true), Some(MsgType::Cancel));
        assert_eq!(CapChange::Resolved.msg_type(false), None);
        assert_eq!(CapChange::Deescalated.msg_type(false), None);
        assert_eq!(CapChange::Withdrawn.msg_type(true), Some(MsgType::Cancel));
        assert_eq!(CapChange::Updated.msg_type(true), Some(MsgType::Update));
    }
}
