//! The functions of `$filter` in PostgreSQL/PostGIS: spatial predicates (`st_within`, `geo.distance`, …),
//! strings, dates and rounding. Literal arguments PostgreSQL would refuse (a `substring` position outside 32 bits,
//! a negative length, a malformed DE-9IM pattern) are refused here with a [`FilterError::Value`].

use super::arithmetic::fold;
use super::filter::{self, Expr, FilterError, Literal};
use super::query::{Bind, FieldKind, Operand, Translator, like_escape};

type Result<T, E = FilterError> = std::result::Result<T, E>;

impl Translator<'_> {
    fn args<'e, const N: usize>(name: &str, args: &'e [Expr]) -> Result<&'e [Expr; N]> {
        args.try_into().map_err(|_| FilterError::Arity {
            name: name.to_owned(),
            expected: if N == 1 { "1 argument".into() } else { format!("{N} arguments") },
            found: args.len(),
        })
    }

    pub(super) fn call(&mut self, name: &str, args: &[Expr]) -> Result<Operand> {
        use FieldKind::{Boolean, Geometry, Number, Text, Time};
        let (sql, kind) = match name {
            "st_within" | "st_intersects" | "geo.intersects" | "st_contains" | "st_disjoint"
            | "st_equals" | "st_touches" | "st_overlaps" | "st_crosses" => {
                let [a, b] = Self::args(name, args)?;
                let function = match name {
                    "st_within" => "ST_Within",
                    "st_intersects" | "geo.intersects" => "ST_Intersects",
                    "st_contains" => "ST_Contains",
                    "st_disjoint" => "ST_Disjoint",
                    "st_equals" => "ST_Equals",
                    "st_touches" => "ST_Touches",
                    "st_overlaps" => "ST_Overlaps",
                    _ => "ST_Crosses",
                };
                (format!("{function}({}, {})", self.typed(a, Geometry)?, self.typed(b, Geometry)?), Boolean)
            }
            "st_relate" => {
                let [a, b, pattern] = Self::args(name, args)?;
                let (a, b) = (self.typed(a, Geometry)?, self.typed(b, Geometry)?);
                (format!("ST_Relate({a}, {b}, {})", self.de9im(pattern)?), Boolean)
            }
            "geo.distance" => {
                let [a, b] = Self::args(name, args)?;
                let (a, b) = (self.typed(a, Geometry)?, self.typed(b, Geometry)?);
                (format!("ST_Distance(({a})::geography, ({b})::geography)"), Number)
            }
            "geo.length" => {
                let [a] = Self::args(name, args)?;
                (format!("ST_Length(({})::geography)", self.typed(a, Geometry)?), Number)
            }
            "substringof" | "contains" => {
                let [a, b] = Self::args(name, args)?;
                let (needle, haystack) = if name == "substringof" { (a, b) } else { (b, a) };
                let haystack = self.typed(haystack, Text)?;
                (format!("(strpos({haystack}, {}) > 0)", self.typed(needle, Text)?), Boolean)
            }
            "startswith" | "endswith" => {
                let [text, affix] = Self::args(name, args)?;
                let text = self.typed(text, Text)?;
                let start = name == "startswith";
                let sql = match affix {
                    Expr::Literal(Literal::Text(affix)) => {
                        let escaped = like_escape(affix);
                        let pattern = if start { format!("{escaped}%") } else { format!("%{escaped}") };
                        format!("({text} like {})", self.bind(Bind::Text(pattern)))
                    }
                    other => {
                        let affix = self.typed(other, Text)?;
                        if start {
                            format!("starts_with({text}, {affix})")
                        } else {
                            format!("(right({text}, length({affix})) = {affix})")
                        }
                    }
                };
                (sql, Boolean)
            }
            "tolower" | "toupper" | "trim" | "length" => {
                let [a] = Self::args(name, args)?;
                let a = self.typed(a, Text)?;
                match name {
                    "tolower" => (format!("lower({a})"), Text),
                    "toupper" => (format!("upper({a})"), Text),
                    "trim" => (format!("btrim({a})"), Text),
                    _ => (format!("length({a})"), Number),
                }
            }
            "concat" => {
                let [a, b] = Self::args(name, args)?;
                (format!("({} || {})", self.typed(a, Text)?, self.typed(b, Text)?), Text)
            }
            "indexof" => {
                let [a, b] = Self::args(name, args)?;
                (format!("(strpos({}, {}) - 1)", self.typed(a, Text)?, self.typed(b, Text)?), Number)
            }
            "substring" => {
                if !(2..=3).contains(&args.len()) {
                    let expected = "2 or 3 arguments".into();
                    return Err(FilterError::Arity { name: name.into(), expected, found: args.len() });
                }
                let t = self.typed(&args[0], Text)?;
                // OData counts from 0, PostgreSQL from 1: the start must leave room for the `+ 1`.
                let from = self.position(&args[1], "start", i64::from(i32::MAX) - 1)?;
                match args.get(2) {
                    None => (format!("substr({t}, ({from})::integer + 1)"), Text),
                    Some(n) => {
                        let n = self.position(n, "length", i64::from(i32::MAX))?;
                        (format!("substr({t}, ({from})::integer + 1, ({n})::integer)"), Text)
                    }
                }
            }
            "year" | "month" | "day" | "hour" | "minute" | "second" | "fractionalseconds" => {
                let [t] = Self::args(name, args)?;
                let t = self.typed(t, Time)?;
                let seconds = format!("extract(second from {t} at time zone 'UTC')");
                let sql = match name {
                    "second" => format!("floor({seconds})"),
                    "fractionalseconds" => format!("({seconds} - floor({seconds}))"),
                    unit => format!("extract({unit} from {t} at time zone 'UTC')"),
                };
                (sql, Number)
            }
            "now" => {
                let [] = Self::args(name, args)?;
                ("now()".to_owned(), Time)
            }
            "round" | "floor" | "ceiling" => {
                let [a] = Self::args(name, args)?;
                (format!("{name}({})", self.typed(a, Number)?), Number)
            }
            _ => {
                return Err(FilterError::UnknownFunction { name: filter::clip(name) });
            }
        };
        Ok(Operand::Sql { sql, kind, what: format!("`{name}(…)`") })
    }

    /// An integer argument of `substring` as SQL: literals must lie in `0..=max`.
    fn position(&mut self, arg: &Expr, what: &str, max: i64) -> Result<String> {
        match fold(arg)? {
            Some(Literal::Integer(n)) if (0..=max).contains(&n) => Ok(self.bind(Bind::Integer(n))),
            Some(Literal::Integer(n)) => Err(FilterError::Value(format!(
                "the {what} of `substring` must be between 0 and {max}, found {n}"
            ))),
            Some(other) => Err(FilterError::Value(format!(
                "the {what} of `substring` must be an integer, found {}",
                match other {
                    Literal::Number(x) => x.to_string(),
                    _ => "a non-number".to_owned(),
                }
            ))),
            None => self.typed(arg, FieldKind::Number),
        }
    }

    /// The pattern of `st_relate`: a literal must be a DE-9IM pattern.
    fn de9im(&mut self, arg: &Expr) -> Result<String> {
        if let Expr::Literal(Literal::Text(pattern)) = arg
            && (pattern.len() != 9 || !pattern.bytes().all(|b| b"TF*012".contains(&b)))
        {
            return Err(FilterError::Value(format!(
                "the pattern of `st_relate` is 9 characters among T, F, *, 0, 1 and 2 (DE-9IM), found '{}'",
                filter::clip(pattern)
            )));
        }
        self.typed(arg, FieldKind::Text)
    }
}

#[cfg(test)]
mod tests {
    use super::super::query::testing::*;
    use super::super::query::{Bind, to_sql};

    #[test]
    fn spatial_predicates_bind_the_wkt() {
        let (sql, binds) =
            sql("st_within(location, geography'POLYGON((8.9 44.4, 9 44.4, 9 44.5, 8.9 44.4))')");
        assert_eq!(sql, "ST_Within(s.geom, ST_GeomFromText($1, 4326))");
        assert_eq!(binds, vec![Bind::Wkt("POLYGON((8.9 44.4, 9 44.4, 9 44.5, 8.9 44.4))".into())]);
        for (function, sql_name) in [
            ("st_intersects", "ST_Intersects"),
            ("geo.intersects", "ST_Intersects"),
            ("st_contains", "ST_Contains"),
            ("st_disjoint", "ST_Disjoint"),
            ("st_equals", "ST_Equals"),
            ("st_touches", "ST_Touches"),
            ("st_overlaps", "ST_Overlaps"),
            ("st_crosses", "ST_Crosses"),
        ] {
            let got = only_sql(&format!("{function}(location, geography'POINT(8.93 44.40)')"));
            assert_eq!(got, format!("{sql_name}(s.geom, ST_GeomFromText($1, 4326))"));
        }
        assert_eq!(
            only_sql("st_relate(location, geography'POINT(1 2)', 'T********')"),
            "ST_Relate(s.geom, ST_GeomFromText($1, 4326), $2)"
        );
    }

    #[test]
    fn geo_distance_is_in_metres_on_the_spheroid() {
        let (sql, binds) = sql("geo.distance(location, geography'POINT(8.93 44.40)') lt 1000");
        assert_eq!(sql, "(ST_Distance((s.geom)::geography, (ST_GeomFromText($1, 4326))::geography) < $2)");
        assert_eq!(binds, vec![Bind::Wkt("POINT(8.93 44.40)".into()), Bind::Integer(1000)]);
        assert_eq!(only_sql("geo.length(location) gt 5"), "(ST_Length((s.geom)::geography) > $1)");
    }

    #[test]
    fn spatial_misuse_is_refused() {
        assert!(err("location eq geography'POINT(1 2)'").contains("use st_equals"));
        assert_eq!(
            err("st_within(result, geography'POINT(1 2)')"),
            "expected a geometry, found `result` (a number)"
        );
        assert_eq!(err("st_within(location)"), "`st_within` takes 2 arguments, found 1");
        assert_eq!(err("geo.length(location, location) gt 1"), "`geo.length` takes 1 argument, found 2");
    }

    #[test]
    fn substring_search_uses_strpos() {
        assert_eq!(sql("substringof('Bis', name)"), ("(strpos(s.name, $1) > 0)".into(), vec![text("Bis")]));
        assert_eq!(sql("contains(name, 'Bis')"), ("(strpos(s.name, $1) > 0)".into(), vec![text("Bis")]));
        assert_eq!(only_sql("indexof(name, 'a') eq 0"), "((strpos(s.name, $1) - 1) = $2)");
        assert_eq!(
            only_sql("substring(name, 1, 2) eq 'ab'"),
            "(substr(s.name, ($1)::integer + 1, ($2)::integer) = $3)"
        );
        assert_eq!(only_sql("concat(name, 'x') eq 'ax'"), "((s.name || $1) = $2)");
        assert_eq!(err("substring(name)"), "`substring` takes 2 or 3 arguments, found 1");
    }

    #[test]
    fn prefixes_and_suffixes_escape_like_wildcards() {
        assert_eq!(
            sql(r"startswith(name, '50%_a\b')"),
            ("(s.name like $1)".into(), vec![text(r"50\%\_a\\b%")])
        );
        assert_eq!(sql("endswith(name, 'ro')"), ("(s.name like $1)".into(), vec![text("%ro")]));
        assert_eq!(only_sql("startswith(name, Datastream/Thing/name)"), "starts_with(s.name, t.name)");
        assert_eq!(
            only_sql("endswith(name, Datastream/Thing/name)"),
            "(right(s.name, length(t.name)) = t.name)"
        );
    }

    #[test]
    fn string_functions_map_to_postgres() {
        assert_eq!(only_sql("tolower(name) eq 'a'"), "(lower(s.name) = $1)");
        assert_eq!(only_sql("toupper(name) eq 'A'"), "(upper(s.name) = $1)");
        assert_eq!(only_sql("trim(name) eq 'a'"), "(btrim(s.name) = $1)");
        assert_eq!(only_sql("length(name) gt 3"), "(length(s.name) > $1)");
        assert_eq!(err("length(result) gt 3"), "expected a string, found `result` (a number)");
        assert_eq!(err("frobnicate(name)"), "unknown function `frobnicate`");
    }

    #[test]
    fn date_parts_are_taken_in_utc() {
        for unit in ["year", "month", "day", "hour", "minute"] {
            let got = only_sql(&format!("{unit}(phenomenonTime) eq 1"));
            assert_eq!(got, format!("(extract({unit} from r.observed_at at time zone 'UTC') = $1)"));
        }
        assert_eq!(
            only_sql("second(phenomenonTime) eq 1"),
            "(floor(extract(second from r.observed_at at time zone 'UTC')) = $1)"
        );
        assert_eq!(err("year(name) eq 2026"), "expected a datetime, found `name` (a string)");
    }

    #[test]
    fn substring_arguments_are_checked_when_literal() {
        assert_eq!(
            err("substring(name,99999999999) eq 'x'"),
            "the start of `substring` must be between 0 and 2147483646, found 99999999999"
        );
        assert_eq!(
            err("substring(name,1,-5) eq 'x'"),
            "the length of `substring` must be between 0 and 2147483647, found -5"
        );
        assert_eq!(
            err("substring(name,1.5) eq 'x'"),
            "the start of `substring` must be an integer, found 1.5"
        );
        assert_eq!(
            sql("substring(name, 0 add 1) eq 'x'"),
            ("(substr(s.name, ($1)::integer + 1) = $2)".into(), vec![Bind::Integer(1), text("x")])
        );
        assert_eq!(
            only_sql("substring(name, length(name)) eq ''"),
            "(substr(s.name, (length(s.name))::integer + 1) = $1)"
        );
    }

    #[test]
    fn st_relate_patterns_are_checked_when_literal() {
        let e = err("st_relate(location, geography'POINT(1 2)', 'garbage')");
        assert_eq!(
            e,
            "the pattern of `st_relate` is 9 characters among T, F, *, 0, 1 and 2 (DE-9IM), found 'garbage'"
        );
        assert!(err("st_relate(location, geography'POINT(1 2)', 'T********X')").contains("DE-9IM"));
        assert!(err("st_relate(location, geography'POINT(1 2)', 't********')").contains("DE-9IM"));
        assert_eq!(
            only_sql("st_relate(location, geography'POINT(1 2)', '0F1FF0102')"),
            "ST_Relate(s.geom, ST_GeomFromText($1, 4326), $2)"
        );
        let _ = to_sql;
    }
}
