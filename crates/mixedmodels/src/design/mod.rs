//! From a formula and data to the arrays a model needs: the response, the
//! fixed-effects matrix X (R's contrasts and full-rank rules) and the
//! random-effects terms (lme4's order), plus everything learned on the way so
//! that new data can be put through the same steps (`predict`).

pub mod contrasts;
pub mod model_matrix;
pub mod predict;
pub mod random;
pub mod re_form;
pub mod variable;
pub mod weights;

pub use contrasts::Contrasts;
pub use model_matrix::{ModelMatrix, VariableTable};
pub use random::{GroupSpec, ReTerm};
pub use re_form::{ReForm, Selection};
pub use variable::{Basis, FactorSource, LearningRows, Values, VarSpec};
pub use weights::{prior_weights, WeightRule};

use crate::data::{Column, DataFrame};
use crate::error::{Error, Result};
use crate::formula::{ExprKind, ModelFormula};
use crate::linalg;

/// The arrays of a model on the rows of a data set.
#[derive(Debug, Clone)]
pub struct Design {
    pub x: ModelMatrix,
    /// Random-effects terms in lme4's order ([`random::lme4_term_order`]).
    pub terms: Vec<ReTerm>,
    pub offset: Option<Vec<f64>>,
}

/// Everything learned from the fitting data.
#[derive(Debug, Clone)]
pub struct DesignSpec {
    pub formula: ModelFormula,
    pub vars: Vec<VarSpec>,
    /// The variables as the random-effects terms code them, when they differ:
    /// like lmer(contrasts = ), user contrasts recode only the fixed effects.
    pub random_vars: Option<Vec<VarSpec>>,
    /// One per formula bar, in formula order.
    pub groups: Vec<GroupSpec>,
    /// Formula bars in lme4's term order.
    pub bar_order: Vec<usize>,
    /// Columns of the full X kept after dropping linearly dependent ones.
    pub fixed_keep: Vec<usize>,
    /// Names of the columns dropped for rank deficiency.
    pub fixed_dropped: Vec<String>,
}

/// Every column of X must have a finite sum of squares: values near 1e155
/// or beyond overflow it, and the rank check would then drop the column as
/// if it were dependent.
fn check_column_scale(x: &ModelMatrix) -> Result<()> {
    let n = x.nrows;
    for (j, name) in x.names.iter().enumerate() {
        let column = &x.values[j * n..(j + 1) * n];
        if !linalg::dot(column, column).is_finite() {
            let largest = column.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            return Err(Error::column(
                name,
                format!("values up to {largest:.2e} are too large for double precision arithmetic: rescale them"),
            ));
        }
    }
    Ok(())
}

/// R's tolerance for rank deficiency in X (lme4's `chkRank.drop.cols`).
const RANK_TOL: f64 = 1e-7;

impl DesignSpec {
    /// Learn the design from fitting data that had no rows dropped, and build its arrays.
    pub fn learn(
        formula: ModelFormula,
        data: &DataFrame,
        contrasts: &[(String, Contrasts)],
    ) -> Result<(DesignSpec, Design)> {
        Self::learn_from(formula, LearningRows::same(data), contrasts)
    }

    /// Learn the design and build its arrays on `rows.complete`, the rows
    /// the model is fitted on. As R's model frame, stateful transforms
    /// (`scale`, `poly`) learn their parameters over `rows.all`, every row
    /// of the data before the incomplete ones were dropped (see [`LearningRows`]).
    pub fn learn_from(
        formula: ModelFormula,
        rows: LearningRows,
        contrasts: &[(String, Contrasts)],
    ) -> Result<(DesignSpec, Design)> {
        let data = rows.complete;
        if data.nrows() == 0 {
            return Err(Error::Data("the data have no rows (after dropping rows with missing values)".into()));
        }
        let vars = formula
            .variables
            .iter()
            .map(|v| VarSpec::learn_from(&v.expr, rows, contrasts))
            .collect::<Result<Vec<_>>>()?;
        let groups = random::learn_groups(&formula.bars, data)?;
        let nlevels: Vec<usize> = groups.iter().map(|g| g.levels.len()).collect();
        let bar_order = random::lme4_term_order(&nlevels);
        let random_vars = if contrasts.is_empty() {
            None
        } else {
            Some(
                formula
                    .variables
                    .iter()
                    .map(|v| VarSpec::learn_from(&v.expr, rows, &[]))
                    .collect::<Result<Vec<_>>>()?,
            )
        };
        let mut spec =
            DesignSpec { formula, vars, random_vars, groups, bar_order, fixed_keep: vec![], fixed_dropped: vec![] };
        let values = spec.values(data)?;
        let full_x = spec.full_fixed_matrix(&values, data.nrows())?;
        check_column_scale(&full_x)?;
        spec.fixed_keep = linalg::independent_columns(&full_x.values, full_x.nrows, full_x.ncols(), RANK_TOL);
        spec.fixed_dropped =
            (0..full_x.ncols()).filter(|j| !spec.fixed_keep.contains(j)).map(|j| full_x.names[j].clone()).collect();
        let x = full_x.into_selected(&spec.fixed_keep);
        let terms = spec.re_terms_with(&values, data)?;
        for t in &terms {
            random::check_term(t, data.nrows())?;
        }
        let offset = spec.offset(data)?;
        Ok((spec, Design { x, terms, offset }))
    }

    /// The fixed-effects matrix for (new) data, with the fitted levels and
    /// coefficients, and the fitted model's columns.
    pub fn fixed_matrix(&self, data: &DataFrame) -> Result<ModelMatrix> {
        let values = self.values(data)?;
        Ok(self.full_fixed_matrix(&values, data.nrows())?.into_selected(&self.fixed_keep))
    }

    /// Each fixed-effects term: its label as R writes it, its variables, and
    /// which of them are numeric (not factors).
    pub fn fixed_terms(&self) -> Vec<(String, Vec<String>, Vec<bool>)> {
        let f = &self.formula;
        f.fixed
            .terms
            .iter()
            .map(|t| {
                let names: Vec<String> = t.0.iter().map(|v| f.variable_name(*v).to_string()).collect();
                let numeric = t.0.iter().map(|v| !self.vars[*v].is_factor()).collect();
                (names.join(":"), names, numeric)
            })
            .collect()
    }

    /// The arrays for (new) data, with the fitted levels and coefficients.
    pub fn apply(&self, data: &DataFrame) -> Result<Design> {
        let values = self.values(data)?;
        let x = self.full_fixed_matrix(&values, data.nrows())?.select(&self.fixed_keep);
        let terms = self.re_terms_with(&values, data)?;
        Ok(Design { x, terms, offset: self.offset(data)? })
    }

    /// R's `model.matrix` of a formula's fixed part, keeping every column
    /// (no rank check): used to build hypothesis matrices.
    pub fn model_matrix_full(
        formula: ModelFormula,
        data: &DataFrame,
        contrasts: &[(String, Contrasts)],
    ) -> Result<ModelMatrix> {
        let vars =
            formula.variables.iter().map(|v| VarSpec::learn(&v.expr, data, contrasts)).collect::<Result<Vec<_>>>()?;
        let spec = DesignSpec {
            formula,
            vars,
            random_vars: None,
            groups: vec![],
            bar_order: vec![],
            fixed_keep: vec![],
            fixed_dropped: vec![],
        };
        let values = spec.values(data)?;
        spec.full_fixed_matrix(&values, data.nrows())
    }

    fn values(&self, data: &DataFrame) -> Result<Vec<Values>> {
        self.vars.iter().map(|v| v.apply(data)).collect()
    }

    fn names(&self) -> Vec<String> {
        self.formula.variables.iter().map(|v| v.name.clone()).collect()
    }

    fn full_fixed_matrix(&self, values: &[Values], n: usize) -> Result<ModelMatrix> {
        let names = self.names();
        let table = VariableTable { specs: &self.vars, values, names: &names };
        model_matrix::model_matrix(&self.formula.fixed, &table, n)
    }

    fn re_terms_with(&self, values: &[Values], data: &DataFrame) -> Result<Vec<ReTerm>> {
        let names = self.names();
        let own_values;
        let (specs, values) = match &self.random_vars {
            Some(specs) => {
                own_values = specs.iter().map(|v| v.apply(data)).collect::<Result<Vec<_>>>()?;
                (specs.as_slice(), own_values.as_slice())
            }
            None => (self.vars.as_slice(), values),
        };
        let table = VariableTable { specs, values, names: &names };
        let mut terms: Vec<ReTerm> = Vec::with_capacity(self.bar_order.len());
        for (i, &b) in self.bar_order.iter().enumerate() {
            let bar = &self.formula.bars[b];
            let earlier = self.bar_order[..i].iter().position(|&o| random::same_grouping(&self.formula.bars[o], bar));
            let refs = match earlier {
                Some(k) => terms[k].refs.clone(),
                None => self.groups[b].refs(data)?,
            };
            terms.push(random::re_term_with_refs(bar, &self.groups[b], &table, data, refs)?);
        }
        Ok(terms)
    }

    /// The sum of the formula's `offset(...)` terms, if any.
    pub fn offset(&self, data: &DataFrame) -> Result<Option<Vec<f64>>> {
        let mut total: Option<Vec<f64>> = None;
        for e in &self.formula.offsets {
            let v = variable::eval_numeric(e, data)?;
            total = Some(match total {
                None => v,
                Some(t) => t.iter().zip(&v).map(|(a, b)| a + b).collect(),
            });
        }
        Ok(total)
    }

    /// The numeric response of a linear model.
    pub fn numeric_response(&self, data: &DataFrame) -> Result<Vec<f64>> {
        let Some(r) = &self.formula.response else {
            return Err(Error::formula(&self.formula.source, 0, "the formula has no response before '~'"));
        };
        if let ExprKind::Name(col) = &r.kind {
            if let Column::Factor(_) = data.get(col)? {
                return Err(Error::column(
                    col,
                    "the response is categorical; a linear mixed model needs a numeric response",
                ));
            }
        }
        let y = variable::eval_numeric(r, data)?;
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            return Err(Error::column(&r.deparse(), format!("the response is not finite at row {i} ({})", y[i])));
        }
        Ok(y)
    }
}
