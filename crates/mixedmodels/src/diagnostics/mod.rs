//! Influence diagnostics, residual tables and cross-validation of fitted
//! mixed models, as R's HLMdiag defines them, computed from the blocked
//! Cholesky factor and the cross-products: nothing n x n is ever formed.
//!
//! - [`leverage`], [`one_step`]: HLMdiag's leverages and one-step deletion
//!   measures (`hlm_influence(approx = TRUE)`), for observations or sets of
//!   rows, from parts of the inverse of the penalized system ([`inverse`]).
//! - [`deletion`]: the model without some rows, by downdating the
//!   cross-products, and warm-started refits in parallel (`approx = FALSE`,
//!   lme4's `influence()`), with [`varcomp`]'s relative variance change.
//! - [`measures`]: Cook's distance, MDFFITS, COVTRACE and COVRATIO.
//! - [`residuals`], [`ls_resid`]: HLMdiag's `hlm_resid` residuals (marginal,
//!   conditional, least-squares).
//! - [`cross_validation`]: group and observation folds, refitted on the
//!   downdated system, predicted at the population or the group level.
//! - [`glmm`]: deletion refits of generalized models.
//! - [`group_sums`]: group deletion and group cross-validation of an
//!   out-of-core fit, from its reduced statistics.

pub mod cross_validation;
pub mod deletion;
pub mod glmm;
pub mod group_sums;
pub mod inverse;
pub mod leverage;
pub mod ls_resid;
pub mod measures;
pub mod one_step;
pub mod residuals;
pub mod rows;
pub mod varcomp;

pub use leverage::Leverage;
pub use measures::Measures;
pub use one_step::ObservationDiagnostics;

use crate::error::{Error, Result};
use crate::lmer::Lmer;
use crate::model::LinearMixedModel;
use deletion::{warm_settings, DeletionSystem, Refit};
use inverse::PlsInverse;
use measures::{measures, SpdFactor};
use rows::Rows;
use varcomp::VarCompLayout;

/// A copy of the fitted model with its factor at the fitted theta.
pub fn fitted_model(m: &Lmer) -> LinearMixedModel {
    let mut work = m.model.replicate();
    work.set_theta(&m.fit.theta);
    work
}

pub(crate) fn check_fixed_effects(m: &Lmer) -> Result<()> {
    if m.fit.p == 0 {
        return Err(Error::Argument("influence measures describe the fixed effects; this model has none".into()));
    }
    Ok(())
}

/// HLMdiag's `hlm_influence(level = 1)`: one-step measures and the four
/// leverages of every observation used in the fit.
pub fn observation_influence(m: &Lmer) -> Result<ObservationDiagnostics> {
    check_fixed_effects(m)?;
    let model = fitted_model(m);
    let inv = PlsInverse::new(&model);
    let rows = Rows::new(&model);
    one_step::observations(&inv, &rows, m.fit.sigma)
}

/// One-step measures for deleting each set of rows (`hlm_influence(level = g)`).
pub fn set_influence_one_step(m: &Lmer, sets: &[Vec<usize>]) -> Result<Vec<Measures>> {
    set_influence_one_step_with(m, sets, one_step::LOCAL_MAX)
}

/// [`set_influence_one_step`], solving sets of at most `local_max`
/// coordinates locally and refactoring the downdated system for the others
/// (both exact; the choice is one of speed).
pub fn set_influence_one_step_with(m: &Lmer, sets: &[Vec<usize>], local_max: usize) -> Result<Vec<Measures>> {
    check_fixed_effects(m)?;
    check_sets(m, sets)?;
    let model = fitted_model(m);
    let inv = PlsInverse::new(&model);
    let rows = Rows::new(&model);
    one_step::sets(&inv, &rows, m.fit.sigma, sets, local_max)
}

/// The result of refitting without one set of rows.
#[derive(Debug, Clone)]
pub struct ExactDeletion {
    pub measures: Measures,
    /// Relative variance change, in [`rvc_names`]' order (NaN if the refit failed).
    pub rvc: Vec<f64>,
    /// Did the refit's optimizer converge (false if it failed)?
    pub converged: bool,
    /// The refit of a linear mixed model.
    pub refit: Option<Refit>,
}

/// The names of the relative variance changes: `sigma2`, `D11`, ...
pub fn rvc_names(m: &Lmer) -> Vec<String> {
    VarCompLayout::new(&m.model.par, &m.fit.theta, m.fit.sigma).names
}

/// [`rvc_names`] of a generalized model (no `sigma2` without a dispersion).
pub fn rvc_names_glmm(g: &crate::glmer::Glmer) -> Vec<String> {
    let layout = VarCompLayout::new(&g.pirls.joint.par, &g.fit.theta, g.fit.sigma);
    layout.without_sigma(!g.fit.family.has_scale()).names
}

/// Exact deletion (`hlm_influence(approx = FALSE)`, lme4's `influence()`):
/// the model refitted without each set of rows (REML or ML as it was
/// fitted), warm-started at the fitted theta, in parallel.
pub fn set_influence_exact(m: &Lmer, sets: &[Vec<usize>]) -> Result<Vec<ExactDeletion>> {
    check_fixed_effects(m)?;
    check_sets(m, sets)?;
    let model = fitted_model(m);
    let system = DeletionSystem::new(&model);
    exact_deletions(m, &model, sets.len(), |i| system.share(&sets[i]))
}

/// Exact deletion of `count` shares of the cross-products (`share(i)`) from
/// `model` (the fitted model at its theta): refits and their measures.
pub(crate) fn exact_deletions(
    m: &Lmer,
    model: &LinearMixedModel,
    count: usize,
    share: impl Fn(usize) -> crate::model::RowsShare + Sync,
) -> Result<Vec<ExactDeletion>> {
    let p = m.fit.p;
    let vcov = SpdFactor::new(&m.fit.vcov_beta, p)
        .ok_or_else(|| Error::Numerical("vcov(beta) is not positive definite".into()))?;
    let layout = VarCompLayout::new(&model.par, &m.fit.theta, m.fit.sigma);
    let full = layout.values(&model.par, &m.fit.theta, m.fit.sigma);
    let settings = warm_settings(m.options.fit.optimizer);
    let refits = deletion::par_map_shares(model, count, share, |_, work| deletion::refit(work, &m.fit.theta, settings));
    Ok(refits
        .into_iter()
        .map(|refit| match refit {
            Some(r) => {
                let delta: Vec<f64> = m.fit.beta.iter().zip(&r.beta).map(|(a, b)| a - b).collect();
                ExactDeletion {
                    measures: measures(&vcov, &r.vcov, &delta),
                    rvc: layout.relative_change(&model.par, &full, &r.theta, r.sigma),
                    converged: r.converged,
                    refit: Some(r),
                }
            }
            None => ExactDeletion {
                measures: Measures::NAN,
                rvc: vec![f64::NAN; full.len()],
                converged: false,
                refit: None,
            },
        })
        .collect())
}

/// The marginal residuals y - X beta - offset and fitted values X beta + offset
/// (HLMdiag's `.mar.resid`, `.mar.fitted`).
pub fn marginal_residuals(m: &Lmer) -> (Vec<f64>, Vec<f64>) {
    let resid = residuals::marginal(&m.model, &m.fit.beta);
    let observed = observed_response(m);
    let fitted = observed.iter().zip(&resid).map(|(y, r)| y - r).collect();
    (resid, fitted)
}

/// The response as observed (the model holds it minus any offset).
fn observed_response(m: &Lmer) -> Vec<f64> {
    match &m.offset {
        Some(o) => m.model.y.iter().zip(o).map(|(y, o)| y + o).collect(),
        None => m.model.y.clone(),
    }
}

/// HLMdiag's `.chol.mar.resid`: L^{-1} (y - X beta) for V = L L'.
pub fn cholesky_marginal_residuals(m: &Lmer) -> Result<Vec<f64>> {
    let model = fitted_model(m);
    residuals::cholesky_marginal(&Rows::new(&model), &m.fit.beta, m.fit.sigma)
}

/// HLMdiag's level-1 LS residuals, in the levels of the first term.
pub fn ls_residuals(m: &Lmer) -> ls_resid::LsRows {
    ls_resid::level1(&m.model, &observed_response(m))
}

/// HLMdiag's group-level LS residuals of grouping factor `group`: the names
/// of the random-effect columns that are also fixed-effect columns, the
/// factor's levels, and the residuals (level-major).
pub fn ls_group_residuals(m: &Lmer, group: &str) -> Result<(Vec<String>, Vec<String>, ls_resid::LsGroups)> {
    let terms = m.terms();
    let Some(k) = terms.iter().position(|t| t.group == group) else {
        return Err(Error::Argument(format!("'{group}' is not a grouping factor of the model")));
    };
    let term = &terms[k];
    let mut names = Vec::new();
    let mut columns = Vec::new();
    for t in terms.iter().filter(|t| t.group == group) {
        for c in &t.cnames {
            if let Some(j) = m.fixed_names.iter().position(|f| f == c) {
                if !names.contains(c) {
                    names.push(c.clone());
                    columns.push(j);
                }
            }
        }
    }
    let enclosing = enclosing_levels(terms, k);
    let values = ls_resid::group_level(
        &m.model,
        &observed_response(m),
        &term.refs,
        term.nlevels(),
        &columns,
        enclosing.as_deref(),
    );
    Ok((names, term.levels.clone(), values))
}

/// For a nested model: the level of an enclosing factor of each level of
/// term `k` (the one with most levels among the factors with fewer levels
/// in which `k` nests); None if there is none.
fn enclosing_levels(terms: &[crate::design::ReTerm], k: usize) -> Option<Vec<usize>> {
    let t = &terms[k];
    terms
        .iter()
        .filter(|o| o.group != t.group && o.nlevels() < t.nlevels())
        .filter_map(|o| {
            let mut map = vec![usize::MAX; t.nlevels()];
            for (a, b) in t.refs.iter().zip(&o.refs) {
                let (a, b) = (*a as usize, *b as usize);
                if map[a] == usize::MAX {
                    map[a] = b;
                } else if map[a] != b {
                    return None;
                }
            }
            Some((o.nlevels(), map))
        })
        .max_by_key(|(levels, _)| *levels)
        .map(|(_, map)| map)
}

/// Every set must name rows of the fit, and leave some behind.
fn check_sets(m: &Lmer, sets: &[Vec<usize>]) -> Result<()> {
    let n = m.fit.n;
    for s in sets {
        if let Some(i) = s.iter().find(|&&i| i >= n) {
            return Err(Error::Argument(format!("row {i} is not one of the fit's {n} rows")));
        }
        if s.len() >= n {
            return Err(Error::Argument("a deletion set holds every row of the fit".into()));
        }
        let mut sorted = s.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::Argument("a deletion set names a row twice".into()));
        }
    }
    Ok(())
}
