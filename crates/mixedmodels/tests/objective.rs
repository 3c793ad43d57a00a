//! The profiled objective at fixed theta against lme4's devfun (rel 1e-8):
//! pure math, independent of the optimizer.

mod common;

use common::*;
use mixedmodels::design::DesignSpec;
use mixedmodels::formula::ModelFormula;
use mixedmodels::model::LinearMixedModel;

fn check_case(case: &str, data: &str) {
    let r = reference(case);
    let df = read_csv(data);
    let f = ModelFormula::parse(r["formula"].as_str().unwrap()).unwrap();
    let (df, _) = df.drop_missing(&f.column_names()).unwrap();
    let (spec, design) = DesignSpec::learn(f, &df, &[]).unwrap();
    let y = spec.numeric_response(&df).unwrap();
    let p = design.x.ncols();
    let reml = r["REML"].as_bool().unwrap();
    let mut m = LinearMixedModel::new(design.x.values, p, y, design.terms, None, reml).unwrap();
    for probe in r["objective_at"].as_array().unwrap() {
        let theta = nums(&probe["theta"]);
        let got = m.objective_at(&theta);
        assert_rel(got, num(&probe["value"]), 1e-8, &format!("{case} objective at {theta:?}"));
    }
}

#[test]
fn sleepstudy_objective_matches_lme4() {
    check_case("sleepstudy_slope_reml", "sleepstudy.csv");
    check_case("sleepstudy_slope_ml", "sleepstudy.csv");
    check_case("sleepstudy_uncorr", "sleepstudy.csv");
    check_case("sleepstudy_unbalanced_kr", "sleepstudy_unbal.csv");
}

#[test]
fn crossed_and_nested_objective_matches_lme4() {
    check_case("penicillin_crossed", "penicillin.csv");
    check_case("pastes_nested", "pastes.csv");
    check_case("machines_nested_factor", "machines.csv");
    check_case("dyestuff", "dyestuff.csv");
    check_case("dyestuff2_singular", "dyestuff2.csv");
}

#[test]
fn dietox_objective_matches_lme4() {
    check_case("dietox_slope", "dietox.csv");
    check_case("dietox_evit_factor", "dietox.csv");
}
