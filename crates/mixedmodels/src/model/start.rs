//! A data-driven start for theta. lme4 starts every term at the identity;
//! where the optimum is far from it, BOBYQA spends most of its evaluations
//! getting there. For scalar intercept terms a method-of-moments estimate
//! from the least-squares residuals e is cheap and usually close: with
//! level means m_j over n_j rows, E[m_j^2] ~ sigma_k^2 + sigma^2 / n_j, so
//! sigma_k^2 ~ mean_j(m_j^2) - var(e) mean_j(1/n_j), and
//! theta_k = sigma_k / sigma with sigma^2 ~ var(e) - sum_k sigma_k^2.
//! Other terms keep lme4's start.

use super::lambda::Parameterization;
use crate::design::ReTerm;

/// Smallest starting value, so the optimizer can still move a term off zero.
const MIN_START: f64 = 0.05;
const MAX_START: f64 = 10.0;

/// What the start reads of the residuals: their mean and variance over the
/// rows, and for each term whose moments it estimates, the sum of
/// (e - mean) and the number of rows of each level (None for other terms).
#[derive(Debug, Clone, PartialEq)]
pub struct ResidualSummary {
    pub mean: f64,
    /// sum (e - mean)^2 / n.
    pub var: f64,
    pub levels: Vec<Option<LevelSums>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LevelSums {
    pub sum: Vec<f64>,
    pub count: Vec<f64>,
}

/// The terms whose moments the start estimates: an intercept that is its
/// factor's sole term. Beside other terms on the same factor (`(f || g)` is
/// `(1 | g) + (0 + f | g)`) the between-level variance is shared among
/// them, and starting the intercept there led BOBYQA to a worse local
/// optimum than lme4's start (machines, `score ~ Machine + (Machine ||
/// Worker)`: 211.78 against 208.31). `intercept_only[k]`: term k's one
/// column is the constant 1.
pub fn moment_terms(terms: &[ReTerm], intercept_only: &[bool]) -> Vec<bool> {
    terms
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let shares_factor = terms.iter().enumerate().any(|(j, o)| j != k && o.group == t.group);
            t.q() == 1 && !shares_factor && intercept_only[k]
        })
        .collect()
}

/// `resid`: y minus its least-squares fit on X.
pub fn moment_start(resid: &[f64], terms: &[ReTerm], par: &Parameterization) -> Vec<f64> {
    let intercept_only: Vec<bool> = terms.iter().map(|t| t.z.iter().all(|z| *z == 1.0)).collect();
    let n = resid.len() as f64;
    let mean = resid.iter().sum::<f64>() / n;
    let var = resid.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n;
    let levels = terms
        .iter()
        .zip(moment_terms(terms, &intercept_only))
        .map(|(t, used)| used.then(|| level_sums(resid, mean, t)))
        .collect();
    start_from_summary(&ResidualSummary { mean, var, levels }, par)
}

/// The start from a summary of the residuals (in memory: [`moment_start`];
/// out of core: from the reduced statistics).
pub fn start_from_summary(summary: &ResidualSummary, par: &Parameterization) -> Vec<f64> {
    let mut theta = par.initial_theta();
    let var_e = summary.var;
    if var_e.is_nan() || var_e <= 0.0 {
        return theta;
    }
    let sigma2: Vec<Option<f64>> =
        summary.levels.iter().map(|l| l.as_ref().map(|l| between_level_variance(l, var_e))).collect();
    let total: f64 = sigma2.iter().flatten().sum();
    let residual = (var_e - total).max(var_e / 10.0);
    for (k, s2) in sigma2.iter().enumerate() {
        if let Some(s2) = s2 {
            theta[par.terms[k].theta_offset] = (s2 / residual).sqrt().clamp(MIN_START, MAX_START);
        }
    }
    theta
}

fn level_sums(resid: &[f64], mean: f64, t: &ReTerm) -> LevelSums {
    let l = t.nlevels();
    let mut sum = vec![0.0; l];
    let mut count = vec![0.0; l];
    for (e, &r) in resid.iter().zip(&t.refs) {
        sum[r as usize] += e - mean;
        count[r as usize] += 1.0;
    }
    LevelSums { sum, count }
}

fn between_level_variance(levels: &LevelSums, var_e: f64) -> f64 {
    let l = levels.sum.len();
    let (mut m2, mut inv_n) = (0.0, 0.0);
    for (s, &c) in levels.sum.iter().zip(&levels.count) {
        if c > 0.0 {
            m2 += (s / c).powi(2);
            inv_n += 1.0 / c;
        }
    }
    (m2 / l as f64 - var_e * inv_n / l as f64).max(0.0)
}
