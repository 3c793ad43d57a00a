//! Case deletion for generalized linear mixed models: exact refits only.
//! HLMdiag's one-step formulas rest on the linear model's marginal covariance
//! V, which a GLMM does not have (its Laplace approximation linearizes
//! around the conditional modes, which move when rows are deleted), so each
//! set of rows is deleted and the model refitted by glmer's two stages,
//! started at the full fit's theta, in parallel. Cook's distance and MDFFITS
//! use the Hessian-based covariance of beta (glmer's default `vcov()`) of
//! the full fit and of the refit.

use rayon::prelude::*;

use super::cross_validation::complement;
use super::measures::{measures, Measures, SpdFactor};
use super::varcomp::VarCompLayout;
use super::ExactDeletion;
use crate::error::{Error, Result};
use crate::glmer::Glmer;

/// Exact deletion of each set of rows (indices into the fit's rows).
pub fn set_influence(g: &Glmer, sets: &[Vec<usize>]) -> Result<Vec<ExactDeletion>> {
    let n = g.pirls.resp.n();
    let p = g.fit.beta.len();
    if p == 0 {
        return Err(Error::Argument("influence measures describe the fixed effects; this model has none".into()));
    }
    for s in sets {
        if s.is_empty() || s.len() >= n || s.iter().any(|&i| i >= n) {
            return Err(Error::Argument(format!("a deletion set must hold some but not all of the {n} rows")));
        }
    }
    let vcov = SpdFactor::new(&g.fit.vcov_beta, p)
        .ok_or_else(|| Error::Numerical("vcov(beta) is not positive definite".into()))?;
    let par = &g.pirls.joint.par;
    let with_sigma = g.fit.family.has_scale();
    let layout = VarCompLayout::new(par, &g.fit.theta, g.fit.sigma).without_sigma(!with_sigma);
    let full = layout.values(par, &g.fit.theta, g.fit.sigma);
    Ok(sets
        .par_iter()
        .map(|rows| match g.refit_rows(&complement(rows, n), true) {
            Ok(fit) if fit.beta.iter().all(|b| b.is_finite()) => {
                let delta: Vec<f64> = g.fit.beta.iter().zip(&fit.beta).map(|(a, b)| a - b).collect();
                ExactDeletion {
                    measures: measures(&vcov, &fit.vcov_beta, &delta),
                    rvc: layout.relative_change(par, &full, &fit.theta, fit.sigma),
                    converged: fit.stage1.converged && fit.stage2.converged && fit.vcov_from_hessian,
                    refit: None,
                }
            }
            _ => ExactDeletion {
                measures: Measures::NAN,
                rvc: vec![f64::NAN; full.len()],
                converged: false,
                refit: None,
            },
        })
        .collect())
}
