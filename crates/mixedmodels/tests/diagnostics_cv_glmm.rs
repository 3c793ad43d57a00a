//! Cross-validation against lme4 (leave-one-group-out RMSE of the shared
//! references) and against refitting each training set from scratch;
//! deletion diagnostics of a GLMM against refitting the subset from scratch
//! with a dense implementation of the measures.

mod common;

use common::*;
use mixedmodels::diagnostics::cross_validation::{self as cv, Prediction, Score};
use mixedmodels::diagnostics::{self, glmm};
use mixedmodels::glmer::{Glmer, GlmerOptions};
use mixedmodels::lmer::{Lmer, LmerOptions};
use serde_json::Value;

fn diag_reference(case: &str) -> Value {
    let path = fixtures().join("diagnostics").join(format!("{case}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn pooled_rmse(folds: &[cv::FoldResult], y: &[f64]) -> f64 {
    let (mut sse, mut n) = (0.0, 0usize);
    for f in folds {
        for (&i, p) in f.rows.iter().zip(&f.predictions) {
            sse += (y[i] - p).powi(2);
            n += 1;
        }
    }
    (sse / n as f64).sqrt()
}

#[test]
fn leave_one_group_out_matches_lme4() {
    for (case, data) in
        [("sleepstudy_diag", "sleepstudy.csv"), ("dietox_diag", "dietox.csv"), ("machines_diag", "machines.csv")]
    {
        let r = diag_reference(case);
        let m = Lmer::fit(r["formula"].as_str().unwrap(), &read_csv(data), &LmerOptions::default()).unwrap();
        let term = m.terms().iter().find(|t| t.group == r["group"].as_str().unwrap()).unwrap();
        let (levels, rows) = cv::group_folds(&term.refs, term.nlevels(), None, 0).unwrap();
        let folds = cv::lmm(&m, &rows, Prediction::Population, true).unwrap();
        let y = &m.model.y;
        let cv_levels: Vec<String> =
            r["logo_cv"]["levels"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        let want = nums(&r["logo_cv"]["rmse_per_group"]);
        for (f, l) in folds.iter().zip(&levels) {
            let label = &term.levels[l[0]];
            let k = cv_levels.iter().position(|x| x == label).unwrap();
            let got = (f.rows.iter().zip(&f.predictions).map(|(&i, p)| (y[i] - p).powi(2)).sum::<f64>()
                / f.rows.len() as f64)
                .sqrt();
            assert_rel(got, want[k], 1e-4, &format!("{case} rmse[{label}]"));
        }
        assert_rel(pooled_rmse(&folds, y), num(&r["logo_cv"]["rmse_overall"]), 1e-4, &format!("{case} rmse"));
        let all: Vec<f64> = folds.iter().flat_map(|f| f.predictions.clone()).collect();
        let obs: Vec<f64> = folds.iter().flat_map(|f| f.rows.iter().map(|&i| y[i])).collect();
        let w = vec![1.0; obs.len()];
        assert_rel(
            Score::Rmse.compute(&obs, &all, &w, None).unwrap(),
            num(&r["logo_cv"]["rmse_overall"]),
            1e-4,
            "score",
        );
    }
}

/// The sleepstudy rows, optionally without some.
fn sleepstudy_without(rows: &[usize]) -> mixedmodels::data::DataFrame<'static> {
    read_csv_rows("sleepstudy.csv", &|i| !rows.contains(&i))
}

/// Training refits and predictions equal a fit from scratch on the training
/// rows and its predictions (population or conditional).
#[test]
fn folds_equal_refitting_from_scratch() {
    let formula = "Reaction ~ Days + (Days | Subject)";
    let m = Lmer::fit(formula, &read_csv("sleepstudy.csv"), &LmerOptions::default()).unwrap();
    let term = &m.terms()[0];
    let (_, group_rows) = cv::group_folds(&term.refs, term.nlevels(), Some(4), 42).unwrap();
    let obs_rows = cv::row_folds(m.fit.n, 5, 7).unwrap();
    let full = read_csv("sleepstudy.csv");
    for reml in [true, false] {
        for (folds, prediction) in [(&group_rows, Prediction::Population), (&obs_rows, Prediction::Conditional)] {
            let got = cv::lmm(&m, folds, prediction, reml).unwrap();
            for f in &got {
                let options = LmerOptions { reml, ..Default::default() };
                let scratch = Lmer::fit(formula, &sleepstudy_without(&f.rows), &options).unwrap();
                let want = scratch.predict(&full, prediction == Prediction::Conditional).unwrap();
                for (&i, p) in f.rows.iter().zip(&f.predictions) {
                    assert_abs(*p, want[i], 1e-4, &format!("reml={reml} {prediction:?} prediction[{i}]"));
                }
            }
        }
    }
}

#[test]
fn folds_are_reproducible_and_thread_independent() {
    let m =
        Lmer::fit("Reaction ~ Days + (Days | Subject)", &read_csv("sleepstudy.csv"), &LmerOptions::default()).unwrap();
    let term = &m.terms()[0];
    let (levels_a, rows_a) = cv::group_folds(&term.refs, term.nlevels(), Some(3), 9).unwrap();
    let (levels_b, _) = cv::group_folds(&term.refs, term.nlevels(), Some(3), 9).unwrap();
    let (levels_c, _) = cv::group_folds(&term.refs, term.nlevels(), Some(3), 10).unwrap();
    assert_eq!(levels_a, levels_b);
    assert_ne!(levels_a, levels_c);
    assert_eq!(levels_a.iter().map(Vec::len).sum::<usize>(), 18);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| cv::lmm(&m, &rows_a, Prediction::Population, true).unwrap())
    };
    assert_eq!(run(1), run(4));
    assert!(cv::row_folds(180, 1, 0).is_err());
    assert!(cv::group_folds(&term.refs, term.nlevels(), Some(19), 0).is_err());
}

// ------------------------------------------------------------ GLMM

fn cbpp_options() -> GlmerOptions {
    GlmerOptions::default() // binomial, logit link
}

const CBPP: &str = "cbind(incidence, size - incidence) ~ period + (1 | herd)";

/// p x p helpers for the dense measures.
fn inverse(a: &[f64], p: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    let mut inv = vec![0.0; p * p];
    for i in 0..p {
        inv[i * p + i] = 1.0;
    }
    for col in 0..p {
        let d = m[col * p + col];
        for c in 0..p {
            m[c * p + col] /= d;
            inv[c * p + col] /= d;
        }
        for r in 0..p {
            if r != col {
                let f = m[col * p + r];
                for c in 0..p {
                    m[c * p + r] -= f * m[c * p + col];
                    inv[c * p + r] -= f * inv[c * p + col];
                }
            }
        }
    }
    inv
}

fn quad(inv: &[f64], d: &[f64], p: usize) -> f64 {
    (0..p).map(|a| (0..p).map(|b| d[a] * inv[b * p + a] * d[b]).sum::<f64>()).sum()
}

fn det(a: &[f64], p: usize) -> f64 {
    // Gaussian elimination on a copy.
    let mut m = a.to_vec();
    let mut d = 1.0;
    for col in 0..p {
        let piv = m[col * p + col];
        d *= piv;
        for r in col + 1..p {
            let f = m[col * p + r] / piv;
            for c in col..p {
                m[c * p + r] -= f * m[c * p + col];
            }
        }
    }
    d
}

#[test]
fn glmm_deletion_equals_refitting_from_scratch() {
    let g = Glmer::fit(CBPP, &read_csv("cbpp.csv"), &cbpp_options()).unwrap();
    let term = &g.pirls.joint.terms[0];
    let sets: Vec<Vec<usize>> = [0u32, 3, 7, 12]
        .iter()
        .map(|&l| (0..term.refs.len()).filter(|&i| term.refs[i] == l).collect())
        .chain([vec![5usize]])
        .collect();
    let got = glmm::set_influence(&g, &sets).unwrap();
    let p = g.fit.beta.len();
    let vinv = inverse(&g.fit.vcov_beta, p);
    assert_eq!(diagnostics::rvc_names_glmm(&g), ["D11"]);
    for (s, d) in sets.iter().zip(&got) {
        assert!(d.converged);
        let scratch = Glmer::fit(CBPP, &read_csv_rows("cbpp.csv", &|i| !s.contains(&i)), &cbpp_options()).unwrap();
        let f = &scratch.fit;
        let delta: Vec<f64> = g.fit.beta.iter().zip(&f.beta).map(|(a, b)| a - b).collect();
        let cooksd = quad(&vinv, &delta, p) / p as f64;
        let mdffits = quad(&inverse(&f.vcov_beta, p), &delta, p) / p as f64;
        let prod: Vec<f64> =
            (0..p * p).map(|e| (0..p).map(|t| vinv[t * p + e % p] * f.vcov_beta[(e / p) * p + t]).sum()).collect();
        let covtrace = ((0..p).map(|i| prod[i * p + i]).sum::<f64>() - p as f64).abs();
        let covratio = det(&f.vcov_beta, p) / det(&g.fit.vcov_beta, p);
        let m = &d.measures;
        let floor = 1e-3;
        for (name, a, b) in [
            ("cooksd", m.cooksd, cooksd),
            ("mdffits", m.mdffits, mdffits),
            ("covtrace", m.covtrace, covtrace),
            ("covratio", m.covratio, covratio),
        ] {
            let err = (a - b).abs() / b.abs().max(floor);
            assert!(err < 5e-3, "{name} of deleting {s:?}: {a} vs {b} (err {err:.1e})");
        }
        let full_var = g.fit.theta[0].powi(2);
        assert_abs(d.rvc[0], f.theta[0].powi(2) / full_var - 1.0, 1e-3, "rvc.D11");
    }
}

#[test]
fn glmm_folds_equal_refitting_from_scratch() {
    let data = read_csv("cbpp.csv");
    let g = Glmer::fit(CBPP, &data, &cbpp_options()).unwrap();
    let term = &g.pirls.joint.terms[0];
    let (_, folds) = cv::group_folds(&term.refs, term.nlevels(), Some(3), 1).unwrap();
    let got = cv::glmm(&g, &folds, Prediction::Population).unwrap();
    for f in &got {
        let scratch = Glmer::fit(CBPP, &read_csv_rows("cbpp.csv", &|i| !f.rows.contains(&i)), &cbpp_options()).unwrap();
        let want = scratch.predict(&data, false, true).unwrap();
        for (&i, p) in f.rows.iter().zip(&f.predictions) {
            assert_abs(*p, want[i], 2e-4, &format!("prediction[{i}]"));
        }
    }
    // Scores on the held-out proportions, weighted by the trials.
    let r = &g.pirls.resp;
    let y: Vec<f64> = got.iter().flat_map(|f| f.rows.iter().map(|&i| r.y[i])).collect();
    let w: Vec<f64> = got.iter().flat_map(|f| f.rows.iter().map(|&i| r.weights[i])).collect();
    let mu: Vec<f64> = got.iter().flat_map(|f| f.predictions.clone()).collect();
    let family = Some(g.fit.family);
    let brier = Score::Brier.compute(&y, &mu, &w, family).unwrap();
    let want: f64 =
        y.iter().zip(&mu).zip(&w).map(|((a, b), c)| c * (a - b).powi(2)).sum::<f64>() / w.iter().sum::<f64>();
    assert_rel(brier, want, 1e-12, "brier");
    let log_loss = Score::LogLoss.compute(&y, &mu, &w, family).unwrap();
    assert!(log_loss > 0.0 && log_loss < 1.0);
    let deviance = Score::Deviance.compute(&y, &mu, &w, family).unwrap();
    let want: f64 =
        y.iter().zip(&mu).zip(&w).map(|((a, b), c)| g.fit.family.dev_resid(*a, *b, *c)).sum::<f64>() / y.len() as f64;
    assert_rel(deviance, want, 1e-12, "deviance");
    assert!(Score::Brier.compute(&y, &mu, &w, None).is_err());
    assert!(Score::parse("auc").is_err());
}

/// Binary responses on crossed factors (g1 x g2, every pair once or twice).
fn crossed_binary(keep: &dyn Fn(usize) -> bool) -> mixedmodels::data::DataFrame<'static> {
    let (n, l1, l2) = (360usize, 12usize, 8usize);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let b1: Vec<f64> = (0..l1).map(|_| 3.0 * (uniform() - 0.5)).collect();
    let b2: Vec<f64> = (0..l2).map(|_| 2.5 * (uniform() - 0.5)).collect();
    let (mut y, mut x, mut g1, mut g2) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let (a, b) = (i % l1, (i / l1 + i) % l2);
        let xi = 2.0 * uniform() - 1.0;
        let eta = -0.3 + 0.8 * xi + b1[a] + b2[b];
        let yi = f64::from(uniform() < 1.0 / (1.0 + (-eta).exp()));
        if keep(i) {
            y.push(yi);
            x.push(xi);
            g1.push(format!("a{a:02}"));
            g2.push(format!("b{b:02}"));
        }
    }
    mixedmodels::data::DataFrame::new()
        .with_numeric("y", y)
        .unwrap()
        .with_numeric("x", x)
        .unwrap()
        .with_labels("g1", &g1)
        .unwrap()
        .with_labels("g2", &g2)
        .unwrap()
}

#[test]
fn crossed_glmm_deletion_equals_refitting_from_scratch() {
    let formula = "y ~ x + (1 | g1) + (1 | g2)";
    let g = Glmer::fit(formula, &crossed_binary(&|_| true), &GlmerOptions::default()).unwrap();
    let p = g.fit.beta.len();
    // Delete levels of the second factor (its rows span every level of the first).
    let term = g.pirls.joint.terms.iter().find(|t| t.group == "g2").unwrap();
    let sets: Vec<Vec<usize>> =
        [0u32, 5].iter().map(|&l| (0..term.refs.len()).filter(|&i| term.refs[i] == l).collect()).collect();
    let got = glmm::set_influence(&g, &sets).unwrap();
    let vinv = inverse(&g.fit.vcov_beta, p);
    assert_eq!(diagnostics::rvc_names_glmm(&g), ["D11", "D22"]);
    for (s, d) in sets.iter().zip(&got) {
        let scratch = Glmer::fit(formula, &crossed_binary(&|i| !s.contains(&i)), &GlmerOptions::default()).unwrap();
        let f = &scratch.fit;
        let delta: Vec<f64> = g.fit.beta.iter().zip(&f.beta).map(|(a, b)| a - b).collect();
        let cooksd = quad(&vinv, &delta, p) / p as f64;
        let mdffits = quad(&inverse(&f.vcov_beta, p), &delta, p) / p as f64;
        let covratio = det(&f.vcov_beta, p) / det(&g.fit.vcov_beta, p);
        for (name, a, b) in [
            ("cooksd", d.measures.cooksd, cooksd),
            ("mdffits", d.measures.mdffits, mdffits),
            ("covratio", d.measures.covratio, covratio),
        ] {
            let err = (a - b).abs() / b.abs().max(1e-3);
            assert!(err < 1e-2, "{name} of deleting {} rows: {a} vs {b} (err {err:.1e})", s.len());
        }
    }
}
