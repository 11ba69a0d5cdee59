//! A thin XML writer over quick-xml that emits elements already in Canonical XML form.
//!
//! The CAP message is signed with an enveloped XML-DSig signature, whose digest is computed over the canonical form
//! (C14N) of the `alert` element. Emitting that element canonically in the first place means the bytes written are
//! the bytes digested, with no canonicaliser of our own. The writer therefore:
//! - never writes empty-element tags (`<a/>`): every element is a start tag, its text and an end tag (except
//!   through `start_with` and `empty_with`, which are for unsigned documents only);
//! - escapes text as C14N does: `&`, `<`, `>` only (quotes stay literal);
//! - normalises line ends to `\n` (an XML parser turns `\r\n` and `\r` into `\n` before canonicalising) and replaces
//!   characters XML 1.0 does not allow with U+FFFD, so that the output is well-formed whatever the input text;
//! - writes at most one attribute per element (attribute order cannot then differ from the canonical one), with
//!   values that the callers keep free of quotes, `<`, `&` and whitespace other than spaces;
//! - writes no whitespace between elements unless asked to indent (the Atom feed, which is not signed).

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// An XML document being written into memory.
pub(crate) struct Xml {
    writer: Writer<Vec<u8>>,
}

impl std::fmt::Debug for Xml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Xml").field("len", &self.writer.get_ref().len()).finish()
    }
}

impl Xml {
    /// A compact writer: no whitespace between elements (the canonical form of what it writes is itself).
    pub(crate) fn compact() -> Self {
        Xml { writer: Writer::new(Vec::new()) }
    }

    /// An indented writer, for documents that are not signed.
    pub(crate) fn indented() -> Self {
        Xml { writer: Writer::new_with_indent(Vec::new(), b' ', 2) }
    }

    /// Writing into a `Vec<u8>` cannot fail; quick-xml's API is generic over `io::Write`, hence the `Result`.
    fn put(&mut self, event: Event<'_>) {
        self.writer.write_event(event).expect("writing XML into a Vec<u8> cannot fail");
    }

    /// `<?xml version="1.0" encoding="UTF-8"?>`.
    pub(crate) fn declaration(&mut self) {
        self.put(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    }

    /// A start tag with at most one attribute (see the module notes).
    pub(crate) fn start(&mut self, name: &str, attribute: Option<(&str, &str)>) {
        let mut tag = BytesStart::new(name);
        if let Some(attribute) = attribute {
            tag.push_attribute(attribute);
        }
        self.put(Event::Start(tag));
    }

    /// A start tag with several attributes, for documents that are not signed (the attributes are written in the
    /// order given, which need not be the canonical one).
    pub(crate) fn start_with(&mut self, name: &str, attributes: &[(&str, &str)]) {
        let tag = BytesStart::new(name).with_attributes(attributes.iter().copied());
        self.put(Event::Start(tag));
    }

    /// An empty-element tag (`<a b="c"/>`) with several attributes, for documents that are not signed.
    pub(crate) fn empty_with(&mut self, name: &str, attributes: &[(&str, &str)]) {
        let tag = BytesStart::new(name).with_attributes(attributes.iter().copied());
        self.put(Event::Empty(tag));
    }

    /// An end tag.
    pub(crate) fn end(&mut self, name: &str) {
        self.put(Event::End(BytesEnd::new(name)));
    }

    /// `<name>text</name>`, the text cleaned and escaped canonically.
    pub(crate) fn element(&mut self, name: &str, text: &str) {
        self.start(name, None);
        self.text(text);
        self.end(name);
    }

    /// `<name attribute>text</name>`.
    pub(crate) fn element_with(&mut self, name: &str, attribute: (&str, &str), text: &str) {
        self.start(name, Some(attribute));
        self.text(text);
        self.end(name);
    }

    /// An element with an attribute and no content, written as a start and an end tag (never `<a/>`).
    pub(crate) fn empty(&mut self, name: &str, attribute: (&str, &str)) {
        self.start(name, Some(attribute));
        self.end(name);
    }

    /// Text content, cleaned and escaped canonically.
    pub(crate) fn text(&mut self, text: &str) {
        let clean = clean_text(text);
        let escaped = partial_escape(clean);
        self.put(Event::Text(BytesText::from_escaped(escaped)));
    }

    /// Bytes written so far.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.writer.get_ref()
    }

    /// The document written.
    pub(crate) fn finish(self) -> String {
        // Everything written came from `&str` values and ASCII markup, so it is UTF-8.
        String::from_utf8(self.writer.into_inner()).expect("XML written from &str values is UTF-8")
    }
}

/// Text as an XML parser will hand it to a canonicaliser: line ends normalised to `\n`, and characters outside
/// XML 1.0's `Char` production (C0 controls other than tab and line feed, U+FFFE, U+FFFF) replaced with U+FFFD.
pub(crate) fn clean_text(text: &str) -> Cow<'_, str> {
    let needs_work = text.chars().any(|c| c == '\r' || !is_xml_char(c));
    if !needs_work {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    Cow::Owned(out)
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_as_canonical_xml_does() {
        let mut xml = Xml::compact();
        xml.element("headline", "Sant'Olcese <\"A\"> & co\r\nfine\rend\u{1}");
        assert_eq!(
            xml.finish(),
            "<headline>Sant'Olcese &lt;\"A\"&gt; &amp; co\nfine\nend\u{FFFD}</headline>"
        );
    }

    #[test]
    fn elements_without_content_are_never_self_closing() {
        let mut xml = Xml::compact();
        xml.empty("Transform", ("Algorithm", "http://www.w3.org/2000/09/xmldsig#enveloped-signature"));
        xml.element("note", "");
        assert_eq!(
            xml.finish(),
            "<Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></Transform><note></note>"
        );
    }
}
