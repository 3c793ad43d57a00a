//! `all_fit`: the model refitted with every optimizer (lme4's `allFit`).
//! On well-posed models every optimizer reaches the optimum of the default
//! fit; an optimizer held to a few evaluations says it did not converge;
//! the refits do not depend on the number of threads.

mod common;

use common::*;
use mixedmodels::all_fit::{available_methods, AllFit, OptimizerFit, Refit};
use mixedmodels::glmer::{Glmer, GlmerOptions};
use mixedmodels::glmm::Family;
use mixedmodels::lmer::{Lmer, LmerOptions};
use mixedmodels::optim::Method;

fn sleepstudy() -> Lmer {
    Lmer::fit("Reaction ~ Days + (Days | Subject)", &read_csv("sleepstudy.csv"), &LmerOptions::default()).unwrap()
}

fn cbpp() -> Glmer {
    let options = GlmerOptions { family: Family::parse("binomial", None).unwrap(), ..Default::default() };
    let formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)";
    Glmer::fit(formula, &read_csv("cbpp.csv"), &options).unwrap()
}

fn refit(f: &OptimizerFit) -> &Refit {
    f.outcome.as_ref().unwrap_or_else(|e| panic!("{}: {e}", f.method.name()))
}

/// Every refit at the fit's optimum: the objective to `tol_objective`
/// (absolute), theta and beta to `tol` (relative, absolute near zero).
fn assert_same_optimum(
    fits: &[OptimizerFit],
    objective: f64,
    theta: &[f64],
    beta: &[f64],
    tol_objective: f64,
    tol: f64,
) {
    for f in fits {
        let r = refit(f);
        let name = f.method.name();
        assert!(r.converged && r.warnings.is_empty(), "{name}: {} {:?}", r.status, r.warnings);
        assert_abs(r.objective, objective, tol_objective, &format!("{name} objective"));
        for (got, want) in r.theta.iter().zip(theta).chain(r.beta.iter().zip(beta)) {
            assert!((got - want).abs() <= tol * want.abs().max(1.0), "{name}: {:?} {:?}", r.theta, r.beta);
        }
    }
}

#[test]
fn every_optimizer_reaches_the_lmm_optimum() {
    let m = sleepstudy();
    let methods = available_methods(false);
    assert_eq!(methods, [Method::Bobyqa, Method::NelderMead, Method::Bfgs]);
    let fits = m.all_fit(&methods, 100_000);
    assert_eq!(fits.iter().map(|f| f.method).collect::<Vec<_>>(), methods);
    assert_same_optimum(&fits, m.fit.objective, &m.fit.theta, &m.fit.beta, 1e-7, 1e-4);
    assert_eq!(refit(&fits[1]).status.split(':').next(), Some("converged"));
}

#[test]
fn every_optimizer_reaches_the_glmm_optimum() {
    let g = cbpp();
    let methods = available_methods(true);
    assert_eq!(methods, [Method::Bobyqa, Method::NelderMead]);
    let fits = g.all_fit(&methods, 100_000);
    // The Laplace deviance is rough at PIRLS's tolerance: optima agree to ~1e-6.
    assert_same_optimum(&fits, g.fit.objective, &g.fit.theta, &g.fit.beta, 1e-5, 2e-3);
}

#[test]
fn an_optimizer_out_of_evaluations_is_reported() {
    let m = sleepstudy();
    let fits = m.all_fit(&[Method::NelderMead, Method::Bobyqa], 10);
    for f in &fits {
        let r = refit(f);
        assert!(!r.converged, "{}: {}", f.method.name(), r.status);
        assert!(r.objective > m.fit.objective + 1e-3, "{}: stopped early, above the optimum", f.method.name());
    }
}

#[test]
fn refits_do_not_depend_on_the_threads() {
    let m = sleepstudy();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| m.all_fit(&available_methods(false), 100_000))
    };
    let (one, two) = (run(1), run(2));
    for (a, b) in one.iter().zip(&two) {
        assert_eq!(refit(a), refit(b), "{}", a.method.name());
    }
}
