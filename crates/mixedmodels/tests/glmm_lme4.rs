//! GLMMs against glmer: fixed effects rel 1e-4, SEs and variance components
//! rel 1e-3, logLik abs 1e-3.

mod common;

use common::*;
use mixedmodels::glmer::{Glmer, GlmerOptions};
use mixedmodels::glmm::Family;

fn check(case: &str, data: &str, nagq: usize) {
    let r = reference(case);
    let df = read_csv(data);
    let link = r.get("link").and_then(|l| l.as_str());
    let family = Family::parse(r["family"].as_str().unwrap(), link).unwrap();
    let opts = GlmerOptions { family, nagq, ..Default::default() };
    let m = Glmer::fit(r["formula"].as_str().unwrap(), &df, &opts).unwrap();
    let f = &m.fit;
    let p = f.beta.len();
    for (i, name) in m.fixed_names.iter().enumerate() {
        assert_rel(f.beta[i], num(&r["fixef"][name]), 1e-4, &format!("{case} fixef {name}"));
        assert_rel(f.vcov_beta[i * p + i].sqrt(), num(&r["se"][name]), 1e-3, &format!("{case} se {name}"));
    }
    for (i, t) in nums(&r["theta"]).iter().enumerate() {
        assert_abs(f.theta[i], *t, 1e-3 * t.abs().max(0.1), &format!("{case} theta {i}"));
    }
    if nagq == 1 {
        assert_abs(f.loglik, num(&r["logLik"]), 1e-3, &format!("{case} logLik"));
    } else {
        assert_abs(-f.objective_lme4 / 2.0, num(&r["logLik"]), 1e-3, &format!("{case} lme4-scale logLik"));
    }
    assert_rel(f.deviance, num(&r["deviance"]), 1e-4, &format!("{case} deviance"));
}

#[test]
fn cbpp_binomial_matches_glmer() {
    check("cbpp_binomial", "cbpp.csv", 1);
}

#[test]
fn cbpp_agq_matches_glmer() {
    check("cbpp_binomial_agq", "cbpp.csv", 10);
}

#[test]
fn grouseticks_poisson_matches_glmer() {
    check("grouseticks_poisson", "grouseticks_std.csv", 1);
}

#[test]
fn other_links_and_offsets_match_glmer() {
    check("cbpp_probit", "cbpp.csv", 1);
    check("cbpp_cloglog", "cbpp.csv", 1);
    check("cbpp_poisson_offset", "cbpp.csv", 1);
    check("grouseticks_poisson_agq", "grouseticks_std.csv", 5);
    check("cbpp_binomial_agq25", "cbpp.csv", 25);
    check("cbpp_binomial_agq100", "cbpp.csv", 100);
}

#[test]
fn gauss_hermite_rules_match_lme4_ghrule() {
    // tests/fixtures/glmm/ghrule.json: lme4::GHrule(k), written by ghrule.R. The
    // outer weights of the 100-point rule (down to 3e-79) must keep their
    // relative accuracy: the quadrature multiplies them by exp(z^2 / 2).
    let path = fixtures().join("glmm").join("ghrule.json");
    let rules: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    for k in [5usize, 25, 100] {
        let r = &rules[format!("k{k}")];
        let rule = mixedmodels::glmm::quadrature::gh_rule(k);
        assert_eq!(rule.len(), k);
        for (i, (z, w, _)) in rule.iter().enumerate() {
            let (zr, wr) = (num(&r["z"][i]), num(&r["w"][i]));
            assert_abs(*z, zr, 1e-10 * zr.abs().max(1.0), &format!("GHrule({k}) node {i}"));
            assert_rel(*w, wr, 1e-8, &format!("GHrule({k}) weight {i}"));
        }
    }
}

#[test]
fn gamma_and_inverse_gaussian_match_glmer() {
    check("dietox_gamma_log", "dietox.csv", 1);
    check("dietox_invgauss", "dietox.csv", 1);
}
