//! Watching a fit (`fit_observed`): the observer sees every evaluation the
//! optimizer's record counts, and watching changes nothing: with or without
//! an observer a fit takes the same path to the same optimum. A stop
//! request ends the fit with `Error::Interrupted` at once.

mod common;

use common::*;
use mixedmodels::all_fit::AllFit;
use mixedmodels::glmer::{Glmer, GlmerOptions};
use mixedmodels::glmm::Family;
use mixedmodels::lmer::{Lmer, LmerOptions};
use mixedmodels::optim::{Flow, Method, OptimizerSettings, Progress};
use mixedmodels::Error;

/// What an observer keeps of a record.
#[derive(Debug, Clone)]
struct Seen {
    phase: &'static str,
    evaluation: usize,
    objective: f64,
    best: f64,
    theta: Vec<f64>,
    beta: Option<Vec<f64>>,
}

fn keep(trace: &mut Vec<Seen>, p: &Progress<'_>) -> Flow {
    trace.push(Seen {
        phase: p.phase,
        evaluation: p.evaluation,
        objective: p.objective,
        best: p.best,
        theta: p.theta.to_vec(),
        beta: p.beta.map(|b| b.to_vec()),
    });
    Flow::Continue
}

fn lowest<'a>(trace: &'a [Seen], phase: &str) -> &'a Seen {
    trace.iter().filter(|s| s.phase == phase).min_by(|a, b| a.objective.total_cmp(&b.objective)).unwrap()
}

#[test]
fn an_observed_lmm_fit_is_the_unobserved_fit_and_reports_each_evaluation() {
    let data = read_csv("sleepstudy.csv");
    let formula = "Reaction ~ Days + (Days | Subject)";
    for method in [Method::Bfgs, Method::Bobyqa, Method::NelderMead] {
        let mut options = LmerOptions::default();
        options.fit.optimizer = OptimizerSettings { method, ..Default::default() };
        let plain = Lmer::fit(formula, &data, &options).unwrap();
        let mut trace = Vec::new();
        let mut observer = |p: &Progress<'_>| keep(&mut trace, p);
        let watched = Lmer::fit_observed(formula, &data, &options, Some(&mut observer)).unwrap();
        assert_eq!(watched.fit.opt, plain.fit.opt, "{method:?}: the same path");
        assert_eq!(watched.fit.theta, plain.fit.theta);
        let evaluations: Vec<usize> = trace.iter().map(|s| s.evaluation).collect();
        assert_eq!(evaluations, (1..=plain.fit.opt.feval).collect::<Vec<_>>(), "{method:?}");
        assert_eq!(trace.last().unwrap().best, plain.fit.opt.fmin, "{method:?}");
        assert_eq!(lowest(&trace, "theta").theta, plain.fit.theta, "{method:?}");
    }
}

#[test]
fn an_observed_glmm_fit_reports_both_stages() {
    let options = GlmerOptions { family: Family::parse("binomial", None).unwrap(), ..Default::default() };
    let formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)";
    let data = read_csv("cbpp.csv");
    let plain = Glmer::fit(formula, &data, &options).unwrap();
    let mut trace = Vec::new();
    let mut observer = |p: &Progress<'_>| keep(&mut trace, p);
    let watched = Glmer::fit_observed(formula, &data, &options, Some(&mut observer)).unwrap();
    assert_eq!((watched.fit.stage1.clone(), watched.fit.stage2.clone()), (plain.fit.stage1, plain.fit.stage2.clone()));
    let (n1, n2) = (watched.fit.stage1.feval, watched.fit.stage2.feval);
    assert_eq!(trace.len(), n1 + n2);
    assert!(trace[..n1].iter().all(|s| s.phase == "stage 1") && trace[n1..].iter().all(|s| s.phase == "stage 2"));
    let best = lowest(&trace, "stage 2");
    assert_eq!(best.objective, plain.fit.stage2.fmin);
    assert_eq!(best.theta, plain.fit.theta);
    assert_abs(best.beta.as_ref().unwrap()[0], plain.fit.beta[0], 1e-12, "beta at the best evaluation");
}

#[test]
fn a_stop_request_ends_the_fit_with_interrupted() {
    let data = read_csv("sleepstudy.csv");
    for method in [Method::Bfgs, Method::Bobyqa, Method::NelderMead] {
        let mut options = LmerOptions::default();
        options.fit.optimizer = OptimizerSettings { method, ..Default::default() };
        let mut calls = 0;
        let mut observer = |p: &Progress<'_>| {
            calls += 1;
            if p.evaluation == 4 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        };
        let out = Lmer::fit_observed("Reaction ~ Days + (Days | Subject)", &data, &options, Some(&mut observer));
        assert!(matches!(out, Err(Error::Interrupted(_))), "{method:?}");
        assert_eq!(calls, 4, "{method:?}: nothing is evaluated after the stop");
    }
    let options = GlmerOptions { family: Family::parse("binomial", None).unwrap(), ..Default::default() };
    let mut observer = |p: &Progress<'_>| if p.phase == "stage 2" { Flow::Stop } else { Flow::Continue };
    let formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)";
    let out = Glmer::fit_observed(formula, &read_csv("cbpp.csv"), &options, Some(&mut observer));
    assert!(matches!(out, Err(Error::Interrupted(_))));
}

#[test]
fn all_fit_reports_each_refit_from_its_own_thread() {
    let m =
        Lmer::fit("Reaction ~ Days + (Days | Subject)", &read_csv("sleepstudy.csv"), &LmerOptions::default()).unwrap();
    let methods = [Method::Bobyqa, Method::NelderMead, Method::Bfgs];
    let seen = std::sync::Mutex::new(Vec::new());
    let observer = |method: Method, p: &Progress<'_>| {
        seen.lock().unwrap().push((method, p.evaluation));
        Flow::Continue
    };
    let fits = m.all_fit_observed(&methods, 100_000, Some(&observer));
    let seen = seen.into_inner().unwrap();
    for f in &fits {
        let refit = f.outcome.as_ref().unwrap();
        let mine: Vec<usize> = seen.iter().filter(|(method, _)| *method == f.method).map(|(_, e)| *e).collect();
        assert_eq!(mine, (1..=refit.feval).collect::<Vec<_>>(), "{:?}", f.method);
    }
    assert_eq!(fits.iter().map(|f| f.outcome.clone().unwrap()).collect::<Vec<_>>(), {
        m.all_fit(&methods, 100_000).into_iter().map(|f| f.outcome.unwrap()).collect::<Vec<_>>()
    });
}
