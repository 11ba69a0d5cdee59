//! The translation of SensorThings `$filter` and `$orderby` options to PostgreSQL/PostGIS.
//!
//! Nothing here touches a database: a [`FieldResolver`] says which SQL expression a property path stands for,
//! [`to_sql`] returns a boolean SQL expression with `$n` placeholders and the values to bind. User text never
//! ends up inside the SQL: literals and JSON member names are bound.
//!
//! The options themselves are parsed in [`super::options`]; they are re-exported here. Function calls are
//! translated in [`super::functions`].
//!
//! Arithmetic on literals alone is computed beforehand ([`super::arithmetic`]), so that an overflow or a division
//! by zero is a [`FilterError::Value`], not an error of the database; `$orderby` is in [`super::orderby`].

use chrono::{DateTime, FixedOffset};

use super::arithmetic::{fold, number_text};
use super::filter::{self, ArithOp, CompareOp, Expr, FilterError, Literal};
pub use super::options::{
    Expand, MAX_EXPAND_DEPTH, MAX_EXPANSIONS, MAX_SKIP, QueryOptions, parse_expand, parse_orderby,
    parse_select,
};
pub use super::orderby::orderby_sql;

type Result<T, E = FilterError> = std::result::Result<T, E>;

/// The SQL a property path stands for, and its type.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// A SQL expression over the query's tables, e.g. `r.observed_at`; written by the server, never by users.
    pub sql: String,
    /// Its type.
    pub kind: FieldKind,
}

impl Field {
    /// A field of `kind` read by the SQL expression `sql`.
    pub fn new(sql: impl Into<String>, kind: FieldKind) -> Self {
        Self { sql: sql.into(), kind }
    }
}

/// The type of a [`Field`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A number (`double precision`, `numeric`, integers).
    Number,
    /// Text.
    Text,
    /// A `timestamptz`.
    Time,
    /// A PostGIS `geometry` in EPSG:4326 (longitude, latitude).
    Geometry,
    /// A boolean.
    Boolean,
    /// A `jsonb` value such as `s.properties`; path segments after it select members (`properties/river`).
    Json,
}

impl FieldKind {
    pub(super) fn noun(self) -> &'static str {
        match self {
            Self::Number => "a number",
            Self::Text => "a string",
            Self::Time => "a datetime",
            Self::Geometry => "a geometry",
            Self::Boolean => "a boolean",
            Self::Json => "a JSON value",
        }
    }
}

/// A value for a `$n` placeholder of [`to_sql`].
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    /// Bind as `bigint` (integer literals, so that 64-bit ids stay exact).
    Integer(i64),
    /// Bind as `double precision`.
    Number(f64),
    /// Bind as `text`.
    Text(String),
    /// Bind as `timestamptz`.
    Time(DateTime<FixedOffset>),
    /// Bind as `boolean`.
    Bool(bool),
    /// Bind as `text`; the SQL reads it with `ST_GeomFromText($n, 4326)`.
    Wkt(String),
}

/// Maps property paths of one entity set to SQL.
pub trait FieldResolver {
    /// The field for `path` (e.g. `["Datastream", "Thing", "name"]`; ids as `["id"]`), `None` when unknown.
    ///
    /// For JSON members return the `jsonb` base for its prefix (`["properties"]` → `s.properties`,
    /// [`FieldKind::Json`]); the translator applies the remaining segments itself.
    fn resolve(&self, path: &[&str]) -> Option<Field>;

    /// The entity set's name for error messages, e.g. `Observations`.
    fn entity_set(&self) -> &str {
        "this entity set"
    }
}

/// Translates a `$filter` tree into a PostgreSQL boolean expression with placeholders `$first_param`,
/// `$first_param + 1`, … and the values to bind to them, in order.
///
/// Geometries are EPSG:4326; `geo.distance` and `geo.length` are in metres (on the spheroid).
/// The translation recurses over the tree; [`filter::parse`] limits nesting to [`filter::MAX_DEPTH`] levels.
pub fn to_sql(expr: &Expr, resolver: &dyn FieldResolver, first_param: usize) -> Result<(String, Vec<Bind>)> {
    let mut translator = Translator { resolver, first_param, binds: Vec::new() };
    let sql = translator.typed(expr, FieldKind::Boolean)?;
    Ok((sql, translator.binds))
}

/// The field of the longest known prefix of `path`, and the JSON member names after it (JSON fields only).
pub(super) fn lookup<'p>(resolver: &dyn FieldResolver, path: &'p [String]) -> Result<(Field, &'p [String])> {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    for known in (1..=segments.len()).rev() {
        if let Some(field) = resolver.resolve(&segments[..known]) {
            if known == segments.len() || field.kind == FieldKind::Json {
                return Ok((field, &path[known..]));
            }
            break;
        }
    }
    Err(FilterError::UnknownProperty { path: path.join("/"), entity_set: resolver.entity_set().to_owned() })
}

/// `sql` as an operand: kept when it is a plain (qualified) column name, parenthesised otherwise.
pub(super) fn atom(sql: &str) -> String {
    if !sql.is_empty() && sql.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '"')) {
        sql.to_owned()
    } else {
        format!("({sql})")
    }
}

/// Escapes `%`, `_` and `\` for a `like` pattern (PostgreSQL's default escape character is `\`).
pub(super) fn like_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A translated operand whose type may still depend on the other side.
pub(super) enum Operand {
    /// A SQL expression of a known type (never `Json`).
    Sql { sql: String, kind: FieldKind, what: String },
    /// A JSON member: as `jsonb` and as `text`.
    Json { jsonb: String, text: String, what: String },
    /// A literal, bound once its type is known.
    Lit(Literal),
}

fn literal_kind(literal: &Literal) -> Option<FieldKind> {
    match literal {
        Literal::Integer(_) | Literal::Number(_) => Some(FieldKind::Number),
        Literal::Text(_) => Some(FieldKind::Text),
        Literal::Bool(_) => Some(FieldKind::Boolean),
        Literal::DateTime(_) => Some(FieldKind::Time),
        Literal::Geography(_) => Some(FieldKind::Geometry),
        Literal::Null => None,
    }
}

fn describe(operand: &Operand) -> String {
    match operand {
        Operand::Sql { what, kind, .. } => format!("{what} ({})", kind.noun()),
        Operand::Json { what, .. } => format!("{what} (a JSON value)"),
        Operand::Lit(Literal::Integer(n)) => format!("the number {n}"),
        Operand::Lit(Literal::Number(n)) => format!("the number {}", number_text(*n)),
        Operand::Lit(Literal::Text(s)) => format!("the string '{}'", filter::clip(s)),
        Operand::Lit(Literal::Bool(b)) => format!("the boolean {b}"),
        Operand::Lit(Literal::DateTime(t)) => format!("the datetime {}", t.to_rfc3339()),
        Operand::Lit(Literal::Geography(_)) => "a geography literal".to_owned(),
        Operand::Lit(Literal::Null) => "null".to_owned(),
    }
}

pub(super) struct Translator<'r> {
    resolver: &'r dyn FieldResolver,
    first_param: usize,
    binds: Vec<Bind>,
}

impl Translator<'_> {
    pub(super) fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.first_param + self.binds.len() - 1)
    }

    pub(super) fn typed(&mut self, expr: &Expr, want: FieldKind) -> Result<String> {
        let operand = self.operand(expr)?;
        self.coerce(operand, want)
    }

    fn coerce(&mut self, operand: Operand, want: FieldKind) -> Result<String> {
        let mismatch = |operand: &Operand| {
            FilterError::Type(format!("expected {}, found {}", want.noun(), describe(operand)))
        };
        match operand {
            Operand::Sql { sql, kind, .. } if kind == want => Ok(sql),
            Operand::Json { text, .. } if want == FieldKind::Text => Ok(text),
            Operand::Json { jsonb, .. } if matches!(want, FieldKind::Number | FieldKind::Boolean) => {
                let (json_type, sql_type) = if want == FieldKind::Number {
                    ("number", "double precision")
                } else {
                    ("boolean", "boolean")
                };
                Ok(format!(
                    "(case when jsonb_typeof({jsonb}) = '{json_type}' then ({jsonb})::{sql_type} end)"
                ))
            }
            Operand::Lit(literal) => match (literal, want) {
                (Literal::Null, _) => Ok("null".to_owned()),
                (Literal::Integer(n), FieldKind::Number) => Ok(self.bind(Bind::Integer(n))),
                (Literal::Number(n), FieldKind::Number) => Ok(self.bind(Bind::Number(n))),
                (Literal::Text(s), FieldKind::Text) => Ok(self.bind(Bind::Text(s))),
                (Literal::Bool(b), FieldKind::Boolean) => Ok(self.bind(Bind::Bool(b))),
                (Literal::DateTime(t), FieldKind::Time) => Ok(self.bind(Bind::Time(t))),
                (Literal::Text(s), FieldKind::Time) => match DateTime::parse_from_rfc3339(&s) {
                    Ok(t) => Ok(self.bind(Bind::Time(t))),
                    Err(_) => Err(FilterError::Type(format!(
                        "'{}' is not a datetime (expected e.g. 2026-11-22T10:05:00Z)",
                        filter::clip(&s)
                    ))),
                },
                (Literal::Geography(wkt), FieldKind::Geometry) => {
                    Ok(format!("ST_GeomFromText({}, 4326)", self.bind(Bind::Wkt(wkt))))
                }
                (literal, _) => Err(mismatch(&Operand::Lit(literal))),
            },
            other => Err(mismatch(&other)),
        }
    }

    fn operand(&mut self, expr: &Expr) -> Result<Operand> {
        let boolean =
            |sql: String, what: &str| Operand::Sql { sql, kind: FieldKind::Boolean, what: what.to_owned() };
        Ok(match expr {
            Expr::Literal(literal) => Operand::Lit(literal.clone()),
            Expr::Property(path) => self.property(path)?,
            Expr::Not(inner) => boolean(format!("(not {})", self.typed(inner, FieldKind::Boolean)?), "`not`"),
            Expr::And(items) | Expr::Or(items) => {
                let (joiner, what) =
                    if matches!(expr, Expr::And(_)) { (" and ", "`and`") } else { (" or ", "`or`") };
                let parts =
                    items.iter().map(|e| self.typed(e, FieldKind::Boolean)).collect::<Result<Vec<_>>>()?;
                boolean(format!("({})", parts.join(joiner)), what)
            }
            Expr::Neg(_) | Expr::Arith { .. } if fold(expr)?.is_some() => {
                Operand::Lit(fold(expr)?.unwrap_or(Literal::Null))
            }
            Expr::Neg(inner) => {
                let sql = format!("(-{})", self.typed(inner, FieldKind::Number)?);
                Operand::Sql { sql, kind: FieldKind::Number, what: "`-`".into() }
            }
            Expr::Arith { op, left, right } => {
                let (a, b) = (self.typed(left, FieldKind::Number)?, self.typed(right, FieldKind::Number)?);
                let sql = match op {
                    ArithOp::Add => format!("({a} + {b})"),
                    ArithOp::Sub => format!("({a} - {b})"),
                    ArithOp::Mul => format!("({a} * {b})"),
                    ArithOp::Div => format!("({a} / nullif({b}, 0))"),
                    ArithOp::Mod => {
                        format!("mod(({a})::numeric, nullif(({b})::numeric, 0))::double precision")
                    }
                };
                Operand::Sql { sql, kind: FieldKind::Number, what: "an arithmetic expression".into() }
            }
            Expr::Compare { op, left, right } => boolean(self.compare(*op, left, right)?, "a comparison"),
            Expr::Call { name, args } => self.call(name, args)?,
        })
    }

    fn property(&mut self, path: &[String]) -> Result<Operand> {
        let (field, keys) = lookup(self.resolver, path)?;
        let what = format!("`{}`", path.join("/"));
        if field.kind != FieldKind::Json {
            return Ok(Operand::Sql { sql: atom(&field.sql), kind: field.kind, what });
        }
        let base = atom(&field.sql);
        let params: Vec<String> =
            keys.iter().map(|k| format!("{}::text", self.bind(Bind::Text(k.clone())))).collect();
        let Some((last, init)) = params.split_last() else {
            return Ok(Operand::Json { text: format!("({base} #>> '{{}}')"), jsonb: base, what });
        };
        let jsonb = format!("({base} -> {})", params.join(" -> "));
        let text = match init {
            [] => format!("({base} ->> {last})"),
            _ => format!("({base} -> {} ->> {last})", init.join(" -> ")),
        };
        Ok(Operand::Json { jsonb, text, what })
    }

    fn compare(&mut self, op: CompareOp, left: &Expr, right: &Expr) -> Result<String> {
        let (left, right) = (self.operand(left)?, self.operand(right)?);
        let is_null = |o: &Operand| matches!(o, Operand::Lit(Literal::Null));
        if is_null(&left) || is_null(&right) {
            let test = match op {
                CompareOp::Eq => "is null",
                CompareOp::Ne => "is not null",
                _ => {
                    return Err(FilterError::Type("`null` can only be compared with `eq` or `ne`".into()));
                }
            };
            let other = if is_null(&left) { right } else { left };
            let sql = match other {
                Operand::Lit(Literal::Null) => {
                    return Err(FilterError::Type("`null` compared with `null`".into()));
                }
                Operand::Sql { sql, .. } | Operand::Json { text: sql, .. } => sql,
                Operand::Lit(literal) => {
                    let kind = literal_kind(&literal).unwrap_or(FieldKind::Text);
                    self.coerce(Operand::Lit(literal), kind)?
                }
            };
            return Ok(format!("({sql} {test})"));
        }
        let strong = |o: &Operand| {
            if let Operand::Sql { kind, .. } = o { Some(*kind) } else { None }
        };
        let weak = |o: &Operand| {
            if let Operand::Lit(l) = o { literal_kind(l) } else { None }
        };
        let kind = match (strong(&left), strong(&right)) {
            (Some(a), Some(b)) if a != b => {
                let message = format!("cannot compare {} with {}", describe(&left), describe(&right));
                return Err(FilterError::Type(message));
            }
            (Some(kind), _) | (None, Some(kind)) => Some(kind),
            (None, None) => weak(&left).or(weak(&right)),
        };
        let Some(kind) = kind else {
            // Two JSON members: compare them as jsonb.
            let (Operand::Json { jsonb: a, .. }, Operand::Json { jsonb: b, .. }) = (left, right) else {
                return Err(FilterError::Type("cannot compare these operands".into()));
            };
            return Ok(format!("({a} {} {b})", op.sql()));
        };
        match kind {
            FieldKind::Geometry => {
                return Err(FilterError::Type(
                    "geometries cannot be compared with operators; use st_equals, st_within, …".into(),
                ));
            }
            FieldKind::Boolean if !matches!(op, CompareOp::Eq | CompareOp::Ne) => {
                return Err(FilterError::Type("booleans can only be compared with `eq` or `ne`".into()));
            }
            _ => {}
        }
        let (a, b) = (self.coerce(left, kind)?, self.coerce(right, kind)?);
        Ok(format!("({a} {} {b})", op.sql()))
    }
}

#[cfg(test)]
pub(super) mod testing {
    //! A resolver and shortcuts for the translation tests here and in [`super::super::functions`].

    use super::*;

    pub(crate) use chrono::DateTime;

    pub(crate) struct Observations;

    impl FieldResolver for Observations {
        fn resolve(&self, path: &[&str]) -> Option<Field> {
            let (sql, kind) = match path {
                ["id"] => ("r.id", FieldKind::Number),
                ["result"] => ("r.value", FieldKind::Number),
                ["phenomenonTime"] => ("r.observed_at", FieldKind::Time),
                ["valid"] => ("r.valid", FieldKind::Boolean),
                ["name"] => ("s.name", FieldKind::Text),
                ["location"] => ("s.geom", FieldKind::Geometry),
                ["properties"] => ("s.properties", FieldKind::Json),
                ["Datastream", "Thing", "name"] => ("t.name", FieldKind::Text),
                ["Datastream", "unitOfMeasurement"] => ("d.unit || ''", FieldKind::Json),
                _ => return None,
            };
            Some(Field::new(sql, kind))
        }

        fn entity_set(&self) -> &str {
            "Observations"
        }
    }

    pub(crate) fn sql(filter: &str) -> (String, Vec<Bind>) {
        let expr = filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        to_sql(&expr, &Observations, 1).unwrap_or_else(|e| panic!("{filter}: {e}"))
    }

    pub(crate) fn only_sql(filter: &str) -> String {
        sql(filter).0
    }

    pub(crate) fn err(filter: &str) -> String {
        let expr = filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        to_sql(&expr, &Observations, 1).expect_err(filter).to_string()
    }

    pub(crate) fn text(s: &str) -> Bind {
        Bind::Text(s.to_owned())
    }

    pub(crate) fn time(s: &str) -> Bind {
        Bind::Time(DateTime::parse_from_rfc3339(s).unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn comparisons_become_sql_operators_with_bound_values() {
        for (word, op) in [("eq", "="), ("ne", "<>"), ("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")] {
            assert_eq!(
                sql(&format!("result {word} 5")),
                (format!("(r.value {op} $1)"), vec![Bind::Integer(5)])
            );
        }
        assert_eq!(sql("-2.5 lt result"), ("($1 < r.value)".into(), vec![Bind::Number(-2.5)]));
    }

    #[test]
    fn placeholders_start_at_first_param() {
        let expr = filter::parse("name eq 'a' or result gt 1").unwrap();
        let (sql, binds) = to_sql(&expr, &Observations, 3).unwrap();
        assert_eq!(sql, "((s.name = $3) or (r.value > $4))");
        assert_eq!(binds, vec![text("a"), Bind::Integer(1)]);
    }

    #[test]
    fn logical_operators_nest_in_parentheses() {
        assert_eq!(
            only_sql("not (result gt 1 and result lt 5) or valid"),
            "((not ((r.value > $1) and (r.value < $2))) or r.valid)"
        );
        assert_eq!(sql("valid eq true"), ("(r.valid = $1)".into(), vec![Bind::Bool(true)]));
        assert_eq!(sql("true"), ("$1".into(), vec![Bind::Bool(true)]));
        assert!(err("valid gt false").contains("only be compared with `eq` or `ne`"));
        assert_eq!(err("result and valid"), "expected a boolean, found `result` (a number)");
    }

    #[test]
    fn null_comparisons_become_is_null() {
        assert_eq!(sql("name eq null"), ("(s.name is null)".into(), vec![]));
        assert_eq!(only_sql("null ne phenomenonTime"), "(r.observed_at is not null)");
        assert_eq!(only_sql("properties/river eq null"), "((s.properties ->> $1::text) is null)");
        assert!(err("result gt null").contains("`null` can only be compared with `eq` or `ne`"));
        assert!(err("null eq null").contains("`null` compared with `null`"));
    }

    #[test]
    fn datetimes_bind_as_time() {
        let (sql, binds) = sql("phenomenonTime ge 2026-11-22T10:05:00.123+01:00");
        assert_eq!(sql, "(r.observed_at >= $1)");
        assert_eq!(binds, vec![time("2026-11-22T10:05:00.123+01:00")]);
        let (_, binds) = self::sql("phenomenonTime lt '2026-11-22T10:05:00Z'");
        assert_eq!(binds, vec![time("2026-11-22T10:05:00Z")]);
        assert!(err("phenomenonTime lt 'yesterday'").contains("'yesterday' is not a datetime"));
        assert_eq!(
            err("result gt 2026-11-22T10:05:00Z"),
            "expected a number, found the datetime 2026-11-22T10:05:00+00:00"
        );
        assert_eq!(only_sql("phenomenonTime lt now()"), "(r.observed_at < now())");
    }

    #[test]
    fn type_mismatches_are_errors() {
        assert_eq!(err("name eq 5"), "expected a string, found the number 5");
        assert_eq!(err("result eq name"), "cannot compare `result` (a number) with `name` (a string)");
        assert_eq!(err("phenomenonTime eq 5"), "expected a datetime, found the number 5");
        assert_eq!(err("result add 'x' gt 1"), "expected a number, found the string 'x'");
        assert!(err("-name eq 1").contains("expected a number"));
    }

    #[test]
    fn unknown_properties_are_named() {
        assert_eq!(err("Datastream/foo eq 1"), "unknown property `Datastream/foo` for Observations");
        assert_eq!(err("name/first eq 'x'"), "unknown property `name/first` for Observations");
        assert_eq!(only_sql("Datastream/Thing/name eq 'x'"), "(t.name = $1)");
        let big = 6_543_210_987_654_321_012;
        assert_eq!(sql(&format!("@iot.id eq {big}")), ("(r.id = $1)".into(), vec![Bind::Integer(big)]));
    }

    #[test]
    fn json_members_are_bound_and_extracted() {
        assert_eq!(
            sql("properties/river eq 'Bisagno'"),
            ("((s.properties ->> $1::text) = $2)".into(), vec![text("river"), text("Bisagno")])
        );
        assert_eq!(
            sql("startswith(properties/basin/name, 'Bis')"),
            (
                "((s.properties -> $1::text ->> $2::text) like $3)".into(),
                vec![text("basin"), text("name"), text("Bis%")]
            )
        );
        // A base that is an expression is parenthesised; the resolver may map a prefix several segments long.
        assert_eq!(
            only_sql("Datastream/unitOfMeasurement/symbol eq 'mm'"),
            "(((d.unit || '') ->> $1::text) = $2)"
        );
    }

    #[test]
    fn json_numbers_and_booleans_are_typed_safely() {
        let number = "(case when jsonb_typeof((s.properties -> $1::text)) = 'number' \
                      then ((s.properties -> $1::text))::double precision end)";
        assert_eq!(
            sql("properties/depth gt 5"),
            (format!("({number} > $2)"), vec![text("depth"), Bind::Integer(5)])
        );
        assert!(
            only_sql("properties/active eq true")
                .contains("jsonb_typeof((s.properties -> $1::text)) = 'boolean'")
        );
        assert_eq!(
            only_sql("properties/a eq properties/b"),
            "((s.properties -> $1::text) = (s.properties -> $2::text))"
        );
        assert_eq!(only_sql("properties eq 'x'"), "((s.properties #>> '{}') = $1)");
        assert!(
            err("properties/since gt 2026-01-01T00:00:00Z")
                .contains("expected a datetime, found `properties/since` (a JSON value)")
        );
    }

    #[test]
    fn arithmetic_works_on_numbers() {
        assert_eq!(
            sql("result add 1 gt 2"),
            ("((r.value + $1) > $2)".into(), vec![Bind::Integer(1), Bind::Integer(2)])
        );
        assert_eq!(
            sql("result sub 1 mul 2 eq 0"),
            ("((r.value - $1) = $2)".into(), vec![Bind::Integer(2), Bind::Integer(0)])
        );
        assert_eq!(only_sql("result sub result mul 2 eq 0"), "((r.value - (r.value * $1)) = $2)");
        assert_eq!(only_sql("result div 2 eq 1"), "((r.value / nullif($1, 0)) = $2)");
        assert_eq!(
            only_sql("result mod 2 eq 1"),
            "(mod((r.value)::numeric, nullif(($1)::numeric, 0))::double precision = $2)"
        );
        assert_eq!(only_sql("-result lt 0"), "((-r.value) < $1)");
        assert_eq!(only_sql("round(result) eq 3"), "(round(r.value) = $1)");
    }

    #[test]
    fn user_text_never_reaches_the_sql() {
        let (sql, binds) = sql("name eq 'x''); drop table stations; --' and properties/a eq 'y'");
        assert_eq!(sql, "((s.name = $1) and ((s.properties ->> $2::text) = $3))");
        assert_eq!(binds[0], text("x'); drop table stations; --"));
    }

    #[test]
    fn random_input_never_panics() {
        const PIECES: [&str; 24] = [
            "(",
            ")",
            ",",
            ";",
            "'",
            "''",
            "/",
            "-",
            " ",
            "$top=",
            "$filter=",
            "$expand=",
            "eq",
            " and ",
            "not ",
            "result",
            "properties/a",
            "location",
            "geography'POINT(1 2)'",
            "2026-11-22T10:05:00Z",
            "1.5",
            "é",
            "st_within(",
            "startswith(",
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..20_000 {
            let mut input = String::new();
            for _ in 0..(state % 12) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                input.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            if let Ok(expr) = filter::parse(&input) {
                let _ = to_sql(&expr, &Observations, 1);
            }
            let _ = (parse_expand(&input), parse_select(&input), parse_orderby(&input));
        }
    }
}
