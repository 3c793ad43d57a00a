//! A design column as an expression an engine evaluates row by row: the
//! arithmetic of R's formula language (what [`eval_numeric`] computes in
//! memory) plus table lookups for factor codings. The bindings translate it
//! into a polars, Dask or Spark expression, so the engine evaluates exactly
//! the columns the in-memory design would hold, without this crate.
//!
//! [`eval_numeric`]: crate::design::variable::eval_numeric

use crate::design::variable::{check_arguments, r_constant_value};
use crate::error::{Error, Result};
use crate::formula::{Expr, ExprKind};

/// One value a row.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnExpr {
    Number(f64),
    /// A numeric data column, read as float64.
    Column(String),
    Unary(UnaryOp, Box<ColumnExpr>),
    Binary(BinaryOp, Box<ColumnExpr>, Box<ColumnExpr>),
    /// A factor's value at each row: the row's key (the factor's data
    /// column) looked up in distinct table `table`, whose row `i` maps to `values[i]`.
    Lookup {
        table: usize,
        values: Vec<f64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    /// R's `!`: 1 where the value is 0, else 0.
    Not,
    Log,
    Exp,
    Sqrt,
    Abs,
    Log10,
    Log2,
    Log1p,
    Expm1,
    Sin,
    Cos,
    Tan,
    Floor,
    Ceiling,
    Trunc,
    /// 1 where the value is not finite (NaN or infinite), else 0: the checks of a pass.
    NotFinite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl UnaryOp {
    /// The name the bindings use.
    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "neg",
            Not => "not",
            Log => "log",
            Exp => "exp",
            Sqrt => "sqrt",
            Abs => "abs",
            Log10 => "log10",
            Log2 => "log2",
            Log1p => "log1p",
            Expm1 => "expm1",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Floor => "floor",
            Ceiling => "ceiling",
            Trunc => "trunc",
            NotFinite => "not_finite",
        }
    }

    fn of_function(func: &str) -> Option<UnaryOp> {
        use UnaryOp::*;
        Some(match func {
            "log" => Log,
            "exp" => Exp,
            "sqrt" => Sqrt,
            "abs" => Abs,
            "log10" => Log10,
            "log2" => Log2,
            "log1p" => Log1p,
            "expm1" => Expm1,
            "sin" => Sin,
            "cos" => Cos,
            "tan" => Tan,
            "floor" => Floor,
            "ceiling" => Ceiling,
            "as.integer" => Trunc,
            _ => return None,
        })
    }
}

impl BinaryOp {
    /// R's operator.
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Pow => "^",
            Lt => "<",
            Gt => ">",
            Le => "<=",
            Ge => ">=",
            Eq => "==",
            Ne => "!=",
            And => "&",
            Or => "|",
        }
    }

    fn of_symbol(op: &str) -> Option<BinaryOp> {
        use BinaryOp::*;
        Some(match op {
            "+" => Add,
            "-" => Sub,
            "*" => Mul,
            "/" => Div,
            "^" => Pow,
            "<" => Lt,
            ">" => Gt,
            "<=" => Le,
            ">=" => Ge,
            "==" => Eq,
            "!=" => Ne,
            "&" | "&&" => And,
            "|" | "||" => Or,
            _ => return None,
        })
    }
}

impl ColumnExpr {
    pub fn binary(op: BinaryOp, a: ColumnExpr, b: ColumnExpr) -> ColumnExpr {
        ColumnExpr::Binary(op, Box::new(a), Box::new(b))
    }

    pub fn unary(op: UnaryOp, a: ColumnExpr) -> ColumnExpr {
        ColumnExpr::Unary(op, Box::new(a))
    }

    /// The product of `factors`, 1 for none.
    pub fn product(factors: Vec<ColumnExpr>) -> ColumnExpr {
        factors.into_iter().reduce(|a, b| ColumnExpr::binary(BinaryOp::Mul, a, b)).unwrap_or(ColumnExpr::Number(1.0))
    }

    /// A numeric expression of the formula, as [`eval_numeric`] evaluates it;
    /// `kind(name)` says whether a data column is numeric (`Some(true)`),
    /// categorical (`Some(false)`) or absent (`None`).
    ///
    /// [`eval_numeric`]: crate::design::variable::eval_numeric
    pub fn of_numeric(e: &Expr, kind: &dyn Fn(&str) -> Option<bool>) -> Result<ColumnExpr> {
        Ok(match &e.kind {
            ExprKind::Number(v) => ColumnExpr::Number(*v),
            ExprKind::Name(col) => match (kind(col), r_constant_value(col)) {
                (Some(true), _) => ColumnExpr::Column(col.clone()),
                (Some(false), _) => {
                    return Err(Error::column(col, "is categorical, but this expression needs numbers"));
                }
                (None, Some(value)) => ColumnExpr::Number(value),
                (None, None) => return Err(Error::column(col, "not found in the data")),
            },
            ExprKind::Str(s) => {
                return Err(Error::column(&e.deparse(), format!("the string \"{s}\" is not a number")));
            }
            ExprKind::Paren(x) => Self::of_numeric(x, kind)?,
            ExprKind::Unary { op, expr } => {
                let inner = Self::of_numeric(expr, kind)?;
                match *op {
                    "-" => ColumnExpr::unary(UnaryOp::Neg, inner),
                    "!" => ColumnExpr::unary(UnaryOp::Not, inner),
                    _ => inner,
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let op = BinaryOp::of_symbol(op).ok_or_else(|| {
                    Error::column(&e.deparse(), format!("operator '{op}' cannot be evaluated; wrap arithmetic in I()"))
                })?;
                ColumnExpr::binary(op, Self::of_numeric(lhs, kind)?, Self::of_numeric(rhs, kind)?)
            }
            ExprKind::Call { func, args } => Self::of_call(e, func, args, kind)?,
        })
    }

    fn of_call(
        e: &Expr,
        func: &str,
        args: &[crate::formula::Arg],
        kind: &dyn Fn(&str) -> Option<bool>,
    ) -> Result<ColumnExpr> {
        let name = e.deparse();
        check_arguments(func, args, &name)?;
        let Some(first) = args.first() else {
            return Err(Error::column(&name, format!("{func}() needs an argument")));
        };
        if matches!(func, "factor" | "as.factor" | "ordered" | "as.ordered" | "relevel" | "C") {
            return Err(Error::column(&name, format!("{func}() makes a factor, but numbers are needed here")));
        }
        if matches!(func, "poly" | "scale") {
            return Err(Error::column(&name, format!("{func}() can only be a term of its own on the right-hand side")));
        }
        let x = Self::of_numeric(&first.value, kind)?;
        Ok(match func {
            "I" | "as.numeric" | "as.double" => x,
            "log" if args.len() == 2 => {
                let base =
                    args[1].value.as_number().ok_or_else(|| Error::column(&name, "log(): the base must be a number"))?;
                // As in memory: ln(x) / ln(base).
                ColumnExpr::binary(BinaryOp::Div, ColumnExpr::unary(UnaryOp::Log, x), ColumnExpr::Number(base.ln()))
            }
            _ => match UnaryOp::of_function(func) {
                Some(op) => ColumnExpr::unary(op, x),
                None => {
                    return Err(Error::column(
                        &name,
                        format!("unknown function '{func}' (supported: I, log, exp, sqrt, abs, log10, log2, log1p, expm1, sin, cos, tan, floor, ceiling, scale, poly, factor, relevel, C, offset)"),
                    ))
                }
            },
        })
    }

    /// Evaluate on rows (tests and pilots): `column(name)` gives a numeric
    /// column, `lookup(table, values)` a factor's value at each row.
    pub fn evaluate(
        &self,
        n: usize,
        column: &dyn Fn(&str) -> Vec<f64>,
        lookup: &dyn Fn(usize, &[f64]) -> Vec<f64>,
    ) -> Vec<f64> {
        match self {
            ColumnExpr::Number(v) => vec![*v; n],
            ColumnExpr::Column(c) => column(c),
            ColumnExpr::Lookup { table, values } => lookup(*table, values),
            ColumnExpr::Unary(op, a) => {
                let f = unary_fn(*op);
                a.evaluate(n, column, lookup).into_iter().map(f).collect()
            }
            ColumnExpr::Binary(op, a, b) => {
                let f = binary_fn(*op);
                let (a, b) = (a.evaluate(n, column, lookup), b.evaluate(n, column, lookup));
                a.iter().zip(&b).map(|(x, y)| f(*x, *y)).collect()
            }
        }
    }
}

/// The arithmetic of each operator, as [`eval_numeric`] applies it.
///
/// [`eval_numeric`]: crate::design::variable::eval_numeric
pub fn unary_fn(op: UnaryOp) -> fn(f64) -> f64 {
    use UnaryOp::*;
    match op {
        Neg => |x| -x,
        Not => |x| f64::from(x == 0.0),
        Log => f64::ln,
        Exp => f64::exp,
        Sqrt => f64::sqrt,
        Abs => f64::abs,
        Log10 => f64::log10,
        Log2 => f64::log2,
        Log1p => f64::ln_1p,
        Expm1 => f64::exp_m1,
        Sin => f64::sin,
        Cos => f64::cos,
        Tan => f64::tan,
        Floor => f64::floor,
        Ceiling => f64::ceil,
        Trunc => f64::trunc,
        NotFinite => |x| f64::from(!x.is_finite()),
    }
}

pub fn binary_fn(op: BinaryOp) -> fn(f64, f64) -> f64 {
    use BinaryOp::*;
    match op {
        Add => |x, y| x + y,
        Sub => |x, y| x - y,
        Mul => |x, y| x * y,
        Div => |x, y| x / y,
        Pow => f64::powf,
        Lt => |x, y| f64::from(x < y),
        Gt => |x, y| f64::from(x > y),
        Le => |x, y| f64::from(x <= y),
        Ge => |x, y| f64::from(x >= y),
        Eq => |x, y| f64::from(x == y),
        Ne => |x, y| f64::from(x != y),
        And => |x, y| f64::from(x != 0.0 && y != 0.0),
        Or => |x, y| f64::from(x != 0.0 || y != 0.0),
    }
}
