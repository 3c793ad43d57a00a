//! Generalized linear mixed models, as lme4's `glmer`: PIRLS for the
//! conditional modes, then two optimisation stages: theta with beta inside
//! PIRLS (lme4's `nAGQ = 0` stage), then (theta, beta) jointly on the Laplace
//! approximation or, for one scalar random effect, adaptive Gauss-Hermite
//! quadrature. Standard errors come from the finite-difference Hessian of
//! that deviance over (theta, beta), as lme4's default `vcov()`.

use rayon::prelude::*;

use crate::data::{DataFrame, FitRows};
use crate::design::{Contrasts, Design, DesignSpec, ReForm, WeightRule};
use crate::error::{Error, Result};
use crate::fit::{check_convergence, SINGULAR_TOL};
use crate::formula::ModelFormula;
use crate::glmm::family::{Distribution, Family, Link};
use crate::glmm::negbin::{self, ThetaSearch};
use crate::glmm::pirls::{GlmmResponse, Mode, Pirls, PirlsState};
use crate::glmm::quadrature::{agq_deviance, gh_rule, saturated_deviance, MAX_AGQ_POINTS};
use crate::glmm::response::glmm_response;
use crate::glmm::start::PirlsStart;
use crate::linalg;
use crate::optim::{
    minimize_without_gradient, InterpolationPoints, Method, Monitor, Observer, OptSummary, OptimizerSettings,
};
use crate::residuals::{self, ResidualKind};
use crate::setup::{setup_warnings, ModelFrame};

#[derive(Debug, Clone)]
pub struct GlmerOptions {
    /// The family and link (`Family::parse("binomial", Some("probit"))`). A
    /// negative binomial family without a theta (`Family::parse` gives it
    /// none) has it estimated, as `glmer.nb`; `Family::with_nb_theta` fixes it,
    /// as R's `MASS::negative.binomial(theta)`.
    pub family: Family,
    /// 0: PIRLS only (beta estimated inside PIRLS, theta on that deviance);
    /// 1: Laplace; > 1: adaptive Gauss-Hermite with that many nodes.
    pub nagq: usize,
    pub contrasts: Vec<(String, Contrasts)>,
    pub weights: Option<String>,
    pub optimizer: OptimizerSettings,
    /// Compute the Hessian (standard errors, convergence checks).
    pub derivatives: bool,
    /// PIRLS's stopping rule: the relative change of the penalized deviance
    /// (lme4's `tolPwrss`, 1e-7). See [`run_from`] for what it does to the fit.
    pub tol_pwrss: f64,
}

impl Default for GlmerOptions {
    fn default() -> Self {
        GlmerOptions {
            family: Family { dist: Distribution::Binomial, link: Link::Logit },
            nagq: 1,
            contrasts: vec![],
            weights: None,
            optimizer: OptimizerSettings { points: InterpolationPoints::Quadratic, ..OptimizerSettings::default() },
            derivatives: true,
            tol_pwrss: crate::glmm::pirls::DEFAULT_TOL,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GlmmFit {
    pub family: Family,
    pub nagq: usize,
    pub theta: Vec<f64>,
    pub beta: Vec<f64>,
    pub vcov_beta: Vec<f64>,
    /// Was vcov(beta) computed from the Hessian (lme4's default) or, failing
    /// that, from the weighted least-squares factor?
    pub vcov_from_hessian: bool,
    /// The minimised deviance on the Laplace scale (-2 log-likelihood).
    pub objective: f64,
    /// For nAGQ > 1: the quadrature deviance on lme4's scale (deviance residuals).
    pub objective_lme4: f64,
    pub loglik: f64,
    pub npar: usize,
    pub aic: f64,
    pub bic: f64,
    /// Sum of squared deviance residuals (lme4's `deviance()` for GLMMs).
    pub deviance: f64,
    /// Dispersion scale (Gamma, inverse Gaussian; 1 otherwise).
    pub sigma: f64,
    pub ranef: Vec<Vec<f64>>,
    pub eta: Vec<f64>,
    pub mu: Vec<f64>,
    pub u: Vec<f64>,
    /// The linear predictor whose working weights made PIRLS's last factor
    /// (see [`PirlsState::eta_weights`]): with (theta, beta, u) it rebuilds
    /// the fit without optimizing ([`crate::glmm::saved`]).
    pub eta_weights: Vec<f64>,
    pub singular: bool,
    pub stage1: OptSummary,
    pub stage2: OptSummary,
    pub derivative_evaluations: usize,
    /// PIRLS iterations of the two optimization stages (not the derivatives').
    pub pirls_iterations: usize,
    pub warnings: Vec<String>,
}

pub struct Glmer {
    pub spec: DesignSpec,
    pub pirls: Pirls,
    pub fit: GlmmFit,
    pub fixed_names: Vec<String>,
    pub assign: Vec<usize>,
    /// The rows of the data the fit used.
    pub rows: FitRows,
    pub options: GlmerOptions,
    /// How a negative binomial's theta was estimated (None when it was given).
    pub nb_search: Option<ThetaSearch>,
}

/// The second stage's parameters: theta and t, with beta = center + scale * t
/// (beta on the scale of its standard errors), and PIRLS's common start.
struct SecondStage {
    center: Vec<f64>,
    scale: Vec<f64>,
    start: PirlsStart,
}

/// Steps of the finite differences: relative 1e-3 of the parameter (or of
/// its scale, for beta).
const STEP: f64 = 1e-3;
/// A second difference over those steps is ~1e-6 of the deviance. With
/// lme4's stopping rule PIRLS leaves an error that is a smooth function of
/// the parameters (every point starts from the same state and takes the
/// same steps), which the differences cancel; with a stopping rule on the
/// step of u (`Pirls::step_tol`) the number of steps varies between the
/// points and the error jumps by up to the last step's effect (~1e-7 at
/// 1e-8): the Hessian's points iterate on to 1e-11.
const HESSIAN_STEP_TOL: f64 = 1e-11;

impl Glmer {
    /// Fit the model: lme4's two stages (nAGQ >= 1) or the first alone
    /// (nAGQ = 0); for a negative binomial family whose theta is not given,
    /// also theta, as `glmer.nb` ([`crate::glmm::negbin`]).
    pub fn fit(formula: &str, data: &DataFrame, options: &GlmerOptions) -> Result<Glmer> {
        Glmer::fit_observed(formula, data, options, None)
    }

    /// [`Glmer::fit`], each evaluation of the two stages' optimizer reported
    /// to `observer` as it happens (see [`crate::optim::progress`]; a
    /// negative binomial whose theta is estimated reports every refit of
    /// the search); a [`Flow::Stop`](crate::optim::Flow::Stop) ends the fit
    /// with [`Error::Interrupted`].
    pub fn fit_observed(
        formula: &str,
        data: &DataFrame,
        options: &GlmerOptions,
        observer: Option<Observer<'_>>,
    ) -> Result<Glmer> {
        let mut g = Glmer::new(formula, data, options)?;
        let mut monitor = Monitor::new(observer);
        // On a worker thread of rayon's pool: the parallel steps inside then
        // share the pool's threads with the fit instead of adding a thread
        // that competes with them for the cores.
        let out = if g.pirls.resp.family.estimates_nb_theta() {
            rayon::scope(|_| negbin::estimate_theta(&mut g, &mut monitor))
        } else {
            rayon::scope(|_| g.optimize(&mut monitor))
        };
        monitor.finish(out)?;
        Ok(g)
    }

    /// The model set up on the data (rows, design, response), not fitted yet.
    pub(crate) fn new(formula: &str, data: &DataFrame, options: &GlmerOptions) -> Result<Glmer> {
        let family = options.family;
        if let Some(theta) = family.nb_theta().filter(|t| !t.is_nan()) {
            family.with_nb_theta(theta)?; // a given theta must be a positive number
        }
        let formula = ModelFormula::parse(formula)?;
        let Some(lhs) = formula.response.clone() else {
            return Err(Error::formula(&formula.source, 0, "the formula has no response before '~'"));
        };
        let frame =
            ModelFrame::new(formula, data, &options.contrasts, options.weights.as_deref(), WeightRule::NonNegative)?;
        let resp = glmm_response(family, &lhs, &frame.data, frame.weights, frame.design.offset)?;
        let ModelFrame { rows, spec, design: Design { x, terms, .. }, .. } = frame;
        if options.nagq > MAX_AGQ_POINTS {
            return Err(Error::Argument(format!(
                "nAGQ must be between 0 (PIRLS only), 1 (the Laplace approximation) and {MAX_AGQ_POINTS}, not {}",
                options.nagq
            )));
        }
        if options.nagq > 1 && !(terms.len() == 1 && terms[0].q() == 1) {
            return Err(Error::Argument(
                "nAGQ > 1 is only available for models with a single, scalar random-effects term".into(),
            ));
        }
        let fixed_names = x.names.clone();
        let assign = x.assign.clone();
        let p = x.ncols();
        let mut pirls = Pirls::new(resp, x.values, p, terms)?;
        if !(options.tol_pwrss > 0.0 && options.tol_pwrss < 1.0) {
            return Err(Error::Argument(format!("tolPwrss must be in (0, 1), not {}", options.tol_pwrss)));
        }
        pirls.tol = options.tol_pwrss;
        Ok(Glmer {
            spec,
            pirls,
            fit: empty_fit(family),
            fixed_names,
            assign,
            rows,
            options: options.clone(),
            nb_search: None,
        })
    }

    /// Both stages (one with nAGQ = 0) from lme4's start, then the results.
    pub(crate) fn optimize(&mut self, monitor: &mut Monitor<'_>) -> Result<()> {
        let theta0 = self.pirls.joint.par.initial_theta();
        self.optimize_from(theta0, monitor)
    }

    /// The model refitted on some of its rows (indices into the fit's rows;
    /// the grouping levels stay, a level without rows getting zero effects),
    /// its first stage started at this fit's theta. With `derivatives`, the
    /// Hessian-based vcov(beta) as `fit` computes it. A negative binomial's
    /// theta stays the fit's.
    pub fn refit_rows(&self, rows: &[usize], derivatives: bool) -> Result<GlmmFit> {
        let r = &self.pirls.resp;
        let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let mut resp = GlmmResponse::new(r.family, pick(&r.y), pick(&r.trials), pick(&r.weights), pick(&r.offset));
        resp.warnings = r.warnings.clone();
        let (n, p) = (r.n(), self.pirls.p);
        let x: Vec<f64> = (0..p).flat_map(|c| rows.iter().map(move |&i| self.pirls.x[c * n + i])).collect();
        let terms = self.pirls.joint.terms.iter().map(|t| t.select_rows(rows)).collect();
        let mut pirls = Pirls::new(resp, x, p, terms)?;
        (pirls.tol, pirls.step_tol) = (self.pirls.tol, self.pirls.step_tol);
        let options = GlmerOptions { derivatives, ..self.options.clone() };
        let mut g = Glmer {
            spec: self.spec.clone(),
            pirls,
            fit: empty_fit(r.family),
            fixed_names: self.fixed_names.clone(),
            assign: self.assign.clone(),
            rows: FitRows {
                positions: rows.iter().map(|&i| self.rows.positions[i]).collect(),
                nrows_data: self.rows.nrows_data,
            },
            options,
            nb_search: None,
        };
        g.optimize_from(self.fit.theta.clone(), &mut Monitor::none())?;
        Ok(g.fit)
    }

    /// The model refitted to another response on the same rows (the trials,
    /// prior weights and offsets stay), its first stage started at this fit's
    /// theta: the refit of a permutation test.
    pub fn refit_response(&self, y: Vec<f64>, derivatives: bool) -> Result<GlmmFit> {
        let mut g = self.on_same_rows(y, GlmerOptions { derivatives, ..self.options.clone() })?;
        g.optimize_from(self.fit.theta.clone(), &mut Monitor::none())?;
        Ok(g.fit)
    }

    /// The model refitted to the same data with other options (another
    /// optimizer, for `all_fit`) from lme4's start. A negative binomial
    /// keeps the fit's theta.
    pub fn refit_with_options(&self, options: GlmerOptions) -> Result<GlmmFit> {
        self.refit_with_options_observed(options, &mut Monitor::none())
    }

    /// [`Glmer::refit_with_options`], its evaluations reported to `monitor`.
    pub fn refit_with_options_observed(&self, options: GlmerOptions, monitor: &mut Monitor<'_>) -> Result<GlmmFit> {
        let mut g = self.on_same_rows(self.pirls.resp.y.clone(), options)?;
        let out = g.optimize(monitor);
        monitor.finish(out)?;
        Ok(g.fit)
    }

    /// The model, not fitted, on the same rows with response `y` (the
    /// trials, prior weights and offsets stay) and `options`.
    fn on_same_rows(&self, y: Vec<f64>, options: GlmerOptions) -> Result<Glmer> {
        let r = &self.pirls.resp;
        let mut resp = GlmmResponse::new(r.family, y, r.trials.clone(), r.weights.clone(), r.offset.clone());
        resp.warnings = r.warnings.clone();
        let mut pirls = Pirls::new(resp, self.pirls.x.clone(), self.pirls.p, self.pirls.joint.terms.clone())?;
        (pirls.tol, pirls.step_tol) = (self.pirls.tol, self.pirls.step_tol);
        Ok(Glmer {
            spec: self.spec.clone(),
            pirls,
            fit: empty_fit(r.family),
            fixed_names: self.fixed_names.clone(),
            assign: self.assign.clone(),
            rows: self.rows.clone(),
            options,
            nb_search: None,
        })
    }

    /// Both stages (one with nAGQ = 0) from `theta0`, then the results.
    fn optimize_from(&mut self, theta0: Vec<f64>, monitor: &mut Monitor<'_>) -> Result<()> {
        let (stage1, s1) = self.stage1(theta0, monitor)?;
        if self.options.nagq == 0 {
            return self.finish_pirls_only(stage1, s1);
        }
        // beta's scale for the second stage: its standard errors from the weighted system.
        let p = self.pirls.p;
        let vc = self.pirls.joint.unscaled_vcov();
        let scale: Vec<f64> = (0..p).map(|j| vc[j * p + j].sqrt().max(1e-8)).collect();
        let theta1 = stage1.final_theta.clone();
        let center = s1.beta.clone();
        let start = self.pirls.prepare_start(s1, Mode::ModesOnly)?;
        let mut stage = SecondStage { center, scale, start };
        self.second_stage(stage1, &theta1, &mut stage, monitor)
    }

    /// Refit with another family (a negative binomial's new theta), as lme4's
    /// `refit()`: the second stage only, from the current estimates, with
    /// PIRLS started from the current linear predictor.
    pub(crate) fn refit_family(&mut self, family: Family, derivatives: bool, monitor: &mut Monitor<'_>) -> Result<()> {
        if self.options.nagq == 0 {
            self.pirls.set_family(family);
            return self.optimize(monitor);
        }
        let (theta, beta, eta) = (self.fit.theta.clone(), self.fit.beta.clone(), self.fit.eta.clone());
        let stage1 = self.fit.stage1.clone();
        self.pirls.set_family(family);
        let u0 = vec![0.0; self.pirls.q()];
        let state = self.pirls.run(&theta, &beta, &u0, Mode::ModesOnly, Some(&eta), self.pirls.tol)?;
        // beta's scale from the joint weighted system at that state (lme4's `pp$unsc()`).
        let mut joint = self.pirls.prepare_start(state.clone(), Mode::Joint)?;
        joint.system.set_theta(&theta);
        let p = self.pirls.p;
        let vc = joint.system.unscaled_vcov();
        let scale: Vec<f64> = (0..p).map(|j| vc[j * p + j].sqrt().max(1e-8)).collect();
        let start = self.pirls.prepare_start(state, Mode::ModesOnly)?;
        let mut stage = SecondStage { center: beta, scale, start };
        let keep = self.options.derivatives;
        self.options.derivatives = derivatives;
        let out = self.second_stage(stage1, &theta, &mut stage, monitor);
        self.options.derivatives = keep;
        out
    }

    /// Stage 1: theta, with beta updated inside PIRLS (lme4's nAGQ = 0
    /// deviance). Returns the optimizer's record and PIRLS at its optimum.
    fn stage1(&mut self, theta0: Vec<f64>, monitor: &mut Monitor<'_>) -> Result<(OptSummary, PirlsState)> {
        let lower = self.pirls.joint.par.lower_bounds();
        let eta_start = self.pirls.eta_start.clone();
        let (b0, u0) = (vec![0.0; self.pirls.p], vec![0.0; self.pirls.q()]);
        let lp0 = self.pirls.run(&theta0, &b0, &u0, Mode::Joint, Some(&eta_start), self.pirls.tol)?;
        let mut start1 = self.pirls.prepare_start(lp0, Mode::Joint)?;
        let pirls = &mut self.pirls;
        let upper = vec![f64::INFINITY; lower.len()];
        monitor.phase("stage 1");
        monitor.optimizer(derivative_free_name(self.options.optimizer.method));
        let stage1 = minimize_without_gradient(
            |theta| {
                if monitor.stopped() {
                    return f64::NAN;
                }
                let s = run_from(pirls, theta, &[], &mut start1);
                let v = s.as_ref().map_or(f64::INFINITY, |s| pirls.laplace(s));
                let beta = s.as_ref().map(|s| s.beta.as_slice());
                monitor.report(v, theta, beta, None, Some(pirls.iterations));
                v
            },
            &theta0,
            &lower,
            &upper,
            self.options.optimizer,
        );
        let stage1 = monitor.finish(stage1)?;
        let s1 = run_from(&mut self.pirls, &stage1.final_theta, &[], &mut start1)
            .ok_or_else(|| Error::Numerical("PIRLS failed at the first stage's optimum".into()))?;
        Ok((stage1, s1))
    }

    /// nAGQ = 0: the first stage's optimum is the fit; vcov(beta) from the
    /// weighted least-squares factor there and no Hessian (lme4 computes no
    /// derivatives for nAGQ = 0).
    fn finish_pirls_only(&mut self, stage1: OptSummary, s1: PirlsState) -> Result<()> {
        let theta = stage1.final_theta.clone();
        let fmin = self.pirls.laplace(&s1);
        // The modes-only system at the optimum, for the conditional variances.
        let vcov = self.fallback_vcov(1.0);
        self.pirls.run(&theta, &s1.beta, &s1.u, Mode::ModesOnly, None, self.pirls.tol)?;
        let stage2 = not_run("nAGQ = 0: no second stage");
        let mut fit = self.results(&theta, &s1.beta.clone(), &s1, fmin, fmin, stage1, stage2);
        fit.pirls_iterations = self.pirls.iterations;
        let s2 = fit.sigma * fit.sigma;
        fit.vcov_beta = vcov.iter().map(|v| v * s2).collect();
        fit.warnings.extend(self.pirls.resp.fitted_warnings(&fit.mu));
        self.fit = fit;
        Ok(())
    }

    /// Stage 2: (theta, t) with beta = center + scale * t on the Laplace or
    /// quadrature deviance, from `theta0` and t = 0; then the results.
    fn second_stage(
        &mut self,
        stage1: OptSummary,
        theta0: &[f64],
        stage: &mut SecondStage,
        monitor: &mut Monitor<'_>,
    ) -> Result<()> {
        let ntheta = self.pirls.joint.par.ntheta();
        let lower = self.pirls.joint.par.lower_bounds();
        let p = self.pirls.p;
        let nagq = self.options.nagq.max(1);
        let rule = gh_rule(nagq);
        let mut start = theta0.to_vec();
        start.extend(std::iter::repeat_n(0.0, p));
        let mut lower2 = lower.clone();
        lower2.extend(std::iter::repeat_n(f64::NEG_INFINITY, p));
        let (center, scale) = (stage.center.clone(), stage.scale.clone());
        let pirls = &mut self.pirls;
        let objective = |pirls: &mut Pirls, x: &[f64], start: &mut PirlsStart| -> Option<(f64, PirlsState)> {
            let beta: Vec<f64> = (0..p).map(|j| center[j] + scale[j] * x[ntheta + j]).collect();
            let s = run_from(pirls, &x[..ntheta], &beta, start)?;
            let v = if nagq > 1 { agq_deviance(pirls, &s, &x[..ntheta], &rule) } else { pirls.laplace(&s) };
            Some((v, s))
        };
        let settings =
            OptimizerSettings { rho_begin: 0.2f64.min(self.options.optimizer.rho_begin), ..self.options.optimizer };
        let upper2 = vec![f64::INFINITY; lower2.len()];
        monitor.phase("stage 2");
        monitor.optimizer(derivative_free_name(settings.method));
        let stage2 = minimize_without_gradient(
            |x| {
                if monitor.stopped() {
                    return f64::NAN;
                }
                let v = objective(pirls, x, &mut stage.start).map_or(f64::INFINITY, |(v, _)| v);
                if monitor.is_watching() {
                    let beta: Vec<f64> = (0..p).map(|j| center[j] + scale[j] * x[ntheta + j]).collect();
                    monitor.report(v, &x[..ntheta], Some(&beta), None, Some(pirls.iterations));
                }
                v
            },
            &start,
            &lower2,
            &upper2,
            settings,
        );
        let stage2 = monitor.finish(stage2)?;
        let mut xopt = stage2.final_theta.clone();
        // Snap tiny diagonal elements of theta to the boundary when that does not raise the deviance.
        for i in 0..ntheta {
            if lower[i] == 0.0 && xopt[i] != 0.0 && xopt[i].abs() < SINGULAR_TOL {
                let mut trial = xopt.clone();
                trial[i] = 0.0;
                if let Some((v, _)) = objective(pirls, &trial, &mut stage.start) {
                    if v <= stage2.fmin + 1e-10 * stage2.fmin.abs().max(1.0) {
                        xopt = trial;
                    }
                }
            }
        }
        let (fmin, s2) = objective(pirls, &xopt, &mut stage.start)
            .ok_or_else(|| Error::Numerical("PIRLS failed at the optimum".into()))?;
        let theta = xopt[..ntheta].to_vec();
        let beta: Vec<f64> = (0..p).map(|j| stage.center[j] + stage.scale[j] * xopt[ntheta + j]).collect();
        let saturated = if nagq > 1 { saturated_deviance(&self.pirls, &s2.mu) } else { 0.0 };
        let mut fit = self.results(&theta, &beta, &s2, fmin + saturated, fmin, stage1, stage2);
        fit.pirls_iterations = self.pirls.iterations;
        if self.options.derivatives {
            self.hessian_vcov(&mut fit, &xopt, &stage.center, &stage.scale, &stage.start)?;
        } else {
            fit.vcov_beta = self.fallback_vcov(fit.sigma);
        }
        fit.warnings.extend(self.pirls.resp.fitted_warnings(&fit.mu));
        self.fit = fit;
        Ok(())
    }

    /// vcov(beta) = 2 H^{-1} (beta block) for H the Hessian of the deviance over
    /// (theta, beta), as lme4; the weighted least-squares covariance when H is
    /// not positive definite. Also lme4's convergence checks.
    fn hessian_vcov(
        &self,
        fit: &mut GlmmFit,
        xopt: &[f64],
        beta1: &[f64],
        scale: &[f64],
        start: &PirlsStart,
    ) -> Result<()> {
        let ntheta = fit.theta.len();
        let p = beta1.len();
        let k = ntheta + p;
        // Original scale (theta, beta) and its steps.
        let center: Vec<f64> = (0..k).map(|i| if i < ntheta { xopt[i] } else { fit.beta[i - ntheta] }).collect();
        let h: Vec<f64> = (0..k)
            .map(|i| if i < ntheta { STEP * center[i].abs().max(0.1) } else { STEP * scale[i - ntheta] })
            .collect();
        let mut points = vec![center.clone()];
        for i in 0..k {
            let mut a = center.clone();
            a[i] += h[i];
            let mut b = center.clone();
            b[i] -= h[i];
            points.push(a);
            points.push(b);
        }
        for i in 0..k {
            for j in 0..i {
                for (si, sj) in [(1.0, 1.0), (-1.0, -1.0)] {
                    let mut a = center.clone();
                    a[i] += si * h[i];
                    a[j] += sj * h[j];
                    points.push(a);
                }
            }
        }
        let rule = gh_rule(fit.nagq);
        let nagq = fit.nagq;
        let values: Vec<f64> = {
            let threads = rayon::current_num_threads().max(1);
            let chunk = points.len().div_ceil(threads);
            points
                .par_chunks(chunk)
                .flat_map_iter(|pts| {
                    let mut local = self.pirls.replicate();
                    if local.step_tol > 0.0 {
                        local.step_tol = local.step_tol.min(HESSIAN_STEP_TOL);
                    }
                    let mut local_start = start.replicate();
                    pts.iter()
                        .map(|pt| {
                            let (theta, beta) = pt.split_at(ntheta);
                            match run_from(&mut local, theta, beta, &mut local_start) {
                                Some(st) => {
                                    if nagq > 1 {
                                        agq_deviance(&local, &st, theta, &rule)
                                    } else {
                                        local.laplace(&st)
                                    }
                                }
                                None => f64::NAN,
                            }
                        })
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        fit.derivative_evaluations = points.len();
        let f0 = values[0];
        let plus = |i: usize| values[1 + 2 * i];
        let minus = |i: usize| values[2 + 2 * i];
        let mut hess = vec![0.0; k * k];
        let mut grad = vec![0.0; k];
        let mut idx = 1 + 2 * k;
        for i in 0..k {
            grad[i] = (plus(i) - minus(i)) / (2.0 * h[i]);
            hess[i * k + i] = (plus(i) - 2.0 * f0 + minus(i)) / (h[i] * h[i]);
            for j in 0..i {
                // f(x+a+b) + f(x-a-b) - f(x+-a) - f(x+-b) + 2 f(x) = 2 a'Hb + O(h^4)
                let v = (values[idx] + values[idx + 1] - plus(i) - minus(i) - plus(j) - minus(j) + 2.0 * f0)
                    / (2.0 * h[i] * h[j]);
                hess[j * k + i] = v;
                hess[i * k + j] = v;
                idx += 2;
            }
        }
        if hess.iter().any(|v| !v.is_finite()) {
            fit.warnings
                .push("the Hessian could not be evaluated; standard errors from the weighted least-squares fit".into());
            fit.vcov_beta = self.fallback_vcov(fit.sigma);
            return Ok(());
        }
        // lme4's convergence checks on the parameters off the boundary.
        let lower = self.pirls.joint.par.lower_bounds();
        let free: Vec<usize> =
            (0..k).filter(|&i| !(i < ntheta && lower[i] == 0.0 && center[i] < SINGULAR_TOL)).collect();
        fit.warnings.extend(check_convergence(&grad, &hess, &free, fit.singular));
        match linalg::inverse_spd(&hess, k) {
            Some(inv) => {
                fit.vcov_beta = (0..p)
                    .flat_map(|c| (0..p).map(move |r| (r, c)))
                    .map(|(r, c)| 2.0 * inv[(ntheta + c) * k + ntheta + r])
                    .collect();
                fit.vcov_from_hessian = true;
            }
            None => {
                fit.warnings.push(
                    "the Hessian of the deviance is not positive definite; standard errors from the weighted least-squares fit"
                        .into(),
                );
                fit.vcov_beta = self.fallback_vcov(fit.sigma);
            }
        }
        Ok(())
    }

    /// (R_X'R_X)^{-1} of the weighted system at the optimum (lme4's `use.hessian = FALSE`).
    fn fallback_vcov(&self, sigma: f64) -> Vec<f64> {
        let s2 = sigma * sigma;
        self.pirls.joint.unscaled_vcov().iter().map(|v| v * s2).collect()
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn results(
        &self,
        theta: &[f64],
        beta: &[f64],
        s: &PirlsState,
        objective: f64,
        objective_lme4: f64,
        stage1: OptSummary,
        stage2: OptSummary,
    ) -> GlmmFit {
        let r = &self.pirls.resp;
        let fam = r.family;
        let n = r.n() as f64;
        let usq: f64 = s.u.iter().map(|v| v * v).sum();
        let sigma = if fam.has_scale() {
            // lme4's sigmaML: sqrt((Pearson chi-square + |u|^2) / n).
            let wrss: f64 = (0..r.n()).map(|i| r.weights[i] * (r.y[i] - s.mu[i]).powi(2) / fam.variance(s.mu[i])).sum();
            ((wrss + usq) / n).sqrt()
        } else {
            1.0
        };
        let par = &self.pirls.joint.par;
        let ranef = self.pirls.joint.ranef_from_u(&s.u, theta);
        // lme4's npar: a negative binomial's theta counts, estimated or given (lme4 looks at the family's name).
        let npar = beta.len() + theta.len() + usize::from(fam.has_scale()) + usize::from(fam.nb_theta().is_some());
        let loglik = -objective / 2.0;
        let lower = par.lower_bounds();
        let singular = theta.iter().zip(&lower).any(|(t, l)| *l == 0.0 && *t < SINGULAR_TOL);
        let mut warnings = setup_warnings(&self.rows, &self.spec);
        warnings.extend(self.pirls.resp.warnings.iter().cloned());
        for (name, o) in [("first", &stage1), ("second", &stage2)] {
            if !o.converged {
                warnings.push(format!("the {name} optimisation stage stopped before converging: {}", o.status));
            }
        }
        if singular {
            warnings.push("boundary (singular) fit: see help('isSingular')".into());
        }
        GlmmFit {
            family: fam,
            nagq: self.options.nagq,
            theta: theta.to_vec(),
            beta: beta.to_vec(),
            vcov_beta: vec![],
            vcov_from_hessian: false,
            objective,
            objective_lme4,
            loglik,
            npar,
            aic: objective + 2.0 * npar as f64,
            bic: objective + n.ln() * npar as f64,
            deviance: r.deviance(&s.mu),
            sigma,
            ranef,
            eta: s.eta.clone(),
            mu: s.mu.clone(),
            u: s.u.clone(),
            eta_weights: s.eta_weights.clone(),
            singular,
            stage1,
            stage2,
            derivative_evaluations: 0,
            pirls_iterations: 0,
            warnings,
        }
    }

    /// Conditional variances of the random effects (q x q a level, per term),
    /// from the modes-only system at the optimum's weights, times sigma^2.
    pub fn conditional_variances(&self) -> Vec<Vec<f64>> {
        let s2 = self.fit.sigma * self.fit.sigma;
        self.pirls.modes.conditional_variances().into_iter().map(|v| v.into_iter().map(|x| x * s2).collect()).collect()
    }

    /// Residuals of a kind (lme4's `residuals(m, type)`; deviance residuals by default there).
    pub fn residuals(&self, kind: ResidualKind) -> Vec<f64> {
        residuals::generalized(kind, &self.pirls.resp, &self.fit.mu, &self.fit.eta)
    }

    /// Predictions for new data on the link or response scale (unseen levels
    /// get zero random effects).
    pub fn predict(&self, data: &DataFrame, use_re: bool, response_scale: bool) -> Result<Vec<f64>> {
        self.predict_re(data, &ReForm::from_flag(use_re), response_scale)
    }

    /// Predictions with the random effects `re` selects (lme4's `re.form`).
    pub fn predict_re(&self, data: &DataFrame, re: &ReForm, response_scale: bool) -> Result<Vec<f64>> {
        let mut eta = self.spec.linear_predictor_re(data, &self.fit.beta, &self.fit.ranef, re)?;
        if response_scale {
            let family = self.fit.family;
            eta.iter_mut().for_each(|e| *e = family.linkinv(*e));
        }
        Ok(eta)
    }
}

/// PIRLS as lme4's deviance functions run it: every evaluation starts from
/// the same linear predictor `lp0` and stops at lme4's tolerance. The
/// deviance is then a deterministic function of the parameters (the
/// finite-difference Hessian needs that) and the same function glmer
/// minimizes. At the optimum the tolerance hardly matters, but away from it
/// the stopped iteration moves the deviance by up to ~1e-2 (grouseticks, in
/// R), which changes BOBYQA's path: with tolPwrss 1e-13 the cbpp fixed
/// effects land 1.4e-4 (relative) from glmer's, outside the 1e-4 the
/// references ask for. Where PIRLS converges slowly (Fisher scoring with a
/// non-canonical link, as the negative binomial's log) the stopped iteration
/// also biases the deviance at the optimum: 3e-3 for glmer's grouseticks
/// model at a negative binomial theta (R agrees: -2 logLik 1777.6842 with
/// tolPwrss 1e-7, 1777.6810 with 1e-13), which is why `glmer.nb`'s search
/// runs with a tight tolerance ([`crate::glmm::negbin`]).
fn run_from(p: &mut Pirls, theta: &[f64], beta: &[f64], start: &mut PirlsStart) -> Option<PirlsState> {
    let tol = p.tol;
    p.run_from(theta, beta, start, tol).ok()
}

/// The name of the method [`minimize_without_gradient`] runs for `method`.
fn derivative_free_name(method: Method) -> &'static str {
    match method {
        Method::NelderMead => "nelder_mead",
        _ => "bobyqa",
    }
}

/// The record of an optimisation stage that did not run.
fn not_run(status: &str) -> OptSummary {
    OptSummary {
        optimizer: String::new(),
        initial: vec![],
        final_theta: vec![],
        fmin: f64::NAN,
        feval: 0,
        geval: 0,
        status: status.into(),
        converged: true,
    }
}

fn empty_fit(family: Family) -> GlmmFit {
    let empty = OptSummary { converged: false, ..not_run("") };
    GlmmFit {
        family,
        nagq: 1,
        theta: vec![],
        beta: vec![],
        vcov_beta: vec![],
        vcov_from_hessian: false,
        objective: f64::NAN,
        objective_lme4: f64::NAN,
        loglik: f64::NAN,
        npar: 0,
        aic: f64::NAN,
        bic: f64::NAN,
        deviance: f64::NAN,
        sigma: 1.0,
        ranef: vec![],
        eta: vec![],
        mu: vec![],
        u: vec![],
        eta_weights: vec![],
        singular: false,
        stage1: empty.clone(),
        stage2: empty,
        derivative_evaluations: 0,
        pirls_iterations: 0,
        warnings: vec![],
    }
}
