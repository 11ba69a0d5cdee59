//! The two formats of GeoReport v2: XML (required by the spec, always served) and JSON (the spec's arrays).
//!
//! Every document is a Rust value that serialises to JSON with serde and writes itself as XML through [`ToXml`],
//! so both formats come from one value. Lists are JSON arrays and, in XML, a root element with one child per item
//! (`<services><service>…</service></services>`); a missing value is JSON `null` and an empty XML element.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Serialize;

/// `text/xml`, as the spec names XML.
pub(crate) const XML: &str = "text/xml; charset=utf-8";
/// `application/json`.
pub(crate) const JSON: &str = "application/json; charset=utf-8";

/// The format a client asked for, by the resource's extension (`services.xml`, `requests/12.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Xml,
}

impl Format {
    /// The media type of documents in this format.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Json => JSON,
            Format::Xml => XML,
        }
    }

    /// Splits a path segment `name.json` / `name.xml` into the name and the format; `None` for any other
    /// extension or an empty name.
    pub(crate) fn split(file: &str) -> Option<(&str, Format)> {
        let (name, format) = if let Some(name) = file.strip_suffix(".json") {
            (name, Format::Json)
        } else if let Some(name) = file.strip_suffix(".xml") {
            (name, Format::Xml)
        } else {
            return None;
        };
        (!name.is_empty()).then_some((name, format))
    }

    /// The format of a segment for its error answer: its extension when it has one Vedetta serves, else XML (the
    /// format every GeoReport v2 server must speak).
    pub(crate) fn of_segment(file: &str) -> Format {
        if file.ends_with(".json") { Format::Json } else { Format::Xml }
    }
}

/// A document that writes itself as XML: `ELEMENT` is its element's name (for a list, each item's).
pub(crate) trait ToXml {
    const ELEMENT: &'static str;
    /// Writes the element's children (the element itself is written by the caller).
    fn children(&self, x: &mut Xml);
}

/// A 200 answer: one document (`root` = the document's own element).
pub(crate) fn one<T: Serialize + ToXml>(format: Format, doc: &T) -> Response {
    answer(StatusCode::OK, format, doc, |x| {
        x.open(T::ELEMENT);
        doc.children(x);
        x.close(T::ELEMENT);
    })
}

/// A list: a JSON array, or `<root><item>…</item>…</root>`.
pub(crate) fn list<T: Serialize + ToXml>(
    status: StatusCode,
    format: Format,
    root: &str,
    items: &[T],
) -> Response {
    answer(status, format, &items, |x| {
        x.open(root);
        for item in items {
            x.open(T::ELEMENT);
            item.children(x);
            x.close(T::ELEMENT);
        }
        x.close(root);
    })
}

fn answer<T: Serialize + ?Sized>(
    status: StatusCode,
    format: Format,
    doc: &T,
    xml: impl FnOnce(&mut Xml),
) -> Response {
    let body = match format {
        Format::Json => match serde_json::to_vec(doc) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "An Open311 document could not be written as JSON.");
                return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
            }
        },
        Format::Xml => {
            let mut x = Xml::new();
            xml(&mut x);
            x.finish()
        }
    };
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    response
}

/// A date and time as the spec writes them: ISO 8601 (W3C profile) with the offset, to the second.
pub(crate) fn datetime(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// An XML document being written into memory, starting with the declaration (`encoding="UTF-8"`, as the spec
/// requires).
pub(crate) struct Xml {
    writer: Writer<Vec<u8>>,
}

impl std::fmt::Debug for Xml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Xml").field("len", &self.writer.get_ref().len()).finish()
    }
}

impl Xml {
    pub(crate) fn new() -> Xml {
        let mut x = Xml { writer: Writer::new(Vec::new()) };
        x.put(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        x
    }

    /// Writing into a `Vec<u8>` cannot fail (quick-xml's writer is generic over `io::Write`, hence its `Result`).
    fn put(&mut self, event: Event<'_>) {
        let _ = self.writer.write_event(event);
    }

    /// A start tag.
    pub(crate) fn open(&mut self, name: &str) {
        self.put(Event::Start(BytesStart::new(name)));
    }

    /// An end tag.
    pub(crate) fn close(&mut self, name: &str) {
        self.put(Event::End(BytesEnd::new(name)));
    }

    /// `<name>text</name>`, the text escaped and cleaned of characters XML 1.0 cannot carry.
    pub(crate) fn text(&mut self, name: &str, text: &str) {
        self.open(name);
        let clean = clean(text);
        self.put(Event::Text(BytesText::new(&clean)));
        self.close(name);
    }

    /// `<name>text</name>`, or `<name/>` for no value.
    pub(crate) fn opt(&mut self, name: &str, text: Option<&str>) {
        match text {
            Some(text) => self.text(name, text),
            None => self.put(Event::Empty(BytesStart::new(name))),
        }
    }

    /// `<name>true</name>` or `<name>false</name>`.
    pub(crate) fn flag(&mut self, name: &str, value: bool) {
        self.text(name, if value { "true" } else { "false" });
    }

    /// A number (the shortest text that reads back as the same `f64`).
    pub(crate) fn number(&mut self, name: &str, value: f64) {
        self.text(name, &value.to_string());
    }

    /// The document, as UTF-8 bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.writer.into_inner()
    }
}

/// Text as XML 1.0 may carry it: C0 controls other than tab, line feed and carriage return, and U+FFFE/U+FFFF,
/// become U+FFFD (a description typed or pasted with a stray control character must not break the document).
fn clean(text: &str) -> Cow<'_, str> {
    let bad = |c: char| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}');
    if text.contains(bad) {
        Cow::Owned(text.chars().map(|c| if bad(c) { '\u{FFFD}' } else { c }).collect())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_split_into_name_and_format() {
        assert_eq!(Format::split("buca_stradale.json"), Some(("buca_stradale", Format::Json)));
        assert_eq!(Format::split("12.xml"), Some(("12", Format::Xml)));
        assert_eq!(Format::split(".xml"), None);
        assert_eq!(Format::split("12.html"), None);
        assert_eq!(Format::split("12"), None);
        assert_eq!(Format::of_segment("12.html"), Format::Xml);
        assert_eq!(Format::of_segment("x.json"), Format::Json);
    }

    #[test]
    fn xml_text_is_escaped_and_cleaned() {
        let mut x = Xml::new();
        x.open("a");
        x.text("b", "<c> & \"d\"\u{1}");
        x.opt("e", None);
        x.close("a");
        let doc = String::from_utf8(x.finish()).unwrap();
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a><b>&lt;c&gt; &amp; &quot;d&quot;\u{FFFD}</b><e/></a>"
        );
    }

    #[test]
    fn datetimes_carry_their_offset() {
        let t = DateTime::parse_from_rfc3339("2026-03-01T10:15:30.250Z").unwrap().with_timezone(&Utc);
        assert_eq!(datetime(t), "2026-03-01T10:15:30+00:00");
    }
}
