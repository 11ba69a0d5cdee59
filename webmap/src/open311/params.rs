//! The parameters of an Open311 request: the query string and, for `POST requests`, the form body
//! (`application/x-www-form-urlencoded`), read with a real form parser that keeps repeated keys
//! (`attribute[colour][]=red&attribute[colour][]=blue`).
//!
//! Every value is text checked here once: no NUL byte, at most [`MAX_VALUE_CHARS`] characters, at most
//! [`MAX_PARAMS`] parameters; a mistake is a 400 that names the parameter.

use super::error::{Open311Error, Result};
use super::format::Format;

/// Most parameters in one request (query and body together).
pub(crate) const MAX_PARAMS: usize = 200;
/// Longest value of a parameter, in characters (a description may have 4,000; the rest are short).
pub(crate) const MAX_VALUE_CHARS: usize = 8_000;

/// The parameters, in the order given.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The parameters of a query string and an optional form body (the body's after the query's).
    pub(crate) fn parse(format: Format, query: Option<&str>, body: Option<&[u8]>) -> Result<Params> {
        let mut pairs = Vec::new();
        let sources = query.map(str::as_bytes).into_iter().chain(body);
        for source in sources {
            for (key, value) in url::form_urlencoded::parse(source) {
                if pairs.len() == MAX_PARAMS {
                    return Err(Open311Error::bad(format, format!("more than {MAX_PARAMS} parameters")));
                }
                if key.contains('\0') || value.contains('\0') {
                    return Err(Open311Error::bad(
                        format,
                        format!("`{}` contains a NUL byte", key.escape_debug()),
                    ));
                }
                if value.chars().count() > MAX_VALUE_CHARS {
                    return Err(Open311Error::bad(
                        format,
                        format!("`{}` is longer than {MAX_VALUE_CHARS} characters", key.escape_debug()),
                    ));
                }
                pairs.push((key.into_owned(), value.into_owned()));
            }
        }
        Ok(Params { pairs })
    }

    /// The first value of `name`, trimmed; `None` when absent or blank (the spec's clients send empty
    /// parameters for what they do not know, e.g. `jurisdiction_id=`).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// Every parameter, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_kept_and_blank_values_are_absent() {
        let p = Params::parse(
            Format::Xml,
            Some("jurisdiction_id=&api_key=k"),
            Some(b"attribute%5Bc%5D%5B%5D=a&attribute[c][]=b&lat=44.4"),
        )
        .unwrap();
        assert_eq!(p.get("jurisdiction_id"), None);
        assert_eq!(p.get("api_key"), Some("k"));
        assert_eq!(p.get("lat"), Some("44.4"));
        let multi: Vec<&str> = p.iter().filter(|(k, _)| *k == "attribute[c][]").map(|(_, v)| v).collect();
        assert_eq!(multi, ["a", "b"]);
    }

    #[test]
    fn nul_bytes_and_floods_are_refused() {
        assert!(Params::parse(Format::Json, Some("a=%00"), None).is_err());
        let flood = "a=1&".repeat(MAX_PARAMS + 1);
        assert!(Params::parse(Format::Json, Some(&flood), None).is_err());
    }
}
