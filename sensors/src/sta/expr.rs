//! The tree a `$filter` is parsed into ([`super::filter::parse`]); it knows nothing about databases.

use chrono::{DateTime, FixedOffset};

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

impl Expr {
    /// Whether the expression has a geography literal or calls a spatial function (`st_…`, `geo.…`): then an
    /// error PostGIS raises while evaluating it may come from the user's geometry.
    pub fn mentions_geometry(&self) -> bool {
        match self {
            Expr::Literal(literal) => matches!(literal, Literal::Geography(_)),
            Expr::Property(_) => false,
            Expr::Not(e) | Expr::Neg(e) => e.mentions_geometry(),
            Expr::And(items) | Expr::Or(items) => items.iter().any(Expr::mentions_geometry),
            Expr::Compare { left, right, .. } | Expr::Arith { left, right, .. } => {
                left.mentions_geometry() || right.mentions_geometry()
            }
            Expr::Call { name, args } => {
                name.starts_with("st_")
                    || name.starts_with("geo.")
                    || args.iter().any(Expr::mentions_geometry)
            }
        }
    }
}

/// A constant in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer that fits in `i64`, kept exact (Observation ids pass 2^53).
    Integer(i64),
    /// Any other number: with a fraction or an exponent, or too large for `i64`; always finite.
    Number(f64),
    /// A string in single quotes (`''` already unescaped); never holds NUL, which PostgreSQL text cannot.
    Text(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An unquoted ISO 8601 datetime with an offset, e.g. `2026-11-22T10:05:00Z`.
    DateTime(DateTime<FixedOffset>),
    /// `geography'…'` or `geometry'…'`: WKT text that [`super::wkt`] checked, in WGS 84 (EPSG:4326)
    /// longitude/latitude order.
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
    pub(super) fn from_word(word: &str) -> Option<Self> {
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

impl ArithOp {
    /// The OData keyword.
    pub fn word(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Sub => "sub",
            Self::Mul => "mul",
            Self::Div => "div",
            Self::Mod => "mod",
        }
    }
}
