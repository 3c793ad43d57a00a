//! The diagnostics against a brute-force dense implementation of HLMdiag's
//! formulas (the n x n marginal covariance V, its inverse and P) on small
//! data, for the models HLMdiag refuses: crossed factors, slopes crossed with
//! intercepts, prior weights, a sparse rest block; every solution path (the
//! local inverse in both its forms, the refactored downdated system); and
//! exact deletion against refitting the subset from scratch.

mod common;

use common::*;
use mixedmodels::data::DataFrame;
use mixedmodels::diagnostics::{self, Leverage, Measures};
use mixedmodels::lmer::{Lmer, LmerOptions};

// ------------------------------------------------------------ dense algebra

/// n x n column-major matrices.
struct Dense {
    n: usize,
    v: Vec<f64>,
}

impl Dense {
    fn zeros(n: usize) -> Dense {
        Dense { n, v: vec![0.0; n * n] }
    }

    fn at(&self, r: usize, c: usize) -> f64 {
        self.v[c * self.n + r]
    }

    /// The inverse of a symmetric positive-definite matrix (Gauss-Jordan, no pivoting needed).
    fn inverse(&self) -> Dense {
        let n = self.n;
        let mut a = self.v.clone();
        let mut inv = Dense::zeros(n);
        for i in 0..n {
            inv.v[i * n + i] = 1.0;
        }
        for col in 0..n {
            let d = a[col * n + col];
            for c in 0..n {
                a[c * n + col] /= d;
                inv.v[c * n + col] /= d;
            }
            for r in 0..n {
                if r != col {
                    let f = a[col * n + r];
                    if f != 0.0 {
                        for c in 0..n {
                            a[c * n + r] -= f * a[c * n + col];
                            inv.v[c * n + r] -= f * inv.v[c * n + col];
                        }
                    }
                }
            }
        }
        inv
    }

    fn sub(&self, rows: &[usize]) -> Dense {
        let k = rows.len();
        let mut out = Dense::zeros(k);
        for (c, &rc) in rows.iter().enumerate() {
            for (r, &rr) in rows.iter().enumerate() {
                out.v[c * k + r] = self.at(rr, rc);
            }
        }
        out
    }
}

/// A (rows x cols) times B (cols x k), both column-major.
fn matmul(a: &[f64], b: &[f64], rows: usize, cols: usize, k: usize) -> Vec<f64> {
    let mut out = vec![0.0; rows * k];
    for j in 0..k {
        for t in 0..cols {
            let btj = b[j * cols + t];
            for i in 0..rows {
                out[j * rows + i] += a[t * rows + i] * btj;
            }
        }
    }
    out
}

fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut out = vec![0.0; rows * cols];
    for c in 0..cols {
        for r in 0..rows {
            out[r * cols + c] = a[c * rows + r];
        }
    }
    out
}

// ------------------------------------------------------------ HLMdiag's formulas

/// The fitted model's matrices on the rows scaled by sqrt(w): X, Z Lambda, y,
/// V0 = I + Z Lambda Lambda' Z', its inverse, C = (X'V0^{-1}X)^{-1}, beta, sigma.
struct Brute {
    n: usize,
    p: usize,
    x: Vec<f64>,
    vinv: Dense,
    v0: Dense,
    c: Vec<f64>,
    e: Vec<f64>,
    sigma: f64,
}

impl Brute {
    fn new(m: &Lmer) -> Brute {
        let model = &m.model;
        let (n, p) = (model.n(), model.p());
        let sw: Vec<f64> = (0..n).map(|i| model.weights.as_ref().map_or(1.0, |w| w[i].sqrt())).collect();
        // Z Lambda, n x q, one block of columns a term.
        let mut zl_cols: Vec<Vec<f64>> = Vec::new();
        for (k, t) in model.terms.iter().enumerate() {
            let q = t.q();
            let mut lam = vec![0.0; q * q];
            model.par.fill_lambda(&m.fit.theta, k, &mut lam);
            for l in 0..t.nlevels() {
                for c in 0..q {
                    zl_cols.push(
                        (0..n)
                            .map(|i| {
                                if t.refs[i] as usize != l {
                                    return 0.0;
                                }
                                sw[i] * (0..q).map(|r| t.z_row(i)[r] * lam[c * q + r]).sum::<f64>()
                            })
                            .collect(),
                    );
                }
            }
        }
        let mut v0 = Dense::zeros(n);
        for i in 0..n {
            v0.v[i * n + i] = 1.0;
        }
        for col in &zl_cols {
            for a in 0..n {
                if col[a] != 0.0 {
                    for b in 0..n {
                        v0.v[b * n + a] += col[a] * col[b];
                    }
                }
            }
        }
        let vinv = v0.inverse();
        let x: Vec<f64> = (0..n * p).map(|e| model.x[e] * sw[e % n]).collect();
        let y: Vec<f64> = (0..n).map(|i| model.y[i] * sw[i]).collect();
        let vx = matmul(&vinv.v, &x, n, n, p);
        let xvx = Dense { n: p, v: matmul(&transpose(&x, n, p), &vx, p, n, p) };
        let c = xvx.inverse().v;
        let xvy = matmul(&transpose(&vx, n, p), &y, p, n, 1);
        let beta = matmul(&c, &xvy, p, p, 1);
        let xb = matmul(&x, &beta, n, p, 1);
        let e: Vec<f64> = (0..n).map(|i| y[i] - xb[i]).collect();
        Brute { n, p, x, vinv, v0, c, e, sigma: m.fit.sigma }
    }

    /// HLMdiag's cooksdSubset / mdffitsSubset / covtraceCalc / covratioCalc
    /// for deleting `rows`, in sigma-free form (P = V0^{-1} - V0^{-1}X C X'V0^{-1}).
    fn measures(&self, rows: &[usize]) -> Measures {
        let (n, p, k) = (self.n, self.p, rows.len());
        let vx = matmul(&self.vinv.v, &self.x, n, n, p);
        let mut pm = self.vinv.sub(rows);
        // P_AA = V0inv_AA - (V0inv X)_A C (V0inv X)_A'
        let vxa: Vec<f64> =
            (0..p).flat_map(|c| rows.iter().map(move |&r| (c, r))).map(|(c, r)| vx[c * n + r]).collect();
        let vxc = matmul(&vxa, &self.c, k, p, p);
        let corr = matmul(&vxc, &transpose(&vxa, k, p), k, p, k);
        pm.v.iter_mut().zip(&corr).for_each(|(a, b)| *a -= b);
        let pinv = pm.inverse();
        // V0inv[A, :] e
        let ve: Vec<f64> = rows.iter().map(|&r| (0..n).map(|t| self.vinv.at(r, t) * self.e[t]).sum()).collect();
        let right = matmul(&pinv.v, &ve, k, k, 1);
        let g = matmul(&transpose(&vxa, k, p), &right, p, k, 1); // X' V0inv[:, A] Pinv V0inv[A,:] e
        let cdd = matmul(&self.c, &g, p, p, 1);
        let inner = matmul(&matmul(&transpose(&vxa, k, p), &pinv.v, p, k, k), &vxa, p, k, p);
        let cic = matmul(&matmul(&self.c, &inner, p, p, p), &self.c, p, p, p);
        let deleted: Vec<f64> = self.c.iter().zip(&cic).map(|(a, b)| a + b).collect();
        let s2 = self.sigma * self.sigma;
        let quad = |mat: &[f64], v: &[f64]| {
            let inv = Dense { n: p, v: mat.to_vec() }.inverse();
            matmul(&inv.v, v, p, p, 1).iter().zip(v).map(|(a, b)| a * b).sum::<f64>()
        };
        let det = |mat: &[f64]| {
            // Cholesky determinant of a small SPD matrix.
            let mut l = mat.to_vec();
            let mut d = 1.0;
            for j in 0..p {
                for kk in 0..j {
                    let ljk = l[kk * p + j];
                    for i in j..p {
                        l[j * p + i] -= l[kk * p + i] * ljk;
                    }
                }
                let piv = l[j * p + j].sqrt();
                d *= l[j * p + j];
                for i in j..p {
                    l[j * p + i] /= piv;
                }
            }
            d
        };
        let trace = {
            let inv = Dense { n: p, v: self.c.clone() }.inverse();
            let prod = matmul(&inv.v, &deleted, p, p, p);
            (0..p).map(|d| prod[d * p + d]).sum::<f64>()
        };
        Measures {
            cooksd: quad(&self.c, &cdd) / s2 / p as f64,
            mdffits: quad(&deleted, &cdd) / s2 / p as f64,
            covtrace: (trace - p as f64).abs(),
            covratio: det(&deleted) / det(&self.c),
        }
    }

    /// HLMdiag's leverage.lmerMod: H1 = X C X'V0^{-1}, H2 = (V0 - I) V0^{-1} (I - H1).
    fn leverage(&self) -> Vec<Leverage> {
        let (n, p) = (self.n, self.p);
        let vx = matmul(&self.vinv.v, &self.x, n, n, p);
        let xc = matmul(&self.x, &self.c, n, p, p);
        let h1 = matmul(&xc, &transpose(&vx, n, p), n, p, n);
        let mut i_h1 = h1.iter().map(|v| -v).collect::<Vec<_>>();
        for i in 0..n {
            i_h1[i * n + i] += 1.0;
        }
        let mut zdz = self.v0.v.clone();
        for i in 0..n {
            zdz[i * n + i] -= 1.0;
        }
        let h2 = matmul(&matmul(&zdz, &self.vinv.v, n, n, n), &i_h1, n, n, n);
        (0..n)
            .map(|i| {
                let (f, r) = (h1[i * n + i], h2[i * n + i]);
                Leverage { overall: f + r, fixef: f, ranef: r, ranef_uc: zdz[i * n + i] }
            })
            .collect()
    }
}

// ------------------------------------------------------------ data

/// A small deterministic pseudo-random stream (splitmix64).
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Rows of a crossed design with a slope on g1, a factor f, weights w.
struct Synthetic {
    y: Vec<f64>,
    x: Vec<f64>,
    w: Vec<f64>,
    f: Vec<String>,
    g1: Vec<String>,
    g2: Vec<String>,
}

impl Synthetic {
    /// `n` rows, g1 with `l1` levels, g2 with `l2`; g2's level follows g1's
    /// closely when `sparse` (each g1 level meets one or two g2 levels).
    fn new(n: usize, l1: usize, l2: usize, sparse: bool, seed: u64) -> Synthetic {
        let mut s = Stream(seed);
        let b1: Vec<(f64, f64)> = (0..l1).map(|_| (s.normal() * 0.8, s.normal() * 0.3)).collect();
        let b2: Vec<f64> = (0..l2).map(|_| s.normal() * 0.5).collect();
        let mut out = Synthetic { y: vec![], x: vec![], w: vec![], f: vec![], g1: vec![], g2: vec![] };
        for i in 0..n {
            let a = i % l1;
            let b =
                if sparse { (a * l2 / l1 + usize::from(s.next() < 0.3)) % l2 } else { (s.next() * l2 as f64) as usize };
            let x = s.normal();
            let f = ["lo", "mid", "hi"][(s.next() * 3.0) as usize];
            let fe = match f {
                "lo" => 0.0,
                "mid" => 0.4,
                _ => -0.3,
            };
            out.y.push(1.0 + 0.5 * x + fe + b1[a].0 + b1[a].1 * x + b2[b] + s.normal() * 0.6);
            out.x.push(x);
            out.w.push(0.5 + s.next());
            out.f.push(f.to_string());
            out.g1.push(format!("a{a:03}"));
            out.g2.push(format!("b{b:03}"));
        }
        out
    }

    fn frame(&self, keep: &dyn Fn(usize) -> bool) -> DataFrame<'static> {
        let rows: Vec<usize> = (0..self.y.len()).filter(|&i| keep(i)).collect();
        let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let labels = |v: &[String]| rows.iter().map(|&i| v[i].clone()).collect::<Vec<String>>();
        DataFrame::new()
            .with_numeric("y", pick(&self.y))
            .unwrap()
            .with_numeric("x", pick(&self.x))
            .unwrap()
            .with_numeric("w", pick(&self.w))
            .unwrap()
            .with_labels("f", &labels(&self.f))
            .unwrap()
            .with_labels("g1", &labels(&self.g1))
            .unwrap()
            .with_labels("g2", &labels(&self.g2))
            .unwrap()
    }
}

fn weighted() -> LmerOptions {
    LmerOptions { weights: Some("w".into()), ..Default::default() }
}

// ------------------------------------------------------------ checks

fn close(got: f64, want: f64, tol: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(1e-8);
    assert!(err <= tol, "{what}: got {got}, want {want} (rel err {err:.2e})");
}

fn check_measures(got: &Measures, want: &Measures, what: &str) {
    close(got.cooksd, want.cooksd, 1e-7, &format!("{what} cooksd"));
    close(got.mdffits, want.mdffits, 1e-7, &format!("{what} mdffits"));
    close(got.covtrace, want.covtrace, 1e-6, &format!("{what} covtrace"));
    close(got.covratio, want.covratio, 1e-8, &format!("{what} covratio"));
}

fn levels_of(m: &Lmer, group: &str) -> Vec<Vec<usize>> {
    let t = m.terms().iter().find(|t| t.group == group).unwrap();
    (0..t.nlevels()).map(|l| (0..t.refs.len()).filter(|&i| t.refs[i] as usize == l).collect()).collect()
}

/// Observation-level measures and leverages, and one-step deletion of the
/// given sets through every path (local only, refactor only, automatic).
fn check_against_dense(m: &Lmer, sets: &[Vec<usize>], what: &str) {
    let brute = Brute::new(m);
    let obs = diagnostics::observation_influence(m).unwrap();
    let lev = brute.leverage();
    for i in 0..brute.n {
        check_measures(&obs.measures[i], &brute.measures(&[i]), &format!("{what} row {i}"));
        let (g, w) = (&obs.leverage[i], &lev[i]);
        close(g.overall, w.overall, 1e-8, &format!("{what} leverage.overall[{i}]"));
        close(g.fixef, w.fixef, 1e-8, &format!("{what} leverage.fixef[{i}]"));
        close(g.ranef, w.ranef, 1e-7, &format!("{what} leverage.ranef[{i}]"));
        close(g.ranef_uc, w.ranef_uc, 1e-8, &format!("{what} leverage.ranef.uc[{i}]"));
    }
    let want: Vec<Measures> = sets.iter().map(|s| brute.measures(s)).collect();
    for (path, local_max) in [("local", usize::MAX), ("refactored", 0), ("automatic", 400)] {
        let got = diagnostics::set_influence_one_step_with(m, sets, local_max).unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            check_measures(g, w, &format!("{what} {path} set {i}"));
        }
    }
}

#[test]
fn crossed_intercepts_match_dense_formulas() {
    let df = read_csv("penicillin.csv");
    let m = Lmer::fit("diameter ~ 1 + (1 | plate) + (1 | sample)", &df, &LmerOptions::default()).unwrap();
    let mut sets = levels_of(&m, "plate");
    sets.extend(levels_of(&m, "sample"));
    // A set larger than its coordinates (three plates: 18 rows, 3 + 6 + 1
    // coordinates) takes the other local form.
    sets.push(sets[0].iter().chain(&sets[1]).chain(&sets[2]).copied().collect());
    sets.push(vec![5, 17, 100]);
    check_against_dense(&m, &sets, "penicillin");
}

#[test]
fn crossed_slopes_with_weights_match_dense_formulas() {
    let data = Synthetic::new(120, 12, 5, false, 11);
    let m = Lmer::fit("y ~ x + f + (x | g1) + (1 | g2)", &data.frame(&|_| true), &weighted()).unwrap();
    let mut sets = levels_of(&m, "g1");
    sets.extend(levels_of(&m, "g2"));
    sets.push((0..40).collect());
    check_against_dense(&m, &sets, "synthetic crossed");
}

#[test]
fn sparse_rest_block_matches_dense_formulas() {
    // 150 levels of g1, 100 of g2, each g1 level meeting one or two of g2:
    // the rest block (g2) is stored sparse and its inverse is selected on its pattern.
    let data = Synthetic::new(300, 150, 100, true, 7);
    let m = Lmer::fit("y ~ x + (1 | g1) + (1 | g2)", &data.frame(&|_| true), &LmerOptions::default()).unwrap();
    assert!(!m.model.cp.pattern.is_dense(), "the rest block should be stored sparse");
    let mut sets = levels_of(&m, "g2");
    sets.truncate(30);
    sets.push((0..60).collect());
    check_against_dense(&m, &sets, "sparse rest");
}

/// Exact deletion equals refitting the data without the rows from scratch.
fn check_exact_against_scratch(m: &Lmer, sets: &[Vec<usize>], refit_subset: &dyn Fn(&[usize]) -> Lmer) {
    let got = diagnostics::set_influence_exact(m, sets).unwrap();
    for (s, g) in sets.iter().zip(&got) {
        let r = g.refit.as_ref().expect("refit");
        let scratch = refit_subset(s);
        let f = &scratch.fit;
        assert_abs(r.objective, f.objective, 1e-6 * f.objective.abs().max(1.0), "objective");
        for (a, b) in r.theta.iter().zip(&f.theta) {
            assert_abs(*a, *b, 2e-4, "theta");
        }
        for (a, b) in r.beta.iter().zip(&f.beta) {
            assert_rel(*a, *b, 1e-5, "beta");
        }
        assert_rel(r.sigma, f.sigma, 1e-5, "sigma");
        for (a, b) in r.vcov.iter().zip(&f.vcov_beta) {
            assert_abs(*a, *b, 1e-4 * b.abs().max(1e-3 * f.vcov_beta[0].abs()), "vcov");
        }
    }
}

#[test]
fn exact_deletion_equals_refitting_the_subset() {
    let data = Synthetic::new(160, 16, 6, false, 3);
    for reml in [true, false] {
        let formula = "y ~ x + f + (x | g1) + (1 | g2)";
        let options = LmerOptions { reml, weights: Some("w".into()), ..Default::default() };
        let m = Lmer::fit(formula, &data.frame(&|_| true), &options).unwrap();
        let mut sets = levels_of(&m, "g1");
        sets.truncate(4);
        sets.extend(levels_of(&m, "g2").into_iter().take(2));
        sets.push(vec![3]);
        check_exact_against_scratch(&m, &sets, &|rows: &[usize]| {
            let deleted: std::collections::HashSet<usize> = rows.iter().copied().collect();
            Lmer::fit(formula, &data.frame(&|i| !deleted.contains(&i)), &options).unwrap()
        });
    }
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let data = Synthetic::new(160, 16, 6, false, 5);
    let m = Lmer::fit("y ~ x + (x | g1) + (1 | g2)", &data.frame(&|_| true), &LmerOptions::default()).unwrap();
    let sets = levels_of(&m, "g1");
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let exact = diagnostics::set_influence_exact(&m, &sets).unwrap();
            let one_step = diagnostics::set_influence_one_step_with(&m, &sets, 0).unwrap();
            let obs = diagnostics::observation_influence(&m).unwrap();
            (exact.iter().map(|e| (e.measures, e.rvc.clone())).collect::<Vec<_>>(), one_step, obs.measures)
        })
    };
    let one = run(1);
    assert_eq!(one, run(3));
}
