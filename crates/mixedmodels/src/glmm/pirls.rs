//! Penalized iteratively reweighted least squares (lme4's `pwrssUpdate`):
//! the conditional modes u (and, in lme4's first stage, beta) of a GLMM at a
//! given theta. Each step is the penalized weighted least-squares problem of
//! a linear mixed model with the working weights and working response, so it
//! runs on the same blocked Cholesky: the cross-products are refilled on the
//! fixed structure and refactored.

use std::ops::Range;

use super::family::Family;
use super::rows;
use super::start::PirlsStart;
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
    /// aic(mu) - deviance(mu) when constant (whole counts; see
    /// [`Family::aic_minus_deviance`]).
    aic_offset: Option<f64>,
    /// R's warnings about the response (non-integer binomial counts).
    pub warnings: Vec<String>,
}

impl GlmmResponse {
    pub fn new(family: Family, y: Vec<f64>, trials: Vec<f64>, weights: Vec<f64>, offset: Vec<f64>) -> GlmmResponse {
        let aic_offset = family.aic_minus_deviance(&y, &trials, &weights);
        GlmmResponse { family, y, trials, weights, offset, aic_offset, warnings: vec![] }
    }

    pub fn n(&self) -> usize {
        self.y.len()
    }

    /// The same data under another family (a negative binomial's new theta).
    pub fn set_family(&mut self, family: Family) {
        self.family = family;
        self.aic_offset = family.aic_minus_deviance(&self.y, &self.trials, &self.weights);
    }

    /// R's `family$aic` at mu from the deviance there.
    pub fn aic_from_deviance(&self, mu: &[f64], deviance: f64) -> f64 {
        match self.aic_offset {
            Some(c) => deviance + c,
            None => self.family.aic(&self.y, &self.trials, mu, &self.weights, deviance),
        }
    }

    /// Sum of deviance residuals at mu.
    pub fn deviance(&self, mu: &[f64]) -> f64 {
        (0..self.n()).map(|i| self.family.dev_resid(self.y[i], mu[i], self.weights[i])).sum()
    }

    /// R's `family$aic` at mu: -2 log-likelihood (+ 2 with a dispersion).
    pub fn aic(&self, mu: &[f64]) -> f64 {
        self.aic_from_deviance(mu, self.deviance(mu))
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
    /// The linear predictor whose working weights made the last factor
    /// (that of `ld_l2`): the iterate before the last. With (theta, beta, u)
    /// it rebuilds the state without iterating ([`Pirls::state_at`]).
    pub eta_weights: Vec<f64>,
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
    /// The relative change of the penalized deviance that ends the
    /// iterations (lme4's `tolPwrss`, 1e-7 by default).
    pub tol: f64,
    /// When positive, PIRLS also iterates until no coefficient (u, and beta
    /// in the joint mode) changes by more than this (see `step_is_small`).
    pub step_tol: f64,
    /// PIRLS iterations run so far by this workspace (each one refills and
    /// refactors the weighted system).
    pub iterations: usize,
}

const MAX_HALVINGS: usize = 20;
/// A penalized deviance computed twice differs by rounding, ~1e-16 of it.
const ROUNDING: f64 = 1e-13;
/// lme4's default `tolPwrss` for glmer.
pub const DEFAULT_TOL: f64 = 1e-7;

impl Pirls {
    pub fn new(resp: GlmmResponse, x: Vec<f64>, p: usize, terms: Vec<ReTerm>) -> Result<Pirls> {
        let n = resp.n();
        let ones = vec![1.0; n];
        let mut joint = LinearMixedModel::new(x.clone(), p, resp.y.clone(), terms.clone(), Some(ones.clone()), false)?;
        let mut modes = LinearMixedModel::new(vec![], 0, resp.y.clone(), terms, Some(ones), false)?;
        for system in [&mut joint, &mut modes] {
            system.prepare_refills();
        }
        let eta_start: Vec<f64> =
            (0..n).map(|i| resp.family.linkfun(resp.family.mustart(resp.y[i], resp.weights[i]))).collect();
        Ok(Pirls { resp, x, p, joint, modes, eta_start, max_iter: 100, tol: DEFAULT_TOL, step_tol: 0.0, iterations: 0 })
    }

    /// Switch to another family: its starting linear predictor too.
    pub fn set_family(&mut self, family: Family) {
        self.resp.set_family(family);
        let r = &self.resp;
        self.eta_start = (0..r.n()).map(|i| family.linkfun(family.mustart(r.y[i], r.weights[i]))).collect();
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
            tol: self.tol,
            step_tol: self.step_tol,
            iterations: 0,
        }
    }

    pub fn q(&self) -> usize {
        self.joint.par.terms.iter().map(|t| t.q * t.nlevels).sum()
    }

    /// eta = offset + X beta + Z Lambda(theta) u.
    pub fn linear_predictor(&self, theta: &[f64], beta: &[f64], u: &[f64]) -> Vec<f64> {
        let n = self.resp.n();
        let (mut eta, mut mu) = (vec![0.0; n], vec![0.0; n]);
        let b = self.random_effects(theta, u);
        rows::for_chunks(&mut eta, &mut mu, |rows, eta, _| self.eta_rows(rows, &b, beta, eta));
        eta
    }

    /// X beta.
    pub(super) fn x_times(&self, beta: &[f64]) -> Vec<f64> {
        let n = self.resp.n();
        let mut xb = vec![0.0; n];
        for (c, b) in beta.iter().enumerate() {
            for (v, x) in xb.iter_mut().zip(&self.x[c * n..(c + 1) * n]) {
                *v += x * b;
            }
        }
        xb
    }

    /// b = Lambda(theta) u, term by term (level-major, q values a level).
    fn random_effects(&self, theta: &[f64], u: &[f64]) -> Vec<Vec<f64>> {
        self.joint.ranef_from_u(u, theta)
    }

    /// eta on a chunk of rows: offset + X beta + sum over terms of z b[level].
    fn eta_rows(&self, rows: Range<usize>, b: &[Vec<f64>], beta: &[f64], eta: &mut [f64]) {
        let n = self.resp.n();
        eta.copy_from_slice(&self.resp.offset[rows.clone()]);
        for (c, bc) in beta.iter().enumerate() {
            for (e, x) in eta.iter_mut().zip(&self.x[c * n + rows.start..c * n + rows.end]) {
                *e += x * bc;
            }
        }
        for (t, bt) in self.joint.terms.iter().zip(b) {
            let q = t.q();
            if q == 1 {
                for ((e, &j), z) in eta.iter_mut().zip(&t.refs[rows.clone()]).zip(&t.z[rows.clone()]) {
                    *e += z * bt[j as usize];
                }
            } else {
                for (e, i) in eta.iter_mut().zip(rows.clone()) {
                    let j = t.refs[i] as usize;
                    *e += t.z_row(i).iter().zip(&bt[j * q..(j + 1) * q]).map(|(z, bv)| z * bv).sum::<f64>();
                }
            }
        }
    }

    /// mu on a chunk of rows and (if asked) its deviance; None when eta or
    /// mu leaves the family's range.
    fn mu_rows(&self, rows: Range<usize>, eta: &[f64], mu: &mut [f64], deviance: bool) -> Option<f64> {
        let (fam, r) = (self.resp.family, &self.resp);
        let mut dev = 0.0;
        for ((m, &e), i) in mu.iter_mut().zip(eta).zip(rows) {
            *m = fam.linkinv(e);
            if !(fam.valid_eta(e) && fam.valid_mu(*m)) {
                return None;
            }
            if deviance {
                dev += fam.dev_resid(r.y[i], *m, r.weights[i]);
            }
        }
        Some(dev)
    }

    /// eta = offset + X beta + Z b and mu there (into `eta`, `mu`); the
    /// deviance, None when eta or mu leaves the family's range.
    fn eta_mu_deviance(&self, b: &[Vec<f64>], beta: &[f64], eta: &mut [f64], mu: &mut [f64]) -> Option<f64> {
        let parts = rows::for_chunks(eta, mu, |rows, eta, mu| {
            self.eta_rows(rows.clone(), b, beta, eta);
            self.mu_rows(rows, eta, mu, true)
        });
        parts.into_iter().sum()
    }

    /// Working weights and response at (eta, mu), into `w` and `z`; false if
    /// a weight is not positive and finite.
    pub(super) fn working(&self, eta: &[f64], mu: &[f64], w: &mut [f64], z: &mut [f64]) -> bool {
        let (fam, r) = (self.resp.family, &self.resp);
        let parts = rows::for_chunks(w, z, |rows, w, z| {
            let mut ok = true;
            for (k, i) in rows.enumerate() {
                let d = fam.mu_eta_at(eta[i], mu[i]);
                w[k] = r.weights[i] * d * d / fam.variance(mu[i]);
                z[k] = eta[i] - r.offset[i] + (r.y[i] - mu[i]) / d;
                ok &= w[k].is_finite() && w[k] > 0.0;
            }
            ok
        });
        parts.into_iter().all(|ok| ok)
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
        let n = self.resp.n();
        let eta = match eta0 {
            Some(e) => e.to_vec(),
            None => self.linear_predictor(theta, beta, u),
        };
        let mut mu = vec![0.0; n];
        let mut eta_copy = eta.clone();
        let valid = rows::for_chunks(&mut mu, &mut eta_copy, |rows, mu, eta| self.mu_rows(rows, eta, mu, false));
        if !valid.into_iter().all(|ok| ok.is_some()) {
            return Err(Error::Numerical("the linear predictor left the family's range".into()));
        }
        let from = PirlsState {
            beta: beta.to_vec(),
            u: u.to_vec(),
            eta,
            mu,
            ld_l2: 0.0,
            pdev: 0.0,
            iterations: 0,
            eta_weights: vec![],
        };
        self.iterate(theta, from, mode, None, eta0.is_some(), tol)
    }

    /// Run PIRLS at theta (and, in the modes-only stage, beta) from a
    /// stage's common start, as lme4 runs each evaluation of the deviance.
    pub fn run_from(&mut self, theta: &[f64], beta: &[f64], start: &mut PirlsStart, tol: f64) -> Result<PirlsState> {
        let mut from = start.state.clone();
        if start.mode == Mode::ModesOnly {
            from.beta = beta.to_vec();
        }
        let mode = start.mode;
        self.iterate(theta, from, mode, Some(start), true, tol)
    }

    /// The PIRLS iterations from state `from` (its eta and mu consistent).
    /// With a prepared `start`, the first step's system comes from it.
    fn iterate(
        &mut self,
        theta: &[f64],
        from: PirlsState,
        mode: Mode,
        mut start: Option<&mut PirlsStart>,
        from_start: bool,
        tol: f64,
    ) -> Result<PirlsState> {
        let n = self.resp.n();
        let PirlsState { mut beta, mut u, mut eta, mut mu, .. } = from;
        let (mut w, mut z) = (vec![0.0; n], vec![0.0; n]);
        // X beta, fixed in the modes-only mode.
        let xb = if mode == Mode::ModesOnly { self.x_times(&beta) } else { vec![] };
        let mut first = true;
        let mut old = f64::MAX;
        let mut ld_l2;
        let mut eta_weights = vec![0.0; n];
        for iter in 0..self.max_iter {
            self.iterations += 1;
            // The working weights of this step are those of the current eta
            // (the start's, for a step from a prepared start).
            eta_weights.copy_from_slice(&eta);
            let system = match start.take() {
                Some(s) => s.first_system(&beta),
                None => {
                    if !self.working(&eta, &mu, &mut w, &mut z) {
                        return Err(Error::Numerical(
                            "PIRLS produced non-positive or non-finite working weights".into(),
                        ));
                    }
                    let system = match mode {
                        Mode::Joint => &mut self.joint,
                        Mode::ModesOnly => {
                            z.iter_mut().zip(&xb).for_each(|(v, b)| *v -= b);
                            &mut self.modes
                        }
                    };
                    system.set_weights_and_response(&w, &z);
                    system
                }
            };
            system.set_theta(theta);
            if !system.factor.ok {
                return Err(Error::Numerical("PIRLS: the weighted system is not positive definite".into()));
            }
            ld_l2 = system.pieces().ld_l2;
            let (new_beta, new_u) = match mode {
                Mode::Joint => (system.beta(), system.u()),
                Mode::ModesOnly => (beta.clone(), system.u()),
            };
            // Take the step, halving it while the penalized deviance rises (lme4's rule).
            let (old_beta, old_u) =
                if first && from_start { (new_beta.clone(), new_u.clone()) } else { (beta.clone(), u.clone()) };
            first = false;
            // With a stopping rule on the step, a full step whose penalized
            // deviance is up by rounding only (near the optimum it is flat to
            // ~1e-16 relative) is taken, not halved away.
            let slack = if self.step_tol > 0.0 { ROUNDING * old.abs() } else { 0.0 };
            let mut step = 1.0;
            let mut pdev;
            loop {
                beta = old_beta.iter().zip(&new_beta).map(|(a, b)| a + step * (b - a)).collect();
                u = old_u.iter().zip(&new_u).map(|(a, b)| a + step * (b - a)).collect();
                let b = self.random_effects(theta, &u);
                pdev = self.eta_mu_deviance(&b, &beta, &mut eta, &mut mu).map_or(f64::NAN, |d| d + sum_sq(&u));
                if (pdev.is_finite() && pdev <= old + slack) || step < 0.5f64.powi(MAX_HALVINGS as i32) {
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
            if ((old - pdev) / pdev).abs() < tol && self.step_is_small(&old_beta, &new_beta, &old_u, &new_u) {
                return Ok(PirlsState { beta, u, eta, mu, ld_l2, pdev, iterations: iter + 1, eta_weights });
            }
            old = pdev;
        }
        Err(Error::Numerical(format!("PIRLS did not converge in {} iterations", self.max_iter)))
    }

    /// The state PIRLS ended in at (theta, beta) with modes `u`, rebuilt
    /// without iterating: eta, mu and the penalized deviance from (theta,
    /// beta, u), and the factor of the mode's weighted system at the working
    /// weights of `eta_weights` (the iterate before the last, see
    /// [`PirlsState::eta_weights`]), as the iterations left it. Every
    /// number is computed as the iterations computed it, so the state (and
    /// the Laplace deviance, the quadrature and the conditional variances
    /// read from it) is the original's: a saved fit loaded again.
    pub fn state_at(
        &mut self,
        theta: &[f64],
        beta: &[f64],
        u: &[f64],
        eta_weights: Vec<f64>,
        mode: Mode,
    ) -> Result<PirlsState> {
        let n = self.resp.n();
        let (mut w, mut z) = (vec![0.0; n], vec![0.0; n]);
        let mut mu_w = vec![0.0; n];
        let mut eta_w = eta_weights.clone();
        let valid = rows::for_chunks(&mut mu_w, &mut eta_w, |rows, mu, eta| self.mu_rows(rows, eta, mu, false));
        if !valid.into_iter().all(|ok| ok.is_some()) || !self.working(&eta_weights, &mu_w, &mut w, &mut z) {
            return Err(Error::Numerical("the saved PIRLS state is outside the family's range".into()));
        }
        let system = match mode {
            Mode::Joint => &mut self.joint,
            Mode::ModesOnly => {
                z.iter_mut().zip(&self.x_times(beta)).for_each(|(v, b)| *v -= b);
                &mut self.modes
            }
        };
        system.set_weights_and_response(&w, &z);
        system.set_theta(theta);
        if !system.factor.ok {
            return Err(Error::Numerical("PIRLS: the weighted system is not positive definite".into()));
        }
        let ld_l2 = system.pieces().ld_l2;
        let (mut eta, mut mu) = (vec![0.0; n], vec![0.0; n]);
        let b = self.random_effects(theta, u);
        let pdev = self
            .eta_mu_deviance(&b, beta, &mut eta, &mut mu)
            .map(|d| d + sum_sq(u))
            .ok_or_else(|| Error::Numerical("the saved estimates leave the family's range".into()))?;
        Ok(PirlsState { beta: beta.to_vec(), u: u.to_vec(), eta, mu, ld_l2, pdev, iterations: 0, eta_weights })
    }

    /// lme4's rule looks at the penalized deviance only, which is flat at
    /// its minimum: a relative change of 1e-13 still leaves u off by ~1e-6,
    /// and log|L|^2, which moves with u at first order, off by as much. With
    /// `step_tol` set, iterations also go on until the full step (before any
    /// halving) moves no coefficient by more than that.
    fn step_is_small(&self, old_beta: &[f64], beta: &[f64], old_u: &[f64], u: &[f64]) -> bool {
        if self.step_tol == 0.0 {
            return true;
        }
        let largest = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        largest(old_beta, beta).max(largest(old_u, u)) < self.step_tol
    }

    /// The Laplace approximation to the deviance (lme4's `glmResp::Laplace`):
    /// log|L|^2 + |u|^2 + aic(mu).
    pub fn laplace(&self, s: &PirlsState) -> f64 {
        let u2 = s.u.iter().map(|v| v * v).sum::<f64>();
        s.ld_l2 + u2 + self.resp.aic_from_deviance(&s.mu, s.pdev - u2)
    }
}

fn sum_sq(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum()
}
