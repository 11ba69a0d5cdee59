//! The Atom 1.0 (RFC 4287) index of the current public alerts, as CAP feeds publish it.

use chrono::{DateTime, Utc};

use crate::cap::config::CapConfig;
use crate::cap::input::CapInput;
use crate::cap::mapping;
use crate::cap::message::{CAP_NS, cap_time, identifier};
use crate::cap::text::{self, Lang};
use crate::cap::xml::Xml;

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// The Atom feed of the alerts in `entries` (each the latest version of a current public alert), `updated` being
/// the time of the feed's latest change.
///
/// Each entry's `id` and `link` are the absolute URL of the alert's message, `{base_url}/cap/alerts/{alert_id}.xml`
/// (the id stays the same across the alert's versions, its `updated` moves); `title` and `summary` are the Italian
/// headline and description; the CAP identifier, `sent`, `msgType`, `event`, `urgency`, `severity`, `certainty` and
/// `areaDesc` are repeated in the CAP namespace (`cap:identifier`, …) so that readers can filter without fetching
/// each message.
pub fn atom_feed(entries: &[CapInput], config: &CapConfig, updated: DateTime<Utc>) -> String {
    let mut xml = Xml::indented();
    xml.declaration();
    xml.start_with("feed", &[("xmlns", ATOM_NS), ("xmlns:cap", CAP_NS), ("xml:lang", "it")]);
    xml.element("id", &config.feed_url());
    xml.element("title", &format!("{} – allerte (CAP 1.2)", config.sender_name));
    xml.element("updated", &cap_time(updated));
    xml.start("author", None);
    xml.element("name", &config.sender_name);
    xml.element("uri", config.web());
    xml.end("author");
    link(&mut xml, "self", "application/atom+xml", &config.feed_url());
    xml.element("generator", "Vedetta");
    for input in entries {
        entry(&mut xml, input, config);
    }
    xml.end("feed");
    xml.finish()
}

fn link(xml: &mut Xml, rel: &str, kind: &str, href: &str) {
    xml.empty_with("link", &[("rel", rel), ("type", kind), ("href", href)]);
}

fn entry(xml: &mut Xml, input: &CapInput, config: &CapConfig) {
    let url = config.message_url(input.alert_id);
    let texts = text::texts(input, &config.sender_name, Lang::It);
    let codes = mapping::codes(input);
    xml.start("entry", None);
    xml.element("id", &url);
    xml.element("title", &texts.headline);
    xml.element("updated", &cap_time(input.sent));
    if let Some(onset) = input.onset {
        xml.element("published", &cap_time(onset));
    }
    xml.element_with("summary", ("type", "text"), &texts.description);
    link(xml, "alternate", "application/cap+xml", &url);
    cap(xml, "identifier", &identifier(config, input.alert_id, input.version));
    cap(xml, "sent", &cap_time(input.sent));
    if let Some(msg_type) = input.change.msg_type(!input.previous.is_empty()) {
        cap(xml, "msgType", msg_type.as_str());
    }
    cap(xml, "event", &texts.event);
    cap(xml, "urgency", codes.urgency);
    cap(xml, "severity", codes.severity);
    cap(xml, "certainty", codes.certainty);
    if let Some(expires) = input.expires {
        cap(xml, "expires", &cap_time(expires));
    }
    cap(xml, "areaDesc", &texts.area_desc);
    xml.end("entry");
}

/// `<cap:name>text</cap:name>`.
fn cap(xml: &mut Xml, name: &str, text: &str) {
    xml.element(&format!("cap:{name}"), text);
}
