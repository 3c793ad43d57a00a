//! Learning a design without holding the rows, in two steps around a pass
//! of the engine. [`SumsSetup::new`] reads the formula, the data's column
//! types and a pilot (the first complete rows) and says what the pass must
//! compute: the distinct values of each factor's column and of each
//! grouping factor's columns (over the complete rows), and the moments of
//! each `scale()`d expression (over every row, as R's model frame learns
//! them). [`SumsSetup::learn`] then learns every variable as the in-memory
//! fit does, from those summaries: a factor from the distinct values of
//! its column (which give the same levels as all the rows), `scale()` from
//! moments about the pilot's mean. What a pass cannot learn exactly is
//! refused: orthogonal `poly()`, factors of expressions over several columns.

use std::collections::HashMap;
use std::sync::Arc;

use super::expr::{BinaryOp, ColumnExpr, UnaryOp};
use super::plan::{Layout, SumsPlan, TableSpec};
use crate::data::DataFrame;
use crate::design::model_matrix::{column_recipes, ColumnRecipe, Part};
use crate::design::random::lme4_term_order;
use crate::design::variable::{scale_arguments, scale_from_moments, variable_kind, ScaleArg, VarKind};
use crate::design::{Basis, Contrasts, DesignSpec, GroupSpec, LearningRows, Values, VarSpec};
use crate::error::{Error, Result};
use crate::formula::{Expr, ExprKind, ModelFormula};

/// The moments a pass computes for one `scale()`d expression, over every row
/// where it is not missing: n, sum (x - shift), sum (x - shift)^2.
#[derive(Debug, Clone, PartialEq)]
pub struct MomentRequest {
    pub expr: ColumnExpr,
    pub shift: f64,
}

/// What the first pass of an out-of-core fit computes, and the state to learn from it.
#[derive(Debug, Clone)]
pub struct SumsSetup {
    formula: ModelFormula,
    /// The data's columns: name, numeric (or categorical).
    schema: HashMap<String, bool>,
    contrasts: Vec<(String, Contrasts)>,
    weights: Option<String>,
    kinds: Vec<VarKind>,
    /// The columns a row needs complete to enter the fit (R's na.omit).
    pub used: Vec<String>,
    /// The distinct rows of these column sets, over the complete rows.
    pub distinct_requests: Vec<Vec<String>>,
    /// The distinct table of each factor variable.
    var_table: Vec<Option<usize>>,
    /// The distinct table of each bar's grouping columns.
    bar_table: Vec<usize>,
    /// One per variable of kind `Scale` (formula order of the variables).
    pub moment_requests: Vec<MomentRequest>,
    pilot: DataFrame<'static>,
}

impl SumsSetup {
    /// `schema`: every data column with whether it is numeric; `pilot`: the
    /// first complete rows of the model's columns (a few thousand suffice).
    pub fn new(
        formula: &str,
        schema: &[(String, bool)],
        pilot: DataFrame<'static>,
        contrasts: Vec<(String, Contrasts)>,
        weights: Option<String>,
    ) -> Result<SumsSetup> {
        let formula = ModelFormula::parse(formula)?;
        let schema: HashMap<String, bool> = schema.iter().cloned().collect();
        let mut used = formula.column_names();
        used.extend(weights.clone());
        for c in &used {
            if !schema.contains_key(c) {
                return Err(Error::column(c, "not found in the data"));
            }
        }
        check_response(&formula, &schema)?;
        if let Some(w) = &weights {
            if schema.get(w) == Some(&false) {
                return Err(Error::column(w, "prior weights must be numeric"));
            }
        }
        let is_factor_column = |c: &str| schema.get(c) == Some(&false);
        let kinds: Vec<VarKind> = formula.variables.iter().map(|v| variable_kind(&v.expr, &is_factor_column)).collect();
        let mut tables = DistinctTables::default();
        let mut var_table = vec![None; kinds.len()];
        let mut moment_requests = Vec::new();
        let kind_of = |c: &str| schema.get(c).copied();
        for (v, (var, kind)) in formula.variables.iter().zip(&kinds).enumerate() {
            match kind {
                VarKind::Factor => {
                    let columns = columns_of(&var.expr, &schema);
                    if columns.len() != 1 {
                        return Err(Error::column(
                            &var.name,
                            "a factor made from several columns (or none) cannot be learned in a pass over the \
                             data: add it to the data as a column of its own",
                        ));
                    }
                    var_table[v] = Some(tables.index(columns));
                }
                VarKind::PolyOrthogonal => {
                    return Err(Error::column(
                        &var.name,
                        "orthogonal poly() learns its coefficients over every row, which an out-of-core fit does not \
                         do (yet): use poly(x, degree, raw = TRUE), or collect the data to fit it in memory",
                    ));
                }
                VarKind::Scale => {
                    let (x, args) = call_args(&var.expr);
                    let expr = ColumnExpr::of_numeric(x, &kind_of)?;
                    let shift = match scale_arguments(args, &var.name)?.0 {
                        ScaleArg::Value(c) => c,
                        ScaleArg::Off => 0.0,
                        ScaleArg::Computed => pilot_mean(x, &pilot),
                    };
                    moment_requests.push(MomentRequest { expr, shift });
                }
                VarKind::Numeric | VarKind::PolyRaw => {}
            }
        }
        let bar_table = formula
            .bars
            .iter()
            .map(|bar| {
                let mut columns: Vec<String> = Vec::new();
                for c in bar.group.iter().flat_map(|g| columns_of(g, &schema)) {
                    if !columns.contains(&c) {
                        columns.push(c);
                    }
                }
                tables.index(columns)
            })
            .collect();
        Ok(SumsSetup {
            formula,
            schema,
            contrasts,
            weights,
            kinds,
            used,
            distinct_requests: tables.columns,
            var_table,
            bar_table,
            moment_requests,
            pilot,
        })
    }

    /// Learn the design from the pass's answers: `distinct[t]` holds the
    /// distinct rows of `distinct_requests[t]`, `moments[i]` (n, s1, s2) of
    /// `moment_requests[i]`; `n_rows` and `n_complete` count the data's rows
    /// and those without missing values in `used`.
    pub fn learn(
        &self,
        distinct: Vec<DataFrame<'static>>,
        moments: &[(f64, f64, f64)],
        n_rows: usize,
        n_complete: usize,
    ) -> Result<SumsPlan> {
        if distinct.len() != self.distinct_requests.len() || moments.len() != self.moment_requests.len() {
            return Err(Error::Argument("the pass's answers do not match its requests".into()));
        }
        if n_complete == 0 {
            return Err(Error::Data("the data have no rows (after dropping rows with missing values)".into()));
        }
        let vars = self.learn_variables(&distinct, moments, &self.contrasts)?;
        let random_vars =
            if self.contrasts.is_empty() { None } else { Some(self.learn_variables(&distinct, moments, &[])?) };
        let groups = self
            .formula
            .bars
            .iter()
            .zip(&self.bar_table)
            .map(|(bar, &t)| GroupSpec::learn(bar, &distinct[t]))
            .collect::<Result<Vec<_>>>()?;
        let nlevels: Vec<usize> = groups.iter().map(|g| g.levels.len()).collect();
        let names: Vec<String> = self.formula.variables.iter().map(|v| v.name.clone()).collect();
        let fixed = column_recipes(&self.formula.fixed, &vars, &names)?;
        let spec = DesignSpec {
            formula: self.formula.clone(),
            vars,
            random_vars,
            groups,
            bar_order: lme4_term_order(&nlevels),
            fixed_keep: (0..fixed.len()).collect(),
            fixed_dropped: vec![],
        };
        let (x_centre, y_centre) = self.pilot_centres(&spec)?;
        let distinct = Arc::new(distinct);
        let columns = BasicColumns::new(&spec, &fixed, &names, &distinct, &self.var_table, &self.schema)?;
        let layout = columns.layout(&self.formula, self.weights.as_deref(), &x_centre);
        let x_exprs = columns.x.clone();
        let kind = |c: &str| self.schema.get(c).copied();
        let response = self.formula.response.as_ref().expect("checked by SumsSetup::new");
        let response_expr = ColumnExpr::of_numeric(response, &kind)?;
        let offset_expr = self
            .formula
            .offsets
            .iter()
            .map(|o| ColumnExpr::of_numeric(o, &kind))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .reduce(|a, b| ColumnExpr::binary(BinaryOp::Add, a, b));
        let z_exprs = columns.z.clone();
        let basic = columns.finish(&response_expr, offset_expr.as_ref(), &x_centre, y_centre, self.weights.as_deref());
        let mut tables: Vec<TableSpec> = Vec::new();
        let keys = |b: usize| self.distinct_requests[self.bar_table[b]].clone();
        for b in 0..self.formula.bars.len() {
            tables.push(TableSpec { keys: keys(b), sums: layout.term_products(b) });
        }
        for a in 0..self.formula.bars.len() {
            for b in a + 1..self.formula.bars.len() {
                let mut k = keys(a);
                k.extend(keys(b).into_iter().filter(|c| !keys(a).contains(c)));
                tables.push(TableSpec { keys: k, sums: layout.pair_products(a, b) });
            }
        }
        tables.push(TableSpec { keys: vec![], sums: layout.global_products() });
        Ok(SumsPlan {
            x_exprs,
            z_exprs,
            response_expr,
            offset_expr,
            x_names: fixed.iter().map(|r| r.name.clone()).collect(),
            x_assign: fixed.iter().map(|r| r.assign).collect(),
            spec,
            layout,
            basic,
            tables,
            distinct,
            bar_table: self.bar_table.clone(),
            x_centre,
            y_centre,
            n_rows,
            n_complete,
        })
    }

    fn learn_variables(
        &self,
        distinct: &[DataFrame<'static>],
        moments: &[(f64, f64, f64)],
        contrasts: &[(String, Contrasts)],
    ) -> Result<Vec<VarSpec>> {
        let mut next_moment = 0;
        let mut out = Vec::with_capacity(self.kinds.len());
        for (v, (var, kind)) in self.formula.variables.iter().zip(&self.kinds).enumerate() {
            out.push(match kind {
                VarKind::Factor => {
                    let table = &distinct[self.var_table[v].expect("a factor has its table")];
                    let spec = VarSpec::learn_from(&var.expr, LearningRows::same(table), contrasts)?;
                    if !spec.is_factor() {
                        return Err(Error::column(&var.name, "internal: expected a factor"));
                    }
                    spec
                }
                VarKind::Numeric => VarSpec::Numeric { expr: var.expr.clone() },
                VarKind::Scale => {
                    let (x, args) = call_args(&var.expr);
                    let (n, s1, s2) = moments[next_moment];
                    let shift = self.moment_requests[next_moment].shift;
                    next_moment += 1;
                    scale_from_moments(x, args, &var.name, n, shift, s1, s2)?
                }
                // Raw powers are learned from nothing but the formula.
                VarKind::PolyRaw => VarSpec::learn(&var.expr, &self.pilot, &[])?,
                VarKind::PolyOrthogonal => unreachable!("refused by SumsSetup::new"),
            });
        }
        Ok(out)
    }

    /// The means of X's columns and of the response (less offsets) over the pilot.
    fn pilot_centres(&self, spec: &DesignSpec) -> Result<(Vec<f64>, f64)> {
        let x = spec.fixed_matrix(&self.pilot)?;
        let x_centre = (0..x.ncols()).map(|j| finite_mean(x.column(j))).collect();
        let mut y = spec.numeric_response(&self.pilot)?;
        if let Some(o) = spec.offset(&self.pilot)? {
            y.iter_mut().zip(&o).for_each(|(v, ov)| *v -= ov);
        }
        Ok((x_centre, finite_mean(&y)))
    }
}

/// Column sets whose distinct rows a pass computes, each once.
#[derive(Default)]
struct DistinctTables {
    columns: Vec<Vec<String>>,
}

impl DistinctTables {
    fn index(&mut self, columns: Vec<String>) -> usize {
        if let Some(i) = self.columns.iter().position(|c| *c == columns) {
            return i;
        }
        self.columns.push(columns);
        self.columns.len() - 1
    }
}

/// The basic columns of a plan, built from the learned design.
struct BasicColumns {
    z: Vec<Vec<ColumnExpr>>,
    x: Vec<ColumnExpr>,
}

impl BasicColumns {
    fn new(
        spec: &DesignSpec,
        fixed: &[ColumnRecipe],
        names: &[String],
        distinct: &[DataFrame<'static>],
        var_table: &[Option<usize>],
        schema: &HashMap<String, bool>,
    ) -> Result<BasicColumns> {
        let kind = |c: &str| schema.get(c).copied();
        let random = spec.random_vars.as_ref().unwrap_or(&spec.vars);
        let recipe_expr = |r: &ColumnRecipe, specs: &[VarSpec]| -> Result<ColumnExpr> {
            let parts =
                r.parts.iter().map(|p| part_expr(p, specs, distinct, var_table, &kind)).collect::<Result<Vec<_>>>()?;
            Ok(ColumnExpr::product(parts))
        };
        let x = fixed.iter().map(|r| recipe_expr(r, &spec.vars)).collect::<Result<Vec<_>>>()?;
        let z = spec
            .formula
            .bars
            .iter()
            .map(|bar| {
                column_recipes(&bar.lhs, random, names)?
                    .iter()
                    .map(|r| recipe_expr(r, random))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(BasicColumns { z, x })
    }

    fn layout(&self, formula: &ModelFormula, weights: Option<&str>, x_centre: &[f64]) -> Layout {
        let q: Vec<usize> = self.z.iter().map(Vec::len).collect();
        let z_offset: Vec<usize> = q.iter().scan(0, |acc, &qb| Some(std::mem::replace(acc, *acc + qb))).collect();
        let x_first: usize = q.iter().sum();
        let y = x_first + x_centre.len();
        let (weight, log_weight) = if weights.is_some() { (Some(y + 1), Some(y + 2)) } else { (None, None) };
        let bad_y = y + 1 + 2 * usize::from(weights.is_some());
        let bad_weight = weights.map(|_| bad_y + 1);
        let intercept_only = formula.bars.iter().map(|b| b.lhs.intercept && b.lhs.terms.is_empty()).collect();
        Layout {
            q,
            z_offset,
            nx: x_centre.len(),
            x_first,
            y,
            weight,
            log_weight,
            bad_y,
            bad_weight,
            intercept_only,
            group_pieces: false,
        }
    }

    /// The basic columns in the layout's order, with their names.
    fn finish(
        self,
        response: &ColumnExpr,
        offset: Option<&ColumnExpr>,
        x_centre: &[f64],
        y_centre: f64,
        weights: Option<&str>,
    ) -> Vec<(String, ColumnExpr)> {
        let centred = |e: ColumnExpr, c: f64| ColumnExpr::binary(BinaryOp::Sub, e, ColumnExpr::Number(c));
        let mut out = Vec::new();
        for (b, zs) in self.z.into_iter().enumerate() {
            out.extend(zs.into_iter().enumerate().map(|(r, e)| (format!("z{b}_{r}"), e)));
        }
        out.extend(self.x.into_iter().zip(x_centre).enumerate().map(|(j, (e, c))| (format!("x{j}"), centred(e, *c))));
        let y = match offset {
            Some(o) => ColumnExpr::binary(BinaryOp::Sub, response.clone(), o.clone()),
            None => response.clone(),
        };
        out.push(("y".into(), centred(y.clone(), y_centre)));
        if let Some(w) = weights {
            let w = ColumnExpr::Column(w.to_string());
            out.push(("w".into(), w.clone()));
            out.push(("log_w".into(), ColumnExpr::unary(UnaryOp::Log, w.clone())));
            out.push(("bad_y".into(), ColumnExpr::unary(UnaryOp::NotFinite, y)));
            let not_positive = ColumnExpr::binary(BinaryOp::Le, w.clone(), ColumnExpr::Number(0.0));
            let bad = ColumnExpr::binary(BinaryOp::Or, not_positive, ColumnExpr::unary(UnaryOp::NotFinite, w));
            out.push(("bad_w".into(), bad));
        } else {
            out.push(("bad_y".into(), ColumnExpr::unary(UnaryOp::NotFinite, y)));
        }
        out
    }
}

/// One part of a recipe as an expression.
fn part_expr(
    part: &Part,
    specs: &[VarSpec],
    distinct: &[DataFrame<'static>],
    var_table: &[Option<usize>],
    kind: &dyn Fn(&str) -> Option<bool>,
) -> Result<ColumnExpr> {
    match part {
        Part::Numeric { var, column } => match &specs[*var] {
            VarSpec::Numeric { expr } => ColumnExpr::of_numeric(expr, kind),
            VarSpec::Basis { expr, basis, .. } => {
                let x = ColumnExpr::of_numeric(expr, kind)?;
                Ok(match basis {
                    // (x - center) / scale, as `Basis::evaluate`.
                    Basis::Scale { center, scale } => ColumnExpr::binary(
                        BinaryOp::Div,
                        ColumnExpr::binary(BinaryOp::Sub, x, ColumnExpr::Number(*center)),
                        ColumnExpr::Number(*scale),
                    ),
                    Basis::Raw { .. } => ColumnExpr::binary(BinaryOp::Pow, x, ColumnExpr::Number((*column + 1) as f64)),
                    Basis::Orthogonal { .. } => unreachable!("refused by SumsSetup::new"),
                })
            }
            VarSpec::Factor { .. } => Err(Error::Argument("internal: a numeric part of a factor".into())),
        },
        Part::Factor { var, by_level } => {
            let table =
                var_table[*var].ok_or_else(|| Error::Argument("internal: a factor without its table".into()))?;
            let Values::Factor { codes } = specs[*var].apply(&distinct[table])? else {
                return Err(Error::Argument("internal: a factor without codes".into()));
            };
            // Every distinct row is a complete row, so it has a level.
            let values = codes.iter().map(|&c| by_level.get(c as usize).copied().unwrap_or(f64::NAN)).collect();
            Ok(ColumnExpr::Lookup { table, values })
        }
    }
}

/// The data columns an expression reads (names that are columns of the data).
fn columns_of(e: &Expr, schema: &HashMap<String, bool>) -> Vec<String> {
    let mut out = Vec::new();
    e.column_names_where(&mut out, &|n| schema.contains_key(n));
    out
}

/// The first argument and all arguments of a call such as `scale(x, ...)`.
fn call_args(e: &Expr) -> (&Expr, &[crate::formula::Arg]) {
    match &e.unparen().kind {
        ExprKind::Call { args, .. } if !args.is_empty() => (&args[0].value, args.as_slice()),
        _ => (e, &[]),
    }
}

fn check_response(formula: &ModelFormula, schema: &HashMap<String, bool>) -> Result<()> {
    let Some(r) = &formula.response else {
        return Err(Error::formula(&formula.source, 0, "the formula has no response before '~'"));
    };
    if let ExprKind::Name(col) = &r.kind {
        if schema.get(col) == Some(&false) {
            return Err(Error::column(
                col,
                "the response is categorical; a linear mixed model needs a numeric response",
            ));
        }
    }
    Ok(())
}

/// The mean of an expression's finite values over the pilot (0 when none).
fn pilot_mean(x: &Expr, pilot: &DataFrame) -> f64 {
    crate::design::variable::eval_numeric(x, pilot).map_or(0.0, |v| finite_mean(&v))
}

fn finite_mean(v: &[f64]) -> f64 {
    let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if finite.is_empty() {
        0.0
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    }
}
