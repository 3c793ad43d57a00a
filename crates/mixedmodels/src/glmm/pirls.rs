//! Penalized iteratively reweighted least squares (lme4's `pwrssUpdate`):
//! the conditional modes u (and, in lme4's first stage, beta) of a GLMM at a
//! given theta. Each step is the penalized weighted least-squares problem of
//! a linear mixed model with the working weights and working response, so it
//! runs on the same blocked Cholesky: the cross-products are refilled on the
//! fixed structure and refactored.

use super::family::Family;
use crate::design::ReTerm;
use crate::error::{Error, Result};
use crate::model::LinearMixedModel;

/// The response side of a GLMM.
#[derive(Debug, Clone)]
pub struct GlmmResponse {
    pub family: Family,
    /// The response (a proportion for binomial models).
    pub y: Vec<f64>,
    /// Binomial trials (1 elsewhere), as R's `family$initialize` sets `n`.
    pub trials: Vec<f64>,
    /// Prior weights (times the trials for a binomial proportion, as R's glm).
    pub weights: Vec<f64>,
    pub offset: Vec<f64>,
}

impl GlmmResponse {
    pub fn n(&self) -> usize {
        self.y.len()
    }

    /// Sum of deviance residuals at mu.
    pub fn deviance(&self, mu: &[f64]) -> f64 {
        (0..self.n()).map(|i| self.family.dev_resid(self.y[i], mu[i], self.weights[i])).sum()
    }

    /// R's `family$aic` at mu: -2 log-likelihood (+ 2 with a dispersion).
    pub fn aic(&self, mu: &[f64]) -> f64 {
        self.family.aic(&self.y, &self.trials, mu, &self.weights, self.deviance(mu))
    }
}

/// Which coefficients PIRLS updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// u and beta together (lme4's `nAGQ = 0` first stage).
    Joint,
    /// u only, beta given (the Laplace and quadrature stage).
    ModesOnly,
}

/// State after PIRLS at one theta.
#[derive(Debug, Clone)]
pub struct PirlsState {
    pub beta: Vec<f64>,
    pub u: Vec<f64>,
    pub eta: Vec<f64>,
    pub mu: Vec<f64>,
    /// log det(Lambda'Z'WZ Lambda + I) at the last weights.
    pub ld_l2: f64,
    /// Penalized deviance: sum of deviance residuals + |u|^2.
    pub pdev: f64,
    pub iterations: usize,
}

/// PIRLS workspace: two linear-model systems on the design (with X for the
/// joint stage, without X for the modes-only stage).
pub struct Pirls {
    pub resp: GlmmResponse,
    pub x: Vec<f64>,
    pub p: usize,
    pub joint: LinearMixedModel,
    pub modes: LinearMixedModel,
    /// The family's starting linear predictor (from R's `mustart`).
    pub eta_start: Vec<f64>,
    pub max_iter: usize,
}

const MAX_HALVINGS: usize = 20;

impl Pirls {
    pub fn new(resp: GlmmResponse, x: Vec<f64>, p: usize, terms: Vec<ReTerm>) -> Result<Pirls> {
        let n = resp.n();
        let ones = vec![1.0; n];
        let joint = LinearMixedModel::new(x.clone(), p, resp.y.clone(), terms.clone(), Some(ones.clone()), false)?;
        let modes = LinearMixedModel::new(vec![], 0, resp.y.clone(), terms, Some(ones), false)?;
        let eta_start: Vec<f64> =
            (0..n).map(|i| resp.family.linkfun(resp.family.mustart(resp.y[i], resp.weights[i]))).collect();
        Ok(Pirls { resp, x, p, joint, modes, eta_start, max_iter: 100 })
    }

    /// An independent workspace on the same data (one a thread).
    pub fn replicate(&self) -> Pirls {
        Pirls {
            resp: self.resp.clone(),
            x: self.x.clone(),
            p: self.p,
            joint: self.joint.replicate(),
            modes: self.modes.replicate(),
            eta_start: self.eta_start.clone(),
            max_iter: self.max_iter,
        }
    }

    pub fn q(&self) -> usize {
        self.joint.par.terms.iter().map(|t| t.q * t.nlevels).sum()
    }

    /// eta = offset + X beta + Z Lambda(theta) u.
    pub fn linear_predictor(&self, theta: &[f64], beta: &[f64], u: &[f64]) -> Vec<f64> {
        let m = &self.joint;
        let n = self.resp.n();
        let mut eta = self.resp.offset.clone();
        for (c, b) in beta.iter().enumerate() {
            for (e, xv) in eta.iter_mut().zip(&self.x[c * n..(c + 1) * n]) {
                *e += xv * b;
            }
        }
        let mut offset = 0;
        for (k, (t, shape)) in m.terms.iter().zip(&m.par.terms).enumerate() {
            let q = t.q();
            let mut lam = vec![0.0; q * q];
            m.par.fill_lambda(theta, k, &mut lam);
            // b = Lambda u for this term, level by level.
            let mut b = vec![0.0; q * shape.nlevels];
            for j in 0..shape.nlevels {
                for r in 0..q {
                    b[j * q + r] = (0..q).map(|c| lam[c * q + r] * u[offset + j * q + c]).sum();
                }
            }
            for (i, e) in eta.iter_mut().enumerate() {
                let j = t.refs[i] as usize;
                *e += t.z_row(i).iter().zip(&b[j * q..(j + 1) * q]).map(|(z, bv)| z * bv).sum::<f64>();
            }
            offset += q * shape.nlevels;
        }
        eta
    }

    fn mu_of(&self, eta: &[f64]) -> Vec<f64> {
        eta.iter().map(|e| self.resp.family.linkinv(*e)).collect()
    }

    fn pdev(&self, mu: &[f64], u: &[f64]) -> f64 {
        self.resp.deviance(mu) + u.iter().map(|v| v * v).sum::<f64>()
    }

    /// Run PIRLS at theta from (beta, u), or from the linear predictor
    /// `eta0` when given (beta is kept in `ModesOnly`), until the penalized
    /// deviance changes by less than `tol` relatively (lme4's `tolPwrss`).
    pub fn run(
        &mut self,
        theta: &[f64],
        beta: &[f64],
        u: &[f64],
        mode: Mode,
        eta0: Option<&[f64]>,
        tol: f64,
    ) -> Result<PirlsState> {
        let fam = self.resp.family;
        let n = self.resp.n();
        let (mut beta, mut u) = (beta.to_vec(), u.to_vec());
        let from_start = eta0.is_some();
        let mut eta = match eta0 {
            Some(e) => e.to_vec(),
            None => self.linear_predictor(theta, &beta, &u),
        };
        if eta.iter().any(|e| !fam.valid_eta(*e)) || self.mu_of(&eta).iter().any(|m| !fam.valid_mu(*m)) {
            return Err(Error::Numerical("the linear predictor left the family's range".into()));
        }
        let mut first = true;
        let mut mu = self.mu_of(&eta);
        let mut old = f64::MAX;
        let mut ld_l2;
        for iter in 0..self.max_iter {
            // Working weights and response at the current eta.
            let mut w = vec![0.0; n];
            let mut z = vec![0.0; n];
            for i in 0..n {
                let d = fam.mu_eta(eta[i]);
                w[i] = self.resp.weights[i] * d * d / fam.variance(mu[i]);
                z[i] = eta[i] - self.resp.offset[i] + (self.resp.y[i] - mu[i]) / d;
            }
            if w.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(Error::Numerical("PIRLS produced non-positive or non-finite working weights".into()));
            }
            let (new_beta, new_u) = match mode {
                Mode::Joint => {
                    self.joint.set_weights_and_response(w, z);
                    self.joint.set_theta(theta);
                    if !self.joint.factor.ok {
                        return Err(Error::Numerical("PIRLS: the weighted system is not positive definite".into()));
                    }
                    ld_l2 = self.joint.pieces().ld_l2;
                    (self.joint.beta(), self.joint.u())
                }
                Mode::ModesOnly => {
                    let xb: Vec<f64> =
                        (0..n).map(|i| (0..self.p).map(|c| self.x[c * n + i] * beta[c]).sum::<f64>()).collect();
                    let zr = z.iter().zip(&xb).map(|(a, b)| a - b).collect();
                    self.modes.set_weights_and_response(w, zr);
                    self.modes.set_theta(theta);
                    if !self.modes.factor.ok {
                        return Err(Error::Numerical("PIRLS: the weighted system is not positive definite".into()));
                    }
                    ld_l2 = self.modes.pieces().ld_l2;
                    (beta.clone(), self.modes.u())
                }
            };
            // Take the step, halving it while the penalized deviance rises (lme4's rule).
            let (old_beta, old_u) =
                if first && from_start { (new_beta.clone(), new_u.clone()) } else { (beta.clone(), u.clone()) };
            first = false;
            let mut step = 1.0;
            let mut pdev;
            loop {
                beta = old_beta.iter().zip(&new_beta).map(|(a, b)| a + step * (b - a)).collect();
                u = old_u.iter().zip(&new_u).map(|(a, b)| a + step * (b - a)).collect();
                eta = self.linear_predictor(theta, &beta, &u);
                mu = self.mu_of(&eta);
                let valid = eta.iter().all(|e| fam.valid_eta(*e)) && mu.iter().all(|m| fam.valid_mu(*m));
                pdev = if valid { self.pdev(&mu, &u) } else { f64::NAN };
                if (pdev.is_finite() && pdev <= old) || step < 0.5f64.powi(MAX_HALVINGS as i32) {
                    break;
                }
                step /= 2.0;
            }
            if !pdev.is_finite() {
                return Err(Error::Numerical("PIRLS: the penalized deviance is not finite".into()));
            }
            if pdev > old + tol * pdev.abs() {
                return Err(Error::Numerical("PIRLS: step halving failed to reduce the deviance".into()));
            }
            if ((old - pdev) / pdev).abs() < tol {
                return Ok(PirlsState { beta, u, eta, mu, ld_l2, pdev, iterations: iter + 1 });
            }
            old = pdev;
        }
        Err(Error::Numerical(format!("PIRLS did not converge in {} iterations", self.max_iter)))
    }

    /// The Laplace approximation to the deviance (lme4's `glmResp::Laplace`):
    /// log|L|^2 + |u|^2 + aic(mu).
    pub fn laplace(&self, s: &PirlsState) -> f64 {
        s.ld_l2 + s.u.iter().map(|v| v * v).sum::<f64>() + self.resp.aic(&s.mu)
    }
}
