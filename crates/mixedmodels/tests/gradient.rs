//! The analytic gradient of the profiled objective against central finite
//! differences: on every reference case's model (at lme4's optimum and at
//! random theta), and on synthetic designs that exercise each layout of the
//! blocked factor (scalar and vector first terms, dense and sparse rest
//! blocks, nested, crossed and zero-correlation terms), with and without
//! prior weights, for REML and ML.

mod common;

use common::*;
use mixedmodels::data::DataFrame;
use mixedmodels::design::DesignSpec;
use mixedmodels::formula::ModelFormula;
use mixedmodels::model::gradient::GradientPieces;
use mixedmodels::model::LinearMixedModel;

/// A small deterministic generator (the test must not depend on a seed's stream).
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64)
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n - 1)
    }
}

fn model(formula: &str, df: &DataFrame, weights: Option<Vec<f64>>, reml: bool) -> LinearMixedModel {
    let f = ModelFormula::parse(formula).unwrap();
    let (df, _) = df.clone().drop_missing(&f.column_names()).unwrap();
    let (spec, design) = DesignSpec::learn(f, &df, &[]).unwrap();
    let y = spec.numeric_response(&df).unwrap();
    let p = design.x.ncols();
    LinearMixedModel::new(design.x.values, p, y, design.terms, weights, reml).unwrap()
}

/// Compare the analytic gradient (and each piece's) with central differences at `theta`.
fn check_at(m: &mut LinearMixedModel, theta: &[f64], what: &str) {
    let k = theta.len();
    let mut grad = vec![0.0; k];
    let mut pieces = GradientPieces::zeros(k);
    let f0 = m.objective_gradient_at(theta, &mut grad, &mut pieces);
    assert!(f0.is_finite(), "{what}: objective at {theta:?}");
    let piece_values = |m: &mut LinearMixedModel, t: &[f64]| -> [f64; 4] {
        let f = m.objective_at(t);
        let pc = m.pieces();
        [f, pc.ld_l2, pc.ld_rx2, pc.pwrss]
    };
    for i in 0..k {
        // Richardson's extrapolation of central differences at h and 2h:
        // truncation O(h^4), rounding about 1e-13 * scale / h.
        let h = 1e-3 * theta[i].abs().max(1.0);
        let mut central = |step: f64| -> Vec<f64> {
            let (mut up, mut down) = (theta.to_vec(), theta.to_vec());
            up[i] += step;
            down[i] -= step;
            let (a, b) = (piece_values(m, &up), piece_values(m, &down));
            (0..4).map(|c| (a[c] - b[c]) / (2.0 * step)).collect()
        };
        let (d1, d2) = (central(h), central(2.0 * h));
        let fd: Vec<f64> = (0..4).map(|c| (4.0 * d1[c] - d2[c]) / 3.0).collect();
        let analytic = [grad[i], pieces.ld_l2[i], if m.reml { pieces.ld_rx2[i] } else { fd[2] }, pieces.pwrss[i]];
        let names = ["objective", "log|L|^2", "log|R_X|^2", "r^2"];
        let at = piece_values(m, theta);
        for c in 0..4 {
            let tol = 1e-6 * analytic[c].abs() + 1e-9 * (at[c].abs() + 1.0);
            assert!(
                (analytic[c] - fd[c]).abs() <= tol,
                "{what}: d {} / d theta[{i}] at {theta:?}: analytic {} vs finite differences {} (diff {:.2e}, tol {tol:.2e})",
                names[c],
                analytic[c],
                fd[c],
                (analytic[c] - fd[c]).abs()
            );
        }
    }
}

/// lme4's optimum, the start, and random points (some diagonal elements at
/// zero, off-diagonal ones of either sign).
fn check_model(m: &mut LinearMixedModel, optimum: Option<&[f64]>, seed: u64, what: &str) {
    let lower = m.par.lower_bounds();
    let mut points: Vec<Vec<f64>> = vec![m.par.initial_theta()];
    if let Some(t) = optimum {
        points.push(t.to_vec());
    }
    let mut rng = Lcg(seed);
    for draw in 0..3 {
        points.push(
            lower
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    if *l == 0.0 {
                        if draw == 2 && i == 0 {
                            0.0
                        } else {
                            0.05 + 1.5 * rng.uniform()
                        }
                    } else {
                        rng.normal() * 0.5
                    }
                })
                .collect(),
        );
    }
    for theta in &points {
        check_at(m, theta, what);
    }
}

fn check_reference(case: &str, data: &str, weighted: bool) {
    let r = reference(case);
    let df = read_csv(data);
    let n = df.nrows();
    let weights = weighted.then(|| (0..n).map(|i| 0.5 + ((i * 7) % 11) as f64 / 10.0).collect());
    let reml = r["REML"].as_bool().unwrap();
    let mut m = model(r["formula"].as_str().unwrap(), &df, weights, reml);
    let theta = nums(&r["theta"]);
    let label = format!("{case}{}", if weighted { " (weighted)" } else { "" });
    check_model(&mut m, (!weighted).then_some(theta.as_slice()), case.len() as u64, &label);
}

#[test]
fn reference_cases_scalar_and_vector_terms() {
    for weighted in [false, true] {
        check_reference("sleepstudy_slope_reml", "sleepstudy.csv", weighted);
        check_reference("sleepstudy_slope_ml", "sleepstudy.csv", weighted);
        check_reference("sleepstudy_uncorr", "sleepstudy.csv", weighted);
        check_reference("sleepstudy_unbalanced_kr", "sleepstudy_unbal.csv", weighted);
        check_reference("dietox_slope", "dietox.csv", weighted);
        check_reference("dietox_evit_factor", "dietox.csv", weighted);
        check_reference("dyestuff", "dyestuff.csv", weighted);
        check_reference("dyestuff2_singular", "dyestuff2.csv", weighted);
    }
}

#[test]
fn reference_cases_crossed_and_nested() {
    for weighted in [false, true] {
        check_reference("penicillin_crossed", "penicillin.csv", weighted);
        check_reference("pastes_nested", "pastes.csv", weighted);
        check_reference("machines_nested_factor", "machines.csv", weighted);
    }
}

/// How the later grouping factors relate to the first.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// Levels drawn independently.
    Crossed,
    /// A function of the first factor's level.
    Nested,
    /// Near the first factor's level, scaled, plus 0 to width - 1: crossed, but locally.
    Banded(usize),
}

/// Synthetic data: `n` rows, grouping factors with the given numbers of
/// levels, two covariates.
fn synthetic(n: usize, levels: &[(&str, usize)], layout: Layout, seed: u64) -> DataFrame<'static> {
    let mut rng = Lcg(seed);
    let mut df = DataFrame::new();
    let x: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let x2: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
    let mut codes: Vec<Vec<usize>> = Vec::new();
    for (k, &(_, nl)) in levels.iter().enumerate() {
        let first = levels[0].1;
        let c: Vec<usize> = match layout {
            _ if k == 0 => (0..n).map(|_| rng.below(nl)).collect(),
            Layout::Crossed => (0..n).map(|_| rng.below(nl)).collect(),
            Layout::Nested => codes[0].iter().map(|v| (v * nl / first).min(nl - 1)).collect(),
            Layout::Banded(width) => codes[0].iter().map(|v| (v * nl / first + rng.below(width)) % nl).collect(),
        };
        codes.push(c);
    }
    let mut y: Vec<f64> = (0..n).map(|i| 1.0 + 0.5 * x[i] - x2[i] + rng.normal()).collect();
    for c in &codes {
        let nl = c.iter().max().unwrap() + 1;
        let effect: Vec<f64> = (0..nl).map(|_| rng.normal()).collect();
        let slope: Vec<f64> = (0..nl).map(|_| 0.3 * rng.normal()).collect();
        for i in 0..n {
            y[i] += effect[c[i]] + slope[c[i]] * x[i];
        }
    }
    df = df.with_numeric("y", y).unwrap().with_numeric("x", x).unwrap().with_numeric("x2", x2).unwrap();
    for (k, &(name, _)) in levels.iter().enumerate() {
        let labels: Vec<String> = codes[k].iter().map(|v| format!("L{v}")).collect();
        df = df.with_labels(name, &labels).unwrap();
    }
    df
}

fn weights_for(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Lcg(seed);
    (0..n).map(|_| 0.3 + 2.0 * rng.uniform()).collect()
}

#[test]
fn synthetic_crossed_dense_rest() {
    let df = synthetic(1500, &[("g", 120), ("h", 80), ("k", 6)], Layout::Crossed, 1);
    for (reml, weights) in [(true, None), (false, Some(weights_for(1500, 2)))] {
        let mut m = model("y ~ x + x2 + (1 | g) + (1 | h) + (1 | k)", &df, weights.clone(), reml);
        assert!(m.cp.pattern.is_dense() && m.cp.m > 64);
        check_model(&mut m, None, 3, "crossed scalar, dense rest");
        let mut m = model("y ~ x + (1 + x | g) + (1 + x | h) + (x || k)", &df, weights, reml);
        check_model(&mut m, None, 4, "crossed vector and zero-correlation, dense rest");
    }
}

#[test]
fn synthetic_nested_sparse_rest() {
    let df = synthetic(2400, &[("class", 600), ("school", 120), ("region", 12)], Layout::Nested, 5);
    for (reml, weights) in [(true, None), (false, Some(weights_for(2400, 6))), (true, Some(weights_for(2400, 7)))] {
        let mut m = model("y ~ x + x2 + (1 | class) + (1 | school) + (1 | region)", &df, weights.clone(), reml);
        assert!(!m.cp.pattern.is_dense(), "the nested rest is stored sparse");
        check_model(&mut m, None, 8, "nested scalar, sparse rest");
        let mut m = model("y ~ x + (1 | class) + (1 + x | school) + (x || region)", &df, weights, reml);
        assert!(!m.cp.pattern.is_dense(), "the nested rest is stored sparse");
        check_model(&mut m, None, 9, "nested vector, sparse rest");
    }
}

#[test]
fn synthetic_sparse_crossed_rest() {
    // Crossed locally: the rest's pattern (h x k crossed through g) stays sparse.
    let df = synthetic(3000, &[("g", 1500), ("h", 700), ("k", 400)], Layout::Banded(3), 10);
    let mut m = model("y ~ x + (1 | g) + (1 | h) + (1 + x | k)", &df, Some(weights_for(3000, 11)), true);
    assert!(!m.cp.pattern.is_dense(), "the crossed rest is stored sparse");
    check_model(&mut m, None, 12, "sparsely crossed, sparse rest");
    // A wider band: the factor has supernodes of several columns.
    let df = synthetic(4000, &[("g", 2000), ("h", 1200), ("k", 20)], Layout::Banded(30), 16);
    let mut m = model("y ~ x + (1 | g) + (1 | h) + (1 | k)", &df, Some(weights_for(4000, 17)), true);
    assert!(!m.cp.pattern.is_dense(), "the banded rest is stored sparse");
    check_model(&mut m, None, 18, "banded, supernodal rest");
}

/// `(x || g)` on the first grouping factor: its intercept and slope share
/// the first block (one term of two columns, a diagonal lambda).
#[test]
fn zero_correlation_first_term_shares_the_first_block() {
    let df = synthetic(1500, &[("g", 120), ("h", 40)], Layout::Crossed, 21);
    for (reml, weights) in [(true, None), (false, Some(weights_for(1500, 22))), (true, Some(weights_for(1500, 23)))] {
        let mut m = model("y ~ x + (x || g) + (1 | h)", &df, weights.clone(), reml);
        assert_eq!((m.terms.len(), m.system.terms.len(), m.system.terms[0].q), (3, 2, 2));
        check_model(&mut m, None, 24, "(x || g) merged, crossed");
        let mut m = model("y ~ x + (1 + x || g)", &df, weights.clone(), reml);
        assert_eq!((m.system.terms.len(), m.cp.m), (1, 0));
        check_model(&mut m, None, 25, "(x || g) alone");
        // Two vector terms on g: a 4 x 4 block-diagonal lambda.
        let mut m = model("y ~ x + (1 + x | g) + (0 + x2 + x | g) + (1 | h)", &df, weights, reml);
        assert_eq!((m.system.terms.len(), m.system.terms[0].q), (2, 4));
        check_model(&mut m, None, 26, "two vector terms on g merged");
    }
    let df = synthetic(2400, &[("class", 600), ("school", 120)], Layout::Nested, 27);
    let mut m = model("y ~ x + (x || class) + (1 | school)", &df, Some(weights_for(2400, 28)), true);
    assert_eq!(m.system.terms.len(), 2);
    check_model(&mut m, None, 29, "(x || class) merged, nested");
}

#[test]
fn vector_first_term_alone() {
    let df = synthetic(800, &[("g", 90)], Layout::Crossed, 13);
    for reml in [true, false] {
        let mut m = model("y ~ x + x2 + (1 + x + x2 | g)", &df, Some(weights_for(800, 14)), reml);
        assert_eq!(m.cp.m, 0);
        check_model(&mut m, None, 15, "one vector term");
    }
}

/// The Hessians and the Jacobian of vcov(beta) that Satterthwaite's df use:
/// differenced from the analytic gradient, they agree with the objective
/// stencil's second differences.
#[test]
fn derivatives_from_gradients_agree_with_the_stencil() {
    use mixedmodels::fit::{fit, FitOptions};
    use mixedmodels::inference::derivatives::{derivatives_from_gradients, derivatives_with_step};
    let df = synthetic(1500, &[("g", 60), ("h", 25)], Layout::Crossed, 19);
    for (formula, reml) in
        [("y ~ x + x2 + (1 + x | g) + (1 + x | h)", true), ("y ~ x + (1 + x + x2 | g) + (1 | h)", false)]
    {
        let mut m = model(formula, &df, Some(weights_for(1500, 20)), reml);
        fit(&mut m, &FitOptions { derivatives: false, ..Default::default() }, None).unwrap();
        let (a, b) = (derivatives_with_step(&mut m, 1e-3), derivatives_from_gradients(&mut m, 1e-3));
        assert_eq!(b.evaluations, 1 + 2 * m.par.ntheta());
        let close = |x: &[f64], y: &[f64], what: &str| {
            let scale = x.iter().fold(0.0f64, |s, v| s.max(v.abs()));
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                assert!((u - v).abs() <= 1e-5 * scale, "{formula}: {what}[{i}]: stencil {u} vs gradients {v}");
            }
        };
        close(&a.hess, &b.hess, "hess");
        close(&a.hess_varpar, &b.hess_varpar, "hess_varpar");
        for (x, y) in a.jac_vcov.iter().zip(&b.jac_vcov) {
            close(x, y, "jac_vcov");
        }
        // At the optimum the gradient is near zero; the stencil's central differences are O(h^2) off.
        for (u, v) in a.grad.iter().zip(&b.grad) {
            assert!((u - v).abs() < 1e-3, "{formula}: grad {u} vs {v}");
        }
    }
}
