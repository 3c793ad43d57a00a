//! `Lm`, `Glm` and `Lm2` against R's lm + sandwich, glm and lmList + t.test
//! (tests/fixtures/lm/lm.R made the reference).

mod common;

use common::{assert_rel, fixtures, num, nums, read_csv};
use mixedmodels::lm::{FirstLevel, Glm, GlmOptions, Lm, Lm2, Lm2Options, LmOptions, LmWeights, SeChoice, SeMethod};
use serde_json::Value;

fn reference() -> Value {
    let path = fixtures().join("lm").join("lm.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn check_all(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_rel(*g, *w, tol, &format!("{what}[{i}]"));
    }
}

fn with_se(se: SeChoice) -> LmOptions {
    LmOptions { se, ..LmOptions::default() }
}

/// Estimates, classical summaries and every sandwich estimator of one case.
fn check_ols_case(case: &Value, data: &mixedmodels::data::DataFrame, weights: LmWeights) {
    let formula = case["formula"].as_str().unwrap();
    let fit = |se: SeChoice| Lm::fit(formula, data, &LmOptions { weights: weights.clone(), ..with_se(se) }).unwrap();
    let m = fit(SeChoice::default());
    check_all(&m.fit.beta, &nums(&case["estimate"]), 1e-9, "estimate");
    check_all(&m.se, &nums(&case["se"]), 1e-8, "se");
    assert_eq!(m.df, num(&case["df"]));
    assert_rel(m.sigma, num(&case["sigma"]), 1e-9, "sigma");
    assert_rel(m.rsquared, num(&case["r2"]), 1e-9, "r2");
    assert_rel(m.rsquared_adj, num(&case["adj_r2"]), 1e-9, "adj r2");
    assert_rel(m.loglik, num(&case["logLik"]), 1e-10, "logLik");
    assert_rel(m.aic, num(&case["AIC"]), 1e-10, "AIC");
    assert_rel(m.bic, num(&case["BIC"]), 1e-10, "BIC");
    check_all(&m.fit.fitted[..10], &nums(&case["fitted_head"]), 1e-9, "fitted");
    let robust = &case["robust"];
    for (name, method) in [
        ("hc0", SeMethod::Hc0),
        ("hc1", SeMethod::Hc1),
        ("hc2", SeMethod::Hc2),
        ("hc3", SeMethod::Hc3),
        ("hac1", SeMethod::Hac { lags: 1 }),
        ("hac3", SeMethod::Hac { lags: 3 }),
    ] {
        check_all(&fit(SeChoice::Method(method)).se, &nums(&robust[name]), 1e-8, name);
    }
    let clustered = fit(SeChoice::ClusterBy("Pig".into()));
    check_all(&clustered.se, &nums(&robust["cluster"]), 1e-8, "cluster");
    assert_eq!(clustered.df, num(&robust["cluster_df"]));
}

#[test]
fn ols_with_every_estimator_matches_lm_and_sandwich() {
    let r = reference();
    let dietox = read_csv("dietox.csv");
    check_ols_case(&r["ols"], &dietox, LmWeights::None);
    check_ols_case(&r["ols_missing"], &dietox, LmWeights::None);
    let dropped = Lm::fit("Weight ~ Feed + Time", &dietox, &LmOptions::default()).unwrap().rows.dropped();
    assert_eq!(dropped as f64, num(&r["ols_missing"]["dropped"]));
    check_ols_case(&r["wls"], &dietox, LmWeights::Column("Start".into()));
}

#[test]
fn group_variance_weights_give_welchs_t_test() {
    let case = &reference()["welch"];
    let data = read_csv("sleepstudy_unbal.csv");
    let options = LmOptions {
        weights: LmWeights::GroupVariance { column: "grp".into(), welch_df: true },
        ..LmOptions::default()
    };
    let m = Lm::fit("Reaction ~ grp", &data, &options).unwrap();
    check_all(&m.fit.beta, &nums(&case["estimate"]), 1e-9, "estimate");
    check_all(&m.se, &nums(&case["se"]), 1e-8, "se");
    assert_rel(m.df, num(&case["welch_df"]), 1e-10, "Welch df");
    // t.test's t is mean(a) - mean(b) over its SE: the slope's t with the sign turned.
    assert_rel(-m.t_values()[1], num(&case["welch_t"]), 1e-9, "Welch t");
}

#[test]
fn logistic_regression_of_proportions_matches_glm() {
    let case = &reference()["logistic_proportion"];
    let cbpp = read_csv("cbpp.csv");
    let options = GlmOptions { weights: Some("size".into()), ..GlmOptions::default() };
    let m = Glm::fit("incidence / size ~ period", &cbpp, &options).unwrap();
    check_all(&m.fit.beta, &nums(&case["estimate"]), 1e-7, "estimate");
    check_all(&m.se, &nums(&case["se"]), 1e-6, "se");
    assert_rel(m.fit.deviance, num(&case["deviance"]), 1e-9, "deviance");
    assert_rel(m.fit.null_deviance, num(&case["null_deviance"]), 1e-12, "null deviance");
    assert_rel(m.fit.aic, num(&case["AIC"]), 1e-9, "AIC");
    assert_rel(m.fit.loglik, num(&case["logLik"]), 1e-9, "logLik");
    assert_eq!(m.fit.iterations as f64, num(&case["iter"]));
}

#[test]
fn two_stage_matches_lmlist_and_t_tests() {
    let case = &reference()["lm2_sleepstudy"];
    let data = read_csv("sleepstudy.csv");
    let options = Lm2Options {
        contrasts: vec![],
        groups: vec!["Subject".into()],
        first_level: FirstLevel::Coefficients,
        se: SeChoice::default(),
    };
    let m = Lm2::fit("Reaction ~ Days", &data, &options).unwrap();
    let level = &m.levels[0];
    let groups: Vec<String> = case["groups"].as_array().unwrap().iter().map(|g| g.as_str().unwrap().into()).collect();
    assert_eq!(level.columns[0].1, groups);
    // R's matrix (groups x terms) arrives row by row.
    let want: Vec<f64> = case["coefficients"].as_array().unwrap().iter().flat_map(nums).collect();
    check_all(&level.values, &want, 1e-9, "coefficients");
    let est: Vec<f64> = m.tests.iter().map(|t| t.estimate).collect();
    let se: Vec<f64> = m.tests.iter().map(|t| t.se).collect();
    let df: Vec<f64> = m.tests.iter().map(|t| t.df).collect();
    check_all(&est, &nums(&case["estimate"]), 1e-9, "estimate");
    check_all(&se, &nums(&case["se"]), 1e-9, "se");
    check_all(&df, &nums(&case["df"]), 0.0, "df");
}
