//! `$filter` of the OGC SensorThings API v1.1: the OData 4.0 subset the standard uses, parsed by hand
//! (a lexer and a recursive-descent parser) into an [`Expr`] tree that knows nothing about databases.
//! [`super::query`] turns the tree into PostgreSQL.
//!
//! Precedence, loosest first: `or`, `and`, `not`, comparisons (`eq ne gt ge lt le`), `add sub`,
//! `mul div mod`, unary minus, then values (literals, property paths, function calls, parentheses).

use chrono::{DateTime, FixedOffset};

/// How deeply parentheses, function calls, `not`, unary minus and arithmetic chains may nest.
pub const MAX_DEPTH: usize = 64;

/// Everything that can be wrong with query options: their syntax, their properties, their types.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The text does not follow the grammar; `pos` is a byte offset in the option's value.
    #[error("at {pos}: {message}")]
    Syntax {
        /// Byte offset of the offending text.
        pos: usize,
        /// What was expected or found.
        message: String,
    },
    /// Parentheses, calls, `not`, unary minus or arithmetic nested deeper than `max`.
    #[error("at {pos}: expression nested deeper than {max} levels")]
    TooDeep {
        /// Byte offset where the limit was passed.
        pos: usize,
        /// The limit ([`MAX_DEPTH`]).
        max: usize,
    },
    /// A property path the entity set does not have.
    #[error("unknown property `{path}` for {entity_set}")]
    UnknownProperty {
        /// The path as written, segments joined with `/`.
        path: String,
        /// The entity set queried, e.g. `Observations`.
        entity_set: String,
    },
    /// A function that is not supported.
    #[error("unknown function `{name}`")]
    UnknownFunction {
        /// The function name as written.
        name: String,
    },
    /// A function called with the wrong number of arguments.
    #[error("`{name}` takes {expected}, found {found}")]
    Arity {
        /// The function name.
        name: String,
        /// How many it takes, e.g. `2 arguments`.
        expected: String,
        /// How many were given.
        found: usize,
    },
    /// Operands whose types do not fit together, e.g. a number compared with a string.
    #[error("{0}")]
    Type(String),
    /// A `$`-option that SensorThings does not define.
    #[error("unknown query option `{option}`")]
    UnknownOption {
        /// The key as written, e.g. `$foo`.
        option: String,
    },
    /// A query option with an invalid value, e.g. `$top=-1`, or given twice.
    #[error("invalid `{option}`: {message}")]
    InvalidOption {
        /// The key, e.g. `$top`.
        option: String,
        /// What is wrong with the value.
        message: String,
    },
    /// An error inside the value of the query option `option`.
    #[error("in `{option}`: {error}")]
    InOption {
        /// The key, e.g. `$filter`.
        option: String,
        /// The error, positions relative to the option's value (shown in this error's message, so not its
        /// `source()`).
        error: Box<FilterError>,
    },
}

impl FilterError {
    pub(super) fn syntax(pos: usize, message: impl Into<String>) -> Self {
        Self::Syntax { pos, message: message.into() }
    }

    /// Moves byte positions by `by`: positions inside a nested option become positions in the outer value.
    pub(super) fn shifted(self, by: usize) -> Self {
        match self {
            Self::Syntax { pos, message } => Self::Syntax { pos: pos + by, message },
            Self::TooDeep { pos, max } => Self::TooDeep { pos: pos + by, max },
            Self::InOption { option, error } => Self::InOption { option, error: Box::new(error.shifted(by)) },
            other => other,
        }
    }

    /// Says which query option the error is in, unless it already names that option.
    pub(super) fn in_option(self, key: &str) -> Self {
        match &self {
            Self::UnknownOption { option } | Self::InvalidOption { option, .. } if option == key => self,
            _ => Self::InOption { option: key.to_owned(), error: Box::new(self) },
        }
    }
}

type Result<T, E = FilterError> = std::result::Result<T, E>;

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Literal(Literal),
    /// A property path such as `result` or `Datastream/Thing/name`; `@iot.id` is stored as `id`.
    Property(Vec<String>),
    /// `not e`.
    Not(Box<Expr>),
    /// `-e` on something other than a number literal (number literals are negated in place).
    Neg(Box<Expr>),
    /// `a and b and …`, flattened (at least two items).
    And(Vec<Expr>),
    /// `a or b or …`, flattened (at least two items).
    Or(Vec<Expr>),
    /// `left op right`.
    Compare {
        /// The comparison.
        op: CompareOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `left op right` with an arithmetic operator.
    Arith {
        /// The operator.
        op: ArithOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// A function call, e.g. `st_within(location, geography'POLYGON(…)')`; the name is kept as written.
    Call {
        /// Function name, e.g. `geo.distance`.
        name: String,
        /// Arguments in order.
        args: Vec<Expr>,
    },
}

/// A constant in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer that fits in `i64`, kept exact (Observation ids pass 2^53).
    Integer(i64),
    /// Any other number: with a fraction or an exponent, or too large for `i64`.
    Number(f64),
    /// A string in single quotes (`''` already unescaped).
    Text(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An unquoted ISO 8601 datetime with an offset, e.g. `2026-11-22T10:05:00Z`.
    DateTime(DateTime<FixedOffset>),
    /// `geography'…'` or `geometry'…'`: the WKT text, in WGS 84 (EPSG:4326) longitude/latitude order.
    Geography(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

impl CompareOp {
    fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }

    /// The SQL operator: `=`, `<>`, `>`, `>=`, `<`, `<=`.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        }
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `add`
    Add,
    /// `sub`
    Sub,
    /// `mul`
    Mul,
    /// `div`
    Div,
    /// `mod`
    Mod,
}

const RESERVED: [&str; 14] =
    ["eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "add", "sub", "mul", "div", "mod"];

/// Parses a `$filter` value (already percent-decoded).
///
/// Never panics; nesting deeper than [`MAX_DEPTH`] is refused with [`FilterError::TooDeep`].
pub fn parse(input: &str) -> Result<Expr> {
    let tokens = lex(input)?;
    if tokens.is_empty() {
        return Err(FilterError::syntax(0, "the filter is empty"));
    }
    let mut parser = Parser { src: input, tokens, next: 0, depth: 0 };
    let expr = parser.or()?;
    if let Some(token) = parser.tokens.get(parser.next) {
        let message = match token.tok {
            Tok::RParen => "unmatched `)`".to_owned(),
            _ => format!("unexpected {} (expected `and`, `or` or the end)", parser.show(token)),
        };
        return Err(FilterError::syntax(token.start, message));
    }
    Ok(expr)
}

/// Whether `c` may start a property or function name.
pub(super) fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '@'
}

/// Whether `c` may continue a property or function name (`geo.distance`, `@iot.id`).
pub(super) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '@')
}

/// The name a path segment stands for: `@iot.id` is written `id` in filters.
pub(super) fn normalize_segment(segment: &str) -> String {
    if segment == "@iot.id" { "id".to_owned() } else { segment.to_owned() }
}

/// `s` for an error message, cut to 40 characters.
pub(super) fn clip(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
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
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn lex(src: &str) -> Result<Vec<Token>> {
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
                        "geography" | "geometry" => Tok::Geo(check_wkt(&text, start + word.len() + 1)?),
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

/// Light check of a WKT literal (PostGIS does the full one); strips an `SRID=4326;` prefix.
fn check_wkt(text: &str, pos: usize) -> Result<String> {
    const TYPES: [&str; 7] = [
        "POINT",
        "LINESTRING",
        "POLYGON",
        "MULTIPOINT",
        "MULTILINESTRING",
        "MULTIPOLYGON",
        "GEOMETRYCOLLECTION",
    ];
    let mut wkt = text.trim();
    if wkt.get(..5).is_some_and(|prefix| prefix.eq_ignore_ascii_case("SRID=")) {
        let (srid, rest) = wkt[5..].split_once(';').unwrap_or((&wkt[5..], ""));
        if srid.trim() != "4326" {
            return Err(FilterError::syntax(
                pos,
                format!("only SRID 4326 is supported, found `{}`", clip(srid)),
            ));
        }
        wkt = rest.trim();
    }
    let kind_end = wkt.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(wkt.len());
    let kind = &wkt[..kind_end];
    if !TYPES.iter().any(|t| t.eq_ignore_ascii_case(kind)) {
        return Err(FilterError::syntax(
            pos,
            format!("expected a WKT geometry such as `POINT(8.93 44.40)`, found `{}`", clip(wkt)),
        ));
    }
    let mut open = 0usize;
    for (i, c) in wkt.char_indices() {
        match c {
            '(' => open += 1,
            ')' if open == 0 => return Err(FilterError::syntax(pos + i, "unmatched `)` in the geometry")),
            ')' => open -= 1,
            c if c.is_ascii_alphanumeric() || c.is_ascii_whitespace() || ".,+-".contains(c) => {}
            c => {
                return Err(FilterError::syntax(pos, format!("unexpected character `{c}` in the geometry")));
            }
        }
    }
    if open != 0 {
        return Err(FilterError::syntax(pos, "missing `)` in the geometry"));
    }
    Ok(wkt.to_owned())
}

#[derive(Debug)]
struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    next: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.next).map(|t| &t.tok)
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let found = matches!(self.peek(), Some(Tok::Word(w)) if w == word);
        self.next += usize::from(found);
        found
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let found = self.peek() == Some(tok);
        self.next += usize::from(found);
        found
    }

    fn pos(&self) -> usize {
        self.tokens.get(self.next).map_or(self.src.len(), |t| t.start)
    }

    fn show(&self, token: &Token) -> String {
        format!("`{}`", clip(&self.src[token.start..token.end]))
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::TooDeep { pos: self.pos(), max: MAX_DEPTH });
        }
        Ok(())
    }

    fn expected_value(&self) -> FilterError {
        let after = self.next.checked_sub(1).and_then(|i| self.tokens.get(i));
        let message = match (after, self.tokens.get(self.next)) {
            (Some(after), Some(found)) => {
                format!("expected a value after {}, found {}", self.show(after), self.show(found))
            }
            (Some(after), None) => format!("expected a value after {}", self.show(after)),
            (None, Some(found)) => format!("expected a value, found {}", self.show(found)),
            (None, None) => "expected a value".to_owned(),
        };
        FilterError::syntax(self.pos(), message)
    }

    fn or(&mut self) -> Result<Expr> {
        let mut items = vec![self.and()?];
        while self.eat_word("or") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.swap_remove(0) } else { Expr::Or(items) })
    }

    fn and(&mut self) -> Result<Expr> {
        let mut items = vec![self.not()?];
        while self.eat_word("and") {
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 { items.swap_remove(0) } else { Expr::And(items) })
    }

    fn not(&mut self) -> Result<Expr> {
        if !self.eat_word("not") {
            return self.comparison();
        }
        self.enter()?;
        let inner = self.not()?;
        self.depth -= 1;
        Ok(Expr::Not(Box::new(inner)))
    }

    fn comparison(&mut self) -> Result<Expr> {
        let left = self.additive()?;
        let op = match self.peek() {
            Some(Tok::Word(w)) => CompareOp::from_word(w),
            _ => None,
        };
        let Some(op) = op else { return Ok(left) };
        self.next += 1;
        let right = self.additive()?;
        Ok(Expr::Compare { op, left: Box::new(left), right: Box::new(right) })
    }

    /// A left-associative chain; each link counts as one level of nesting.
    fn chain(&mut self, ops: &[(&str, ArithOp)], operand: fn(&mut Self) -> Result<Expr>) -> Result<Expr> {
        let mut left = operand(self)?;
        let mut links = 0;
        while let Some(&(_, op)) =
            ops.iter().find(|(w, _)| matches!(self.peek(), Some(Tok::Word(t)) if t == w))
        {
            self.next += 1;
            self.enter()?;
            links += 1;
            let right = operand(self)?;
            left = Expr::Arith { op, left: Box::new(left), right: Box::new(right) };
        }
        self.depth -= links;
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr> {
        self.chain(&[("add", ArithOp::Add), ("sub", ArithOp::Sub)], Self::multiplicative)
    }

    fn multiplicative(&mut self) -> Result<Expr> {
        self.chain(&[("mul", ArithOp::Mul), ("div", ArithOp::Div), ("mod", ArithOp::Mod)], Self::unary)
    }

    fn unary(&mut self) -> Result<Expr> {
        if !self.eat(&Tok::Minus) {
            return self.primary();
        }
        self.enter()?;
        let inner = self.unary()?;
        self.depth -= 1;
        Ok(match inner {
            Expr::Literal(Literal::Integer(n)) => {
                Expr::Literal(n.checked_neg().map_or(Literal::Number(-(n as f64)), Literal::Integer))
            }
            Expr::Literal(Literal::Number(n)) => Expr::Literal(Literal::Number(-n)),
            other => Expr::Neg(Box::new(other)),
        })
    }

    fn primary(&mut self) -> Result<Expr> {
        let Some(token) = self.tokens.get(self.next) else {
            return Err(self.expected_value());
        };
        let start = token.start;
        let literal = match &token.tok {
            Tok::Integer(n) => Literal::Integer(*n),
            Tok::Number(n) => Literal::Number(*n),
            Tok::Str(s) => Literal::Text(s.clone()),
            Tok::DateTime(t) => Literal::DateTime(*t),
            Tok::Geo(wkt) => Literal::Geography(wkt.clone()),
            Tok::Word(w) if w == "true" || w == "false" => Literal::Bool(w == "true"),
            Tok::Word(w) if w == "null" => Literal::Null,
            Tok::Word(w) if !RESERVED.contains(&w.as_str()) => {
                let word = w.clone();
                self.next += 1;
                return if self.peek() == Some(&Tok::LParen) { self.call(word) } else { self.path(word) };
            }
            Tok::LParen => {
                self.next += 1;
                self.enter()?;
                let inner = self.or()?;
                if !self.eat(&Tok::RParen) {
                    let message = format!("expected `)` to close the `(` at {start}");
                    return Err(FilterError::syntax(self.pos(), message));
                }
                self.depth -= 1;
                return Ok(inner);
            }
            _ => return Err(self.expected_value()),
        };
        self.next += 1;
        Ok(Expr::Literal(literal))
    }

    fn path(&mut self, first: String) -> Result<Expr> {
        let mut segments = vec![normalize_segment(&first)];
        while self.eat(&Tok::Slash) {
            match self.peek() {
                Some(Tok::Word(w)) if !RESERVED.contains(&w.as_str()) => {
                    segments.push(normalize_segment(w));
                    self.next += 1;
                }
                _ => {
                    return Err(FilterError::syntax(self.pos(), "expected a property name after `/`"));
                }
            }
        }
        Ok(Expr::Property(segments))
    }

    fn call(&mut self, name: String) -> Result<Expr> {
        self.next += 1; // `(`
        self.enter()?;
        let mut args = Vec::new();
        if !self.eat(&Tok::RParen) {
            loop {
                args.push(self.or()?);
                if self.eat(&Tok::RParen) {
                    break;
                }
                if !self.eat(&Tok::Comma) {
                    let message = format!("expected `,` or `)` in the arguments of `{}`", clip(&name));
                    return Err(FilterError::syntax(self.pos(), message));
                }
            }
        }
        self.depth -= 1;
        Ok(Expr::Call { name, args })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(path: &str) -> Box<Expr> {
        Box::new(Expr::Property(path.split('/').map(str::to_owned).collect()))
    }

    fn num(n: i64) -> Box<Expr> {
        Box::new(Expr::Literal(Literal::Integer(n)))
    }

    fn cmp(op: CompareOp, left: Box<Expr>, right: Box<Expr>) -> Expr {
        Expr::Compare { op, left, right }
    }

    fn err(input: &str) -> String {
        parse(input).expect_err(input).to_string()
    }

    fn lit(input: &str) -> Literal {
        match parse(&format!("x eq {input}")) {
            Ok(Expr::Compare { right, .. }) => match *right {
                Expr::Literal(l) => l,
                other => panic!("{input}: not a literal: {other:?}"),
            },
            other => panic!("{input}: {other:?}"),
        }
    }

    #[test]
    fn every_comparison_operator_is_parsed() {
        for (word, op) in [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ] {
            assert_eq!(parse(&format!("result {word} 3")), Ok(cmp(op, prop("result"), num(3))));
        }
    }

    #[test]
    fn or_binds_looser_than_and_which_binds_looser_than_not() {
        let got = parse("a eq 1 or b eq 2 and not c eq 3").unwrap();
        let want = Expr::Or(vec![
            cmp(CompareOp::Eq, prop("a"), num(1)),
            Expr::And(vec![
                cmp(CompareOp::Eq, prop("b"), num(2)),
                Expr::Not(Box::new(cmp(CompareOp::Eq, prop("c"), num(3)))),
            ]),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn parentheses_override_precedence() {
        let got = parse("(a eq 1 or b eq 2) and c eq 3").unwrap();
        let Expr::And(items) = got else { panic!("{got:?}") };
        assert!(matches!(items[0], Expr::Or(_)));
    }

    #[test]
    fn multiplication_binds_tighter_than_addition_and_chains_go_left() {
        let arith = |op, left, right| Box::new(Expr::Arith { op, left, right });
        let got = parse("result add 2 mul 3 gt 10 sub 4 sub 1").unwrap();
        let left = arith(ArithOp::Add, prop("result"), arith(ArithOp::Mul, num(2), num(3)));
        let right = arith(ArithOp::Sub, arith(ArithOp::Sub, num(10), num(4)), num(1));
        assert_eq!(got, cmp(CompareOp::Gt, left, right));
        assert!(matches!(parse("a div 2 mod 3 eq 1"), Ok(Expr::Compare { .. })));
    }

    #[test]
    fn numbers_and_unary_minus() {
        assert_eq!(lit("-5.5"), Literal::Number(-5.5));
        assert_eq!(lit("1e3"), Literal::Number(1000.0));
        assert_eq!(lit("-2.5E-1"), Literal::Number(-0.25));
        assert_eq!(lit("- -7"), Literal::Integer(7));
        assert_eq!(lit("6543210987654321012"), Literal::Integer(6_543_210_987_654_321_012));
        assert_eq!(lit("-9223372036854775807"), Literal::Integer(-i64::MAX));
        assert_eq!(lit("9223372036854775808"), Literal::Number(9_223_372_036_854_775_808.0));
        assert_eq!(lit("3.0"), Literal::Number(3.0));
        let got = parse("-result lt 3").unwrap();
        assert_eq!(got, cmp(CompareOp::Lt, Box::new(Expr::Neg(prop("result"))), num(3)));
    }

    #[test]
    fn strings_booleans_and_null() {
        assert_eq!(lit("'O''Brien'"), Literal::Text("O'Brien".into()));
        assert_eq!(lit("''"), Literal::Text(String::new()));
        assert_eq!(lit("'città (GE), 5'"), Literal::Text("città (GE), 5".into()));
        assert_eq!(lit("true"), Literal::Bool(true));
        assert_eq!(lit("false"), Literal::Bool(false));
        assert_eq!(lit("null"), Literal::Null);
    }

    #[test]
    fn unquoted_datetimes_keep_their_offset() {
        let Literal::DateTime(t) = lit("2026-11-22T10:05:00Z") else { panic!() };
        assert_eq!(t.to_rfc3339(), "2026-11-22T10:05:00+00:00");
        let Literal::DateTime(t) = lit("2026-11-22T10:05:00.123+01:00") else { panic!() };
        assert_eq!(t.timestamp_millis() % 1000, 123);
        assert_eq!(t.offset().local_minus_utc(), 3600);
        assert!(matches!(parse("(phenomenonTime gt 2026-11-22T10:05:00Z)"), Ok(Expr::Compare { .. })));
    }

    #[test]
    fn bad_datetimes_are_refused_with_a_hint() {
        assert!(err("t gt 2026-11-22").contains("needs a time and an offset"), "{}", err("t gt 2026-11-22"));
        assert!(err("t gt 2026-11-22T10:05:00").starts_with("at 5: invalid datetime"));
        assert!(err("t gt 2026-13-45T10:05:00Z").contains("invalid datetime"));
    }

    #[test]
    fn geography_literals_keep_the_wkt() {
        assert_eq!(lit("geography'POINT(8.93 44.40)'"), Literal::Geography("POINT(8.93 44.40)".into()));
        let polygon = "POLYGON((8.9 44.4, 9.0 44.4, 9.0 44.5, 8.9 44.4))";
        assert_eq!(lit(&format!("geography'{polygon}'")), Literal::Geography(polygon.into()));
        assert_eq!(lit("geometry'SRID=4326;POINT(1 2)'"), Literal::Geography("POINT(1 2)".into()));
        assert!(err("x eq geography'SRID=3003;POINT(1 2)'").contains("only SRID 4326"));
        assert!(err("x eq geography'CIRCLE(1 2)'").contains("expected a WKT geometry"));
        assert!(err("x eq geography'POINT(1 2'").contains("missing `)`"));
        assert!(err("x eq geography'POINT(1 2)); drop'").contains("unmatched `)`"));
        assert!(err("x eq duration'P1D'").contains("unsupported literal type `duration`"));
    }

    #[test]
    fn property_paths_and_iot_id() {
        assert_eq!(
            parse("Datastream/Thing/name eq 'x'").unwrap(),
            cmp(
                CompareOp::Eq,
                prop("Datastream/Thing/name"),
                Box::new(Expr::Literal(Literal::Text("x".into())))
            )
        );
        assert_eq!(parse("@iot.id eq 4").unwrap(), cmp(CompareOp::Eq, prop("id"), num(4)));
        assert_eq!(
            parse("Datastream/@iot.id eq 4").unwrap(),
            cmp(CompareOp::Eq, prop("Datastream/id"), num(4))
        );
        assert_eq!(parse("properties/river").unwrap(), *prop("properties/river"));
        assert!(err("Datastream/ eq 1").contains("expected a property name after `/`"));
    }

    #[test]
    fn functions_are_parsed_generically() {
        let got = parse("geo.distance(location, geography'POINT(8.93 44.40)') lt 1000").unwrap();
        let Expr::Compare { left, .. } = got else { panic!() };
        assert_eq!(
            *left,
            Expr::Call {
                name: "geo.distance".into(),
                args: vec![*prop("location"), Expr::Literal(Literal::Geography("POINT(8.93 44.40)".into()))],
            }
        );
        for f in [
            "st_within(location, geography'POLYGON((0 0, 1 0, 1 1, 0 0))')",
            "substringof('x', name)",
            "startswith(name,'x') and endswith(name, 'y')",
            "year(phenomenonTime) eq 2026",
            "length(tolower(trim(name))) gt 2",
            "phenomenonTime lt now()",
        ] {
            assert!(parse(f).is_ok(), "{f}");
        }
        assert!(err("startswith(name 'x')").contains("expected `,` or `)` in the arguments of `startswith`"));
    }

    #[test]
    fn error_messages_say_where_and_what() {
        assert_eq!(err("result gt"), "at 9: expected a value after `gt`");
        assert_eq!(err("name eq 'a' and result gt )"), "at 26: expected a value after `gt`, found `)`");
        assert_eq!(err("eq eq"), "at 0: expected a value, found `eq`");
        assert_eq!(err(""), "at 0: the filter is empty");
        assert_eq!(err("   "), "at 0: the filter is empty");
        assert_eq!(err("result gt 1 2"), "at 12: unexpected `2` (expected `and`, `or` or the end)");
        assert_eq!(err("a eq 'unterminated"), "at 5: unterminated string (missing the closing `'`)");
        assert_eq!(err("'"), "at 0: unterminated string (missing the closing `'`)");
        assert_eq!(err("result # 3"), "at 7: unexpected character `#`");
        assert_eq!(err("result gt 5m"), "at 10: invalid number `5m`");
        assert!(err("result gt 1e999").contains("out of range"));
        assert!(err("result gt 1.").contains("digits after the decimal point"));
    }

    #[test]
    fn unbalanced_parentheses_are_errors() {
        assert_eq!(err("(result gt 1"), "at 12: expected `)` to close the `(` at 0");
        assert_eq!(err("result gt 1)"), "at 11: unmatched `)`");
        assert_eq!(err("()"), "at 1: expected a value after `(`, found `)`");
        assert!(parse("((((result gt 1))))").is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let deep = format!("{}result{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(parse(&deep), Err(FilterError::TooDeep { max: MAX_DEPTH, .. })));
        assert!(matches!(parse(&"(".repeat(10_000)), Err(FilterError::TooDeep { .. })));
        assert!(matches!(parse(&format!("{}a", "not ".repeat(10_000))), Err(FilterError::TooDeep { .. })));
        assert!(matches!(parse(&format!("{}1", "-".repeat(10_000))), Err(FilterError::TooDeep { .. })));
        assert!(matches!(parse(&format!("{}1", "f(".repeat(10_000))), Err(FilterError::TooDeep { .. })));
        let chain = format!("1{} eq 2", " add 1".repeat(10_000));
        assert!(matches!(parse(&chain), Err(FilterError::TooDeep { .. })));
        // 64 levels are fine; long and/or lists are flat, not deep.
        assert!(parse(&format!("{}result{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH))).is_ok());
        let ids = (0..10_000).map(|i| format!("id eq {i}")).collect::<Vec<_>>().join(" or ");
        assert!(matches!(parse(&ids), Ok(Expr::Or(items)) if items.len() == 10_000));
    }

    #[test]
    fn no_input_makes_the_parser_panic() {
        let sample = "not (Datastream/Thing/name eq 'Bisagno''s' and geo.distance(location, \
                      geography'POINT(8.93 44.40)') le -1.5e2 or \
                      phenomenonTime gt 2026-11-22T10:05:00.1+01:00)";
        for (i, _) in sample.char_indices() {
            let _ = parse(&sample[..i]);
            let _ = parse(&sample[i..]);
        }
        for junk in [
            "x eq geography'ééé'",
            "x eq geography'SRID=é'",
            "§",
            "é eq 1",
            "2026-",
            "2026-11-22T",
            "geography'",
            "x'",
            "1e",
            "1e+",
            "@",
            "a/",
            ",",
            "-",
            "--",
            "/a",
        ] {
            let _ = parse(junk);
        }
    }
}
