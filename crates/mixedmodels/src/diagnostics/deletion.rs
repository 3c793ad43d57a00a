//! The model without some rows, on the full model's structure: the
//! cross-products downdated by the rows' own share (`model::downdate`), no
//! pass over the data. A refit warm-starts at the full data's theta (as
//! lme4's `influence()`); refits of many deletion sets run in parallel, one
//! worker model a chunk of sets, each set's result independent of which
//! worker ran it (the worker's cross-products are restored from the full
//! ones after every set), so results do not depend on the number of threads.

use rayon::prelude::*;

use super::rows::shifted_response;
use crate::fit::optimize;
use crate::model::scatter::RowScatter;
use crate::model::{LinearMixedModel, RowData, RowsShare};
use crate::optim::OptimizerSettings;

/// The full model and what deleting rows from it needs.
pub struct DeletionSystem<'a> {
    pub full: &'a LinearMixedModel,
    scatter: RowScatter,
    /// The response as the cross-products hold it (minus its fit on X).
    y_shifted: Vec<f64>,
}

/// Sets are handed to workers in this many chunks a thread (refits differ in cost).
const CHUNKS_PER_THREAD: usize = 4;

impl<'a> DeletionSystem<'a> {
    /// `full`'s factor at the fitted theta.
    pub fn new(full: &'a LinearMixedModel) -> DeletionSystem<'a> {
        let scatter = RowScatter::new(&full.cp, full.system_terms());
        let y_shifted = shifted_response(full);
        DeletionSystem { full, scatter, y_shifted }
    }

    /// The share of `rows` in the full cross-products.
    pub fn share(&self, rows: &[usize]) -> RowsShare {
        let f = self.full;
        let data = RowData { x: &f.x, y: &self.y_shifted, weights: f.weights.as_deref(), terms: f.system_terms() };
        f.cp.rows_share(&self.scatter, data, rows)
    }

    /// `f` on `work` (a replicate of the full model) with `rows` deleted;
    /// `work`'s cross-products are the full ones again afterwards.
    pub fn with_deleted<T>(
        &self,
        work: &mut LinearMixedModel,
        rows: &[usize],
        f: impl FnOnce(&mut LinearMixedModel) -> T,
    ) -> T {
        with_share(self.full, work, &self.share(rows), f)
    }

    /// `f` for each deletion set, in parallel; results in the sets' order.
    pub fn par_map<T: Send>(&self, sets: &[Vec<usize>], f: impl Fn(&mut LinearMixedModel) -> T + Sync) -> Vec<T> {
        par_map_shares(self.full, sets.len(), |i| self.share(&sets[i]), |_, work| f(work))
    }
}

/// `f` on `work` (a replicate of `full`) with `share` deleted from the
/// cross-products; `work`'s cross-products are the full ones again afterwards.
pub fn with_share<T>(
    full: &LinearMixedModel,
    work: &mut LinearMixedModel,
    share: &RowsShare,
    f: impl FnOnce(&mut LinearMixedModel) -> T,
) -> T {
    work.cp.set_downdated(&full.cp, share);
    let out = f(work);
    work.cp.restore(&full.cp, share);
    out
}

/// `f(i, work)` for `count` deletions, the i-th deleting `share(i)` from
/// `full`, in parallel (one replicate of `full` a chunk); results in order.
/// The shares come from rows ([`DeletionSystem`]) or from the reduced
/// statistics of an out-of-core fit (`sums::group_share`).
pub fn par_map_shares<T: Send>(
    full: &LinearMixedModel,
    count: usize,
    share: impl Fn(usize) -> RowsShare + Sync,
    f: impl Fn(usize, &mut LinearMixedModel) -> T + Sync,
) -> Vec<T> {
    let threads = rayon::current_num_threads().max(1);
    let chunk = count.div_ceil(threads * CHUNKS_PER_THREAD).max(1);
    let indices: Vec<usize> = (0..count).collect();
    indices
        .par_chunks(chunk)
        .flat_map_iter(|chunk| {
            let mut work = full.replicate();
            chunk.iter().map(|&i| with_share(full, &mut work, &share(i), |w| f(i, w))).collect::<Vec<_>>()
        })
        .collect()
}

/// A refit without some rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Refit {
    pub theta: Vec<f64>,
    pub beta: Vec<f64>,
    pub sigma: f64,
    /// vcov(beta) = sigma^2 (R_X'R_X)^{-1}, p x p.
    pub vcov: Vec<f64>,
    /// Conditional modes, one vector a term (levels without rows have zeros).
    pub ranef: Vec<Vec<f64>>,
    /// The REML criterion or deviance at the optimum.
    pub objective: f64,
    pub feval: usize,
    pub converged: bool,
}

/// Refit `work` (already downdated) from `start`, by REML or ML as `work`
/// is set; None if the optimizer fails or the system is not positive definite
/// at the optimum (e.g. X without the rows is rank deficient).
pub fn refit(work: &mut LinearMixedModel, start: &[f64], settings: OptimizerSettings) -> Option<Refit> {
    let opt = optimize(work, start, settings).ok()?;
    if !work.factor.ok {
        return None;
    }
    at_current_theta(work).map(|(beta, sigma, vcov)| Refit {
        theta: opt.final_theta.clone(),
        beta,
        sigma,
        vcov,
        ranef: work.ranef(),
        objective: opt.fmin,
        feval: opt.feval,
        converged: opt.converged,
    })
}

/// beta, sigma and vcov(beta) at `work`'s current factor, None unless finite.
pub fn at_current_theta(work: &LinearMixedModel) -> Option<(Vec<f64>, f64, Vec<f64>)> {
    if !work.factor.ok {
        return None;
    }
    let beta = work.beta();
    let sigma = work.sigma();
    let vcov: Vec<f64> = work.unscaled_vcov().iter().map(|v| v * sigma * sigma).collect();
    let finite = sigma.is_finite() && beta.iter().chain(&vcov).all(|v| v.is_finite());
    finite.then_some((beta, sigma, vcov))
}

/// The settings of a warm-started refit: a smaller first trust region than a
/// cold start's (the optimum without a few rows is near the full one).
pub fn warm_settings(base: OptimizerSettings) -> OptimizerSettings {
    OptimizerSettings { rho_begin: base.rho_begin.min(0.05), ..base }
}
