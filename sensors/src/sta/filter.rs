//! `$filter` of the OGC SensorThings API v1.1: the OData 4.0 subset the standard uses, parsed by hand
//! (a lexer and a recursive-descent parser) into an [`Expr`] tree that knows nothing about databases.
//! [`super::query`] turns the tree into PostgreSQL.
//!
//! Precedence, loosest first: `or`, `and`, `not`, comparisons (`eq ne gt ge lt le`), `add sub`,
//! `mul div mod`, unary minus, then values (literals, property paths, function calls, parentheses).
//!
//! A hostile filter costs little: it is at most [`MAX_LENGTH`] bytes and nests at most [`MAX_DEPTH`] levels, so
//! the recursion of the parser and of the translation is bounded whatever the input.

pub use super::error::FilterError;
pub use super::expr::{ArithOp, CompareOp, Expr, Literal};
use super::lex::{Tok, Token, lex};

/// How deeply parentheses, function calls, `not`, unary minus and arithmetic chains may nest.
pub const MAX_DEPTH: usize = 32;

/// The longest `$filter` accepted, in bytes (a polygon of a few hundred vertices fits).
pub const MAX_LENGTH: usize = 8 * 1024;

type Result<T, E = FilterError> = std::result::Result<T, E>;

const RESERVED: [&str; 14] =
    ["eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "add", "sub", "mul", "div", "mod"];

/// Parses a `$filter` value (already percent-decoded).
///
/// Never panics; a value longer than [`MAX_LENGTH`] is refused with [`FilterError::TooLong`], nesting deeper
/// than [`MAX_DEPTH`] with [`FilterError::TooDeep`].
pub fn parse(input: &str) -> Result<Expr> {
    if input.len() > MAX_LENGTH {
        return Err(FilterError::TooLong { length: input.len(), max: MAX_LENGTH });
    }
    parse_unbounded(input)
}

/// [`parse`] without the length limit (the depth limit still holds).
fn parse_unbounded(input: &str) -> Result<Expr> {
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
        assert!(err("x eq geography'POINT(1 2'").contains("expected `)` in the geometry"));
        assert!(err("x eq geography'POINT(1 2)); drop'").contains("unexpected text after the geometry"));
        assert_eq!(
            err("x eq geography'POLYGON((0 0, 1 1))'"),
            "at 23: a polygon ring needs at least 4 points and must end where it starts in the geometry"
        );
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
        // Without the length limit, to reach the depth limit with every construct that nests.
        let deep = |s: &str| parse_unbounded(s);
        let parens = format!("{}result{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(matches!(deep(&parens), Err(FilterError::TooDeep { max: MAX_DEPTH, .. })));
        assert!(matches!(deep(&"(".repeat(100_000)), Err(FilterError::TooDeep { .. })));
        assert!(matches!(deep(&format!("{}a", "not ".repeat(10_000))), Err(FilterError::TooDeep { .. })));
        assert!(matches!(deep(&format!("{}1", "-".repeat(10_000))), Err(FilterError::TooDeep { .. })));
        assert!(matches!(deep(&format!("{}1", "f(".repeat(10_000))), Err(FilterError::TooDeep { .. })));
        let chain = format!("1{} eq 2", " add 1".repeat(10_000));
        assert!(matches!(deep(&chain), Err(FilterError::TooDeep { .. })));
        // 32 levels are fine; long and/or lists are flat, not deep.
        assert!(parse(&format!("{}result{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH))).is_ok());
        let ids = (0..10_000).map(|i| format!("id eq {i}")).collect::<Vec<_>>().join(" or ");
        assert!(matches!(deep(&ids), Ok(Expr::Or(items)) if items.len() == 10_000));
    }

    #[test]
    fn long_filters_are_refused_before_parsing() {
        let parens = format!("{}result{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(parse(&parens), Err(FilterError::TooLong { length: 200_006, max: MAX_LENGTH }));
        assert!(parse(&format!("name eq '{}'", "x".repeat(MAX_LENGTH - 10))).is_ok());
        assert!(parse(&format!("name eq '{}'", "x".repeat(MAX_LENGTH))).is_err());
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
