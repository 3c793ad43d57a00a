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

/// `resid`: y minus its least-squares fit on X.
pub fn moment_start(resid: &[f64], terms: &[ReTerm], par: &Parameterization) -> Vec<f64> {
    let mut theta = par.initial_theta();
    let n = resid.len() as f64;
    let mean = resid.iter().sum::<f64>() / n;
    let var_e = resid.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n;
    if var_e.is_nan() || var_e <= 0.0 {
        return theta;
    }
    let mut sigma2 = vec![None; terms.len()];
    for (k, t) in terms.iter().enumerate() {
        // Only an intercept that is its factor's sole term: the between-level
        // variance of the residuals is then that term's alone. Beside other
        // terms on the same factor (`(f || g)` is `(1 | g) + (0 + f | g)`)
        // it is shared among them, and starting the intercept there led
        // BOBYQA to a worse local optimum than lme4's start (machines,
        // `score ~ Machine + (Machine || Worker)`: 211.78 against 208.31).
        let shares_factor = terms.iter().enumerate().any(|(j, o)| j != k && o.group == t.group);
        if t.q() == 1 && !shares_factor && t.z.iter().all(|z| *z == 1.0) {
            sigma2[k] = Some(between_level_variance(resid, mean, t, var_e));
        }
    }
    let total: f64 = sigma2.iter().flatten().sum();
    let residual = (var_e - total).max(var_e / 10.0);
    for (k, s2) in sigma2.iter().enumerate() {
        if let Some(s2) = s2 {
            theta[par.terms[k].theta_offset] = (s2 / residual).sqrt().clamp(MIN_START, MAX_START);
        }
    }
    theta
}

fn between_level_variance(resid: &[f64], mean: f64, t: &ReTerm, var_e: f64) -> f64 {
    let l = t.nlevels();
    let mut sum = vec![0.0; l];
    let mut count = vec![0usize; l];
    for (e, &r) in resid.iter().zip(&t.refs) {
        sum[r as usize] += e - mean;
        count[r as usize] += 1;
    }
    let (mut m2, mut inv_n) = (0.0, 0.0);
    for (s, &c) in sum.iter().zip(&count) {
        if c > 0 {
            m2 += (s / c as f64).powi(2);
            inv_n += 1.0 / c as f64;
        }
    }
    (m2 / l as f64 - var_e * inv_n / l as f64).max(0.0)
}
