//! The expression tree of a formula and its R-style deparse (the text R
//! would print for it, which is how R names model-matrix columns).

use std::fmt::Write;

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Number(f64),
    Str(String),
    Name(String),
    Call { func: String, args: Vec<Arg> },
    Unary { op: &'static str, expr: Box<Expr> },
    Binary { op: &'static str, lhs: Box<Expr>, rhs: Box<Expr> },
    Paren(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<String>,
    pub value: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    /// Byte offset in the formula where this expression starts.
    pub pos: usize,
}

impl Expr {
    pub fn new(kind: ExprKind, pos: usize) -> Self {
        Expr { kind, pos }
    }

    /// Strip redundant parentheses.
    pub fn unparen(&self) -> &Expr {
        match &self.kind {
            ExprKind::Paren(inner) => inner.unparen(),
            _ => self,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match &self.unparen().kind {
            ExprKind::Number(v) => Some(*v),
            ExprKind::Unary { op: "-", expr } => expr.as_number().map(|v| -v),
            _ => None,
        }
    }

    /// The names of the data columns this expression reads, in order of
    /// appearance; R's constants (`T`, `pi`, ...) are not among them.
    pub fn column_names(&self, out: &mut Vec<String>) {
        self.column_names_where(out, &|n| !is_r_constant(n));
    }

    /// [`Expr::column_names`] where `is_column` decides for each name: R's
    /// model frame reads a column named `F` or `pi` when the data have one,
    /// and the constant otherwise.
    pub fn column_names_where(&self, out: &mut Vec<String>, is_column: &dyn Fn(&str) -> bool) {
        match &self.kind {
            ExprKind::Name(n) => {
                if is_column(n) && !out.contains(n) {
                    out.push(n.clone());
                }
            }
            // C(f, sum): the second argument names a contrast, not a column.
            ExprKind::Call { func, args } if func == "C" => {
                if let Some(a) = args.first() {
                    a.value.column_names_where(out, is_column);
                }
            }
            ExprKind::Call { args, .. } => {
                for a in args {
                    a.value.column_names_where(out, is_column);
                }
            }
            ExprKind::Unary { expr, .. } | ExprKind::Paren(expr) => expr.column_names_where(out, is_column),
            ExprKind::Binary { lhs, rhs, .. } => {
                lhs.column_names_where(out, is_column);
                rhs.column_names_where(out, is_column);
            }
            ExprKind::Number(_) | ExprKind::Str(_) => {}
        }
    }

    /// R's `deparse()` of the expression.
    pub fn deparse(&self) -> String {
        let mut s = String::new();
        self.write_deparse(&mut s);
        s
    }

    fn write_deparse(&self, s: &mut String) {
        match &self.kind {
            ExprKind::Number(v) => s.push_str(&format_r_number(*v)),
            ExprKind::Str(t) => {
                let _ = write!(s, "\"{t}\"");
            }
            ExprKind::Name(n) => s.push_str(&deparse_name(n)),
            ExprKind::Call { func, args } => {
                s.push_str(&deparse_name(func));
                s.push('(');
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    if let Some(n) = &a.name {
                        let _ = write!(s, "{} = ", deparse_name(n));
                    }
                    a.value.write_deparse(s);
                }
                s.push(')');
            }
            ExprKind::Unary { op, expr } => {
                s.push_str(op);
                expr.write_deparse(s);
            }
            ExprKind::Binary { op, lhs, rhs } => {
                lhs.write_deparse(s);
                // R prints these operators without surrounding spaces.
                if matches!(*op, "/" | "^" | ":") {
                    s.push_str(op);
                } else {
                    let _ = write!(s, " {op} ");
                }
                rhs.write_deparse(s);
            }
            ExprKind::Paren(inner) => {
                s.push('(');
                inner.write_deparse(s);
                s.push(')');
            }
        }
    }
}

/// A name as R deparses it: backquoted unless syntactic.
fn deparse_name(n: &str) -> String {
    let mut chars = n.chars();
    let syntactic = match chars.next() {
        Some(c) if c.is_alphabetic() => true,
        Some('.') => !n[1..].starts_with(|c: char| c.is_ascii_digit()),
        _ => false,
    } && n.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '_');
    if syntactic {
        n.to_string()
    } else {
        format!("`{n}`")
    }
}

/// Format a number as R prints it with 15 significant digits: the shorter of
/// fixed and scientific notation, fixed on a tie (`100000` -> `1e+05`,
/// `10000` -> `10000`, `0.25` -> `0.25`).
pub fn format_r_number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    // The fewest significant digits (up to 15) that reproduce v at 15-digit precision.
    let target = format!("{v:.14e}").parse::<f64>().unwrap_or(v);
    let mut digits = 1;
    while digits < 15 && format!("{:.*e}", digits - 1, v).parse::<f64>().unwrap_or(v) != target {
        digits += 1;
    }
    let sci = format!("{:.*e}", digits - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sci_r = format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    let decimals = (digits as i32 - 1 - exp).max(0) as usize;
    let fixed = format!("{v:.decimals$}");
    if fixed.len() <= sci_r.len() {
        fixed
    } else {
        sci_r
    }
}

/// Names R reads as constants when no data column has that name.
pub fn is_r_constant(name: &str) -> bool {
    matches!(name, "TRUE" | "FALSE" | "T" | "F" | "pi" | "Inf" | "NA" | "NaN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_r_does() {
        assert_eq!(format_r_number(2.0), "2");
        assert_eq!(format_r_number(2.5), "2.5");
        assert_eq!(format_r_number(100000.0), "1e+05");
        assert_eq!(format_r_number(10000.0), "10000");
        assert_eq!(format_r_number(0.001), "0.001");
        assert_eq!(format_r_number(0.0001), "1e-04");
        assert_eq!(format_r_number(-3.25), "-3.25");
        assert_eq!(format_r_number(1.0 / 3.0), "0.333333333333333");
    }

    #[test]
    fn names_are_backquoted_when_not_syntactic() {
        assert_eq!(deparse_name("Days"), "Days");
        assert_eq!(deparse_name("a b"), "`a b`");
        assert_eq!(deparse_name("2x"), "`2x`");
    }
}
