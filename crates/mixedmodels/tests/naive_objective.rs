//! The blocked objective against a direct computation on V = I + Z Lambda Lambda' Z'
//! (n x n), for structures the lme4 references do not cover: a large nested
//! rest (sparse storage), a vector-valued term in a sparse rest, and crossed
//! factors. REML criterion = log|V| + log|X'V^{-1}X| + (n-p)(1 + log(2 pi r^2/(n-p))).

use mixedmodels::data::{Column, DataFrame, Factor};
use mixedmodels::design::DesignSpec;
use mixedmodels::formula::ModelFormula;
use mixedmodels::linalg::{inverse_spd, DenseCholesky};
use mixedmodels::model::LinearMixedModel;

/// A deterministic pseudo-random stream (64-bit LCG).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn factor(codes: Vec<u32>, n_levels: usize) -> Column<'static> {
    Column::Factor(Factor::new(codes, (0..n_levels).map(|i| format!("L{i:05}")).collect()))
}

/// n rows; `inner` levels nested in `outer` levels; a crossed factor `other`.
fn data(n: usize, inner: usize, outer: usize, other: usize) -> DataFrame<'static> {
    let mut rng = Lcg(42);
    let class: Vec<u32> = (0..n).map(|i| (i % inner) as u32).collect();
    let school: Vec<u32> = class.iter().map(|c| c % outer as u32).collect();
    let crossed: Vec<u32> = (0..n).map(|_| (rng.next() * other as f64) as u32).collect();
    let x: Vec<f64> = (0..n).map(|_| rng.next() * 2.0 - 1.0).collect();
    let y: Vec<f64> =
        (0..n).map(|i| 1.0 + x[i] + (school[i] % 7) as f64 * 0.3 + (class[i] % 5) as f64 * 0.2 + rng.next()).collect();
    let mut df = DataFrame::new();
    df.push("y", Column::Numeric(y.into())).unwrap();
    df.push("x", Column::Numeric(x.into())).unwrap();
    df.push("class", factor(class, inner)).unwrap();
    df.push("school", factor(school, outer)).unwrap();
    df.push("other", factor(crossed, other)).unwrap();
    df
}

fn naive_reml(m: &LinearMixedModel, theta: &[f64]) -> f64 {
    let n = m.n();
    let p = m.p();
    // Z Lambda, column by column.
    let mut zl: Vec<Vec<f64>> = Vec::new();
    for (k, t) in m.terms.iter().enumerate() {
        let q = t.q();
        let mut lam = vec![0.0; q * q];
        m.par.fill_lambda(theta, k, &mut lam);
        for level in 0..t.nlevels() {
            for c in 0..q {
                let col: Vec<f64> = (0..n)
                    .map(|i| {
                        if t.refs[i] as usize == level {
                            (0..q).map(|r| t.z_row(i)[r] * lam[c * q + r]).sum()
                        } else {
                            0.0
                        }
                    })
                    .collect();
                zl.push(col);
            }
        }
    }
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for col in &zl {
        let nz: Vec<usize> = (0..n).filter(|&i| col[i] != 0.0).collect();
        for &a in &nz {
            for &b in &nz {
                v[b * n + a] += col[a] * col[b];
            }
        }
    }
    let mut l = v.clone();
    DenseCholesky::new(n).factor(&mut l).unwrap();
    let logdet_v: f64 = 2.0 * (0..n).map(|d| l[d * n + d].ln()).sum::<f64>();
    let vinv = inverse_spd(&v, n).unwrap();
    let x = &m.x;
    let y: Vec<f64> = (0..n).map(|i| m.y[i]).collect();
    let vx: Vec<Vec<f64>> =
        (0..p).map(|c| (0..n).map(|r| (0..n).map(|s| vinv[s * n + r] * x[c * n + s]).sum()).collect()).collect();
    let mut xtvx = vec![0.0; p * p];
    for a in 0..p {
        for b in 0..p {
            xtvx[b * p + a] = (0..n).map(|i| x[a * n + i] * vx[b][i]).sum();
        }
    }
    let xtvy: Vec<f64> = (0..p).map(|a| (0..n).map(|i| vx[a][i] * y[i]).sum()).collect();
    let inv = inverse_spd(&xtvx, p).unwrap();
    let beta: Vec<f64> = (0..p).map(|a| (0..p).map(|b| inv[b * p + a] * xtvy[b]).sum()).collect();
    let r: Vec<f64> = (0..n).map(|i| y[i] - (0..p).map(|c| x[c * n + i] * beta[c]).sum::<f64>()).collect();
    let r2: f64 = (0..n).map(|a| r[a] * (0..n).map(|b| vinv[b * n + a] * r[b]).sum::<f64>()).sum();
    let mut lx = xtvx.clone();
    DenseCholesky::new(p).factor(&mut lx).unwrap();
    let logdet_x: f64 = 2.0 * (0..p).map(|d| lx[d * p + d].ln()).sum::<f64>();
    let nmp = (n - p) as f64;
    logdet_v + logdet_x + nmp * (1.0 + (2.0 * std::f64::consts::PI * r2 / nmp).ln())
}

/// Diagonal of Lambda (Lambda'Z'Z Lambda + I)^{-1} Lambda' for scalar terms, directly.
fn naive_condvar_diagonal(m: &LinearMixedModel, theta: &[f64]) -> Vec<f64> {
    let n = m.n();
    let mut cols: Vec<Vec<f64>> = Vec::new();
    let mut lam = Vec::new();
    for (k, t) in m.terms.iter().enumerate() {
        assert_eq!(t.q(), 1);
        for level in 0..t.nlevels() {
            cols.push(
                (0..n).map(|i| if t.refs[i] as usize == level { t.z_row(i)[0] * theta[k] } else { 0.0 }).collect(),
            );
            lam.push(theta[k]);
        }
    }
    let q = cols.len();
    let mut a = vec![0.0; q * q];
    for i in 0..q {
        for j in 0..q {
            a[j * q + i] = (0..n).map(|r| cols[i][r] * cols[j][r]).sum::<f64>() + if i == j { 1.0 } else { 0.0 };
        }
    }
    let inv = inverse_spd(&a, q).unwrap();
    (0..q).map(|i| lam[i] * lam[i] * inv[i * q + i]).collect()
}

fn check(formula: &str, df: &DataFrame, thetas: &[Vec<f64>], expect_dense: bool) {
    let f = ModelFormula::parse(formula).unwrap();
    let (spec, design) = DesignSpec::learn(f, df, &[]).unwrap();
    let y = spec.numeric_response(df).unwrap();
    let p = design.x.ncols();
    let mut m = LinearMixedModel::new(design.x.values, p, y, design.terms, None, true).unwrap();
    assert_eq!(m.cp.pattern.is_dense(), expect_dense, "{formula}: storage of the rest");
    for theta in thetas {
        let got = m.objective_at(theta);
        let want = naive_reml(&m, theta);
        assert!((got - want).abs() < 1e-8 * want.abs(), "{formula} at {theta:?}: {got} vs {want}");
        if m.terms.iter().all(|t| t.q() == 1) {
            let ours: Vec<f64> = m.conditional_variances().concat();
            let naive = naive_condvar_diagonal(&m, theta);
            for (a, b) in ours.iter().zip(&naive) {
                assert!((a - b).abs() < 1e-9 * b.abs().max(1e-12), "{formula} condvar {a} vs {b}");
            }
        }
    }
}

#[test]
fn nested_rest_is_sparse_and_exact() {
    let df = data(900, 300, 100, 20);
    check("y ~ x + (1 | school) + (1 | class)", &df, &[vec![0.7, 1.3], vec![0.0, 2.0]], false);
}

#[test]
fn vector_term_in_a_sparse_rest_is_exact() {
    let df = data(900, 300, 100, 20);
    check("y ~ x + (1 + x | school) + (1 | class)", &df, &[vec![0.5, 0.9, -0.3, 0.4], vec![1.1, 0.2, 0.0, 0.8]], false);
}

#[test]
fn crossed_rest_is_dense_and_exact() {
    let df = data(600, 150, 30, 80);
    check("y ~ x + (1 | class) + (1 | other)", &df, &[vec![0.6, 0.9], vec![1.5, 0.1]], true);
    check("y ~ x + (1 + x | other) + (1 | class)", &df, &[vec![0.6, 0.2, 0.5, 0.9]], true);
}

#[test]
fn zero_correlation_terms_sharing_the_first_block_are_exact() {
    // (x || class): the intercept and the slope share the first block.
    let df = data(900, 300, 100, 20);
    let thetas = [vec![0.7, 0.4, 1.3], vec![0.0, 0.9, 0.5], vec![1.2, 0.0, 0.3]];
    check("y ~ x + (x || class) + (1 | school)", &df, &thetas, false);
    let df = data(600, 150, 30, 80);
    check("y ~ x + (x || class) + (1 | other)", &df, &thetas, true);
}
