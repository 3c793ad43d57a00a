//! A fitted GLMM rebuilt at its estimates, without optimizing: a saved model
//! loaded again. [`Glmer::estimates`] gives what the rebuild needs, and
//! [`Glmer::at_estimates`] rebuilds the fit from it and the data.
//!
//! The fit's results are functions of (theta, beta), the conditional modes
//! u and the PIRLS factor the iterations ended with: the Laplace deviance
//! (log|L|^2), the quadrature, the conditional variances. That factor was
//! made at the working weights of the iterate before the last (lme4's too),
//! so its linear predictor is kept with the estimates
//! ([`crate::glmm::PirlsState::eta_weights`]); the rebuild refactors the
//! weighted system there and computes every number as the fit did, so the
//! loaded model's results are the saved one's. The covariance of the fixed
//! effects (the finite-difference Hessian's, lme4's default) is kept as it
//! was rather than recomputed from the k(k+1) PIRLS runs it took.

use crate::data::DataFrame;
use crate::error::{Error, Result};
use crate::glmer::{Glmer, GlmerOptions};
use crate::glmm::negbin::ThetaSearch;
use crate::glmm::pirls::Mode;
use crate::glmm::quadrature::{agq_deviance, gh_rule, saturated_deviance};
use crate::optim::OptSummary;

/// What rebuilds a fitted GLMM without optimizing: its estimates and the
/// records of how they were found.
#[derive(Debug, Clone, PartialEq)]
pub struct GlmmEstimates {
    pub theta: Vec<f64>,
    pub beta: Vec<f64>,
    /// The spherical conditional modes u.
    pub u: Vec<f64>,
    /// The linear predictor of PIRLS's last working weights.
    pub eta_weights: Vec<f64>,
    /// vcov(beta), p x p column-major, and whether it came from the Hessian.
    pub vcov_beta: Vec<f64>,
    pub vcov_from_hessian: bool,
    pub stage1: OptSummary,
    pub stage2: OptSummary,
    pub derivative_evaluations: usize,
    pub pirls_iterations: usize,
    /// PIRLS's stopping rules at the end of the fit (`tolPwrss`, and the
    /// step rule of glmer.nb's search): the nAGQ = 0 fit's modes-only run
    /// is repeated with them.
    pub pirls_tol: f64,
    pub pirls_step_tol: f64,
    /// The negative binomial's theta the fit ended at (estimated or given);
    /// None for the other families.
    pub nb_theta: Option<f64>,
    /// How a negative binomial's theta was estimated (None when it was given).
    pub nb_search: Option<ThetaSearch>,
}

impl Glmer {
    /// What [`Glmer::at_estimates`] rebuilds this fit from (with the data and
    /// the options, the family at the fit's negative binomial theta).
    pub fn estimates(&self) -> GlmmEstimates {
        let f = &self.fit;
        GlmmEstimates {
            theta: f.theta.clone(),
            beta: f.beta.clone(),
            u: f.u.clone(),
            eta_weights: f.eta_weights.clone(),
            vcov_beta: f.vcov_beta.clone(),
            vcov_from_hessian: f.vcov_from_hessian,
            stage1: f.stage1.clone(),
            stage2: f.stage2.clone(),
            derivative_evaluations: f.derivative_evaluations,
            pirls_iterations: f.pirls_iterations,
            pirls_tol: self.pirls.tol,
            pirls_step_tol: self.pirls.step_tol,
            nb_theta: f.family.nb_theta(),
            nb_search: self.nb_search.clone(),
        }
    }

    /// The fit at saved estimates, without optimizing: every result a fit
    /// that ended there gives. `options` are the fit's (a negative binomial
    /// family without theta when the fit estimated it: the model's refits
    /// estimate it again); the family is taken at the saved theta.
    pub fn at_estimates(
        formula: &str,
        data: &DataFrame,
        options: &GlmerOptions,
        saved: &GlmmEstimates,
    ) -> Result<Glmer> {
        let family = match saved.nb_theta {
            Some(theta) => options.family.with_nb_theta(theta)?,
            None => options.family,
        };
        let mut g = Glmer::new(formula, data, &GlmerOptions { family, ..options.clone() })?;
        g.options = options.clone();
        check_sizes(&g, saved)?;
        (g.pirls.tol, g.pirls.step_tol) = (saved.pirls_tol, saved.pirls_step_tol);
        let (theta, beta, u) = (&saved.theta, &saved.beta, &saved.u);
        let nagq = options.nagq;
        let mode = if nagq == 0 { Mode::Joint } else { Mode::ModesOnly };
        let state = g.pirls.state_at(theta, beta, u, saved.eta_weights.clone(), mode)?;
        let (objective, objective_lme4) = match nagq {
            0 => {
                let laplace = g.pirls.laplace(&state);
                // The modes-only system of the conditional variances, as the nAGQ = 0 fit leaves it.
                let tol = g.pirls.tol;
                g.pirls.run(theta, beta, u, Mode::ModesOnly, None, tol)?;
                (laplace, laplace)
            }
            1 => {
                let laplace = g.pirls.laplace(&state);
                (laplace, laplace)
            }
            _ => {
                let agq = agq_deviance(&g.pirls, &state, theta, &gh_rule(nagq));
                (agq + saturated_deviance(&g.pirls, &state.mu), agq)
            }
        };
        let (stage1, stage2) = (saved.stage1.clone(), saved.stage2.clone());
        let mut fit = g.results(theta, beta, &state, objective, objective_lme4, stage1, stage2);
        fit.vcov_beta = saved.vcov_beta.clone();
        fit.vcov_from_hessian = saved.vcov_from_hessian;
        fit.derivative_evaluations = saved.derivative_evaluations;
        fit.pirls_iterations = saved.pirls_iterations;
        fit.warnings.extend(g.pirls.resp.fitted_warnings(&fit.mu));
        g.fit = fit;
        g.nb_search = saved.nb_search.clone();
        Ok(g)
    }
}

/// The saved vectors have the sizes of the model the data and formula make.
fn check_sizes(g: &Glmer, saved: &GlmmEstimates) -> Result<()> {
    let p = g.pirls.p;
    let sizes = [
        ("theta", saved.theta.len(), g.pirls.joint.par.ntheta()),
        ("beta", saved.beta.len(), p),
        ("u", saved.u.len(), g.pirls.q()),
        ("eta_weights", saved.eta_weights.len(), g.pirls.resp.n()),
        ("vcov_beta", saved.vcov_beta.len(), p * p),
    ];
    match sizes.iter().find(|(_, got, want)| got != want) {
        Some((name, got, want)) => Err(Error::Argument(format!(
            "the saved {name} has {got} values but the model of these data has {want}: \
             the data or the formula are not those the estimates were saved with"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glmm::family::Family;

    /// 12 groups of 8 Poisson-like counts with a group effect and a slope.
    fn counts() -> DataFrame<'static> {
        let n = 96;
        let g: Vec<String> = (0..n).map(|i| format!("g{:02}", i / 8)).collect();
        let x: Vec<f64> = (0..n).map(|i| (i % 8) as f64 / 4.0).collect();
        let y: Vec<f64> = (0..n).map(|i| ((i * 7 + i / 8 * 3) % 6 + (i % 8) / 3) as f64).collect();
        DataFrame::new().with_numeric("y", y).unwrap().with_numeric("x", x).unwrap().with_labels("g", &g).unwrap()
    }

    #[test]
    fn a_fit_rebuilt_at_its_estimates_is_the_fit() {
        let data = counts();
        for nagq in [0, 1, 5] {
            let options =
                GlmerOptions { family: Family::parse("poisson", None).unwrap(), nagq, ..GlmerOptions::default() };
            let fitted = Glmer::fit("y ~ x + (1 | g)", &data, &options).unwrap();
            let again = Glmer::at_estimates("y ~ x + (1 | g)", &data, &options, &fitted.estimates()).unwrap();
            let (a, b) = (&fitted.fit, &again.fit);
            assert_eq!((&a.theta, &a.beta, &a.u, &a.eta, &a.mu), (&b.theta, &b.beta, &b.u, &b.eta, &b.mu));
            assert_eq!((&a.ranef, &a.vcov_beta), (&b.ranef, &b.vcov_beta));
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(1.0);
            assert!(close(a.objective, b.objective) && close(a.objective_lme4, b.objective_lme4), "nAGQ {nagq}");
            assert!(close(a.sigma, b.sigma) && close(a.deviance, b.deviance));
            let (va, vb) = (fitted.conditional_variances(), again.conditional_variances());
            assert!(va.iter().flatten().zip(vb.iter().flatten()).all(|(x, y)| close(*x, *y)), "nAGQ {nagq}");
            // No optimization: no PIRLS iteration but nAGQ = 0's one modes-only run.
            assert!(if nagq == 0 { again.pirls.iterations < 10 } else { again.pirls.iterations == 0 });
        }
    }

    #[test]
    fn a_negative_binomial_fit_keeps_its_theta_and_how_it_was_found() {
        let data = counts();
        let options =
            GlmerOptions { family: Family::parse("negative_binomial", None).unwrap(), ..GlmerOptions::default() };
        let fitted = Glmer::fit("y ~ x + (1 | g)", &data, &options).unwrap();
        let again = Glmer::at_estimates("y ~ x + (1 | g)", &data, &options, &fitted.estimates()).unwrap();
        assert_eq!(fitted.fit.family.nb_theta(), again.fit.family.nb_theta());
        assert_eq!((&fitted.fit.beta, &fitted.fit.mu), (&again.fit.beta, &again.fit.mu));
        assert!((fitted.fit.objective - again.fit.objective).abs() < 1e-10 * fitted.fit.objective.abs());
        assert_eq!(fitted.nb_search, again.nb_search);
        // The model's own options still estimate theta (its refits do, as the fit's).
        assert!(again.options.family.estimates_nb_theta());
    }

    #[test]
    fn estimates_of_another_model_are_refused() {
        let data = counts();
        let options = GlmerOptions { family: Family::parse("poisson", None).unwrap(), ..GlmerOptions::default() };
        let fitted = Glmer::fit("y ~ x + (1 | g)", &data, &options).unwrap();
        let err = Glmer::at_estimates("y ~ 1 + (1 | g)", &data, &options, &fitted.estimates()).err().unwrap();
        assert!(err.to_string().contains("the saved beta has 2 values but the model of these data has 1"), "{err}");
    }
}
