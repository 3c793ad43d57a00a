//! Fits against lme4/lmerTest at DESIGN.md's tolerances: fixed effects rel
//! 1e-5, SEs rel 1e-4, theta abs 1e-4, Satterthwaite df rel 1e-3, objective
//! abs 1e-4 (never higher than lme4's by more).

mod common;

use common::*;
use mixedmodels::lmer::{Lmer, LmerOptions};

fn fit_case(case: &str, data: &str) -> (Lmer, serde_json::Value) {
    let r = reference(case);
    let df = read_csv(data);
    let opts = LmerOptions { reml: r["REML"].as_bool().unwrap(), ..Default::default() };
    let m = Lmer::fit(r["formula"].as_str().unwrap(), &df, &opts).unwrap();
    (m, r)
}

fn check_fit(case: &str, data: &str) {
    let (m, r) = fit_case(case, data);
    let f = &m.fit;
    let crit = if f.reml { num(&r["REMLcrit"]) } else { num(&r["deviance"]) };
    assert!(f.objective <= crit + 1e-4, "{case}: objective {} vs lme4 {crit}", f.objective);
    assert_abs(f.objective, crit, 1e-4, &format!("{case} objective"));
    let theta = nums(&r["theta"]);
    for (i, (a, b)) in f.theta.iter().zip(&theta).enumerate() {
        assert_abs(a.abs(), b.abs(), 1e-4, &format!("{case} theta[{i}]"));
    }
    for (i, name) in m.fixed_names.iter().enumerate() {
        assert_rel(f.beta[i], num(&r["fixef"][name]), 1e-5, &format!("{case} fixef {name}"));
        let se = f.vcov_beta[i * f.p + i].sqrt();
        assert_rel(se, num(&r["se"][name]), 1e-4, &format!("{case} se {name}"));
        let df = f.df.as_ref().unwrap()[i];
        assert_rel(df, num(&r["satterthwaite"]["df"][name]), 1e-3, &format!("{case} df {name}"));
    }
    assert_rel(f.sigma, num(&r["sigma"]), 1e-4, &format!("{case} sigma"));
    assert_abs(f.loglik, num(&r["logLik"]), 1e-4, &format!("{case} logLik"));
    assert_eq!(f.singular, r["singular"].as_bool().unwrap(), "{case} singular");
    if let Some(fitted) = r["fitted"].as_array() {
        for (i, v) in fitted.iter().enumerate().step_by(7) {
            assert_abs(f.fitted[i], num(v), 1e-3 * num(v).abs().max(1.0), &format!("{case} fitted[{i}]"));
        }
    }
    if let Some(rows) = r["ranef"].as_array() {
        let cv = m.conditional_variances();
        for row in rows.iter().step_by(3) {
            let (group, term, level) =
                (row["group"].as_str().unwrap(), row["term"].as_str().unwrap(), row["level"].as_str().unwrap());
            let (k, t) = m
                .terms()
                .iter()
                .enumerate()
                .find(|(_, t)| t.group == group && t.cnames.iter().any(|c| c == term))
                .unwrap();
            let c = t.cnames.iter().position(|x| x == term).unwrap();
            let j = t.levels.iter().position(|l| l == level).unwrap();
            let q = t.q();
            let scale = num(&r["sigma"]);
            assert_abs(
                f.ranef[k][j * q + c],
                num(&row["condval"]),
                2e-3 * scale,
                &format!("{case} ranef {group} {level} {term}"),
            );
            let sd = cv[k][j * q * q + c * q + c].sqrt();
            assert_rel(sd, num(&row["condsd"]), 2e-3, &format!("{case} condsd {group} {level} {term}"));
        }
    }
}

#[test]
fn sleepstudy_matches_lme4() {
    check_fit("sleepstudy_slope_reml", "sleepstudy.csv");
    check_fit("sleepstudy_slope_ml", "sleepstudy.csv");
    check_fit("sleepstudy_uncorr", "sleepstudy.csv");
    check_fit("sleepstudy_unbalanced_kr", "sleepstudy_unbal.csv");
}

#[test]
fn crossed_nested_and_singular_match_lme4() {
    check_fit("penicillin_crossed", "penicillin.csv");
    check_fit("pastes_nested", "pastes.csv");
    check_fit("machines_nested_factor", "machines.csv");
    check_fit("dyestuff", "dyestuff.csv");
    check_fit("dyestuff2_singular", "dyestuff2.csv");
}

#[test]
fn dietox_matches_lme4() {
    check_fit("dietox_slope", "dietox.csv");
    check_fit("dietox_evit_factor", "dietox.csv");
}
