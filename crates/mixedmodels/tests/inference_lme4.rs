//! Inference against lmerTest, pbkrtest and lme4, in the core's own language:
//! Kenward-Roger's adjusted covariance and df, the t and F tests of
//! `L beta = rhs` (Satterthwaite's and Kenward-Roger's, with a shifted rhs),
//! profile intervals, the parametric bootstrap's reproducibility, and PIRLS at
//! glmer's estimates. Tolerances as DESIGN.md's: SEs rel 1e-4, df and
//! p-values rel 1e-3.

mod common;

use common::*;
use mixedmodels::fitted::MixedFit;
use mixedmodels::glmer::{Glmer, GlmerOptions};
use mixedmodels::glmm::{Family, Mode};
use mixedmodels::inference::profile::profile_intervals;
use mixedmodels::inference::DdfMethod;
use mixedmodels::lmer::{Lmer, LmerOptions};
use mixedmodels::resample::parametric_bootstrap;
use serde_json::Value;

fn fit(formula: &str, data: &str) -> Lmer {
    Lmer::fit(formula, &read_csv(data), &LmerOptions::default()).unwrap()
}

fn contest_fixture() -> Value {
    let path = fixtures().join("contest").join("contest.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn rows_of(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(nums).collect()
}

#[test]
fn kenward_roger_matches_pbkrtest() {
    let r = reference("sleepstudy_unbalanced_kr");
    let m = fit(r["formula"].as_str().unwrap(), "sleepstudy_unbal.csv");
    let kr = m.kenward_roger().unwrap();
    let df = kr.coefficient_df(&m.fit.beta);
    for (i, name) in m.fixed_names.iter().enumerate() {
        let se = kr.phi_adj[i * kr.p + i].sqrt();
        assert_rel(se, num(&r["kenward_roger"]["se"][name]), 1e-4, &format!("KR se {name}"));
        assert_rel(df[i], num(&r["kenward_roger"]["df"][name]), 1e-3, &format!("KR df {name}"));
    }
}

#[test]
fn tests_of_linear_hypotheses_match_contest() {
    let r = contest_fixture();
    let m = fit(r["formula"].as_str().unwrap(), "sleepstudy_unbal.csv");
    for (id, case) in r["cases"].as_object().unwrap() {
        let rows = rows_of(&case["L"]);
        let rhs = nums(&case["rhs"]);
        let rhs = if rhs.len() == 1 { vec![rhs[0]; rows.len()] } else { rhs };
        for (key, method) in [("satterthwaite", DdfMethod::Satterthwaite), ("kenward_roger", DdfMethod::KenwardRoger)] {
            let what = format!("{id} {key}");
            let joint = if rows.len() == 1 { &case[format!("{key}_joint")] } else { &case[key] };
            let f = m.f_test(&rows, &rhs, method).unwrap();
            assert_eq!(f.num_df as f64, num(&joint["NumDF"]), "{what} NumDF");
            assert_rel(f.den_df, num(&joint["DenDF"]), 1e-3, &format!("{what} DenDF"));
            assert_rel(f.f, num(&joint["F"]), 1e-4, &format!("{what} F"));
            assert_rel(f.mean_sq, num(&joint["MeanSq"]), 1e-4, &format!("{what} MeanSq"));
            if rows.len() == 1 {
                let t = m.t_test(&rows[0], rhs[0], method).unwrap();
                let one = &case[key];
                assert_rel(t.estimate, num(&one["Estimate"]), 1e-5, &format!("{what} estimate"));
                assert_rel(t.se, num(&one["SE"]), 1e-4, &format!("{what} SE"));
                assert_rel(t.df, num(&one["df"]), 1e-3, &format!("{what} df"));
                assert_rel(t.t, num(&one["t"]), 1e-4, &format!("{what} t"));
            }
        }
    }
    // L must have one column a coefficient
    assert!(m.f_test(&[vec![1.0, 0.0]], &[0.0], DdfMethod::Satterthwaite).is_err());
}

#[test]
fn profile_intervals_match_lme4() {
    let r = reference("sleepstudy_slope_reml");
    let m = fit(r["formula"].as_str().unwrap(), "sleepstudy.csv");
    let ci = profile_intervals(&m, 0.95).unwrap();
    let want = r["confint_profile"].as_array().unwrap();
    assert_eq!(ci.len(), want.len());
    for ((lo, hi), w) in ci.iter().zip(want) {
        let (wlo, whi) = (num(&w["lower"]), num(&w["upper"]));
        // lme4 interpolates the profile with splines; we solve for the ends: 0.1% of the width
        let tol = 1e-3 * (whi - wlo);
        assert_abs(*lo, wlo, tol, &format!("profile lower {}", w["term"]));
        assert_abs(*hi, whi, tol, &format!("profile upper {}", w["term"]));
    }
}

#[test]
fn bootstrap_replicates_are_reproducible_and_chunk_independent() {
    let m = fit("Reaction ~ Days + (Days | Subject)", "sleepstudy.csv");
    let all = parametric_bootstrap(&m, 0, 30, 7);
    assert_eq!(all, parametric_bootstrap(&m, 0, 30, 7));
    let mut chunks = parametric_bootstrap(&m, 0, 12, 7);
    chunks.extend(parametric_bootstrap(&m, 12, 18, 7));
    assert_eq!(all, chunks);
    assert_ne!(all, parametric_bootstrap(&m, 0, 30, 8));
    // replicates are centred on the estimates: the slope's mean within 4 standard errors of it
    let slopes: Vec<f64> = all.iter().map(|r| r.as_ref().expect("refit").beta[1]).collect();
    let mean = slopes.iter().sum::<f64>() / slopes.len() as f64;
    let se = m.fit.vcov_beta[3].sqrt();
    assert!((mean - m.fit.beta[1]).abs() < 4.0 * se / (slopes.len() as f64).sqrt(), "bootstrap mean {mean}");
}

#[test]
fn pirls_at_glmers_estimates_gives_its_deviance_and_modes() {
    let r = reference("cbpp_binomial");
    let options = GlmerOptions { family: Family::parse("binomial", None).unwrap(), ..Default::default() };
    let g = Glmer::fit(r["formula"].as_str().unwrap(), &read_csv("cbpp.csv"), &options).unwrap();
    let theta = nums(&r["theta"]);
    let beta: Vec<f64> = g.fixed_names.iter().map(|n| num(&r["fixef"][n])).collect();
    let mut pirls = g.pirls.replicate();
    let u0 = vec![0.0; pirls.q()];
    let state = pirls.run(&theta, &beta, &u0, Mode::ModesOnly, None, 1e-13).unwrap();
    // The Laplace approximation at lme4's optimum, PIRLS run to convergence, is lme4's -2
    // log-likelihood up to its stopping rule (lme4 stops each evaluation's PIRLS at
    // tolPwrss = 1e-7 from a common start, which moves the deviance by 5.6e-4 here; so does
    // our fit, whose deviance is lme4's to 1e-9).
    assert_abs(pirls.laplace(&state), -2.0 * num(&r["logLik"]), 1e-3, "Laplace deviance");
    assert_abs(g.fit.objective, -2.0 * num(&r["logLik"]), 1e-6, "deviance of the fit");
    // the conditional modes b = Lambda u at those estimates are lme4's ranef
    let levels = &g.random_terms()[0].levels;
    for row in r["ranef"].as_array().unwrap() {
        let j = levels.iter().position(|l| l == row["level"].as_str().unwrap()).unwrap();
        assert_abs(theta[0] * state.u[j], num(&row["condval"]), 1e-4, &format!("mode of herd {j}"));
    }
}
