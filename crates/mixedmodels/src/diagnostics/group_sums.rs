//! Group deletion and group cross-validation of a fit from sums (an
//! out-of-core fit, [`crate::sums`]): the same downdated systems and refits
//! as in memory (`deletion`, `one_step`, `cross_validation`), with each
//! group's share of the cross-products taken from the per-group pieces of
//! the reduced statistics ([`crate::sums::group_share`]) instead of its rows.
//!
//! One-step measures are those the in-memory code gets by refactoring the
//! downdated system at the full theta (exact GLS with V fixed, the same
//! numbers as its local Woodbury solve). Held-out prediction errors come
//! as sums ([`HeldOut`]): a score that needs each row's error (the mean
//! absolute error, a user's function) is not available from sums.

use super::deletion::{self, par_map_shares, warm_settings};
use super::measures::{Measures, SpdFactor};
use super::{check_fixed_effects, exact_deletions, fitted_model, one_step, ExactDeletion};
use crate::error::{Error, Result};
use crate::lmer::Lmer;
use crate::sums::group_share::{GroupDeletion, HeldOut};

/// The deletion of levels of `factor` from an out-of-core fit.
fn deletion_of<'a>(m: &'a Lmer, factor: &str) -> Result<GroupDeletion<'a>> {
    let Some(pieces) = &m.group_pieces else {
        return Err(Error::Data(
            "this out-of-core fit did not sum the per-group pieces that deleting a group needs (fit(group_sums=False), \
             or fit(group_sums=None) with the pieces estimated larger than mixedmodels.sources.base.GROUP_SUMS_MAX_BYTES): \
             fit again with fit(group_sums=True) to keep them"
                .into(),
        ));
    };
    pieces.deletion(factor)
}

/// Each level of `factor` deleted in turn: one-step measures (`exact` false)
/// or refits (true), one a level, in the levels' order.
pub fn influence(m: &Lmer, factor: &str, exact: bool) -> Result<Vec<ExactDeletion>> {
    check_fixed_effects(m)?;
    let del = deletion_of(m, factor)?;
    let model = fitted_model(m);
    let count = del.nlevels();
    let share = |i: usize| del.share(&model.cp, &[i]);
    if exact {
        return exact_deletions(m, &model, count, share);
    }
    let sigma = m.fit.sigma;
    let vcov: Vec<f64> = model.unscaled_vcov().iter().map(|v| v * sigma * sigma).collect();
    let v_factor = SpdFactor::new(&vcov, m.fit.p)
        .ok_or_else(|| Error::Numerical("vcov(beta) is not positive definite at the fitted parameters".into()))?;
    let (theta, beta) = (model.theta.clone(), model.beta());
    let measures: Vec<Measures> =
        par_map_shares(&model, count, share, |_, work| one_step::refactored(work, &theta, &beta, sigma, &v_factor));
    Ok(measures
        .into_iter()
        .map(|measures| ExactDeletion { measures, rvc: vec![], converged: true, refit: None })
        .collect())
}

/// One fold of group cross-validation from sums.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldOutFold {
    /// The held-out rows' sums; `sse` NaN if the refit failed.
    pub held_out: HeldOut,
    pub converged: bool,
}

/// Refit without each fold's levels of `factor` (REML when `reml`, else
/// ML) and sum the fold's prediction errors at the population level.
pub fn cross_validate(m: &Lmer, factor: &str, folds: &[Vec<usize>], reml: bool) -> Result<Vec<HeldOutFold>> {
    let del = deletion_of(m, factor)?;
    if let Some(f) = folds.iter().find(|f| f.is_empty() || f.iter().any(|&l| l >= del.nlevels())) {
        return Err(Error::Argument(format!("a fold names no level or a level outside 0..{}: {f:?}", del.nlevels())));
    }
    let mut model = fitted_model(m);
    model.reml = reml;
    let settings = warm_settings(m.options.fit.optimizer);
    let refits = par_map_shares(
        &model,
        folds.len(),
        |i| del.share(&model.cp, &folds[i]),
        |_, work| deletion::refit(work, &m.fit.theta, settings).map(|r| (r.beta, r.converged)),
    );
    Ok(folds
        .iter()
        .zip(refits)
        .map(|(levels, refit)| match refit {
            Some((beta, converged)) => HeldOutFold { held_out: del.held_out(levels, &beta), converged },
            None => {
                let mut held_out = del.held_out(levels, &vec![0.0; m.fit.p]);
                held_out.sse = f64::NAN;
                HeldOutFold { held_out, converged: false }
            }
        })
        .collect())
}
