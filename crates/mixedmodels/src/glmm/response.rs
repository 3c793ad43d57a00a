//! The response of a GLMM as R's families accept it: for the binomial, 0/1
//! numbers, booleans, a two-level factor (the second level is a success), a
//! proportion with the trials as weights, or `cbind(successes, failures)`
//! with arithmetic inside; counts for the Poisson; positive values for the
//! Gamma and inverse Gaussian. R's warnings about the response live here too:
//! non-integer counts, and fitted probabilities of 0 or 1 (complete separation).

use super::family::{Distribution, Family};
use super::pirls::GlmmResponse;
use crate::data::{Column, DataFrame};
use crate::design::variable::eval_numeric;
use crate::error::{Error, Result};
use crate::formula::{Expr, ExprKind};

/// Build the response from the formula's left-hand side.
pub fn glmm_response(
    family: Family,
    lhs: &Expr,
    data: &DataFrame,
    prior_weights: Option<Vec<f64>>,
    offset: Option<Vec<f64>>,
) -> Result<GlmmResponse> {
    let n = data.nrows();
    let name = lhs.deparse();
    // Checked where they were read (`design::prior_weights`).
    let prior = prior_weights.unwrap_or_else(|| vec![1.0; n]);
    let mut warnings = Vec::new();
    let (y, trials, weights): (Vec<f64>, Vec<f64>, Vec<f64>) = match (&lhs.kind, family.dist) {
        (ExprKind::Call { func, args }, Distribution::Binomial) if func == "cbind" => {
            if args.len() != 2 {
                return Err(Error::column(&name, "cbind() needs two columns: successes and failures"));
            }
            let s = eval_numeric(&args[0].value, data)?;
            let f = eval_numeric(&args[1].value, data)?;
            if let Some(i) = (0..n).find(|&i| s[i] < 0.0 || f[i] < 0.0 || !s[i].is_finite() || !f[i].is_finite()) {
                return Err(Error::column(
                    &name,
                    format!("successes and failures must be non-negative counts (row {i})"),
                ));
            }
            if !(all_whole(&s) && all_whole(&f)) {
                warnings.push("non-integer counts in a binomial glm!".to_string());
            }
            let total: Vec<f64> = s.iter().zip(&f).map(|(a, b)| a + b).collect();
            let y = (0..n).map(|i| if total[i] > 0.0 { s[i] / total[i] } else { 0.0 }).collect();
            let w = (0..n).map(|i| prior[i] * total[i]).collect();
            (y, total, w)
        }
        (ExprKind::Name(col), Distribution::Binomial) if matches!(data.get(col)?, Column::Factor(_)) => {
            let Column::Factor(f) = data.get(col)? else { unreachable!() };
            if f.levels.len() < 2 {
                return Err(Error::column(col, "a binomial factor response needs two levels"));
            }
            // As R: the first level is failure, any other level success.
            let y: Vec<f64> = f.codes.iter().map(|&c| if c == 0 { 0.0 } else { 1.0 }).collect();
            (y, vec![1.0; n], prior.clone())
        }
        (_, Distribution::Binomial) => {
            let y = eval_numeric(lhs, data)?;
            if let Some(i) = y.iter().position(|v| !(0.0..=1.0).contains(v)) {
                return Err(Error::column(
                    &name,
                    format!("a binomial response must lie in [0, 1] (row {i} has {})", y[i]),
                ));
            }
            // A proportion with weights: the weights are the trials (R's glm).
            (y, prior.clone(), prior.clone())
        }
        (_, dist) => {
            if let ExprKind::Name(col) = &lhs.kind {
                if let Column::Factor(_) = data.get(col)? {
                    return Err(Error::column(
                        col,
                        format!("the response is categorical; the {} family needs numbers", family.r_name()),
                    ));
                }
            }
            let y = eval_numeric(lhs, data)?;
            check_range(&name, &y, dist)?;
            if dist == Distribution::Poisson && !all_whole(&y) {
                warnings.push(
                    "non-integer counts in a Poisson model: the log-likelihood uses lgamma(y + 1) \
                     (lme4's glmer cannot fit these data: its deviance is infinite)"
                        .into(),
                );
            }
            (y, vec![1.0; n], prior.clone())
        }
    };
    let cbind = matches!(&lhs.kind, ExprKind::Call { func, .. } if func == "cbind");
    if family.dist == Distribution::Binomial && !cbind {
        let successes: Vec<f64> = y.iter().zip(&weights).map(|(y, w)| y * w).collect();
        if !all_whole(&successes) {
            warnings.push(
                "non-integer #successes in a binomial glm! (a proportion needs the numbers of trials as weights)"
                    .into(),
            );
        }
    }
    if weights.iter().all(|w| *w == 0.0) {
        return Err(Error::Data("every observation has zero weight".into()));
    }
    if let Some(i) = weights.iter().position(|w| *w == 0.0) {
        return Err(Error::Data(format!("row {i} has zero weight (no trials); drop such rows before fitting")));
    }
    check_not_constant(&name, &y, family.dist)?;
    let offset = offset.unwrap_or_else(|| vec![0.0; n]);
    let mut response = GlmmResponse::new(family, y, trials, weights, offset);
    response.warnings = warnings;
    Ok(response)
}

/// Are the values whole numbers (to R's tolerance of 1e-3)?
fn all_whole(values: &[f64]) -> bool {
    values.iter().all(|v| (v - v.round()).abs() <= 1e-3)
}

impl GlmmResponse {
    /// glm's warning when fitted probabilities reach 0 or 1 (within 10 eps):
    /// a predictor or grouping factor separates the response.
    pub fn fitted_warnings(&self, mu: &[f64]) -> Vec<String> {
        let eps = 10.0 * f64::EPSILON;
        if self.family.dist == Distribution::Binomial && mu.iter().any(|m| *m < eps || *m > 1.0 - eps) {
            return vec!["fitted probabilities numerically 0 or 1 occurred: a predictor or grouping factor may \
                         separate the response completely; the estimates and standard errors of the separating \
                         terms are not meaningful"
                .into()];
        }
        vec![]
    }
}

fn check_range(name: &str, y: &[f64], dist: Distribution) -> Result<()> {
    let bad = |i: usize, what: &str| Err(Error::column(name, format!("{what} (row {i} has {})", y[i])));
    match dist {
        Distribution::Poisson => {
            if let Some(i) = y.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return bad(i, "a Poisson response must be non-negative counts");
            }
        }
        Distribution::NegativeBinomial { .. } => {
            if let Some(i) = y.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return bad(i, "a negative binomial response must be non-negative counts");
            }
        }
        Distribution::Gamma | Distribution::InverseGaussian => {
            if let Some(i) = y.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
                return bad(i, "this family needs a positive response");
            }
        }
        Distribution::Binomial => {}
    }
    Ok(())
}

/// A binary response that never varies (every row a failure, or every row a
/// success), or counts that are all zero, leave nothing to model:
/// the estimates would run off to infinity. R's glmer stops ("Response is
/// constant") as well.
fn check_not_constant(name: &str, y: &[f64], dist: Distribution) -> Result<()> {
    let all = |v: f64| y.iter().all(|x| *x == v);
    let constant = match dist {
        Distribution::Binomial => all(0.0) || all(1.0),
        Distribution::Poisson | Distribution::NegativeBinomial { .. } => all(0.0),
        Distribution::Gamma | Distribution::InverseGaussian => false,
    };
    if constant && !y.is_empty() {
        return Err(Error::column(
            name,
            format!("the response is constant (every row is {}): there is nothing to model", y[0]),
        ));
    }
    Ok(())
}
