//! The Italian and English texts of a message (`event`, `headline`, `description`, `instruction`, `areaDesc`),
//! generated from the alert's fields.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Rome;

use crate::Level;
use crate::cap::input::{CapChange, CapInput, Hazard, Origin, Subject, SubjectKind};

/// The languages of the `info` blocks, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Lang {
    It,
    En,
}

impl Lang {
    pub(crate) const ALL: [Lang; 2] = [Lang::It, Lang::En];

    /// The CAP `language` (RFC 3066).
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Lang::It => "it-IT",
            Lang::En => "en-US",
        }
    }
}

/// The texts of one `info` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Texts {
    pub event: String,
    pub headline: String,
    pub description: String,
    pub instruction: Option<&'static str>,
    pub area_desc: String,
}

/// CAP recommends headlines of at most 160 characters (SMS-sized).
const HEADLINE_MAX: usize = 160;

pub(crate) fn texts(input: &CapInput, sender_name: &str, lang: Lang) -> Texts {
    Texts {
        event: event(input.hazard, lang).to_string(),
        headline: headline(input, lang),
        description: description(input, sender_name, lang),
        instruction: instruction(input, lang),
        area_desc: area_desc(input, lang),
    }
}

pub(crate) fn event(hazard: Hazard, lang: Lang) -> &'static str {
    match (hazard, lang) {
        (Hazard::Idraulico, Lang::It) => "Rischio idraulico",
        (Hazard::Idraulico, Lang::En) => "River flood risk",
        (Hazard::Idrogeologico, Lang::It) => "Rischio idrogeologico",
        (Hazard::Idrogeologico, Lang::En) => "Landslide and flash flood risk",
        (Hazard::Temporali, Lang::It) => "Rischio idrogeologico per temporali",
        (Hazard::Temporali, Lang::En) => "Thunderstorm risk",
        (Hazard::Tecnico, Lang::It) => "Anomalia della rete di monitoraggio",
        (Hazard::Tecnico, Lang::En) => "Monitoring network fault",
    }
}

/// The colour as an adjective of "allerta" / "alert".
fn colour(level: Level, lang: Lang) -> &'static str {
    match (level, lang) {
        (Level::Verde, Lang::It) => "verde",
        (Level::Gialla, Lang::It) => "gialla",
        (Level::Arancione, Lang::It) => "arancione",
        (Level::Rossa, Lang::It) => "rossa",
        (Level::Verde, Lang::En) => "green",
        (Level::Gialla, Lang::En) => "yellow",
        (Level::Arancione, Lang::En) => "orange",
        (Level::Rossa, Lang::En) => "red",
    }
}

/// English article before a colour ("an orange alert").
fn a_or_an(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

/// "a" becomes "ad" before a word starting with "a" ("da gialla ad arancione").
fn a_before(word: &str) -> &'static str {
    if word.starts_with('a') { "ad" } else { "a" }
}

fn subject_phrase(subject: &Subject, lang: Lang) -> String {
    let kind = match (subject.kind, lang) {
        (SubjectKind::Station, Lang::It) => "stazione",
        (SubjectKind::Station, Lang::En) => "station",
        (SubjectKind::Zone, Lang::It) => "zona di allerta",
        (SubjectKind::Zone, Lang::En) => "alert zone",
    };
    match subject.name.as_deref().map(str::trim).filter(|n| !n.is_empty() && *n != subject.code) {
        Some(name) => format!("{kind} {} ({name})", subject.code),
        None => format!("{kind} {}", subject.code),
    }
}

fn headline(input: &CapInput, lang: Lang) -> String {
    let status = match (input.change, lang) {
        (CapChange::Resolved, Lang::It) => "Cessata allerta".to_string(),
        (CapChange::Resolved, Lang::En) => "Alert ended".to_string(),
        (CapChange::Withdrawn, Lang::It) => "Allerta revocata".to_string(),
        (CapChange::Withdrawn, Lang::En) => "Alert withdrawn".to_string(),
        _ if input.hazard == Hazard::Tecnico => match lang {
            Lang::It => "Avviso tecnico".to_string(),
            Lang::En => "Technical notice".to_string(),
        },
        _ if direction(input).is_some() && input.previous_level.is_some() => {
            let was = input.previous_level.map(|l| colour(l, lang)).unwrap_or_default();
            match lang {
                Lang::It => format!("{} (era {was})", input.level.label_it()),
                Lang::En => format!("{} (was {was})", input.level.label_en()),
            }
        }
        (_, Lang::It) => input.level.label_it().to_string(),
        (_, Lang::En) => input.level.label_en().to_string(),
    };
    let hazard = event(input.hazard, lang).to_lowercase();
    let line = format!("{status} – {hazard} – {}", subject_phrase(&input.subject, lang));
    truncate(line, HEADLINE_MAX)
}

/// `Some(true)` when the change raised the colour, `Some(false)` when it lowered it, `None` otherwise.
fn direction(input: &CapInput) -> Option<bool> {
    match input.change {
        CapChange::Escalated => Some(true),
        CapChange::Deescalated => Some(false),
        CapChange::Updated => {
            input.previous_level.filter(|&was| was != input.level).map(|was| was < input.level)
        }
        _ => None,
    }
}

fn truncate(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

fn description(input: &CapInput, sender_name: &str, lang: Lang) -> String {
    let subject = subject_phrase(&input.subject, lang);
    let now = colour(input.level, lang);
    let mut sentences = Vec::new();
    let first = match (input.change, lang) {
        (CapChange::Resolved, Lang::It) => format!("L'allerta {now} per la {subject} è cessata."),
        (CapChange::Resolved, Lang::En) => format!("The {now} alert for {subject} has ended."),
        (CapChange::Withdrawn, Lang::It) => format!("L'allerta {now} per la {subject} è stata revocata."),
        (CapChange::Withdrawn, Lang::En) => format!("The {now} alert for {subject} has been withdrawn."),
        _ if input.hazard == Hazard::Tecnico => match lang {
            Lang::It => format!("Anomalia tecnica della rete di monitoraggio: {subject} (livello {now})."),
            Lang::En => format!("Technical fault of the monitoring network: {subject} ({now} level)."),
        },
        _ if let Some(up) = direction(input) => match (input.previous_level.map(|l| colour(l, lang)), lang) {
            (Some(was), Lang::It) => {
                let verb = if up { "sale" } else { "scende" };
                format!("L'allerta per la {subject} {verb} da {was} {} {now}.", a_before(now))
            }
            (None, Lang::It) => {
                let verb = if up { "sale" } else { "scende" };
                format!("L'allerta per la {subject} {verb} {} {now}.", a_before(now))
            }
            (Some(was), Lang::En) => {
                let verb = if up { "raised" } else { "lowered" };
                format!("The alert for {subject} is {verb} from {was} to {now}.")
            }
            (None, Lang::En) => {
                let verb = if up { "raised" } else { "lowered" };
                format!("The alert for {subject} is {verb} to {now}.")
            }
        },
        (CapChange::Updated, Lang::It) => format!("L'allerta {now} per la {subject} è stata aggiornata."),
        (CapChange::Updated, Lang::En) => format!("The {now} alert for {subject} has been updated."),
        _ if input.origin == Origin::Manual || input.change == CapChange::Manual => match lang {
            Lang::It => format!("{sender_name} ha emesso un'allerta {now} per la {subject}."),
            Lang::En => format!("{sender_name} has issued {} {now} alert for {subject}.", a_or_an(now)),
        },
        (_, Lang::It) => match input.subject.kind {
            SubjectKind::Station => format!("Alla {subject} è stata superata la soglia di allerta {now}."),
            SubjectKind::Zone => {
                format!("Nella {subject} sono state raggiunte le condizioni di allerta {now}.")
            }
        },
        (_, Lang::En) => match input.subject.kind {
            SubjectKind::Station => format!("The {now} alert threshold has been exceeded at {subject}."),
            SubjectKind::Zone => {
                format!("The conditions of {} {now} alert have been reached in {subject}.", a_or_an(now))
            }
        },
    };
    sentences.push(first);
    if let Some(m) = input.measurement.as_ref().filter(|m| m.value.is_finite()) {
        let value = format!("{:.2}", m.value);
        let unit = m.unit.trim();
        sentences.push(match lang {
            Lang::It => format!("Valore misurato: {} {unit}.", value.replace('.', ",")),
            Lang::En => format!("Measured value: {value} {unit}."),
        });
    }
    if let (Some(zone), SubjectKind::Station) = (&input.zone, input.subject.kind) {
        sentences.push(match lang {
            Lang::It => format!("Zona di allerta: {} ({}).", zone.code, zone.name),
            Lang::En => format!("Alert zone: {} ({}).", zone.code, zone.name),
        });
    }
    if !input.change.ends() {
        let onset = input.onset.map(|t| local_time(t, lang));
        let expires = input.expires.map(|t| local_time(t, lang));
        let validity = match (lang, onset, expires) {
            (Lang::It, Some(from), Some(to)) => Some(format!("In vigore dalle {from} alle {to}.")),
            (Lang::It, Some(from), None) => Some(format!("In vigore dalle {from}.")),
            (Lang::It, None, Some(to)) => Some(format!("In vigore fino alle {to}.")),
            (Lang::En, Some(from), Some(to)) => Some(format!("In force from {from} to {to} (Italian time).")),
            (Lang::En, Some(from), None) => Some(format!("In force from {from} (Italian time).")),
            (Lang::En, None, Some(to)) => Some(format!("In force until {to} (Italian time).")),
            (_, None, None) => None,
        };
        sentences.extend(validity);
    }
    if let Some(note) = input.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        sentences.push(match lang {
            Lang::It => format!("Nota: {note}"),
            Lang::En => format!("Note (as written): {note}"),
        });
    }
    sentences.join(" ")
}

/// A time for people, in Italian local time.
fn local_time(time: DateTime<Utc>, lang: Lang) -> String {
    let local = time.with_timezone(&Rome);
    match lang {
        Lang::It => local.format("%H:%M del %d/%m/%Y").to_string(),
        Lang::En => local.format("%H:%M on %Y-%m-%d").to_string(),
    }
}

fn instruction(input: &CapInput, lang: Lang) -> Option<&'static str> {
    if input.hazard == Hazard::Tecnico {
        return None;
    }
    if input.change.ends() {
        return Some(match lang {
            Lang::It => "Il pericolo è cessato; prestare comunque attenzione a possibili effetti residui.",
            Lang::En => "The danger has passed; still beware of possible after-effects.",
        });
    }
    Some(match (input.level, lang) {
        (Level::Verde, _) => return None,
        (Level::Gialla, Lang::It) => {
            "Tenersi informati sull'evoluzione della situazione e seguire le indicazioni delle autorità locali."
        }
        (Level::Gialla, Lang::En) => {
            "Stay informed about how the situation develops and follow the local authorities' advice."
        }
        (Level::Arancione, Lang::It) => {
            "Prestare la massima attenzione: evitare sottopassi, argini e zone vicine ai corsi d'acqua; \
             prepararsi a raggiungere un luogo sicuro."
        }
        (Level::Arancione, Lang::En) => {
            "Take great care: keep away from underpasses, embankments and watercourses; be ready to move to a safe place."
        }
        (Level::Rossa, Lang::It) => {
            "Pericolo: restare in un luogo sicuro ai piani alti, non mettersi in viaggio, non sostare vicino ai corsi \
             d'acqua; seguire le indicazioni delle autorità."
        }
        (Level::Rossa, Lang::En) => {
            "Danger: stay in a safe place on an upper floor, do not travel, keep away from watercourses; follow the \
             authorities' instructions."
        }
    })
}

fn area_desc(input: &CapInput, lang: Lang) -> String {
    match (&input.zone, lang) {
        (Some(zone), Lang::It) => format!("Zona di allerta {} ({})", zone.code, zone.name),
        (Some(zone), Lang::En) => format!("Alert zone {} ({})", zone.code, zone.name),
        (None, _) => subject_phrase(&input.subject, lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn italian_uses_ad_before_arancione() {
        assert_eq!(a_before("arancione"), "ad");
        assert_eq!(a_before("rossa"), "a");
    }

    #[test]
    fn long_headlines_are_cut_to_160_characters() {
        let long = "à".repeat(200);
        let cut = truncate(long, HEADLINE_MAX);
        assert_eq!(cut.chars().count(), 160);
        assert!(cut.ends_with('…'));
    }
}
