//! The parametric bootstrap of a GLMM (lme4's `bootMer` with new random
//! effects, `use.u = FALSE`): each replicate simulates a response from the
//! fitted model and refits the model to it (both stages, the first started at
//! the fit's theta; no Hessian). Replicates run in parallel, each from its
//! own generator seeded by (seed, replicate), so the draws and the refits do
//! not depend on the number of threads or on how the work is split. A
//! negative binomial keeps the fit's theta, as lme4's `refit()` does.

use rayon::prelude::*;

use crate::glmer::Glmer;
use crate::resample::{replicate_rng, Replicate};

/// Replicates `first..first + count` (a caller may run them in chunks and get
/// the same draws); a replicate whose refit fails is `None`.
pub fn parametric_bootstrap(g: &Glmer, first: u64, count: usize, seed: u64) -> Vec<Option<Replicate>> {
    let indices: Vec<u64> = (first..first + count as u64).collect();
    indices.par_iter().map(|&i| replicate(g, i, seed)).collect()
}

fn replicate(g: &Glmer, i: u64, seed: u64) -> Option<Replicate> {
    let conditioned = vec![false; g.pirls.modes.par.terms.len()]; // every term's effects drawn anew
    let y = g.simulate_one(&conditioned, &mut replicate_rng(seed, i));
    let fit = g.refit_response(y, false).ok()?;
    let scale = if fit.family.has_scale() { fit.sigma } else { 1.0 };
    Some(Replicate {
        sd_cor: g.pirls.modes.par.sd_cor(&fit.theta, scale),
        sigma: fit.sigma,
        objective: fit.objective,
        feval: fit.stage1.feval + fit.stage2.feval,
        theta: fit.theta,
        beta: fit.beta,
    })
}
