//! GLMM intervals: profile intervals against lme4's confint(method =
//! "profile") (tests/fixtures/glmm/glmm_intervals.R), and the parametric
//! bootstrap's independence of the thread count and of the chunking.

mod common;

use common::*;
use mixedmodels::glmer::{Glmer, GlmerOptions};
use mixedmodels::glmm::bootstrap::parametric_bootstrap;
use mixedmodels::glmm::Family;
use mixedmodels::inference::profile_glmm::glmm_profile_intervals;
use serde_json::Value;

fn case(id: &str) -> Value {
    let path = fixtures().join("glmm").join("glmm_intervals.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    all["cases"][id].clone()
}

fn fit(c: &Value) -> Glmer {
    let df = read_csv(&format!("{}.csv", c["data"].as_str().unwrap()));
    let family = Family::parse(c["family"].as_str().unwrap(), None).unwrap();
    Glmer::fit(c["formula"].as_str().unwrap(), &df, &GlmerOptions { family, ..Default::default() }).unwrap()
}

/// lme4 interpolates zeta with a spline through its grid; the roots agree to
/// ~5e-5 relative (2e-3 is the tolerance asked for), or 1e-4 absolute for an
/// end near zero.
#[test]
fn profile_intervals_match_lme4() {
    for id in ["cbpp_binomial", "cbpp_poisson_offset"] {
        let c = case(id);
        let g = fit(&c);
        let got = glmm_profile_intervals(&g, 0.95).unwrap();
        let want = c["profile"].as_array().unwrap();
        assert_eq!(got.len(), want.len());
        for ((lo, hi), w) in got.iter().zip(want) {
            let term = w["term"].as_str().unwrap();
            for (x, y) in [(*lo, num(&w["lower"])), (*hi, num(&w["upper"]))] {
                assert!((x - y).abs() <= 2e-3 * y.abs() + 1e-4, "{id} {term}: {x} vs lme4 {y}");
            }
        }
    }
}

#[test]
fn bootstrap_does_not_depend_on_threads_or_chunks() {
    let g = fit(&case("cbpp_binomial"));
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| parametric_bootstrap(&g, 0, 6, 42))
    };
    let one = run(1);
    assert_eq!(one, run(3));
    let mut chunks = parametric_bootstrap(&g, 0, 2, 42);
    chunks.extend(parametric_bootstrap(&g, 2, 4, 42));
    assert_eq!(one, chunks);
    assert!(one.iter().all(Option::is_some));
    assert_ne!(one[0], one[1]);
}
