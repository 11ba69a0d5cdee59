//! Arithmetic on number literals, computed before any SQL is written and with checked arithmetic: an overflow,
//! a non-finite result or a division by zero is a [`FilterError::Value`] naming the operation.

use super::filter::{ArithOp, Expr, FilterError, Literal};

type Result<T, E = FilterError> = std::result::Result<T, E>;

/// The value of `expr` when it is arithmetic on number literals only, computed with checked arithmetic;
/// `None` when it reads a property or calls a function.
pub fn fold(expr: &Expr) -> Result<Option<Literal>> {
    Ok(match expr {
        Expr::Literal(literal @ (Literal::Integer(_) | Literal::Number(_))) => Some(literal.clone()),
        Expr::Neg(inner) => match fold(inner)? {
            Some(Literal::Integer(n)) => {
                Some(n.checked_neg().map_or(Literal::Number(-(n as f64)), Literal::Integer))
            }
            Some(Literal::Number(x)) => Some(Literal::Number(-x)),
            _ => None,
        },
        Expr::Arith { op, left, right } => match (fold(left)?, fold(right)?) {
            (Some(a), Some(b)) => Some(arithmetic(*op, &a, &b)?),
            _ => None,
        },
        _ => None,
    })
}

/// `a op b` on two number literals: integers stay exact (and must fit in 64 bits), anything else is a finite
/// double. Integer division truncates, as PostgreSQL's does.
fn arithmetic(op: ArithOp, a: &Literal, b: &Literal) -> Result<Literal> {
    let shown = || format!("`{} {} {}`", show(a), op.word(), show(b));
    let zero = |divisor: bool| divisor.then(|| FilterError::Value(format!("{}: division by zero", shown())));
    if let (Literal::Integer(x), Literal::Integer(y)) = (a, b) {
        if matches!(op, ArithOp::Div | ArithOp::Mod)
            && let Some(e) = zero(*y == 0)
        {
            return Err(e);
        }
        let value = match op {
            ArithOp::Add => x.checked_add(*y),
            ArithOp::Sub => x.checked_sub(*y),
            ArithOp::Mul => x.checked_mul(*y),
            ArithOp::Div => x.checked_div(*y),
            ArithOp::Mod => x.checked_rem(*y),
        };
        return value
            .map(Literal::Integer)
            .ok_or_else(|| FilterError::Value(format!("{} does not fit in a 64-bit integer", shown())));
    }
    let (Some(x), Some(y)) = (number(a), number(b)) else {
        return Err(FilterError::Type(format!("{} is not arithmetic on numbers", shown())));
    };
    if matches!(op, ArithOp::Div | ArithOp::Mod)
        && let Some(e) = zero(y == 0.0)
    {
        return Err(e);
    }
    let value = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div => x / y,
        ArithOp::Mod => x % y,
    };
    if value.is_finite() {
        Ok(Literal::Number(value))
    } else {
        Err(FilterError::Value(format!("{} is out of the range of numbers", shown())))
    }
}

/// A number for a message: `1e300` rather than three hundred digits.
pub(super) fn number_text(x: f64) -> String {
    if x != 0.0 && !(1e-6..1e16).contains(&x.abs()) { format!("{x:e}") } else { x.to_string() }
}

fn number(literal: &Literal) -> Option<f64> {
    match literal {
        Literal::Integer(n) => Some(*n as f64),
        Literal::Number(x) => Some(*x),
        _ => None,
    }
}

fn show(literal: &Literal) -> String {
    match literal {
        Literal::Integer(n) => n.to_string(),
        Literal::Number(x) => number_text(*x),
        _ => "…".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::query::Bind;
    use super::super::query::testing::*;

    #[test]
    fn arithmetic_on_literals_is_computed_with_checks() {
        assert_eq!(sql("result gt 2 add 3"), ("(r.value > $1)".into(), vec![Bind::Integer(5)]));
        assert_eq!(sql("result gt 1.5 mul 2"), ("(r.value > $1)".into(), vec![Bind::Number(3.0)]));
        assert_eq!(sql("result gt -(7 div 2)"), ("(r.value > $1)".into(), vec![Bind::Integer(-3)]));
        assert_eq!(sql("result gt -7 mod 3"), ("(r.value > $1)".into(), vec![Bind::Integer(-1)]));
        assert_eq!(
            err("9223372036854775807 add 1 eq 0"),
            "`9223372036854775807 add 1` does not fit in a 64-bit integer"
        );
        assert_eq!(
            err("-9223372036854775807 sub 2 eq 0"),
            "`-9223372036854775807 sub 2` does not fit in a 64-bit integer"
        );
        assert_eq!(err("1e308 mul 10 eq 0"), "`1e308 mul 10` is out of the range of numbers");
        assert_eq!(err("result gt 1 div 0"), "`1 div 0`: division by zero");
        assert_eq!(err("result gt 1.5 mod 0"), "`1.5 mod 0`: division by zero");
        assert_eq!(
            err("result gt 2 mul (1e300 mul 1e10)"),
            "`1e300 mul 10000000000` is out of the range of numbers"
        );
        assert_eq!(err("name eq 1e-300"), "expected a string, found the number 1e-300");
        // With a property involved, PostgreSQL computes (and the database errors are turned into 400s).
        assert_eq!(only_sql("result add 9223372036854775807 gt 0"), "((r.value + $1) > $2)");
    }
}
