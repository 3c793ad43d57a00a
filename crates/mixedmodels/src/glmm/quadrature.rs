//! Adaptive Gauss-Hermite quadrature for a GLMM with a single scalar random
//! effect (lme4's `glmerAGQ`, `GHrule`). Each level's integral over its u_j
//! is centred at the conditional mode and scaled by its conditional standard
//! deviation 1 / L_jj.
//!
//! lme4's quadrature deviance is built from deviance residuals, while its
//! Laplace deviance uses the full log-likelihood (`aic`): the two differ by
//! the saturated model's -2 log-likelihood, a constant. lme4 1.1-31 reports
//! -deviance/2 on each scale (cbpp: -50.0 with nAGQ = 10 against -92.0 with
//! the Laplace approximation). [`saturated_deviance`] is the constant; adding
//! it puts the quadrature value on the Laplace scale.

use super::pirls::{Pirls, PirlsState};
use crate::linalg;

/// The most quadrature points a rule may have, as lme4's `GHrule` (its
/// tables stop at 100).
pub const MAX_AGQ_POINTS: usize = 100;

/// Nodes, weights (a probability measure: they sum to 1) and log normal
/// density of the k-point Gauss-Hermite rule for the standard normal
/// (lme4's `GHrule(k)`). Nodes by Golub-Welsch (the eigenvalues of the Jacobi
/// matrix); weights from the Christoffel function, w = 1 / sum_j p_j(z)^2
/// over the orthonormal Hermite polynomials p_j, which keeps the relative
/// accuracy of the tiny outer weights (3e-79 at k = 100) that an
/// eigenvector's squared first component loses: the quadrature multiplies
/// them by exp(z^2 / 2).
pub fn gh_rule(k: usize) -> Vec<(f64, f64, f64)> {
    let log_norm_density = |z: f64| -0.5 * z * z - 0.5 * (2.0 * std::f64::consts::PI).ln();
    if k <= 1 {
        return vec![(0.0, 1.0, log_norm_density(0.0))];
    }
    // Jacobi matrix of the probabilists' Hermite polynomials: zero diagonal,
    // off-diagonal sqrt(i).
    let mut j = vec![0.0; k * k];
    for i in 1..k {
        let b = (i as f64).sqrt();
        j[i * k + i - 1] = b;
        j[(i - 1) * k + i] = b;
    }
    let (vals, _) = linalg::symmetric_eigen(&j, k).expect("Jacobi matrix");
    let mut out: Vec<(f64, f64, f64)> = vals
        .iter()
        .map(|&v| {
            // Exact zero for the middle node of an odd rule (lme4 tests zknot == 0).
            let z = if v.abs() < 1e-13 { 0.0 } else { v };
            (z, christoffel_weight(z, k), log_norm_density(z))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// 1 / sum_{j < k} p_j(z)^2 with the orthonormal probabilists' Hermite
/// polynomials p_0 = 1, p_1 = z, p_{j+1} = (z p_j - sqrt(j) p_{j-1}) / sqrt(j + 1).
fn christoffel_weight(z: f64, k: usize) -> f64 {
    let (mut prev, mut cur) = (0.0, 1.0);
    let mut sum = 1.0;
    for j in 0..k - 1 {
        let next = (z * cur - (j as f64).sqrt() * prev) / ((j + 1) as f64).sqrt();
        (prev, cur) = (cur, next);
        sum += cur * cur;
    }
    1.0 / sum
}

/// Per level: u_j^2 + the sum of the level's deviance residuals.
fn level_deviance(p: &Pirls, u: &[f64], mu: &[f64]) -> Vec<f64> {
    let t = &p.modes.terms[0];
    let mut d: Vec<f64> = u.iter().map(|v| v * v).collect();
    for i in 0..p.resp.n() {
        d[t.refs[i] as usize] += p.resp.family.dev_resid(p.resp.y[i], mu[i], p.resp.weights[i]);
    }
    d
}

/// lme4's quadrature deviance at a PIRLS optimum (modes-only system, single
/// scalar term): sum_j devc0_j + log|L|^2 - 2 sum_j log(mult_j).
pub fn agq_deviance(p: &Pirls, s: &PirlsState, theta: &[f64], rule: &[(f64, f64, f64)]) -> f64 {
    let devc0 = level_deviance(p, &s.u, &s.mu);
    // Conditional sd of u_j: 1 / L_jj of the modes-only factor.
    let sd: Vec<f64> = p.modes.factor.l11.iter().map(|l| 1.0 / l).collect();
    let sqrt2pi = (2.0 * std::f64::consts::PI).sqrt();
    let mut mult = vec![0.0; devc0.len()];
    for &(z, w, ldnorm) in rule {
        if z == 0.0 {
            mult.iter_mut().for_each(|m| *m += w);
            continue;
        }
        let u: Vec<f64> = s.u.iter().zip(&sd).map(|(u, s)| u + z * s).collect();
        let eta = p.linear_predictor(theta, &s.beta, &u);
        let mu: Vec<f64> = eta.iter().map(|e| p.resp.family.linkinv(*e)).collect();
        let devc = level_deviance(p, &u, &mu);
        for (j, m) in mult.iter_mut().enumerate() {
            *m += (-0.5 * (devc[j] - devc0[j]) - ldnorm).exp() * w / sqrt2pi;
        }
    }
    devc0.iter().sum::<f64>() + s.ld_l2 - 2.0 * mult.iter().map(|m| m.ln()).sum::<f64>()
}

/// -2 log-likelihood of the saturated model (mu = y): aic(mu) - sum dev_resid(mu).
pub fn saturated_deviance(p: &Pirls, mu: &[f64]) -> f64 {
    p.resp.aic(mu) - p.resp.deviance(mu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_hermite_integrates_normal_moments() {
        let rule = gh_rule(10);
        let m = |k: i32| rule.iter().map(|(z, w, _)| w * z.powi(k)).sum::<f64>();
        assert!((m(0) - 1.0).abs() < 1e-13);
        assert!(m(1).abs() < 1e-13);
        assert!((m(2) - 1.0).abs() < 1e-12);
        assert!((m(4) - 3.0).abs() < 1e-11);
        assert_eq!(gh_rule(5)[2].0, 0.0);
    }
}
