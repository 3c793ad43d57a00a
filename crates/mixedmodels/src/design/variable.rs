//! Variables of a formula evaluated on data. Each variable is first *learned*
//! from the data the model is fitted on (factor levels, polynomial
//! coefficients, centring), then *applied* to that data or to new data with
//! the same learned state, as R's `makepredictcall` arranges for `predict`.

use std::borrow::Cow;
use std::collections::HashMap;

use super::contrasts::{orthonormal_polynomials, Contrasts};
use crate::data::{Column, DataFrame, Factor, MISSING};
use crate::error::{Error, Result};
use crate::formula::{Arg, Expr, ExprKind};

/// A variable with everything learned from the fitting data.
#[derive(Debug, Clone, PartialEq)]
pub enum VarSpec {
    /// One numeric column (a data column or arithmetic on columns).
    Numeric { expr: Expr },
    /// Several numeric columns derived from one expression (`poly`, `scale`).
    Basis { expr: Expr, basis: Basis, suffixes: Vec<String> },
    /// A categorical variable with its levels and contrast coding.
    Factor { source: FactorSource, levels: Vec<String>, contrasts: Contrasts },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    /// R's `poly(x, degree)`: three-term recurrence coefficients (`alpha`,
    /// `norm2`, as `attr(, "coefs")`).
    Orthogonal {
        alpha: Vec<f64>,
        norm2: Vec<f64>,
    },
    Raw {
        degree: usize,
    },
    /// R's `scale(x)`: (x - center) / scale.
    Scale {
        center: f64,
        scale: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum FactorSource {
    /// A factor (or string) column, read by its labels.
    Column(String),
    /// Numbers made a factor (`factor(x)`), read by their R print form.
    Numbers(Expr),
    /// A comparison: levels `FALSE`, `TRUE`.
    Logical(Expr),
}

/// Values of a variable on some rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// One or more numeric columns with their name suffixes (`""` for a plain column).
    Numeric { columns: Vec<Vec<f64>>, suffixes: Vec<String> },
    /// Level codes into the learned levels; `MISSING` marks a level unseen in fitting.
    Factor { codes: Vec<u32> },
}

/// Per-variable options from the user: contrasts by variable or column name.
pub type ContrastOverrides = [(String, Contrasts)];

/// The rows a variable is learned from, as R's model frame sees them: it
/// evaluates every variable over all the rows of the data and only then
/// drops the rows with missing values (`na.omit`). So a transform whose
/// value depends on the whole column (`scale`, orthogonal `poly`: R's
/// stateful terms) learns its parameters over `all` rows, while factor
/// levels (unused ones dropped, as lme4's `drop.unused.levels`) come from
/// the `complete` rows the model is fitted on.
#[derive(Debug, Clone, Copy)]
pub struct LearningRows<'r, 'a> {
    /// The rows the model is fitted on.
    pub complete: &'r DataFrame<'a>,
    /// Every row of the data, before rows with missing values were dropped.
    pub all: &'r DataFrame<'a>,
}

impl<'r, 'a> LearningRows<'r, 'a> {
    /// Data without dropped rows: both views are the same.
    pub fn same(data: &'r DataFrame<'a>) -> Self {
        LearningRows { complete: data, all: data }
    }
}

impl VarSpec {
    /// Learn a variable from data without dropped rows (see [`VarSpec::learn_from`]).
    pub fn learn(expr: &Expr, data: &DataFrame, overrides: &ContrastOverrides) -> Result<VarSpec> {
        Self::learn_from(expr, LearningRows::same(data), overrides)
    }

    /// Learn a variable: stateful transforms over all rows, the rest over the complete rows.
    pub fn learn_from(expr: &Expr, rows: LearningRows, overrides: &ContrastOverrides) -> Result<VarSpec> {
        let name = expr.deparse();
        let user = overrides.iter().find(|(n, _)| *n == name).map(|(_, c)| c.clone());
        let mut spec = learn_inner(expr, rows, &name)?;
        if let (VarSpec::Factor { contrasts, .. }, Some(c)) = (&mut spec, user) {
            *contrasts = c;
        }
        Ok(spec)
    }

    pub fn is_factor(&self) -> bool {
        matches!(self, VarSpec::Factor { .. })
    }

    pub fn apply(&self, data: &DataFrame) -> Result<Values> {
        match self {
            VarSpec::Numeric { expr } => {
                Ok(Values::Numeric { columns: vec![eval_numeric(expr, data)?], suffixes: vec![String::new()] })
            }
            VarSpec::Basis { expr, basis, suffixes } => {
                let x = eval_numeric(expr, data)?;
                Ok(Values::Numeric { columns: basis.evaluate(&x), suffixes: suffixes.clone() })
            }
            VarSpec::Factor { .. } => Ok(Values::Factor { codes: self.factor_codes(data)?.into_owned() }),
        }
    }

    /// A factor's codes on `data`, indexing the learned levels (`MISSING`
    /// for a level the fit did not see). Borrowed from the column when its
    /// levels are the learned ones (the fitting data), so a grouping factor
    /// of many rows is read without a copy.
    pub fn factor_codes<'d>(&self, data: &'d DataFrame) -> Result<Cow<'d, [u32]>> {
        let VarSpec::Factor { source, levels, .. } = self else {
            return Err(Error::Data("a numeric variable has no factor codes".into()));
        };
        if let FactorSource::Column(name) = source {
            if let Column::Factor(f) = data.get(name)? {
                if f.levels == *levels {
                    return Ok(Cow::Borrowed(&f.codes));
                }
            }
        }
        let (labels_codes, labels) = source.labels(data)?;
        if labels == *levels {
            // The fitting data: its codes already index the learned levels.
            return Ok(Cow::Owned(labels_codes));
        }
        let map = level_map(&labels, levels);
        Ok(labels_codes.iter().map(|&c| if c == MISSING { MISSING } else { map[c as usize] }).collect())
    }
}

/// For each of the data's level labels, its index among the learned levels
/// (`MISSING` for a level the fit did not see). A hash lookup: factors with
/// tens of thousands of levels are common grouping factors.
fn level_map(labels: &[String], levels: &[String]) -> Vec<u32> {
    let index: HashMap<&str, u32> = levels.iter().enumerate().map(|(i, l)| (l.as_str(), i as u32)).collect();
    labels.iter().map(|l| index.get(l.as_str()).copied().unwrap_or(MISSING)).collect()
}

impl Basis {
    fn evaluate(&self, x: &[f64]) -> Vec<Vec<f64>> {
        match self {
            Basis::Orthogonal { alpha, norm2 } => {
                // R's predict.poly: P_0 = 1, P_1 = x - a_1,
                // P_{i+1} = (x - a_{i+1}) P_i - (n2_{i+1} / n2_i) P_{i-1}; column i - 1 is P_i / sqrt(n2_i), with n2_i = norm2[i + 1].
                let degree = alpha.len();
                let mut p_prev = vec![1.0; x.len()];
                let mut p: Vec<f64> = x.iter().map(|v| v - alpha[0]).collect();
                let mut cols = vec![p.clone()];
                for i in 1..degree {
                    let ratio = norm2[i + 1] / norm2[i];
                    let next: Vec<f64> = (0..x.len()).map(|r| (x[r] - alpha[i]) * p[r] - ratio * p_prev[r]).collect();
                    p_prev = std::mem::replace(&mut p, next);
                    cols.push(p.clone());
                }
                for (i, c) in cols.iter_mut().enumerate() {
                    let s = norm2[i + 2].sqrt();
                    c.iter_mut().for_each(|v| *v /= s);
                }
                cols
            }
            Basis::Raw { degree } => (1..=*degree).map(|d| x.iter().map(|v| v.powi(d as i32)).collect()).collect(),
            Basis::Scale { center, scale } => vec![x.iter().map(|v| (v - center) / scale).collect()],
        }
    }
}

impl FactorSource {
    /// Codes and the level labels they index, from the data.
    fn labels(&self, data: &DataFrame) -> Result<(Vec<u32>, Vec<String>)> {
        match self {
            FactorSource::Column(name) => match data.get(name)? {
                Column::Factor(f) => Ok((f.codes.clone(), f.levels.clone())),
                Column::Numeric(v) => {
                    let f = Factor::from_numbers(v);
                    Ok((f.codes, f.levels))
                }
            },
            FactorSource::Numbers(e) => {
                let f = Factor::from_numbers(&eval_numeric(e, data)?);
                Ok((f.codes, f.levels))
            }
            FactorSource::Logical(e) => {
                let v = eval_numeric(e, data)?;
                let codes = v
                    .iter()
                    .map(|x| {
                        if x.is_nan() {
                            MISSING
                        } else if *x != 0.0 {
                            1
                        } else {
                            0
                        }
                    })
                    .collect();
                Ok((codes, vec!["FALSE".into(), "TRUE".into()]))
            }
        }
    }
}

/// The value of a name R reads as a constant.
pub(crate) fn r_constant_value(name: &str) -> Option<f64> {
    match name {
        "TRUE" | "T" => Some(1.0),
        "FALSE" | "F" => Some(0.0),
        "pi" => Some(std::f64::consts::PI),
        _ => None,
    }
}

fn learn_inner(expr: &Expr, rows: LearningRows, name: &str) -> Result<VarSpec> {
    let data = rows.complete;
    match &expr.kind {
        ExprKind::Name(col) if data.get(col).is_err() && r_constant_value(col).is_some() => {
            Ok(VarSpec::Numeric { expr: expr.clone() })
        }
        ExprKind::Name(col) => match data.get(col)? {
            Column::Numeric(_) => Ok(VarSpec::Numeric { expr: expr.clone() }),
            Column::Factor(f) => Ok(factor_spec_with(FactorSource::Column(col.clone()), f.used_levels(), f.ordered)),
        },
        ExprKind::Paren(inner) => learn_inner(inner, rows, name),
        ExprKind::Call { func, args } => learn_call(expr, func, args, rows, name),
        _ if is_comparison(expr) => learn_logical(expr, data),
        _ => Ok(VarSpec::Numeric { expr: expr.clone() }),
    }
}

fn factor_spec(source: FactorSource, f: Factor) -> VarSpec {
    let f = f.drop_unused();
    factor_spec_with(source, f.levels, f.ordered)
}

/// A factor's spec from its levels in use (R's `droplevels`).
fn factor_spec_with(source: FactorSource, levels: Vec<String>, ordered: bool) -> VarSpec {
    let contrasts = if ordered { Contrasts::Poly } else { Contrasts::Treatment };
    VarSpec::Factor { source, levels, contrasts }
}

fn learn_logical(expr: &Expr, data: &DataFrame) -> Result<VarSpec> {
    let source = FactorSource::Logical(expr.clone());
    let (codes, levels) = source.labels(data)?;
    Ok(factor_spec(source, Factor::new(codes, levels)))
}

/// The arguments a supported function takes here, in R's positional order.
fn formal_arguments(func: &str) -> Option<&'static [&'static str]> {
    Some(match func {
        "poly" => &["x", "degree", "raw"],
        "scale" => &["x", "center", "scale"],
        "log" => &["x", "base"],
        "relevel" => &["x", "ref"],
        "C" => &["object", "contr"],
        "factor" | "as.factor" | "ordered" | "as.ordered" | "I" | "exp" | "sqrt" | "abs" | "log10" | "log2"
        | "log1p" | "expm1" | "sin" | "cos" | "tan" | "floor" | "ceiling" | "as.numeric" | "as.double"
        | "as.integer" => &["x"],
        _ => return None,
    })
}

/// A misspelt or unsupported argument is an error, never silently ignored
/// (`poly(x, 3, ra = TRUE)` would otherwise be an orthogonal polynomial).
pub(crate) fn check_arguments(func: &str, args: &[Arg], name: &str) -> Result<()> {
    let Some(formals) = formal_arguments(func) else { return Ok(()) };
    let takes = formals.join(", ");
    if args.len() > formals.len() {
        return Err(Error::column(
            name,
            format!("{func}() takes at most {} argument(s) here ({takes}), not {}", formals.len(), args.len()),
        ));
    }
    if let Some(bad) = args.iter().filter_map(|a| a.name.as_deref()).find(|n| !formals.contains(n)) {
        return Err(Error::column(name, format!("{func}() has no argument '{bad}' here (it takes {takes})")));
    }
    Ok(())
}

fn learn_call(expr: &Expr, func: &str, args: &[Arg], rows: LearningRows, name: &str) -> Result<VarSpec> {
    let data = rows.complete;
    check_arguments(func, args, name)?;
    let arg0 =
        || args.first().map(|a| &a.value).ok_or_else(|| Error::column(name, format!("{func}() needs an argument")));
    match func {
        "factor" | "as.factor" | "ordered" | "as.ordered" => {
            let mut spec = learn_factor_of(arg0()?, rows, name)?;
            if func.contains("ordered") {
                if let VarSpec::Factor { contrasts, .. } = &mut spec {
                    *contrasts = Contrasts::Poly;
                }
            }
            Ok(spec)
        }
        "relevel" => {
            let spec = learn_factor_of(arg0()?, rows, name)?;
            let reference = args
                .iter()
                .skip(1)
                .find(|a| a.name.as_deref().is_none_or(|n| n == "ref"))
                .ok_or_else(|| Error::column(name, "relevel() needs ref = \"level\""))?;
            let VarSpec::Factor { source, mut levels, contrasts } = spec else { unreachable!() };
            let pos = match &reference.value.kind {
                ExprKind::Str(label) => levels.iter().position(|l| l == label).ok_or_else(|| {
                    Error::column(name, format!("relevel(): '{label}' is not a level (levels: {})", levels.join(", ")))
                })?,
                // R: a number is the position of the reference level (ref = 3: the third level).
                ExprKind::Number(v) if v.fract() == 0.0 && *v >= 1.0 && *v <= levels.len() as f64 => *v as usize - 1,
                ExprKind::Number(v) => {
                    return Err(Error::column(
                        name,
                        format!("relevel(): ref = {v} is not a level position (there are {} levels)", levels.len()),
                    ))
                }
                _ => return Err(Error::column(name, "relevel(): ref must be a level name in quotes")),
            };
            let r = levels.remove(pos);
            levels.insert(0, r);
            Ok(VarSpec::Factor { source, levels, contrasts })
        }
        "C" => {
            let VarSpec::Factor { source, levels, .. } = learn_factor_of(arg0()?, rows, name)? else { unreachable!() };
            let kind = args.get(1).ok_or_else(|| Error::column(name, "C() needs a contrast, as in C(f, sum)"))?;
            let label = match &kind.value.kind {
                ExprKind::Name(n) | ExprKind::Str(n) => n.clone(),
                _ => String::new(),
            };
            let contrasts = Contrasts::parse(&label).ok_or_else(|| {
                Error::column(name, format!("unknown contrast '{label}' (use treatment, sum, helmert or poly)"))
            })?;
            Ok(VarSpec::Factor { source, levels, contrasts })
        }
        "poly" => learn_poly(args, rows.all, name),
        "scale" => learn_scale(arg0()?, args, rows.all, name),
        _ => {
            if is_comparison(expr) {
                return learn_logical(expr, data);
            }
            // I(), log(), exp() ...: numeric; check now so errors surface at fit time.
            eval_numeric(expr, data)?;
            Ok(VarSpec::Numeric { expr: expr.clone() })
        }
    }
}

fn learn_factor_of(arg: &Expr, rows: LearningRows, name: &str) -> Result<VarSpec> {
    let data = rows.complete;
    match learn_inner(arg, rows, name)? {
        spec @ VarSpec::Factor { .. } => Ok(spec),
        VarSpec::Numeric { expr } => {
            let source = FactorSource::Numbers(expr);
            let (codes, levels) = source.labels(data)?;
            Ok(factor_spec(source, Factor::new(codes, levels)))
        }
        VarSpec::Basis { .. } => Err(Error::column(name, "cannot make a factor of a matrix-valued expression")),
    }
}

/// R's `poly(x, degree, raw)`, its coefficients learned over all rows of the
/// data (`all`), as R's model frame evaluates it before dropping incomplete
/// rows. Like R's `poly`, missing values of `x` itself are an error.
fn learn_poly(args: &[Arg], all: &DataFrame, name: &str) -> Result<VarSpec> {
    let x_expr = &args.first().ok_or_else(|| Error::column(name, "poly() needs a variable"))?.value;
    let degree = args
        .iter()
        .skip(1)
        .find(|a| a.name.as_deref().is_none_or(|n| n == "degree"))
        .and_then(|a| a.value.as_number())
        .unwrap_or(1.0);
    let raw = args
        .iter()
        .find(|a| a.name.as_deref() == Some("raw"))
        .map(|a| matches!(&a.value.kind, ExprKind::Name(n) if n == "TRUE" || n == "T"))
        .unwrap_or(false);
    if degree < 1.0 || degree.fract() != 0.0 {
        return Err(Error::column(name, "poly(): the degree must be a whole number of at least 1"));
    }
    let degree = degree as usize;
    let x = eval_numeric(x_expr, all)?;
    if raw {
        // Raw powers are evaluated row by row: missing values are no obstacle (R's poly(raw = TRUE) allows them).
        return Ok(VarSpec::Basis {
            expr: x_expr.clone(),
            basis: Basis::Raw { degree },
            suffixes: poly_suffixes(degree),
        });
    }
    if let Some(row) = x.iter().position(|v| v.is_nan()) {
        return Err(Error::column(
            name,
            format!(
                "poly(): '{}' is missing at row {row}; R's poly() refuses missing values too \
                 (its coefficients are learned over every row of the data): drop those rows first",
                x_expr.deparse()
            ),
        ));
    }
    let mut distinct = x.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    if distinct.len() <= degree {
        return Err(Error::column(
            name,
            format!("poly(): the degree must be less than the number of unique points ({})", distinct.len()),
        ));
    }
    Ok(VarSpec::Basis { expr: x_expr.clone(), basis: orthogonal_coefs(&x, degree), suffixes: poly_suffixes(degree) })
}

/// Column name suffixes of a polynomial of `degree`: `1`, `2`, ...
fn poly_suffixes(degree: usize) -> Vec<String> {
    (1..=degree).map(|d| d.to_string()).collect()
}

/// R's `scale(x, center = TRUE, scale = TRUE)` (`scale.default`), learned
/// over all rows of the data (`all`), as R's model frame evaluates it before
/// dropping incomplete rows; missing values of `x` are left out
/// (`colMeans(na.rm = TRUE)`). It centres on the mean (or a given value),
/// then divides by the root mean square `sqrt(sum(v^2) / max(1, n - 1))` of
/// the centred values (or a given value).
fn learn_scale(x_expr: &Expr, args: &[Arg], all: &DataFrame, name: &str) -> Result<VarSpec> {
    let x: Vec<f64> = eval_numeric(x_expr, all)?.into_iter().filter(|v| !v.is_nan()).collect();
    let n = x.len() as f64;
    let (center_arg, scale_arg) = scale_arguments(args, name)?;
    let center = match center_arg {
        ScaleArg::Computed => x.iter().sum::<f64>() / n,
        ScaleArg::Value(c) => c,
        ScaleArg::Off => 0.0,
    };
    let scale = match scale_arg {
        ScaleArg::Computed => (x.iter().map(|v| (v - center).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt(),
        ScaleArg::Value(s) => s,
        ScaleArg::Off => 1.0,
    };
    scale_spec(x_expr, center, scale, name)
}

/// `scale()`'s `center` or `scale` argument: TRUE (computed from the data), FALSE, or a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScaleArg {
    Computed,
    Off,
    Value(f64),
}

/// The `center` and `scale` arguments of `scale(x, center, scale)`, by name or position.
pub fn scale_arguments(args: &[Arg], name: &str) -> Result<(ScaleArg, ScaleArg)> {
    let flag = |arg: &str, position: usize| -> Result<ScaleArg> {
        let a = args
            .iter()
            .find(|a| a.name.as_deref() == Some(arg))
            .or_else(|| args.iter().filter(|a| a.name.is_none()).nth(position));
        match a.map(|a| &a.value.kind) {
            None => Ok(ScaleArg::Computed),
            Some(ExprKind::Name(v)) if v == "TRUE" || v == "T" => Ok(ScaleArg::Computed),
            Some(ExprKind::Name(v)) if v == "FALSE" || v == "F" => Ok(ScaleArg::Off),
            Some(_) => a
                .and_then(|a| a.value.as_number())
                .map(ScaleArg::Value)
                .ok_or_else(|| Error::column(name, format!("scale(): {arg} must be TRUE, FALSE or a number"))),
        }
    };
    Ok((flag("center", 1)?, flag("scale", 2)?))
}

/// `scale(x)` learned from summaries instead of the values: `n` values
/// (missing ones left out), `s1 = sum(x - shift)` and `s2 = sum((x - shift)^2)`.
/// With `shift` near the mean (a pilot estimate), the sums of squares keep
/// their digits: var = (s2 - s1^2 / n) / (n - 1). A given center must be the shift.
pub fn scale_from_moments(
    x_expr: &Expr,
    args: &[Arg],
    name: &str,
    n: f64,
    shift: f64,
    s1: f64,
    s2: f64,
) -> Result<VarSpec> {
    let (center_arg, scale_arg) = scale_arguments(args, name)?;
    let center = match center_arg {
        ScaleArg::Computed => shift + s1 / n,
        ScaleArg::Value(c) => c,
        ScaleArg::Off => 0.0,
    };
    let scale = match scale_arg {
        // sum (x - center)^2 = s2 - 2 (center - shift) s1 + n (center - shift)^2
        ScaleArg::Computed => {
            let d = center - shift;
            ((s2 - 2.0 * d * s1 + n * d * d).max(0.0) / (n - 1.0).max(1.0)).sqrt()
        }
        ScaleArg::Value(s) => s,
        ScaleArg::Off => 1.0,
    };
    scale_spec(x_expr, center, scale, name)
}

fn scale_spec(x_expr: &Expr, center: f64, scale: f64, name: &str) -> Result<VarSpec> {
    if scale.is_nan() || scale <= 0.0 {
        return Err(Error::column(name, "scale(): the values are constant"));
    }
    Ok(VarSpec::Basis { expr: x_expr.clone(), basis: Basis::Scale { center, scale }, suffixes: vec![String::new()] })
}

/// What a variable is made into, read from the formula and from which
/// columns are categorical (`is_factor_column`) without the data: the
/// dispatch of [`VarSpec::learn_from`] (`learn_inner`, `learn_call`), for
/// fits that learn each kind of variable from its own summary of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    Numeric,
    Factor,
    Scale,
    PolyRaw,
    PolyOrthogonal,
}

pub fn variable_kind(expr: &Expr, is_factor_column: &dyn Fn(&str) -> bool) -> VarKind {
    match &expr.kind {
        ExprKind::Name(col) if is_factor_column(col) => VarKind::Factor,
        ExprKind::Paren(inner) => variable_kind(inner, is_factor_column),
        ExprKind::Call { func, args } => match func.as_str() {
            "factor" | "as.factor" | "ordered" | "as.ordered" | "relevel" | "C" => VarKind::Factor,
            "poly" => {
                let raw = args
                    .iter()
                    .find(|a| a.name.as_deref() == Some("raw"))
                    .is_some_and(|a| matches!(&a.value.kind, ExprKind::Name(n) if n == "TRUE" || n == "T"));
                if raw {
                    VarKind::PolyRaw
                } else {
                    VarKind::PolyOrthogonal
                }
            }
            "scale" => VarKind::Scale,
            _ if is_comparison(expr) => VarKind::Factor,
            _ => VarKind::Numeric,
        },
        _ if is_comparison(expr) => VarKind::Factor,
        _ => VarKind::Numeric,
    }
}

/// Recurrence coefficients of R's `poly()` (`attr(, "coefs")`). The monic
/// orthogonal polynomials over the data are P_d = q_d R_dd, with q_d the
/// orthonormal basis and R_dd = <q_d, (x - mean)^d>; hence
/// `norm2 = (1, R_00^2, ..., R_kk^2)` and `alpha_d = sum (x - mean) q_d^2 + mean`.
fn orthogonal_coefs(x: &[f64], degree: usize) -> Basis {
    let n = x.len();
    let mean = x.iter().sum::<f64>() / n as f64;
    let q = orthonormal_polynomials(x, degree);
    let mut alpha = Vec::with_capacity(degree);
    let mut norm2 = vec![1.0];
    for d in 0..=degree {
        let qd = &q[d * n..(d + 1) * n];
        let r_dd: f64 = qd.iter().zip(x).map(|(q, xv)| q * (xv - mean).powi(d as i32)).sum();
        norm2.push(r_dd * r_dd);
        if d < degree {
            alpha.push(qd.iter().zip(x).map(|(q, xv)| (xv - mean) * q * q).sum::<f64>() + mean);
        }
    }
    Basis::Orthogonal { alpha, norm2 }
}

fn is_comparison(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Binary { op, .. } => matches!(*op, "<" | ">" | "<=" | ">=" | "==" | "!=" | "&" | "&&" | "|" | "||"),
        ExprKind::Unary { op: "!", .. } => true,
        ExprKind::Paren(x) => is_comparison(x),
        ExprKind::Call { func, args } if func == "I" && args.len() == 1 => is_comparison(&args[0].value),
        _ => false,
    }
}

/// Evaluate arithmetic on numeric columns elementwise (R's vectorised semantics).
pub fn eval_numeric(e: &Expr, data: &DataFrame) -> Result<Vec<f64>> {
    let n = data.nrows();
    match &e.kind {
        ExprKind::Number(v) => Ok(vec![*v; n]),
        // A data column first, then R's constants (R's model frame looks in the data first).
        ExprKind::Name(col) => match (data.get(col), r_constant_value(col)) {
            (Ok(Column::Numeric(v)), _) => Ok(v.to_vec()),
            (Ok(Column::Factor(_)), _) => Err(Error::column(col, "is categorical, but this expression needs numbers")),
            (Err(_), Some(value)) => Ok(vec![value; n]),
            (Err(e), None) => Err(e),
        },
        ExprKind::Str(s) => Err(Error::column(&e.deparse(), format!("the string \"{s}\" is not a number"))),
        ExprKind::Paren(x) => eval_numeric(x, data),
        ExprKind::Unary { op, expr } => {
            let v = eval_numeric(expr, data)?;
            Ok(match *op {
                "-" => v.iter().map(|x| -x).collect(),
                "!" => v.iter().map(|x| f64::from(*x == 0.0)).collect(),
                _ => v,
            })
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let a = eval_numeric(lhs, data)?;
            let b = eval_numeric(rhs, data)?;
            let f: fn(f64, f64) -> f64 = match *op {
                "+" => |x, y| x + y,
                "-" => |x, y| x - y,
                "*" => |x, y| x * y,
                "/" => |x, y| x / y,
                "^" => f64::powf,
                "<" => |x, y| f64::from(x < y),
                ">" => |x, y| f64::from(x > y),
                "<=" => |x, y| f64::from(x <= y),
                ">=" => |x, y| f64::from(x >= y),
                "==" => |x, y| f64::from(x == y),
                "!=" => |x, y| f64::from(x != y),
                "&" | "&&" => |x, y| f64::from(x != 0.0 && y != 0.0),
                "|" | "||" => |x, y| f64::from(x != 0.0 || y != 0.0),
                other => {
                    return Err(Error::column(
                        &e.deparse(),
                        format!("operator '{other}' cannot be evaluated; wrap arithmetic in I()"),
                    ))
                }
            };
            Ok(a.iter().zip(&b).map(|(x, y)| f(*x, *y)).collect())
        }
        ExprKind::Call { func, args } => eval_function(e, func, args, data),
    }
}

fn eval_function(e: &Expr, func: &str, args: &[Arg], data: &DataFrame) -> Result<Vec<f64>> {
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
    let x = eval_numeric(&first.value, data)?;
    let unary: fn(f64) -> f64 = match func {
        "I" => return Ok(x),
        "log" if args.len() == 2 => {
            let base = args[1].value.as_number().ok_or_else(|| Error::column(&name, "log(): the base must be a number"))?;
            return Ok(x.iter().map(|v| v.ln() / base.ln()).collect());
        }
        "log" => f64::ln,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "abs" => f64::abs,
        "log10" => f64::log10,
        "log2" => f64::log2,
        "log1p" => f64::ln_1p,
        "expm1" => f64::exp_m1,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "floor" => f64::floor,
        "ceiling" => f64::ceil,
        "as.numeric" | "as.double" => return Ok(x),
        "as.integer" => return Ok(x.into_iter().map(f64::trunc).collect()),
        _ => {
            return Err(Error::column(
                &name,
                format!("unknown function '{func}' (supported: I, log, exp, sqrt, abs, log10, log2, log1p, expm1, sin, cos, tan, floor, ceiling, scale, poly, factor, relevel, C, offset)"),
            ))
        }
    };
    Ok(x.into_iter().map(unary).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::parse;

    fn df() -> DataFrame<'static> {
        DataFrame::new()
            .with_numeric("x", vec![1.0, 2.0, 3.0, 4.0, 5.0, 7.0])
            .unwrap()
            .with_labels("f", &["b", "a", "c", "a", "b", "c"])
            .unwrap()
    }

    #[test]
    fn poly_matches_r() {
        // R: poly(c(1,2,3,4,5,7), 2)
        let spec = VarSpec::learn(&parse("poly(x, 2)").unwrap(), &df(), &[]).unwrap();
        let Values::Numeric { columns, suffixes } = spec.apply(&df()).unwrap() else { panic!() };
        assert_eq!(suffixes, ["1", "2"]);
        // print(unclass(poly(c(1,2,3,4,5,7), 2)), digits = 15)
        let r1 = [
            -0.5520524474738834,
            -0.345_032_779_671_177,
            -0.1380131118684709,
            0.0690065559342354,
            0.2760262237369416,
            0.6900655593423541,
        ];
        let r2 =
            [0.545544725589981, 0.0, -0.327326835353988, -0.436435780471985, -0.327326835353989, 0.545544725589981];
        for i in 0..6 {
            assert!((columns[0][i] - r1[i]).abs() < 1e-13, "{i}: {}", columns[0][i]);
            assert!((columns[1][i] - r2[i]).abs() < 1e-13, "{i}: {}", columns[1][i]);
        }
        let VarSpec::Basis { basis: Basis::Orthogonal { alpha, norm2 }, .. } = &spec else { panic!() };
        assert!((alpha[0] - 3.66666666666667).abs() < 1e-12 && (alpha[1] - 4.33333333333333).abs() < 1e-12);
        assert!((norm2[2] - 23.3333333333333).abs() < 1e-10 && (norm2[3] - 84.0).abs() < 1e-10);
    }

    #[test]
    fn scale_and_as_integer_follow_r() {
        let d = df();
        let col = |src: &str| {
            let spec = VarSpec::learn(&parse(src).unwrap(), &d, &[]).unwrap();
            let Values::Numeric { columns, .. } = spec.apply(&d).unwrap() else { panic!() };
            columns[0].clone()
        };
        // x = 1,2,3,4,5,7: mean 11/3; R: scale(x, scale = FALSE)[1] = -2.666667
        assert!((col("scale(x, scale = FALSE)")[0] + 8.0 / 3.0).abs() < 1e-12);
        // R: scale(x, center = FALSE)[1] = 1 / sqrt(104 / 5) = 0.2192645
        assert!((col("scale(x, center = FALSE)")[0] - (5.0f64 / 104.0).sqrt()).abs() < 1e-12);
        assert!((col("scale(x, center = 2, scale = 4)")[0] + 0.25).abs() < 1e-12);
        assert_eq!(col("as.integer(x / 4)"), [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    }

    /// Six rows, the second missing its response: the complete rows are 0, 2, 3, 4, 5.
    fn with_missing_row() -> (DataFrame<'static>, DataFrame<'static>) {
        let all = df().with_numeric("y", vec![1.0, f64::NAN, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let (complete, rows) = all.clone().drop_missing(&["y".into(), "x".into()]).unwrap();
        assert_eq!(rows.dropped(), 1);
        (all, complete)
    }

    #[test]
    fn stateful_terms_learn_over_all_rows_as_r_model_frame() {
        let (all, complete) = with_missing_row();
        let rows = LearningRows { complete: &complete, all: &all };
        // R: d <- data.frame(x = c(1,2,3,4,5,7), y = c(1,NA,2,3,4,5)); model.frame(y ~ scale(x), d)
        // scale(x) over all six rows: center 11/3, scale sd(x) = 2.160247
        let spec = VarSpec::learn_from(&parse("scale(x)").unwrap(), rows, &[]).unwrap();
        let VarSpec::Basis { basis: Basis::Scale { center, scale }, .. } = &spec else { panic!() };
        assert!((center - 11.0 / 3.0).abs() < 1e-12 && (scale - 2.160246899469287).abs() < 1e-12);
        let Values::Numeric { columns, .. } = spec.apply(&complete).unwrap() else { panic!() };
        assert_eq!(columns[0].len(), 5);
        // poly(x, 2) over all rows, then rows 0, 2, 3, 4, 5 (see poly_matches_r)
        let spec = VarSpec::learn_from(&parse("poly(x, 2)").unwrap(), rows, &[]).unwrap();
        let Values::Numeric { columns, .. } = spec.apply(&complete).unwrap() else { panic!() };
        assert!((columns[0][1] + 0.1380131118684709).abs() < 1e-13);
        assert!((columns[1][4] - 0.545544725589981).abs() < 1e-13);
    }

    #[test]
    fn scale_leaves_out_missing_values_and_poly_refuses_them() {
        let d = DataFrame::new().with_numeric("x", vec![1.0, f64::NAN, 3.0, 8.0]).unwrap();
        // R: attributes(scale(c(1, NA, 3, 8)))[c("scaled:center", "scaled:scale")]: 4, 3.605551
        let spec = VarSpec::learn(&parse("scale(x)").unwrap(), &d, &[]).unwrap();
        let VarSpec::Basis { basis: Basis::Scale { center, scale }, .. } = &spec else { panic!() };
        assert!((center - 4.0).abs() < 1e-12 && (scale - 13f64.sqrt()).abs() < 1e-12);
        // R: poly(c(1, NA, 3, 8), 2): "missing values are not allowed in 'poly'"
        let err = VarSpec::learn(&parse("poly(x, 2)").unwrap(), &d, &[]).unwrap_err();
        assert!(err.to_string().contains("missing at row 1"), "{err}");
        // raw powers are row by row, as R's poly(raw = TRUE)
        let spec = VarSpec::learn(&parse("poly(x, 2, raw = TRUE)").unwrap(), &d, &[]).unwrap();
        let Values::Numeric { columns, .. } = spec.apply(&d).unwrap() else { panic!() };
        assert_eq!(columns[1][3], 64.0);
        assert!(columns[1][1].is_nan());
    }

    #[test]
    fn relevel_moves_reference_first() {
        let spec = VarSpec::learn(&parse("relevel(f, ref = \"c\")").unwrap(), &df(), &[]).unwrap();
        let VarSpec::Factor { levels, .. } = &spec else { panic!() };
        assert_eq!(levels, &["c", "a", "b"]);
        let Values::Factor { codes } = spec.apply(&df()).unwrap() else { panic!() };
        assert_eq!(codes, [2, 1, 0, 1, 2, 0]);
        let err = VarSpec::learn(&parse("relevel(f, ref = \"z\")").unwrap(), &df(), &[]).unwrap_err();
        assert!(err.to_string().contains("'z' is not a level"));
    }

    #[test]
    fn arithmetic_and_errors() {
        let v = eval_numeric(&parse("I(x^2 - 1) / 2").unwrap(), &df()).unwrap();
        assert_eq!(v[1], 1.5);
        let err = eval_numeric(&parse("log(f)").unwrap(), &df()).unwrap_err();
        assert!(matches!(err, Error::Column { column, .. } if column == "f"));
        assert!(eval_numeric(&parse("foo(x)").unwrap(), &df()).is_err());
    }
}
