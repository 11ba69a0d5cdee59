//! `$orderby` in PostgreSQL: the `order by` list of parsed items.

use super::filter::{self, FilterError};
use super::query::{FieldKind, FieldResolver, atom, lookup};

type Result<T, E = FilterError> = std::result::Result<T, E>;

/// The SQL `order by` list (without the keywords) for parsed `$orderby` items, e.g.
/// `r.observed_at desc, s.id asc`; empty when `items` is.
///
/// JSON members are written inline, so their names may only hold letters, digits and `_`.
pub fn orderby_sql(items: &[(Vec<String>, bool)], resolver: &dyn FieldResolver) -> Result<String> {
    let mut parts = Vec::with_capacity(items.len());
    for (path, desc) in items {
        let (field, keys) = lookup(resolver, path)?;
        let sql = match field.kind {
            FieldKind::Geometry => {
                return Err(FilterError::Type(format!("cannot order by `{}`, a geometry", path.join("/"))));
            }
            FieldKind::Json if !keys.is_empty() => {
                let mut sql = atom(&field.sql);
                for key in keys {
                    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        let message = format!(
                            "cannot order by the JSON member `{}`: use letters, digits and `_`",
                            filter::clip(key)
                        );
                        return Err(FilterError::Type(message));
                    }
                    sql = format!("{sql} -> '{key}'");
                }
                format!("({sql})")
            }
            _ => atom(&field.sql),
        };
        parts.push(format!("{sql} {}", if *desc { "desc" } else { "asc" }));
    }
    Ok(parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::super::options::parse_orderby;
    use super::super::query::testing::Observations;
    use super::*;

    #[test]
    fn orderby_is_translated() {
        // Parsing is tested in options.rs; here, the translation of what it yields.
        let items = parse_orderby("phenomenonTime desc, result,name ASC , @iot.id").unwrap();
        assert_eq!(
            orderby_sql(&items, &Observations).unwrap(),
            "r.observed_at desc, r.value asc, s.name asc, r.id asc"
        );
        let json = parse_orderby("properties/river desc").unwrap();
        assert_eq!(orderby_sql(&json, &Observations).unwrap(), "(s.properties -> 'river') desc");
        assert_eq!(orderby_sql(&[], &Observations).unwrap(), "");
    }

    #[test]
    fn orderby_errors_are_precise() {
        let bad = |s: &str| orderby_sql(&parse_orderby(s).unwrap(), &Observations).unwrap_err().to_string();
        assert_eq!(bad("location"), "cannot order by `location`, a geometry");
        assert_eq!(bad("Datastream/foo"), "unknown property `Datastream/foo` for Observations");
        assert_eq!(
            bad("properties/a.b"),
            "cannot order by the JSON member `a.b`: use letters, digits and `_`"
        );
    }
}
