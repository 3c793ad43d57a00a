//! The blocked Cholesky factor L(theta) of
//!
//! ```text
//!   [ Lambda'Z'Z Lambda + I   Lambda'Z'[X y] ]
//!   [ [X y]'Z Lambda          [X y]'[X y]    ]
//! ```
//!
//! in three block rows: the first term (block diagonal), the rest (dense),
//! and [X y] (dense), as MixedModels.jl's `updateL!`. All buffers are
//! allocated once; `update` allocates nothing.

use super::crossprod::CrossProducts;
use super::lambda::Parameterization;
use crate::linalg::{self, small, DenseCholesky};

pub struct BlockedFactor {
    /// L11: one lower q0 x q0 factor a level of the first term.
    pub l11: Vec<f64>,
    /// L21 blocks, laid out as `CrossProducts::cross_values` (q_b x q0 each).
    pub l21: Vec<f64>,
    /// L_{X,1}': one q0 x (p+1) block a level (the [X y] rows' first-term part, transposed).
    pub lx1: Vec<f64>,
    /// The rest's diagonal block, factored in place into L22 (m x m).
    pub l22: Vec<f64>,
    /// L_{X,R}': m x (p+1).
    pub lxr: Vec<f64>,
    /// The [X y] block, factored in place into L_XX ((p+1) x (p+1)).
    pub lxx: Vec<f64>,
    /// Each term's lambda (q_k x q_k), refreshed from theta.
    lambdas: Vec<Vec<f64>>,
    scratch: Vec<f64>,
    /// The diagonal of Lambda_R when every rest term is scalar.
    rest_scale: Vec<f64>,
    xx_tmp: Vec<f64>,
    chol_rest: DenseCholesky,
    chol_xx: DenseCholesky,
    /// False if the last update failed (a non-positive pivot).
    pub ok: bool,
}

/// The pieces of the profiled objective read off the factor's diagonal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pieces {
    /// log det(Lambda'Z'Z Lambda + I).
    pub ld_l2: f64,
    /// log det(R_X' R_X).
    pub ld_rx2: f64,
    /// Penalized weighted residual sum of squares r^2(theta).
    pub pwrss: f64,
}

impl BlockedFactor {
    pub fn new(cp: &CrossProducts, par: &Parameterization) -> Self {
        let k = cp.p + 1;
        let qmax = par.terms.iter().map(|t| t.q).max().unwrap_or(1);
        BlockedFactor {
            l11: vec![0.0; cp.zz0.len()],
            l21: vec![0.0; cp.cross_values.len()],
            lx1: vec![0.0; cp.zxy0.len()],
            l22: vec![0.0; cp.m * cp.m],
            lxr: vec![0.0; cp.m * k],
            lxx: vec![0.0; k * k],
            lambdas: par.terms.iter().map(|t| vec![0.0; t.q * t.q]).collect(),
            scratch: vec![0.0; qmax * qmax.max(k)],
            rest_scale: vec![0.0; cp.m],
            xx_tmp: vec![0.0; k * k],
            chol_rest: DenseCholesky::new(cp.m),
            chol_xx: DenseCholesky::new(k),
            ok: false,
        }
    }

    /// Refactor for a new theta.
    pub fn update(&mut self, cp: &CrossProducts, par: &Parameterization, theta: &[f64]) {
        for (kk, l) in self.lambdas.iter_mut().enumerate() {
            par.fill_lambda(theta, kk, l);
        }
        self.ok = self.first_term(cp) && self.rest(cp, par) && self.fixed_block(cp);
    }

    /// Per level j of the first term: L11_j = chol(lambda0' B_j lambda0 + I),
    /// L21_j = lambda_R' C_j lambda0 L11_j^{-T}, L_{X1,j}' = L11_j^{-1} lambda0' Z_0j'[X y].
    fn first_term(&mut self, cp: &CrossProducts) -> bool {
        let (q0, k) = (cp.q0, cp.p + 1);
        let lam0 = &self.lambdas[0];
        for j in 0..cp.l0 {
            let l = &mut self.l11[j * q0 * q0..(j + 1) * q0 * q0];
            let b = &cp.zz0[j * q0 * q0..(j + 1) * q0 * q0];
            if q0 == 1 {
                l[0] = (lam0[0] * lam0[0] * b[0] + 1.0).sqrt();
            } else {
                small::at_m_b(lam0, b, lam0, q0, q0, q0, q0, &mut self.scratch, l);
                for d in 0..q0 {
                    l[d * q0 + d] += 1.0;
                }
                if !small::cholesky(l, q0) {
                    return false;
                }
            }
            let l = &self.l11[j * q0 * q0..(j + 1) * q0 * q0];
            for e in cp.level_cross(j) {
                let blk = cp.rest_blocks[e.block];
                let qb = blk.q;
                let src = &cp.cross_values[e.values..e.values + qb * q0];
                let dst = &mut self.l21[e.values..e.values + qb * q0];
                let lam_b = &self.lambdas[blk.term];
                if q0 == 1 && qb == 1 {
                    dst[0] = lam_b[0] * src[0] * lam0[0] / l[0];
                } else {
                    small::at_m_b(lam_b, src, lam0, qb, qb, q0, q0, &mut self.scratch, dst);
                    small::solve_right_lower_transpose(l, q0, dst, qb);
                }
            }
            let src = &cp.zxy0[j * q0 * k..(j + 1) * q0 * k];
            let dst = &mut self.lx1[j * q0 * k..(j + 1) * q0 * k];
            small::at_m(lam0, src, q0, q0, k, dst);
            small::solve_lower(l, q0, dst, k);
        }
        true
    }

    /// L22 L22' = lambda_R' Z_R'Z_R lambda_R + I - sum_j L21_j L21_j', and
    /// L_{XR}' = L22^{-1} (lambda_R' Z_R'[X y] - sum_j L21_j L_{X1,j}').
    fn rest(&mut self, cp: &CrossProducts, _par: &Parameterization) -> bool {
        let (m, q0, k) = (cp.m, cp.q0, cp.p + 1);
        if m == 0 {
            return true;
        }
        self.scale_rest(cp);
        for j in 0..cp.l0 {
            let entries = cp.level_cross(j);
            let lx1 = &self.lx1[j * q0 * k..(j + 1) * q0 * k];
            for (ai, ea) in entries.iter().enumerate() {
                let ba = cp.rest_blocks[ea.block];
                let la = &self.l21[ea.values..ea.values + ba.q * q0];
                for eb in &entries[..=ai] {
                    let bb = cp.rest_blocks[eb.block];
                    let lb = &self.l21[eb.values..eb.values + bb.q * q0];
                    // S[a rows, b rows] -= La Lb' (only the lower triangle is used)
                    let (hi, lo, lhi, llo) = if ba.row >= bb.row { (ba, bb, la, lb) } else { (bb, ba, lb, la) };
                    for cb in 0..lo.q {
                        let col = &mut self.l22[(lo.row + cb) * m..(lo.row + cb + 1) * m];
                        for ca in 0..hi.q {
                            let mut s = 0.0;
                            for t in 0..q0 {
                                s += lhi[t * hi.q + ca] * llo[t * lo.q + cb];
                            }
                            col[hi.row + ca] -= s;
                        }
                    }
                }
                // T[a rows, :] -= La L_{X1,j}'
                for c in 0..k {
                    let col = &mut self.lxr[c * m..(c + 1) * m];
                    for ca in 0..ba.q {
                        let mut s = 0.0;
                        for t in 0..q0 {
                            s += la[t * ba.q + ca] * lx1[c * q0 + t];
                        }
                        col[ba.row + ca] -= s;
                    }
                }
            }
        }
        if self.chol_rest.factor(&mut self.l22).is_err() {
            return false;
        }
        linalg::solve_lower(&self.l22, m, &mut self.lxr, k);
        true
    }

    /// Copy lambda_R' Z_R'Z_R lambda_R + I into l22 and lambda_R' Z_R'[X y] into lxr.
    fn scale_rest(&mut self, cp: &CrossProducts) {
        let (m, k) = (cp.m, cp.p + 1);
        let all_scalar = cp.rest_blocks.iter().all(|b| b.q == 1);
        if all_scalar {
            // Lambda_R is diagonal: entry (a, b) scales by lambda_a lambda_b.
            for (s, b) in self.rest_scale.iter_mut().zip(&cp.rest_blocks) {
                *s = self.lambdas[b.term][0];
            }
            let scale = &self.rest_scale;
            for c in 0..m {
                let sc = scale[c];
                let src = &cp.zz_rest[c * m..(c + 1) * m];
                let dst = &mut self.l22[c * m..(c + 1) * m];
                for r in c..m {
                    dst[r] = src[r] * scale[r] * sc;
                }
                dst[c] += 1.0;
            }
            for c in 0..k {
                for r in 0..m {
                    self.lxr[c * m + r] = cp.zxy_rest[c * m + r] * scale[r];
                }
            }
            return;
        }
        // General case: blocks (a, b) become lambda_a' Z_a'Z_b lambda_b.
        for bb in &cp.rest_blocks {
            for ba in cp.rest_blocks.iter().filter(|ba| ba.row >= bb.row) {
                let (la, lb) = (&self.lambdas[ba.term], &self.lambdas[bb.term]);
                for cb in 0..bb.q {
                    for ca in 0..ba.q {
                        // sum_{r,s} la[r, ca] Z[ra + r, rb + s] lb[s, cb]
                        let mut v = 0.0;
                        for s in cb..bb.q {
                            let lbs = lb[cb * bb.q + s];
                            for r in ca..ba.q {
                                v += la[ca * ba.q + r] * cp.zz_rest[(bb.row + s) * m + ba.row + r] * lbs;
                            }
                        }
                        self.l22[(bb.row + cb) * m + ba.row + ca] = v;
                    }
                }
            }
        }
        for d in 0..m {
            self.l22[d * m + d] += 1.0;
        }
        for ba in &cp.rest_blocks {
            let la = &self.lambdas[ba.term];
            for c in 0..k {
                for ca in 0..ba.q {
                    let mut v = 0.0;
                    for r in ca..ba.q {
                        v += la[ca * ba.q + r] * cp.zxy_rest[c * m + ba.row + r];
                    }
                    self.lxr[c * m + ba.row + ca] = v;
                }
            }
        }
    }

    /// L_XX L_XX' = [X y]'[X y] - sum_j L_{X1,j} L_{X1,j}' - L_{XR} L_{XR}'.
    fn fixed_block(&mut self, cp: &CrossProducts) -> bool {
        let (q0, k, m) = (cp.q0, cp.p + 1, cp.m);
        self.lxx.copy_from_slice(&cp.xyxy);
        for j in 0..cp.l0 {
            let a = &self.lx1[j * q0 * k..(j + 1) * q0 * k];
            for c in 0..k {
                for r in c..k {
                    let mut s = 0.0;
                    for t in 0..q0 {
                        s += a[r * q0 + t] * a[c * q0 + t];
                    }
                    self.lxx[c * k + r] -= s;
                }
            }
        }
        if m > 0 {
            // lxx -= lxr' lxr (lxr is m x k)
            linalg::gemm_tn(&mut self.xx_tmp, &self.lxr, &self.lxr, m, k, k, 1.0, false);
            for c in 0..k {
                for r in c..k {
                    self.lxx[c * k + r] -= self.xx_tmp[c * k + r];
                }
            }
        }
        self.chol_xx.factor(&mut self.lxx).is_ok()
    }

    /// The objective's pieces from the diagonals.
    pub fn pieces(&self, cp: &CrossProducts) -> Pieces {
        let (q0, k, m, p) = (cp.q0, cp.p + 1, cp.m, cp.p);
        let mut ld_l2 = 0.0;
        for j in 0..cp.l0 {
            for d in 0..q0 {
                ld_l2 += self.l11[j * q0 * q0 + d * q0 + d].ln();
            }
        }
        for d in 0..m {
            ld_l2 += self.l22[d * m + d].ln();
        }
        let ld_rx2: f64 = (0..p).map(|d| self.lxx[d * k + d].ln()).sum();
        let r = self.lxx[p * k + p];
        Pieces { ld_l2: 2.0 * ld_l2, ld_rx2: 2.0 * ld_rx2, pwrss: r * r }
    }
}
