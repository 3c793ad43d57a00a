//! Kenward and Roger's (1997) adjusted covariance of the fixed effects and
//! denominator degrees of freedom, as pbkrtest computes them (`vcovAdj`,
//! `Lb_ddf`, `KRmodcomp`; Halekoh and Hojsgaard 2014, JSS 59(9)).
//!
//! pbkrtest works with the n x n matrices Sigma = sigma^2 V and
//! G_i = dSigma/dgamma_i, which limits it to small data. Every quantity it
//! needs is a quadratic form in V^{-1}, V^{-2} or V^{-3} between the columns of
//! Z and X, and with V = I + Z Lambda Lambda' Z' each of those reduces, by the
//! Woodbury identity, to q x q algebra on the cross-products Z'Z, Z'X, X'X
//! (q = number of random effects): with B = Lambda (Lambda'Z'Z Lambda + I)^{-1} Lambda',
//!   Z'V^{-1}Z = C - C B C,  Z'V^{-1}X = Z'X - C B Z'X,  V^{-1}X = X - Z T (T = B Z'X),
//!   V^{-1}Z = Z R (R = I - B C),
//! so the cost is O(n (sum q_k)^2) for the cross-products and O(q^3) after,
//! never O(n^2).
//!
//! The covariance parameters gamma are pbkrtest's: for each term the lower
//! triangle of its covariance matrix, then the residual variance. For
//! gamma = Sigma_k[a, b], G = Z_a Z_b' + Z_b Z_a' (a != b) or Z_a Z_a', where
//! Z_a holds term k's columns for component a; the residual's G is I.

use crate::error::{Error, Result};
use crate::linalg;
use crate::model::LinearMixedModel;

/// The adjusted covariance and what the df computations reuse.
#[derive(Debug, Clone)]
pub struct KenwardRoger {
    pub p: usize,
    /// Unadjusted vcov(beta) (Phi).
    pub phi: Vec<f64>,
    /// Adjusted vcov(beta) (Phi_A).
    pub phi_adj: Vec<f64>,
    /// P_i = -X' Sigma^{-1} G_i Sigma^{-1} X for each covariance parameter.
    pub p_list: Vec<Vec<f64>>,
    /// W = 2 (expected information)^{-1} of the covariance parameters.
    pub w: Vec<f64>,
}

/// KR statistics of a hypothesis L beta = 0 (pbkrtest's `.KR_adjust`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KrTest {
    /// Numerator df (the rank of L).
    pub ndf: usize,
    pub ddf: f64,
    /// The Wald F statistic with the adjusted covariance, unscaled.
    pub f_unscaled: f64,
    /// The scaling lambda: the test statistic is F = lambda F_unscaled.
    pub f_scaling: f64,
}

/// Dense column-major matrix helpers over `linalg`.
fn mul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    linalg::gemm_nn(&mut c, a, b, m, k, n, 1.0, false);
    c
}

/// A' B for A (k x m), B (k x n).
fn tmul(a: &[f64], b: &[f64], k: usize, m: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    linalg::gemm_tn(&mut c, a, b, k, m, n, 1.0, false);
    c
}

fn add(a: &[f64], b: &[f64], s: f64) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + s * y).collect()
}

fn transpose(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    let mut t = vec![0.0; m * n];
    for j in 0..n {
        for i in 0..m {
            t[i * n + j] = a[j * m + i];
        }
    }
    t
}

fn trace_prod(a: &[f64], b: &[f64], n: usize) -> f64 {
    // tr(A B) = sum_ij A_ij B_ji
    let mut s = 0.0;
    for i in 0..n {
        for j in 0..n {
            s += a[j * n + i] * b[i * n + j];
        }
    }
    s
}

/// sum(A * B) elementwise.
fn frob(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Rows `rows` of an (nr x nc) matrix.
fn rows_of(a: &[f64], nr: usize, nc: usize, rows: &[usize]) -> Vec<f64> {
    let mut out = vec![0.0; rows.len() * nc];
    for c in 0..nc {
        for (i, &r) in rows.iter().enumerate() {
            out[c * rows.len() + i] = a[c * nr + r];
        }
    }
    out
}

/// The submatrix (rows, cols) of an (nr x nc) matrix.
fn block(a: &[f64], nr: usize, rows: &[usize], cols: &[usize]) -> Vec<f64> {
    let mut out = vec![0.0; rows.len() * cols.len()];
    for (j, &c) in cols.iter().enumerate() {
        for (i, &r) in rows.iter().enumerate() {
            out[j * rows.len() + i] = a[c * nr + r];
        }
    }
    out
}

/// A covariance parameter: G = sum over pairs (u, w) of Z_u Z_w' (column sets of Z), or I.
enum Structure {
    Pairs(Vec<(Vec<usize>, Vec<usize>)>),
    Identity,
}

/// Cross-products of [Z X] in lme4's column order of Z.
struct Cross {
    q: usize,
    c: Vec<f64>,
    ztx: Vec<f64>,
    xtx: Vec<f64>,
}

fn cross_products(m: &LinearMixedModel) -> Cross {
    let (n, p) = (m.n(), m.p());
    let mut offsets = Vec::new();
    let mut q = 0;
    for t in &m.terms {
        offsets.push(q);
        q += t.q() * t.nlevels();
    }
    let mut c = vec![0.0; q * q];
    let mut ztx = vec![0.0; q * p];
    let mut cols: Vec<(usize, f64)> = Vec::new();
    for i in 0..n {
        cols.clear();
        for (k, t) in m.terms.iter().enumerate() {
            let base = offsets[k] + t.refs[i] as usize * t.q();
            cols.extend(t.z_row(i).iter().enumerate().map(|(a, z)| (base + a, *z)));
        }
        for &(a, za) in &cols {
            for &(b, zb) in &cols {
                c[b * q + a] += za * zb;
            }
            for j in 0..p {
                ztx[j * q + a] += za * m.x[j * n + i];
            }
        }
    }
    let xtx = tmul(&m.x, &m.x, n, p, p);
    Cross { q, c, ztx, xtx }
}

/// Lambda (q x q) at the model's theta.
fn lambda_dense(m: &LinearMixedModel, q: usize) -> Vec<f64> {
    let mut lam = vec![0.0; q * q];
    let mut offset = 0;
    for (k, t) in m.par.terms.iter().enumerate() {
        let mut l = vec![0.0; t.q * t.q];
        m.par.fill_lambda(&m.theta, k, &mut l);
        for j in 0..t.nlevels {
            let base = offset + j * t.q;
            for c in 0..t.q {
                for r in 0..t.q {
                    lam[(base + c) * q + base + r] = l[c * t.q + r];
                }
            }
        }
        offset += t.q * t.nlevels;
    }
    lam
}

/// pbkrtest's covariance parameters for the model's terms, then the residual.
fn structures(m: &LinearMixedModel) -> Vec<Structure> {
    let mut out = Vec::new();
    let mut offset = 0;
    for t in &m.par.terms {
        let comp = |a: usize| -> Vec<usize> { (0..t.nlevels).map(|j| offset + j * t.q + a).collect() };
        for b in 0..t.q {
            for a in b..t.q {
                let pairs =
                    if a == b { vec![(comp(a), comp(a))] } else { vec![(comp(a), comp(b)), (comp(b), comp(a))] };
                out.push(Structure::Pairs(pairs));
            }
        }
        offset += t.q * t.nlevels;
    }
    out.push(Structure::Identity);
    out
}

/// Largest number of random effects the dense q x q algebra accepts.
const MAX_Q: usize = 6000;

impl KenwardRoger {
    /// The adjusted covariance for a REML fit at its optimum (`sigma` its REML estimate).
    pub fn new(m: &LinearMixedModel, sigma: f64) -> Result<KenwardRoger> {
        if !m.reml {
            return Err(Error::Argument("Kenward-Roger's method is only available for REML fits".into()));
        }
        if m.weights.is_some() {
            return Err(Error::Argument(
                "Kenward-Roger's method is not available for models with prior weights".into(),
            ));
        }
        let (n, p) = (m.n(), m.p());
        let cr = cross_products(m);
        let q = cr.q;
        if q > MAX_Q {
            return Err(Error::Argument(format!(
                "Kenward-Roger needs dense {q} x {q} algebra here (more than {MAX_Q} random effects); use Satterthwaite"
            )));
        }
        let c = &cr.c;
        // B = Lambda (Lambda'C Lambda + I)^{-1} Lambda'
        let lam = lambda_dense(m, q);
        let lcl = tmul(&lam, &mul(c, &lam, q, q, q), q, q, q);
        let mut a = lcl;
        for d in 0..q {
            a[d * q + d] += 1.0;
        }
        let ainv = linalg::inverse_spd(&a, q)
            .ok_or_else(|| Error::Numerical("Lambda'Z'Z Lambda + I is not positive definite".into()))?;
        let b = mul(&mul(&lam, &ainv, q, q, q), &transpose(&lam, q, q), q, q, q);
        let bc = mul(&b, c, q, q, q);
        // Z'V^{-1}Z, Z'V^{-1}X, X'V^{-1}X
        let mz = add(c, &mul(c, &bc, q, q, q), -1.0);
        let t = mul(&b, &cr.ztx, q, q, p);
        let nz = add(&cr.ztx, &mul(c, &t, q, q, p), -1.0);
        let xvx = add(&cr.xtx, &tmul(&cr.ztx, &t, q, p, p), -1.0);
        // V^{-2} forms: R = I - B C; Z'V^{-2}Z = R'CR; Z'V^{-2}X = R'(Z'X - C T)
        let mut r = bc.iter().map(|v| -v).collect::<Vec<_>>();
        for d in 0..q {
            r[d * q + d] += 1.0;
        }
        let m2 = tmul(&r, &mul(c, &r, q, q, q), q, q, q);
        let n2 = tmul(&r, &add(&cr.ztx, &mul(c, &t, q, q, p), -1.0), q, q, p);
        let x2 = {
            let zt = tmul(&cr.ztx, &t, q, p, p);
            let tct = tmul(&t, &mul(c, &t, q, q, p), q, p, p);
            let s = add(&add(&cr.xtx, &zt, -1.0), &transpose(&zt, p, p), -1.0);
            add(&s, &tct, 1.0)
        };
        let x3 = {
            let tn = tmul(&t, &nz, q, p, p);
            let tmt = tmul(&t, &mul(&mz, &t, q, q, p), q, p, p);
            let s = add(&add(&xvx, &tn, -1.0), &transpose(&tn, p, p), -1.0);
            add(&s, &tmt, 1.0)
        };
        let tr_v2 = n as f64 - 2.0 * (0..q).map(|d| bc[d * q + d]).sum::<f64>() + trace_prod(&bc, &bc, q);

        let s2 = sigma * sigma;
        let (s4, s6) = (s2 * s2, s2 * s2 * s2);
        let xvx_inv = linalg::inverse_spd(&xvx, p).ok_or_else(|| Error::Numerical("X'V^{-1}X is singular".into()))?;
        let phi: Vec<f64> = xvx_inv.iter().map(|v| v * s2).collect();

        let params = structures(m);
        let g = params.len();
        let nrows = |cols: &[usize]| rows_of(&nz, q, p, cols);
        let n2rows = |cols: &[usize]| rows_of(&n2, q, p, cols);
        // P_i
        let p_list: Vec<Vec<f64>> = params
            .iter()
            .map(|s| match s {
                Structure::Pairs(pairs) => {
                    let mut acc = vec![0.0; p * p];
                    for (u, w) in pairs {
                        let prod = tmul(&nrows(u), &nrows(w), u.len(), p, p);
                        acc = add(&acc, &prod, -1.0 / s4);
                    }
                    acc
                }
                Structure::Identity => x2.iter().map(|v| -v / s4).collect(),
            })
            .collect();
        // Q_ij (i <= j) and the traces tr(Sigma^{-1} G_i Sigma^{-1} G_j)
        let q_of = |i: usize, j: usize| -> Vec<f64> {
            match (&params[i], &params[j]) {
                (Structure::Pairs(pi), Structure::Pairs(pj)) => {
                    let mut acc = vec![0.0; p * p];
                    for (u, w) in pi {
                        for (u2, w2) in pj {
                            let mid = block(&mz, q, w, u2);
                            let left = nrows(u);
                            let right = mul(&mid, &nrows(w2), w.len(), u2.len(), p);
                            acc = add(&acc, &tmul(&left, &right, u.len(), p, p), 1.0 / s6);
                        }
                    }
                    acc
                }
                (Structure::Pairs(pi), Structure::Identity) => {
                    let mut acc = vec![0.0; p * p];
                    for (u, w) in pi {
                        acc = add(&acc, &tmul(&nrows(u), &n2rows(w), u.len(), p, p), 1.0 / s6);
                    }
                    acc
                }
                (Structure::Identity, Structure::Pairs(pj)) => {
                    let mut acc = vec![0.0; p * p];
                    for (u, w) in pj {
                        acc = add(&acc, &tmul(&n2rows(u), &nrows(w), u.len(), p, p), 1.0 / s6);
                    }
                    acc
                }
                (Structure::Identity, Structure::Identity) => x3.iter().map(|v| v / s6).collect(),
            }
        };
        let ktrace = |i: usize, j: usize| -> f64 {
            match (&params[i], &params[j]) {
                (Structure::Pairs(pi), Structure::Pairs(pj)) => {
                    let mut s = 0.0;
                    for (u, w) in pi {
                        for (u2, w2) in pj {
                            // tr(M[w, u2] M[w2, u])
                            let a = block(&mz, q, w, u2);
                            let b = block(&mz, q, w2, u);
                            s += frob(&a, &transpose(&b, w2.len(), u.len()));
                        }
                    }
                    s / s4
                }
                (Structure::Pairs(pi), Structure::Identity) | (Structure::Identity, Structure::Pairs(pi)) => {
                    pi.iter().map(|(u, w)| w.iter().zip(u).map(|(&a, &b)| m2[b * q + a]).sum::<f64>()).sum::<f64>() / s4
                }
                (Structure::Identity, Structure::Identity) => tr_v2 / s4,
            }
        };
        let mut qq = vec![vec![]; g * g];
        let mut ie2 = vec![0.0; g * g];
        for i in 0..g {
            let phi_pi = mul(&phi, &p_list[i], p, p, p);
            for j in i..g {
                let qij = q_of(i, j);
                let pj_phi = mul(&p_list[j], &phi, p, p, p);
                // pbkrtest: Ktrace - 2 sum(Phi * Q_ij) + sum((Phi P_i) * (P_j Phi)), elementwise sums
                let v = ktrace(i, j) - 2.0 * frob(&phi, &qij) + frob(&phi_pi, &pj_phi);
                ie2[j * g + i] = v;
                ie2[i * g + j] = v;
                qq[j * g + i] = qij;
            }
        }
        // W = 2 IE2^{-1} (a pseudo-inverse when IE2 is nearly singular, as pbkrtest)
        let (vals, _) =
            linalg::symmetric_eigen(&ie2, g).ok_or_else(|| Error::Numerical("KR information matrix".into()))?;
        let condi = vals.iter().fold(f64::INFINITY, |a, v| a.min(v.abs()));
        let inv = if condi > 1e-10 {
            linalg::inverse_spd(&ie2, g).or_else(|| linalg::pseudo_inverse_symmetric(&ie2, g, 1e-12))
        } else {
            linalg::pseudo_inverse_symmetric(&ie2, g, 1e-12)
        }
        .ok_or_else(|| Error::Numerical("KR information matrix is not invertible".into()))?;
        let w: Vec<f64> = inv.iter().map(|v| 2.0 * v).collect();
        // U = sum_{i<j} W_ij (Q_ij - P_i Phi P_j), symmetrised, plus the diagonal terms.
        let mut u = vec![0.0; p * p];
        for i in 0..g {
            for j in i + 1..g {
                let ppp = mul(&mul(&p_list[i], &phi, p, p, p), &p_list[j], p, p, p);
                u = add(&u, &add(&qq[j * g + i], &ppp, -1.0), w[j * g + i]);
            }
        }
        u = add(&u, &transpose(&u, p, p), 1.0);
        for i in 0..g {
            let ppp = mul(&mul(&p_list[i], &phi, p, p, p), &p_list[i], p, p, p);
            u = add(&u, &add(&qq[i * g + i], &ppp, -1.0), w[i * g + i]);
        }
        let gamma = mul(&mul(&phi, &u, p, p, p), &phi, p, p, p);
        let phi_adj = add(&phi, &gamma, 2.0);
        Ok(KenwardRoger { p, phi, phi_adj, p_list, w })
    }

    /// Each coefficient's df (the test of its unit vector), as pbkrtest's
    /// `Lb_ddf` gives them for lmerTest's summary.
    pub fn coefficient_df(&self, beta: &[f64]) -> Vec<f64> {
        (0..self.p)
            .map(|i| {
                let mut l = vec![0.0; self.p];
                l[i] = 1.0;
                self.test(&[l], beta).ddf
            })
            .collect()
    }

    /// The KR test of L beta = 0 (rows of L), pbkrtest's `.KR_adjust`; for a
    /// single row its ddf is `Lb_ddf`.
    pub fn test(&self, rows: &[Vec<f64>], beta: &[f64]) -> KrTest {
        let p = self.p;
        let qn = rows.len();
        let l: Vec<f64> = (0..p).flat_map(|c| rows.iter().map(move |r| r[c])).collect(); // qn x p
        let lphi = mul(&l, &self.phi, qn, p, p);
        let lphil = mul(&lphi, &transpose(&l, qn, p), qn, p, qn);
        let Some(lphil_inv) = linalg::pseudo_inverse_symmetric(&lphil, qn, 1e-12) else {
            return KrTest { ndf: qn, ddf: f64::NAN, f_unscaled: f64::NAN, f_scaling: f64::NAN };
        };
        let rank = linalg::symmetric_eigen(&lphil, qn).map_or(qn, |(v, _)| {
            let vmax = v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
            v.iter().filter(|x| x.abs() > 1e-10 * vmax).count()
        });
        // Theta = L' (L Phi L')^{-1} L
        let theta = tmul(&l, &mul(&lphil_inv, &l, qn, qn, p), qn, p, p);
        let theta_phi = mul(&theta, &self.phi, p, p, p);
        let g = self.p_list.len();
        let us: Vec<Vec<f64>> =
            self.p_list.iter().map(|pi| mul(&mul(&theta_phi, pi, p, p, p), &self.phi, p, p, p)).collect();
        let (mut a1, mut a2) = (0.0, 0.0);
        for i in 0..g {
            for j in i..g {
                let e = if i == j { 1.0 } else { 2.0 };
                let wij = self.w[j * g + i];
                let tr_i: f64 = (0..p).map(|d| us[i][d * p + d]).sum();
                let tr_j: f64 = (0..p).map(|d| us[j][d * p + d]).sum();
                a1 += e * wij * tr_i * tr_j;
                a2 += e * wij * frob(&us[i], &transpose(&us[j], p, p));
            }
        }
        let qf = rank as f64;
        let bb = (a1 + 6.0 * a2) / (2.0 * qf);
        let gg = ((qf + 1.0) * a1 - (qf + 4.0) * a2) / ((qf + 2.0) * a2);
        let denom = 3.0 * qf + 2.0 * (1.0 - gg);
        let (c1, c2, c3) = (gg / denom, (qf - gg) / denom, (qf + 2.0 - gg) / denom);
        let mut v0 = 1.0 + c1 * bb;
        let v1 = 1.0 - c2 * bb;
        let v2 = 1.0 - c3 * bb;
        if v0.abs() < 1e-10 {
            v0 = 0.0;
        }
        let ratio = if v1 == 0.0 { 0.0 } else { (1.0 - a2 / qf) / v1 };
        let rho = ratio * ratio * v0 / v2 / qf;
        let ddf = 4.0 + (qf + 2.0) / (qf * rho - 1.0);
        let f_scaling = if (ddf - 2.0).abs() < 1e-2 { 1.0 } else { ddf * (1.0 - a2 / qf) / (ddf - 2.0) };
        // Wald statistic with the adjusted covariance.
        let lb: Vec<f64> = rows.iter().map(|r| r.iter().zip(beta).map(|(a, b)| a * b).sum()).collect();
        let lphial = mul(&mul(&l, &self.phi_adj, qn, p, p), &transpose(&l, qn, p), qn, p, qn);
        let f_unscaled = match linalg::pseudo_inverse_symmetric(&lphial, qn, 1e-12) {
            Some(inv) => {
                let mut s = 0.0;
                for i in 0..qn {
                    for j in 0..qn {
                        s += lb[i] * inv[j * qn + i] * lb[j];
                    }
                }
                s / qf
            }
            None => f64::NAN,
        };
        KrTest { ndf: rank, ddf, f_unscaled, f_scaling }
    }
}
