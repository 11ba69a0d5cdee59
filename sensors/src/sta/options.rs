//! The query options of the OGC SensorThings API v1.1 read side: `$filter`, `$orderby`, `$select`, `$expand`,
//! `$top`, `$skip`, `$count`.
//!
//! [`QueryOptions::parse_pairs`] reads them from a query string; positions in errors are byte offsets into the
//! option's value. Their translation to SQL is in [`super::query`].
//!
//! Every option value is at most [`MAX_OPTION_LENGTH`] bytes, `$skip` at most [`MAX_SKIP`], `$expand` at most
//! [`MAX_EXPAND_DEPTH`] levels and [`MAX_EXPANSIONS`] navigations; `$top` may be anything, the server pages
//! (see [`super::read`]).

use super::filter::{self, Expr, FilterError};

type Result<T, E = FilterError> = std::result::Result<T, E>;

/// How deeply `$expand` options may nest (`Datastreams($expand=Observations($expand=…))`).
pub const MAX_EXPAND_DEPTH: usize = 16;

/// How many navigations one request may expand, counting every level (`A/B` counts two).
pub const MAX_EXPANSIONS: usize = 32;

/// The longest value of any query option, in bytes.
pub const MAX_OPTION_LENGTH: usize = filter::MAX_LENGTH;

/// The largest `$skip`: beyond it, narrow the query with `$filter` (e.g. on `phenomenonTime`) instead.
pub const MAX_SKIP: u64 = 1_000_000;

/// Parses `$orderby`: comma-separated `path [asc|desc]`; `true` in the pair means descending.
pub fn parse_orderby(input: &str) -> Result<Vec<(Vec<String>, bool)>> {
    let mut items = Vec::new();
    for (offset, item) in split_top(input, b',')? {
        let mut words = item.split_whitespace();
        let Some(path) = words.next() else {
            return Err(FilterError::syntax(offset, "expected a property to order by"));
        };
        let path = parse_path(path, offset + offset_in(item, path))?;
        let desc = match words.next() {
            None => false,
            Some(w) if w.eq_ignore_ascii_case("asc") => false,
            Some(w) if w.eq_ignore_ascii_case("desc") => true,
            Some(w) => {
                let message = format!("expected `asc` or `desc`, found `{}`", filter::clip(w));
                return Err(FilterError::syntax(offset + offset_in(item, w), message));
            }
        };
        if let Some(w) = words.next() {
            let message = format!("unexpected `{}` (expected `,`)", filter::clip(w));
            return Err(FilterError::syntax(offset + offset_in(item, w), message));
        }
        items.push((path, desc));
    }
    Ok(items)
}

/// Parses `$select`: comma-separated property names (paths kept as written, `@iot.id` as `id`).
pub fn parse_select(input: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (offset, item) in split_top(input, b',')? {
        let name = item.trim();
        if name.is_empty() {
            return Err(FilterError::syntax(offset, "expected a property name"));
        }
        names.push(parse_path(name, offset + offset_in(item, name))?.join("/"));
    }
    Ok(names)
}

/// One item of `$expand`: a navigation path and the options applied to its last entity set.
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    /// E.g. `["Datastreams", "Observations"]` from `Datastreams/Observations`.
    pub path: Vec<String>,
    /// Options in parentheses after the path, e.g. `($top=3;$orderby=phenomenonTime desc)`.
    pub options: QueryOptions,
}

impl Expand {
    /// The item as `$expand` text, e.g. `Observations($top=3;$orderby=phenomenonTime desc)`.
    pub fn to_text(&self) -> String {
        let mut text = self.path.join("/");
        if !self.options.given.is_empty() {
            let options: Vec<String> = self.options.given.iter().map(|(k, v)| format!("{k}={v}")).collect();
            text.push('(');
            text.push_str(&options.join(";"));
            text.push(')');
        }
        text
    }
}

/// Parses `$expand`, e.g. `Datastreams($select=name;$expand=Observations($top=3)),Locations`.
pub fn parse_expand(input: &str) -> Result<Vec<Expand>> {
    parse_expand_at(input, 1)
}

/// The query options of one request, or of one `$expand` item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOptions {
    /// `$top`: at most this many entities.
    pub top: Option<u64>,
    /// `$skip`: skip this many entities.
    pub skip: Option<u64>,
    /// `$count`: whether to return `@iot.count`.
    pub count: Option<bool>,
    /// `$orderby`: property paths, `true` for descending.
    pub orderby: Vec<(Vec<String>, bool)>,
    /// `$select`: property names.
    pub select: Vec<String>,
    /// `$expand`: related entities to inline.
    pub expand: Vec<Expand>,
    /// `$filter`.
    pub filter: Option<Expr>,
    /// The options as given, `(key, value)` in order (`$resultFormat` included): links to further pages
    /// repeat them.
    pub given: Vec<(String, String)>,
}

impl QueryOptions {
    /// Reads the `$`-options among the percent-decoded `(key, value)` pairs of a query string.
    ///
    /// Keys without `$` are ignored, as is `$resultFormat`; unknown `$`-options and options given twice are
    /// errors.
    pub fn parse_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<QueryOptions> {
        let mut options = Self::default();
        let mut seen = Vec::new();
        for (key, value) in pairs {
            if !key.starts_with('$') {
                continue;
            }
            options.set(key, value, 0, &mut seen).map_err(|e| e.in_option(key))?;
        }
        let expansions = options.expansions();
        if expansions > MAX_EXPANSIONS {
            return Err(FilterError::InvalidOption {
                option: "$expand".into(),
                message: format!(
                    "{expansions} navigations expanded, more than the {MAX_EXPANSIONS} accepted"
                ),
            });
        }
        Ok(options)
    }

    /// How many navigations are expanded, at every level.
    pub fn expansions(&self) -> usize {
        self.expand.iter().map(|e| e.path.len() + e.options.expansions()).sum()
    }

    /// The options that a link to another page of the same collection repeats: all but `$top` and `$skip`.
    pub fn link_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.given.iter().filter(|(k, _)| k != "$top" && k != "$skip").map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn set<'a>(&mut self, key: &'a str, value: &str, depth: usize, seen: &mut Vec<&'a str>) -> Result<()> {
        if seen.contains(&key) {
            return Err(FilterError::InvalidOption {
                option: key.to_owned(),
                message: "given more than once".into(),
            });
        }
        seen.push(key);
        if value.len() > MAX_OPTION_LENGTH {
            let message = FilterError::TooLong { length: value.len(), max: MAX_OPTION_LENGTH }.to_string();
            return Err(FilterError::InvalidOption { option: key.to_owned(), message });
        }
        self.given.push((key.to_owned(), value.to_owned()));
        match key {
            "$top" => self.top = Some(parse_count(key, value, i64::MAX as u64)?),
            "$skip" => self.skip = Some(parse_count(key, value, MAX_SKIP)?),
            "$count" => {
                self.count = Some(match value.trim() {
                    "true" => true,
                    "false" => false,
                    other => {
                        let message = format!("expected `true` or `false`, found `{}`", filter::clip(other));
                        return Err(FilterError::InvalidOption { option: key.to_owned(), message });
                    }
                });
            }
            "$orderby" => self.orderby = parse_orderby(value)?,
            "$select" => self.select = parse_select(value)?,
            "$expand" => self.expand = parse_expand_at(value, depth + 1)?,
            "$filter" => self.filter = Some(filter::parse(value)?),
            "$resultFormat" => {}
            _ => {
                return Err(FilterError::UnknownOption { option: filter::clip(key) });
            }
        }
        Ok(())
    }
}

fn parse_count(option: &str, value: &str, max: u64) -> Result<u64> {
    let value = value.trim();
    let invalid = |message: String| FilterError::InvalidOption { option: option.to_owned(), message };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!("expected a non-negative integer, found `{}`", filter::clip(value))));
    }
    match value.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(invalid(format!("`{}` is too large (at most {max})", filter::clip(value)))),
    }
}

fn parse_expand_at(input: &str, depth: usize) -> Result<Vec<Expand>> {
    if depth > MAX_EXPAND_DEPTH {
        return Err(FilterError::syntax(
            0,
            format!("`$expand` nested deeper than {MAX_EXPAND_DEPTH} levels"),
        ));
    }
    let mut items = Vec::new();
    for (offset, item) in split_top(input, b',')? {
        let trimmed = item.trim();
        let at = offset + offset_in(item, trimmed);
        if trimmed.is_empty() {
            return Err(FilterError::syntax(at, "expected a navigation property"));
        }
        let (path, options) = match trimmed.find('(') {
            None => (parse_path(trimmed, at)?, QueryOptions::default()),
            Some(open) => {
                // `split_top` checked the balance: the last `)` closes the first `(` unless text follows.
                let close = matching_paren(trimmed, open);
                if close + 1 != trimmed.len() {
                    return Err(FilterError::syntax(at + close + 1, "unexpected text after `)`"));
                }
                let path = parse_path(trimmed[..open].trim_end(), at)?;
                (path, parse_nested_options(&trimmed[open + 1..close], at + open + 1, depth)?)
            }
        };
        items.push(Expand { path, options });
    }
    Ok(items)
}

/// `$key=value` options separated by `;`, as inside `Datastreams(…)`; `offset` is where `input` starts.
fn parse_nested_options(input: &str, offset: usize, depth: usize) -> Result<QueryOptions> {
    let mut options = QueryOptions::default();
    let mut seen = Vec::new();
    for (start, part) in split_top(input, b';')? {
        let at = offset + start + offset_in(part, part.trim_start());
        let Some((key, value)) = part.split_once('=').filter(|(key, _)| key.trim().starts_with('$')) else {
            let message = format!("expected `$option=value`, found `{}`", filter::clip(part.trim()));
            return Err(FilterError::syntax(at, message));
        };
        let value_at = offset + start + key.len() + 1;
        options.set(key.trim(), value, depth, &mut seen).map_err(|e| e.shifted(value_at))?;
    }
    Ok(options)
}

/// Splits `input` at `sep` outside parentheses and `'…'` strings; returns each part with its byte offset.
fn split_top(input: &str, sep: u8) -> Result<Vec<(usize, &str)>> {
    let mut parts = Vec::new();
    let (mut start, mut depth, mut quote) = (0, 0usize, None);
    for (i, byte) in input.bytes().enumerate() {
        match (quote, byte) {
            (Some(_), b'\'') => quote = None,
            (Some(_), _) => {}
            (None, b'\'') => quote = Some(i),
            (None, b'(') => depth += 1,
            (None, b')') if depth == 0 => return Err(FilterError::syntax(i, "unmatched `)`")),
            (None, b')') => depth -= 1,
            (None, b) if b == sep && depth == 0 => {
                parts.push((start, &input[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    if let Some(at) = quote {
        return Err(FilterError::syntax(at, "unterminated string (missing the closing `'`)"));
    }
    if depth > 0 {
        return Err(FilterError::syntax(input.len(), "missing `)`"));
    }
    parts.push((start, &input[start..]));
    Ok(parts)
}

/// The index of the `)` closing the `(` at `open` in a string whose parentheses `split_top` found balanced.
fn matching_paren(s: &str, open: usize) -> usize {
    let (mut depth, mut quote) = (0usize, false);
    for (i, byte) in s.bytes().enumerate().skip(open) {
        match byte {
            b'\'' => quote = !quote,
            b'(' if !quote => depth += 1,
            b')' if !quote => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// Byte offset of `inner` (a subslice) inside `outer`.
fn offset_in(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// A `/`-separated path of names; `pos` is where it starts, for errors.
fn parse_path(text: &str, pos: usize) -> Result<Vec<String>> {
    let mut segments = Vec::new();
    let mut at = pos;
    for segment in text.split('/') {
        let mut chars = segment.chars();
        let valid = chars.next().is_some_and(filter::is_word_start) && chars.all(filter::is_word_char);
        if !valid {
            return Err(FilterError::syntax(
                at,
                format!("expected a property name, found `{}`", filter::clip(segment)),
            ));
        }
        segments.push(filter::normalize_segment(segment));
        at += segment.len() + 1;
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs<'a>(pairs: &[(&'a str, &'a str)]) -> Result<QueryOptions> {
        QueryOptions::parse_pairs(pairs.iter().copied())
    }

    #[test]
    fn orderby_is_parsed() {
        let items = parse_orderby("phenomenonTime desc, result,name ASC , @iot.id").unwrap();
        assert_eq!(
            items,
            vec![
                (vec!["phenomenonTime".to_owned()], true),
                (vec!["result".to_owned()], false),
                (vec!["name".to_owned()], false),
                (vec!["id".to_owned()], false),
            ]
        );
        assert_eq!(
            parse_orderby("properties/river desc").unwrap(),
            [(vec!["properties".to_owned(), "river".to_owned()], true)]
        );
    }

    #[test]
    fn orderby_syntax_errors_are_precise() {
        assert_eq!(
            parse_orderby("result up").unwrap_err().to_string(),
            "at 7: expected `asc` or `desc`, found `up`"
        );
        assert_eq!(
            parse_orderby("result,,name").unwrap_err().to_string(),
            "at 7: expected a property to order by"
        );
        assert_eq!(
            parse_orderby("result desc x").unwrap_err().to_string(),
            "at 12: unexpected `x` (expected `,`)"
        );
        assert!(parse_orderby("").is_err());
        assert_eq!(
            parse_orderby("properties/river-name").unwrap_err().to_string(),
            "at 11: expected a property name, found `river-name`"
        );
    }

    #[test]
    fn select_lists_names() {
        assert_eq!(
            parse_select("id, name,@iot.id,properties/river").unwrap(),
            ["id", "name", "id", "properties/river"]
        );
        assert_eq!(parse_select("name,").unwrap_err().to_string(), "at 5: expected a property name");
        assert_eq!(
            parse_select("na me").unwrap_err().to_string(),
            "at 0: expected a property name, found `na me`"
        );
    }

    #[test]
    fn expand_reads_paths_and_nested_options() {
        let expand = parse_expand(
            "Datastreams($select=name;$expand=Observations($top=3;$orderby=phenomenonTime desc)),Locations",
        )
        .unwrap();
        assert_eq!(expand.len(), 2);
        assert_eq!(expand[0].path, ["Datastreams"]);
        assert_eq!(expand[0].options.select, ["name"]);
        let inner = &expand[0].options.expand[0];
        assert_eq!(inner.path, ["Observations"]);
        assert_eq!(inner.options.top, Some(3));
        assert_eq!(inner.options.orderby, vec![(vec!["phenomenonTime".to_owned()], true)]);
        assert_eq!(expand[1], Expand { path: vec!["Locations".into()], options: QueryOptions::default() });
        let two = parse_expand("Datastreams/Observations , Thing").unwrap();
        assert_eq!(two[0].path, ["Datastreams", "Observations"]);
        assert_eq!(two[1].path, ["Thing"]);
    }

    #[test]
    fn expand_does_not_split_inside_parentheses_or_strings() {
        let expand =
            parse_expand("Observations($filter=substringof('a,b;c)(', name) and (result gt 1);$top=2),Thing")
                .unwrap();
        assert_eq!(expand.len(), 2);
        assert_eq!(expand[0].options.top, Some(2));
        assert!(matches!(expand[0].options.filter, Some(Expr::And(_))));
    }

    #[test]
    fn expand_errors_are_precise() {
        let err = |s: &str| parse_expand(s).unwrap_err().to_string();
        assert_eq!(err("Datastreams($top=3"), "at 18: missing `)`");
        assert_eq!(err("Datastreams)"), "at 11: unmatched `)`");
        assert_eq!(err("Datastreams,"), "at 12: expected a navigation property");
        assert_eq!(err("Datastreams($top=1)x"), "at 19: unexpected text after `)`");
        assert_eq!(err("Datastreams(top=1)"), "at 12: expected `$option=value`, found `top=1`");
        assert_eq!(
            err("Datastreams($top=-1)"),
            "invalid `$top`: expected a non-negative integer, found `-1`"
        );
        assert_eq!(err("Datastreams($foo=1)"), "unknown query option `$foo`");
        // Positions inside nested options count from the start of the whole `$expand` value.
        assert_eq!(err("Datastreams($filter=result gt)"), "at 29: expected a value after `gt`");
        assert_eq!(
            err("Things($expand=Datastreams($filter=x eq 'a))"),
            "at 40: unterminated string (missing the closing `'`)"
        );
        let deep = format!("{}Observations{}", "Datastreams($expand=".repeat(100), ")".repeat(100));
        assert!(err(&deep).contains("nested deeper than 16 levels"));
    }

    #[test]
    fn parse_pairs_reads_every_option() {
        let options = pairs(&[
            ("$top", "10"),
            ("$skip", "20"),
            ("$count", "true"),
            ("$orderby", "phenomenonTime desc"),
            ("$select", "result,phenomenonTime"),
            ("$expand", "Datastream"),
            ("$filter", "result gt 5"),
            ("$resultFormat", "dataArray"),
            ("station", "GE01"),
        ])
        .unwrap();
        assert_eq!(options.top, Some(10));
        assert_eq!(options.skip, Some(20));
        assert_eq!(options.count, Some(true));
        assert_eq!(options.orderby, vec![(vec!["phenomenonTime".to_owned()], true)]);
        assert_eq!(options.select, ["result", "phenomenonTime"]);
        assert_eq!(options.expand[0].path, ["Datastream"]);
        assert_eq!(options.filter, Some(filter::parse("result gt 5").unwrap()));
        assert_eq!(pairs(&[]).unwrap(), QueryOptions::default());
    }

    #[test]
    fn parse_pairs_names_the_bad_option() {
        let err = |p: &[(&str, &str)]| pairs(p).unwrap_err().to_string();
        assert_eq!(err(&[("$top", "-1")]), "invalid `$top`: expected a non-negative integer, found `-1`");
        assert_eq!(err(&[("$skip", "")]), "invalid `$skip`: expected a non-negative integer, found ``");
        assert_eq!(
            err(&[("$top", "99999999999999999999999")]),
            "invalid `$top`: `99999999999999999999999` is too large (at most 9223372036854775807)"
        );
        assert_eq!(err(&[("$count", "yes")]), "invalid `$count`: expected `true` or `false`, found `yes`");
        assert_eq!(err(&[("$foo", "1")]), "unknown query option `$foo`");
        assert_eq!(err(&[("$top", "1"), ("$top", "2")]), "invalid `$top`: given more than once");
        assert_eq!(err(&[("$filter", "result gt")]), "in `$filter`: at 9: expected a value after `gt`");
        assert_eq!(
            err(&[("$orderby", "result up")]),
            "in `$orderby`: at 7: expected `asc` or `desc`, found `up`"
        );
        assert_eq!(
            err(&[("$expand", "Datastreams($count=2)")]),
            "in `$expand`: invalid `$count`: expected `true` or `false`, found `2`"
        );
        let wrapped = pairs(&[("$filter", "x gt")]);
        assert!(std::error::Error::source(wrapped.as_ref().unwrap_err()).is_none());
        assert!(matches!(wrapped, Err(FilterError::InOption { option, .. }) if option == "$filter"));
    }

    #[test]
    fn skip_is_bounded_and_top_is_left_to_paging() {
        let err = |p: &[(&str, &str)]| pairs(p).unwrap_err().to_string();
        assert_eq!(
            err(&[("$skip", "9223372036854775808")]),
            "invalid `$skip`: `9223372036854775808` is too large (at most 1000000)"
        );
        assert_eq!(err(&[("$skip", "1000001")]), "invalid `$skip`: `1000001` is too large (at most 1000000)");
        assert_eq!(pairs(&[("$skip", "1000000")]).unwrap().skip, Some(MAX_SKIP));
        assert_eq!(pairs(&[("$top", "10000")]).unwrap().top, Some(10_000));
        assert!(err(&[("$expand", "Datastreams($skip=9223372036854775808)")]).contains("too large"));
    }

    #[test]
    fn long_options_and_too_many_expansions_are_refused() {
        let long = "x".repeat(MAX_OPTION_LENGTH + 1);
        for key in ["$filter", "$orderby", "$select", "$expand"] {
            let e = pairs(&[(key, &long)]).unwrap_err().to_string();
            assert_eq!(e, format!("invalid `{key}`: 8193 bytes long, more than the 8192 accepted"));
        }
        let many = vec!["Datastreams"; MAX_EXPANSIONS + 1].join(",");
        assert!(pairs(&[("$expand", &many)]).unwrap_err().to_string().contains("33 navigations expanded"));
        let path = vec!["Datastreams/Observations"; 17].join("/");
        assert!(pairs(&[("$expand", &path)]).unwrap_err().to_string().contains("34 navigations expanded"));
        let ok = vec!["Datastreams"; MAX_EXPANSIONS].join(",");
        assert_eq!(pairs(&[("$expand", &ok)]).unwrap().expansions(), MAX_EXPANSIONS);
    }

    #[test]
    fn options_are_kept_as_given_for_links() {
        let options = pairs(&[
            ("$top", "2"),
            ("$filter", "name eq 'a;b'"),
            ("$expand", "Datastreams($top=1;$filter=name ne 'x'),Locations"),
            ("other", "1"),
        ])
        .unwrap();
        let links: Vec<_> = options.link_pairs().collect();
        assert_eq!(
            links,
            [("$filter", "name eq 'a;b'"), ("$expand", "Datastreams($top=1;$filter=name ne 'x'),Locations")]
        );
        let datastreams = &options.expand[0];
        assert_eq!(
            datastreams.options.given,
            [("$top".into(), "1".into()), ("$filter".into(), "name ne 'x'".into())]
        );
        assert_eq!(datastreams.to_text(), "Datastreams($top=1;$filter=name ne 'x')");
        assert_eq!(options.expand[1].to_text(), "Locations");
        // The text reads back to the same item.
        assert_eq!(&parse_expand(&datastreams.to_text()).unwrap()[0], datastreams);
    }
}
