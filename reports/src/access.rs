//! Who may do what on the reports of which comune: the role × comune matrix, in one place.
//!
//! Every HTTP handler that touches a report asks [`Access::may`] (or [`Access::comuni_for`] to filter a list) and
//! nothing else; the matrix is tested here cell by cell and, end to end, for every endpoint.
//!
//! | role | file | see public | see private (reporter, private notes) | handle (workflow, interventions) | moderate, move | configure (categories, moderation, webhooks) |
//! |---|---|---|---|---|---|---|
//! | citizen | ✓ | ✓ | own reports, contact only | – | – | – |
//! | councillor (of comuni) | ✓ | ✓ (+ his comuni's history) | reporter's name only, unless anonymous | – | – | – |
//! | planner | ✓ | ✓ | – | – | – | – |
//! | operator (of comuni) | ✓ | ✓ | his comuni | his comuni | his comuni | – |
//! | civil_protection | ✓ | ✓ | every comune | every comune | every comune | – |
//! | admin | ✓ | ✓ | every comune | every comune | every comune | ✓ |

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A role of an account or a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    CivilProtection,
    Operator,
    Planner,
    Councillor,
    Citizen,
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::Admin, Role::CivilProtection, Role::Operator, Role::Planner, Role::Councillor, Role::Citizen];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::CivilProtection => "civil_protection",
            Role::Operator => "operator",
            Role::Planner => "planner",
            Role::Councillor => "councillor",
            Role::Citizen => "citizen",
        }
    }

    /// Whether this role includes the powers of `other` in the coarse order of the non-report APIs (admin >
    /// civil_protection > operator > planner > councillor > citizen).
    pub fn includes(self, other: Role) -> bool {
        self <= other
    }

    /// Whether a grant of this role names its comuni (operators and councillors work for given comuni).
    pub fn needs_comune(self) -> bool {
        matches!(self, Role::Operator | Role::Councillor)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            Error::Invalid(format!(
                "`{s}` is not a role; one of {}",
                Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

/// One role, on one comune (ISTAT code) or on every comune (`None`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    pub comune: Option<String>,
}

impl Grant {
    pub fn new(role: Role, comune: Option<&str>) -> Grant {
        Grant { role, comune: comune.map(str::to_string) }
    }

    fn covers(&self, comune: &str) -> bool {
        self.comune.as_deref().is_none_or(|c| c == comune)
    }
}

/// What one may do on the reports of a comune.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// File a report (anyone, also without an account).
    File,
    /// See the reporter's display name (not the contact): councillors of the comune, unless the report is
    /// anonymous (the caller checks `anonymous`), and whoever may [`Action::SeePrivate`].
    SeeReporterName,
    /// See the reporter's identity and contact, private notes, moderation log, hidden and unapproved reports.
    SeePrivate,
    /// Move a report through the workflow and manage its interventions.
    Handle,
    /// Approve, hide, redact, remove photos, move to another comune, mark duplicates.
    Moderate,
    /// Categories, moderation mode and webhooks of the comune.
    Configure,
}

/// The powers of a caller: the grants of its account or token. An anonymous caller has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub grants: Vec<Grant>,
}

impl Access {
    pub fn new(grants: Vec<Grant>) -> Access {
        Access { grants }
    }

    /// Nobody in particular: a citizen without an account.
    pub fn anonymous() -> Access {
        Access::default()
    }

    /// Whether some grant has `role` (on any comune).
    pub fn has(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    /// The most powerful role held (by [`Role`]'s order), if any.
    pub fn highest(&self) -> Option<Role> {
        self.grants.iter().map(|g| g.role).min()
    }

    /// Whether the caller may do `action` on a report of `comune`.
    pub fn may(&self, action: Action, comune: &str) -> bool {
        match action {
            Action::File => true,
            Action::SeePrivate | Action::Handle | Action::Moderate => {
                self.grants.iter().any(|g| match g.role {
                    Role::Admin | Role::CivilProtection => true,
                    Role::Operator => g.covers(comune),
                    Role::Planner | Role::Councillor | Role::Citizen => false,
                })
            }
            Action::SeeReporterName => {
                self.may(Action::SeePrivate, comune)
                    || self.grants.iter().any(|g| g.role == Role::Councillor && g.covers(comune))
            }
            Action::Configure => self.has(Role::Admin),
        }
    }

    /// The comuni where the caller may do `action`: `None` = every comune, `Some(empty)` = none.
    pub fn comuni_for(&self, action: Action) -> Option<Vec<String>> {
        if action == Action::File
            || self.grants.iter().any(|g| g.comune.is_none() && self.may(action, "000000"))
        {
            return None;
        }
        let mut comuni: Vec<String> = self
            .grants
            .iter()
            .filter_map(|g| g.comune.as_deref())
            .filter(|c| self.may(action, c))
            .map(str::to_string)
            .collect();
        comuni.sort();
        comuni.dedup();
        Some(comuni)
    }

    /// The comuni of the caller's councillor grants (whose public history he follows).
    pub fn councillor_comuni(&self) -> Vec<String> {
        self.grants.iter().filter(|g| g.role == Role::Councillor).filter_map(|g| g.comune.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENOVA: &str = "010025";
    const PALERMO: &str = "082053";

    fn one(role: Role, comune: Option<&str>) -> Access {
        Access::new(vec![Grant::new(role, comune)])
    }

    #[test]
    fn the_matrix_cell_by_cell() {
        use Action::*;
        let cases: &[(Access, Action, &str, bool)] = &[
            (Access::anonymous(), File, GENOVA, true),
            (Access::anonymous(), SeePrivate, GENOVA, false),
            (one(Role::Citizen, None), Handle, GENOVA, false),
            (one(Role::Councillor, Some(GENOVA)), SeePrivate, GENOVA, false),
            (one(Role::Councillor, Some(GENOVA)), Handle, GENOVA, false),
            (one(Role::Councillor, Some(GENOVA)), SeeReporterName, GENOVA, true),
            (one(Role::Councillor, Some(GENOVA)), SeeReporterName, PALERMO, false),
            (one(Role::Citizen, None), SeeReporterName, GENOVA, false),
            (one(Role::Planner, None), SeePrivate, GENOVA, false),
            (one(Role::Operator, Some(GENOVA)), SeePrivate, GENOVA, true),
            (one(Role::Operator, Some(GENOVA)), Handle, GENOVA, true),
            (one(Role::Operator, Some(GENOVA)), Moderate, GENOVA, true),
            (one(Role::Operator, Some(GENOVA)), SeePrivate, PALERMO, false),
            (one(Role::Operator, Some(GENOVA)), Handle, PALERMO, false),
            (one(Role::Operator, Some(GENOVA)), Configure, GENOVA, false),
            (one(Role::CivilProtection, None), Handle, PALERMO, true),
            (one(Role::CivilProtection, None), Configure, PALERMO, false),
            (one(Role::Admin, None), Configure, PALERMO, true),
        ];
        for (access, action, comune, expected) in cases {
            assert_eq!(access.may(*action, comune), *expected, "{access:?} {action:?} {comune}");
        }
    }

    #[test]
    fn lists_are_filtered_by_the_comuni_of_the_grants() {
        let both = Access::new(vec![
            Grant::new(Role::Operator, Some(PALERMO)),
            Grant::new(Role::Operator, Some(GENOVA)),
        ]);
        assert_eq!(both.comuni_for(Action::Handle), Some(vec![GENOVA.to_string(), PALERMO.to_string()]));
        assert_eq!(one(Role::CivilProtection, None).comuni_for(Action::Handle), None);
        assert_eq!(one(Role::Councillor, Some(GENOVA)).comuni_for(Action::SeePrivate), Some(vec![]));
        assert_eq!(Access::anonymous().comuni_for(Action::Handle), Some(vec![]));
        assert_eq!(both.highest(), Some(Role::Operator));
    }

    #[test]
    fn roles_read_back() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("mayor".parse::<Role>().is_err());
    }
}
