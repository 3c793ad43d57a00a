//! Generalized linear models by iteratively reweighted least squares, step
//! for step as R's `glm.fit`: start from the family's `mustart`, solve the
//! weighted least-squares problem of the working response
//! z = eta - offset + (y - mu) / mu.eta(eta) with weights w mu.eta^2 / V(mu),
//! halve steps that leave the family's range, and stop when
//! |dev - dev_old| / (|dev| + 0.1) < 1e-8. The covariance is the last
//! step's (X'WX)^{-1} times the dispersion (1 for the binomial and Poisson),
//! as `summary.glm` reads it from that step's QR.

use super::ols::LeastSquares;
use crate::error::{Error, Result};
use crate::glmm::family::{Distribution, Family};
use crate::glmm::pirls::GlmmResponse;

/// glm.control()'s defaults.
const EPSILON: f64 = 1e-8;
const MAX_ITERATIONS: usize = 25;

/// A fitted generalized linear model.
#[derive(Debug, Clone)]
pub struct GlmFit {
    pub beta: Vec<f64>,
    /// Covariance of beta (p x p).
    pub vcov: Vec<f64>,
    /// Linear predictor X beta + offset.
    pub eta: Vec<f64>,
    /// Fitted means.
    pub mu: Vec<f64>,
    pub deviance: f64,
    pub null_deviance: f64,
    pub dispersion: f64,
    pub loglik: f64,
    pub aic: f64,
    pub bic: f64,
    pub df_residual: f64,
    pub iterations: usize,
    pub converged: bool,
    pub warnings: Vec<String>,
    /// The linear predictor whose working weights made the last step (and
    /// the covariance): with beta it rebuilds the fit ([`glm_at`]).
    pub eta_weights: Vec<f64>,
}

/// Fit `response` on X (n x p, full column rank); `intercept` says whether
/// the model has one (for the null deviance).
pub fn fit_glm(x: &[f64], n: usize, p: usize, response: &GlmmResponse, intercept: bool) -> Result<GlmFit> {
    let family = response.family;
    let (y, w, offset) = (&response.y, &response.weights, &response.offset);
    let mut mu: Vec<f64> = (0..n).map(|i| family.mustart(y[i], w[i])).collect();
    let mut eta: Vec<f64> = mu.iter().map(|m| family.linkfun(*m)).collect();
    mu = eta.iter().map(|e| family.linkinv(*e)).collect();
    let deviance_of = |mu: &[f64]| (0..n).map(|i| family.dev_resid(y[i], mu[i], w[i])).sum::<f64>();
    let mut dev_old = deviance_of(&mu);
    let mut beta_old: Option<Vec<f64>> = None;
    let mut converged = false;
    let mut iterations = 0;
    let mut last_step: Option<LeastSquares> = None;
    let mut beta = vec![0.0; p];
    let mut eta_weights = eta.clone();
    for iter in 1..=MAX_ITERATIONS {
        iterations = iter;
        eta_weights.copy_from_slice(&eta);
        let (z, working_w) = working_response(family, y, w, offset, &eta, &mu);
        let step = LeastSquares::new(x, n, p, Some(&working_w));
        beta = step.coefficients(&z);
        last_step = Some(step);
        let mut dev;
        (eta, mu, dev) = predictor(x, n, p, &beta, offset, family, &deviance_of);
        // Step halving towards the previous coefficients while the deviance
        // is not finite or eta / mu leave the family's range.
        let mut halvings = 0;
        let valid = |eta: &[f64], mu: &[f64]| {
            eta.iter().all(|e| family.valid_eta(*e)) && mu.iter().all(|m| family.valid_mu(*m))
        };
        while !(dev.is_finite() && valid(&eta, &mu)) {
            let Some(prev) = &beta_old else {
                return Err(Error::Numerical(
                    "glm: no valid set of coefficients has been found: please supply starting values".into(),
                ));
            };
            halvings += 1;
            if halvings > MAX_ITERATIONS {
                return Err(Error::Numerical("glm: inner loop; cannot correct step size".into()));
            }
            beta = beta.iter().zip(prev).map(|(b, o)| (b + o) / 2.0).collect();
            (eta, mu, dev) = predictor(x, n, p, &beta, offset, family, &deviance_of);
        }
        if (dev - dev_old).abs() / (dev.abs() + 0.1) < EPSILON {
            converged = true;
            break;
        }
        dev_old = dev;
        beta_old = Some(beta.clone());
    }
    let step = last_step.ok_or_else(|| Error::Numerical("glm: no iteration ran".into()))?;
    let last = LastStep { step, eta_weights, iterations, converged };
    summarize(n, p, response, intercept, beta, eta, mu, last)
}

/// The fit that ended at `beta`, its last step's working weights those of
/// `eta_weights`, rebuilt without iterating (a saved model loaded again):
/// every number is computed as [`fit_glm`] computed it.
#[allow(clippy::too_many_arguments)]
pub fn glm_at(
    x: &[f64],
    n: usize,
    p: usize,
    response: &GlmmResponse,
    intercept: bool,
    beta: Vec<f64>,
    eta_weights: Vec<f64>,
    iterations: usize,
    converged: bool,
) -> Result<GlmFit> {
    if beta.len() != p || eta_weights.len() != n {
        return Err(Error::Argument(format!(
            "the saved fit has {} coefficients and {} rows, the model of these data {p} and {n}",
            beta.len(),
            eta_weights.len()
        )));
    }
    let family = response.family;
    let mu_weights: Vec<f64> = eta_weights.iter().map(|e| family.linkinv(*e)).collect();
    let (_, working_w) =
        working_response(family, &response.y, &response.weights, &response.offset, &eta_weights, &mu_weights);
    let step = LeastSquares::new(x, n, p, Some(&working_w));
    let deviance_of =
        |mu: &[f64]| (0..n).map(|i| family.dev_resid(response.y[i], mu[i], response.weights[i])).sum::<f64>();
    let (eta, mu, _) = predictor(x, n, p, &beta, &response.offset, family, &deviance_of);
    let last = LastStep { step, eta_weights, iterations, converged };
    summarize(n, p, response, intercept, beta, eta, mu, last)
}

/// IRLS's last step: its weighted least squares, the linear predictor of its
/// working weights, and how the iterations ended.
struct LastStep {
    step: LeastSquares,
    eta_weights: Vec<f64>,
    iterations: usize,
    converged: bool,
}

/// The working response and working weights of one IRLS step.
fn working_response(
    family: Family,
    y: &[f64],
    w: &[f64],
    offset: &[f64],
    eta: &[f64],
    mu: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let n = y.len();
    let mut z = Vec::with_capacity(n);
    let mut ww = Vec::with_capacity(n);
    for i in 0..n {
        let d = family.mu_eta(eta[i]);
        z.push(eta[i] - offset[i] + (y[i] - mu[i]) / d);
        ww.push(w[i] * d * d / family.variance(mu[i]));
    }
    (z, ww)
}

/// eta = X beta + offset, mu = linkinv(eta) and the deviance at mu.
fn predictor(
    x: &[f64],
    n: usize,
    p: usize,
    beta: &[f64],
    offset: &[f64],
    family: Family,
    deviance_of: &dyn Fn(&[f64]) -> f64,
) -> (Vec<f64>, Vec<f64>, f64) {
    let mut eta = offset.to_vec();
    crate::linalg::gemm_nn(&mut eta, x, beta, n, p, 1, 1.0, true);
    let mu: Vec<f64> = eta.iter().map(|e| family.linkinv(*e)).collect();
    let dev = deviance_of(&mu);
    (eta, mu, dev)
}

/// The fit's summaries as `glm.fit`, `summary.glm` and `logLik.glm` give them.
fn summarize(
    n: usize,
    p: usize,
    response: &GlmmResponse,
    intercept: bool,
    beta: Vec<f64>,
    eta: Vec<f64>,
    mu: Vec<f64>,
    last: LastStep,
) -> Result<GlmFit> {
    let LastStep { step: last_step, eta_weights, iterations, converged } = last;
    let family = response.family;
    let (y, w) = (&response.y, &response.weights);
    let deviance: f64 = (0..n).map(|i| family.dev_resid(y[i], mu[i], w[i])).sum();
    let weighted_mean = if intercept {
        let mean = (0..n).map(|i| w[i] * y[i]).sum::<f64>() / w.iter().sum::<f64>();
        vec![mean; n]
    } else {
        response.offset.iter().map(|o| family.linkinv(*o)).collect()
    };
    let null_deviance: f64 = (0..n).map(|i| family.dev_resid(y[i], weighted_mean[i], w[i])).sum();
    let df_residual = n as f64 - p as f64;
    let dispersion = if family.has_scale() {
        // Pearson's estimate from the last step's working weights and residuals.
        let sum: f64 = (0..n)
            .map(|i| {
                let d = family.mu_eta(eta[i]);
                let working_resid = (y[i] - mu[i]) / d;
                let working_w = w[i] * d * d / family.variance(mu[i]);
                working_w * working_resid * working_resid
            })
            .sum();
        sum / df_residual
    } else {
        1.0
    };
    let vcov = last_step.unscaled.iter().map(|v| v * dispersion).collect();
    let aic_family = family.aic(y, &response.trials, &mu, w, deviance);
    let k = p as f64 + if family.has_scale() { 1.0 } else { 0.0 };
    let aic = aic_family + 2.0 * p as f64;
    let loglik = k - aic / 2.0;
    let bic = -2.0 * loglik + (n as f64).ln() * k;
    let mut warnings = response.warnings.clone();
    if !converged {
        warnings.push("glm.fit: algorithm did not converge".into());
    }
    if family.dist == Distribution::Binomial {
        let eps = 10.0 * f64::EPSILON;
        if mu.iter().any(|m| *m > 1.0 - eps || *m < eps) {
            warnings.push("glm.fit: fitted probabilities numerically 0 or 1 occurred".into());
        }
    }
    Ok(GlmFit {
        beta,
        vcov,
        eta,
        mu,
        deviance,
        null_deviance,
        dispersion,
        loglik,
        aic,
        bic,
        df_residual,
        iterations,
        converged,
        warnings,
        eta_weights,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_regression_solves_the_score_equations() {
        // At the MLE of a logistic regression X'(y - mu) = 0.
        let n = 40;
        let xs: Vec<f64> = (0..n).map(|i| (i as f64 - 20.0) / 10.0).collect();
        let y: Vec<f64> = (0..n).map(|i| if (i * 7 + 3) % 10 < 3 + i / 8 { 1.0 } else { 0.0 }).collect();
        let mut x = vec![1.0; n];
        x.extend(&xs);
        let family = Family::parse("binomial", None).unwrap();
        let response = GlmmResponse::new(family, y.clone(), vec![1.0; n], vec![1.0; n], vec![0.0; n]);
        let fit = fit_glm(&x, n, 2, &response, true).unwrap();
        assert!(fit.converged && fit.iterations < 10);
        let score0: f64 = (0..n).map(|i| y[i] - fit.mu[i]).sum();
        let score1: f64 = (0..n).map(|i| xs[i] * (y[i] - fit.mu[i])).sum();
        assert!(score0.abs() < 1e-8 && score1.abs() < 1e-8, "{score0} {score1}");
        assert!(fit.deviance < fit.null_deviance);
        // Binomial 0/1 data: logLik = -deviance / 2 and AIC = deviance + 2p.
        assert!((fit.loglik + fit.deviance / 2.0).abs() < 1e-10);
        assert!((fit.aic - fit.deviance - 4.0).abs() < 1e-10);
    }
}
