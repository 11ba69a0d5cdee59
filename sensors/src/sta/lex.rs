//! The tokens of a `$filter`: words, numbers, strings, datetimes, geography literals and punctuation.

use chrono::{DateTime, FixedOffset};

use super::error::FilterError;
use super::filter::{clip, is_word_char, is_word_start};
use super::wkt;

type Result<T, E = FilterError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    LParen,
    RParen,
    Comma,
    Slash,
    Minus,
    Word(String),
    Integer(i64),
    Number(f64),
    Str(String),
    DateTime(DateTime<FixedOffset>),
    Geo(String),
}

#[derive(Debug)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) start: usize,
    pub(super) end: usize,
}

pub(super) fn lex(src: &str) -> Result<Vec<Token>> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let start = i;
        let tok = match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' | b')' | b',' | b'/' | b'-' => {
                i += 1;
                match byte {
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b',' => Tok::Comma,
                    b'/' => Tok::Slash,
                    _ => Tok::Minus,
                }
            }
            b'\'' => {
                let (text, end) = lex_string(src, i)?;
                i = end;
                Tok::Str(text)
            }
            b'0'..=b'9' => {
                let (tok, end) = lex_number(src, i)?;
                i = end;
                tok
            }
            _ => {
                let c = src[i..].chars().next().unwrap_or('\0');
                if c == '\0' {
                    return Err(FilterError::syntax(i, "unexpected NUL character"));
                }
                if !is_word_start(c) {
                    return Err(FilterError::syntax(i, format!("unexpected character `{c}`")));
                }
                let end = src[i..]
                    .char_indices()
                    .find(|&(_, c)| !is_word_char(c))
                    .map_or(src.len(), |(n, _)| i + n);
                let word = &src[i..end];
                i = end;
                if bytes.get(end) == Some(&b'\'') {
                    let (text, end) = lex_string(src, end)?;
                    i = end;
                    match word {
                        "geography" | "geometry" => Tok::Geo(wkt::check(&text, start + word.len() + 1)?),
                        _ => {
                            return Err(FilterError::syntax(
                                start,
                                format!("unsupported literal type `{word}`"),
                            ));
                        }
                    }
                } else {
                    Tok::Word(word.to_owned())
                }
            }
        };
        tokens.push(Token { tok, start, end: i });
    }
    Ok(tokens)
}

/// A string starting with the quote at `start`; returns the text and the offset after the closing quote.
fn lex_string(src: &str, start: usize) -> Result<(String, usize)> {
    let bytes = src.as_bytes();
    let mut text = String::new();
    let mut from = start + 1;
    let mut i = from;
    while i < bytes.len() {
        if bytes[i] == 0 {
            // PostgreSQL text cannot hold NUL: refused here rather than failing in the database.
            return Err(FilterError::syntax(i, "strings cannot contain the NUL character"));
        }
        if bytes[i] == b'\'' {
            text.push_str(&src[from..i]);
            if bytes.get(i + 1) == Some(&b'\'') {
                text.push('\'');
                i += 2;
                from = i;
                continue;
            }
            return Ok((text, i + 1));
        }
        i += 1;
    }
    Err(FilterError::syntax(start, "unterminated string (missing the closing `'`)"))
}

/// A number, or a datetime when the text starts like `2026-11-22`.
fn lex_number(src: &str, start: usize) -> Result<(Tok, usize)> {
    let bytes = src.as_bytes();
    let digits_from = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let is_date = digits_from(start) == start + 4
        && bytes.get(start + 4) == Some(&b'-')
        && digits_from(start + 5) == start + 7
        && bytes.get(start + 7) == Some(&b'-')
        && digits_from(start + 8) == start + 10;
    if is_date {
        if !matches!(bytes.get(start + 10), Some(b'T' | b't')) {
            return Err(FilterError::syntax(
                start,
                "a date needs a time and an offset, e.g. `2026-11-22T00:00:00Z`",
            ));
        }
        let mut end = start + 10;
        while bytes.get(end).is_some_and(|b| b.is_ascii_digit() || b":.+-TtZz".contains(b)) {
            end += 1;
        }
        let text = &src[start..end];
        let time = DateTime::parse_from_rfc3339(text).map_err(|_| {
            let text = clip(text);
            FilterError::syntax(
                start,
                format!("invalid datetime `{text}` (expected e.g. `2026-11-22T10:05:00Z`)"),
            )
        })?;
        return Ok((Tok::DateTime(time), end));
    }
    let mut end = digits_from(start);
    if bytes.get(end) == Some(&b'.') {
        let after = digits_from(end + 1);
        if after == end + 1 {
            return Err(FilterError::syntax(end, "expected digits after the decimal point"));
        }
        end = after;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        let after = digits_from(end + 1 + sign);
        if after > end + 1 + sign {
            end = after;
        }
    }
    let text = &src[start..end];
    if src[end..].chars().next().is_some_and(is_word_char) {
        let word_end =
            src[end..].char_indices().find(|&(_, c)| !is_word_char(c)).map_or(src.len(), |(n, _)| end + n);
        let bad = clip(&src[start..word_end]);
        return Err(FilterError::syntax(start, format!("invalid number `{bad}`")));
    }
    if let Ok(n) = text.parse::<i64>() {
        return Ok((Tok::Integer(n), end));
    }
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((Tok::Number(n), end)),
        _ => Err(FilterError::syntax(start, format!("number `{}` is out of range", clip(text)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: &str) -> String {
        lex(input).expect_err(input).to_string()
    }

    #[test]
    fn nul_is_refused_inside_and_outside_strings() {
        assert_eq!(err("name eq 'x\0y'"), "at 10: strings cannot contain the NUL character");
        assert_eq!(err("name eq \0"), "at 8: unexpected NUL character");
        assert!(err("x eq geography'POINT(1\x002)'").contains("NUL"));
    }

    #[test]
    fn numbers_out_of_range_are_refused() {
        assert!(err("1e309").contains("out of range"));
        assert!(matches!(lex("9223372036854775807").unwrap()[0].tok, Tok::Integer(i64::MAX)));
        assert!(matches!(lex("9223372036854775808").unwrap()[0].tok, Tok::Number(_)));
    }

    #[test]
    fn geography_literals_are_checked_when_lexed() {
        assert!(err("geography'POINT(a b)'").contains("expected a point of 2 to 4 numbers"));
        assert!(err("geography'POLYGON((0 0, 1 1))'").contains("polygon ring needs at least 4 points"));
        assert!(
            matches!(&lex("geometry'SRID=4326;POINT(1 2)'").unwrap()[0].tok, Tok::Geo(w) if w == "POINT(1 2)")
        );
    }
}
