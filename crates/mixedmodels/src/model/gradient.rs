//! The gradient of the profiled objective over theta, from the blocked
//! factor and the cross-products alone (never the rows): one selected
//! inverse of the rest block and a few passes over the blocks.
//!
//! With A = Lambda'Z'Z Lambda + I (prior weights folded into the
//! cross-products), B = Z'[X y], Q = A^{-1} Lambda' B and
//! K = [X y]'[X y] - B' Lambda Q = L_XX L_XX' (so K_XX = R_X'R_X and r^2 is
//! the Schur complement of K_XX in K), and Lambda_i = dLambda/dtheta_i (a 1
//! at (r, c) of its term's lambda, at every level l of the term):
//!
//! ```text
//! d log|A|      = 2 tr(Lambda_i A^{-1} Lambda'Z'Z) = 2 sum_l H_l[c, r],
//!                 H_l = level l's diagonal block of A^{-1} Lambda'Z'Z
//! dK            = -(D_i + D_i'),  D_i = P' Lambda_i Q,  P = B - Z'Z Lambda Q
//! d log|R_X|^2  = tr(K_XX^{-1} dK_XX) = -2 sum_l Q[(l,c), X] K_XX^{-1} P[(l,r), X]'
//! d r^2         = e' dK e = -2 sum_l (P e)[(l,r)] (Q e)[(l,c)],   e = (-beta, 1)
//! ```
//!
//! (Q e is u-hat and P e = Z'(y - X beta - Z Lambda u-hat): the last is the
//! envelope theorem's derivative of the penalized residual sum of squares.)
//! H needs the blocks of A^{-1} where Z'Z is nonzero. Through the blocked
//! factor (L11 block diagonal, L21, S = L22 L22'), for a level j of the first
//! term and rest blocks b, b' that share it:
//!
//! ```text
//! (A^{-1})_{b j}  = -W_j[b] L11_j^{-1},   W_j[b] = sum_{b' touching j} S^{-1}_{b b'} L21_{b' j}
//! (A^{-1})_{j j}  = L11_j^{-T} (I + sum_b L21_{b j}' W_j[b]) L11_j^{-1}
//! (A^{-1})_{b b'} = S^{-1}_{b b'}
//! ```
//!
//! so S^{-1} is needed on S's pattern only (`rest_inverse`). The profiled
//! criteria combine the pieces (see [`GradientPieces::objective`]).

use super::blocked::BlockedFactor;
use super::crossprod::CrossProducts;
use super::rest::RestPattern;
use super::rest_inverse::RestInverse;
use super::system::SystemTerms;
use crate::linalg::{self, small};

mod levels;

/// The derivatives over theta of the objective's pieces (see `Pieces`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GradientPieces {
    /// d log det(Lambda'Z'Z Lambda + I) / d theta.
    pub ld_l2: Vec<f64>,
    /// d log det(R_X'R_X) / d theta (REML fits only; zeros for ML).
    pub ld_rx2: Vec<f64>,
    /// d r^2 / d theta.
    pub pwrss: Vec<f64>,
}

impl GradientPieces {
    pub fn zeros(ntheta: usize) -> Self {
        GradientPieces { ld_l2: vec![0.0; ntheta], ld_rx2: vec![0.0; ntheta], pwrss: vec![0.0; ntheta] }
    }

    /// The gradient of the profiled criterion (`objective_from`): ML
    /// log|L|^2 + n log r^2 + const, REML adding log|R_X|^2 with n - p.
    pub fn objective(&self, pwrss: f64, n: usize, p: usize, reml: bool, out: &mut [f64]) {
        let dof = if reml { (n - p) as f64 } else { n as f64 };
        for (i, g) in out.iter_mut().enumerate() {
            *g = self.ld_l2[i] + dof * self.pwrss[i] / pwrss + if reml { self.ld_rx2[i] } else { 0.0 };
        }
    }
}

/// Buffers of the gradient, allocated once for a model's structure.
pub struct GradientWorkspace {
    sinv: Option<RestInverse>,
    lambdas: Vec<Vec<f64>>,
    /// Q = A^{-1} Lambda' Z'[X y]: first term (q0 x k a level), then the rest (m x k).
    q1: Vec<f64>,
    qr: Vec<f64>,
    /// Lambda Q, same layout.
    v1: Vec<f64>,
    vr: Vec<f64>,
    /// P = Z'[X y] - Z'Z Lambda Q, same layout.
    p1: Vec<f64>,
    pr: Vec<f64>,
    /// P_X K_XX^{-1} (REML), q0 x p a level, then m x p.
    rx1: Vec<f64>,
    rxr: Vec<f64>,
    /// Q e = u-hat and P e, first term's levels then the rest.
    u_hat: Vec<f64>,
    resid: Vec<f64>,
    /// W_j[b] for every cross entry (layout of `CrossProducts::cross_values`).
    w: Vec<f64>,
    /// H: q0 x q0 a level of the first term; q_b x q_b a rest block at `hr_offset[b]`.
    h1: Vec<f64>,
    hr: Vec<f64>,
    hr_offset: Vec<usize>,
    /// The rest block holding each rest row.
    row_block: Vec<usize>,
    small_a: Vec<f64>,
    small_b: Vec<f64>,
    /// W = S^{-1} L21 for all levels, when the factor keeps L21 dense.
    w_dense: Option<Vec<f64>>,
    /// One level's rest rows, S^{-1} on them, L21_j and W_j stacked (dense S).
    level_rows: Vec<usize>,
    level_s: Vec<f64>,
    level_l: Vec<f64>,
    level_wj: Vec<f64>,
}

impl GradientWorkspace {
    /// `factor_keeps_l21_dense`: the factor's [`BlockedFactor::l21_dense`] is kept.
    pub fn new(cp: &CrossProducts, par: &SystemTerms, factor_keeps_l21_dense: bool) -> Self {
        let (q0, l0, m, k, p) = (cp.q0, cp.l0, cp.m, cp.p + 1, cp.p);
        let qmax = par.terms.iter().map(|t| t.q).max().unwrap_or(1);
        let mut hr_offset = Vec::with_capacity(cp.rest_blocks.len());
        let mut row_block = vec![0; m];
        let mut off = 0;
        for (b, blk) in cp.rest_blocks.iter().enumerate() {
            hr_offset.push(off);
            off += blk.q * blk.q;
            row_block[blk.row..blk.row + blk.q].iter_mut().for_each(|v| *v = b);
        }
        // The most rest rows a level of the first term touches (dense S, vector terms only).
        let level_rows = if cp.pattern.is_dense() && !cp.all_scalar && !factor_keeps_l21_dense {
            (0..l0)
                .map(|j| cp.level_cross(j).iter().map(|e| cp.rest_blocks[e.block()].q).sum::<usize>())
                .max()
                .unwrap_or(0)
        } else {
            0
        };
        GradientWorkspace {
            w_dense: factor_keeps_l21_dense.then(|| vec![0.0; m * l0 * q0]),
            sinv: (m > 0).then(|| RestInverse::new(&cp.pattern)),
            lambdas: par.terms.iter().map(|t| vec![0.0; t.q * t.q]).collect(),
            q1: vec![0.0; l0 * q0 * k],
            qr: vec![0.0; m * k],
            v1: vec![0.0; l0 * q0 * k],
            vr: vec![0.0; m * k],
            p1: vec![0.0; l0 * q0 * k],
            pr: vec![0.0; m * k],
            rx1: vec![0.0; l0 * q0 * p],
            rxr: vec![0.0; m * p],
            u_hat: vec![0.0; l0 * q0 + m],
            resid: vec![0.0; l0 * q0 + m],
            w: vec![0.0; cp.cross_values.len()],
            h1: vec![0.0; l0 * q0 * q0],
            hr: vec![0.0; off],
            hr_offset,
            row_block,
            small_a: vec![0.0; qmax * qmax.max(k)],
            small_b: vec![0.0; qmax * qmax.max(k)],
            level_rows: Vec::with_capacity(level_rows),
            level_s: vec![0.0; level_rows * level_rows],
            level_l: vec![0.0; level_rows * q0],
            level_wj: vec![0.0; level_rows * q0],
        }
    }

    /// The derivatives of the pieces at the factor's theta (the factor must
    /// be up to date and positive definite).
    pub fn compute(
        &mut self,
        cp: &CrossProducts,
        par: &SystemTerms,
        factor: &mut BlockedFactor,
        theta: &[f64],
        reml: bool,
        out: &mut GradientPieces,
    ) {
        for (kk, l) in self.lambdas.iter_mut().enumerate() {
            par.fill_lambda(theta, kk, l);
        }
        if let Some(sinv) = &mut self.sinv {
            sinv.compute(&factor.rest);
        }
        if cp.m == 0 {
            self.first_block_levels(cp, factor, reml);
        } else {
            self.general_passes(cp, factor, reml);
        }
        self.assemble(cp, par, reml, out);
    }

    /// [`GradientWorkspace::compute`] through the general passes whatever
    /// the layout (to check the first block's own path against them).
    #[cfg(test)]
    fn compute_general(
        &mut self,
        cp: &CrossProducts,
        par: &SystemTerms,
        factor: &mut BlockedFactor,
        theta: &[f64],
        reml: bool,
        out: &mut GradientPieces,
    ) {
        for (kk, l) in self.lambdas.iter_mut().enumerate() {
            par.fill_lambda(theta, kk, l);
        }
        self.general_passes(cp, factor, reml);
        self.assemble(cp, par, reml, out);
    }

    /// The passes over the first term's levels and the rest blocks, for any layout.
    fn general_passes(&mut self, cp: &CrossProducts, factor: &mut BlockedFactor, reml: bool) {
        self.solutions(cp, factor);
        self.residual_cross_products(cp);
        self.combine_columns(cp, factor, reml);
        self.diagonal_blocks(cp, factor);
    }

    /// Q = A^{-1} Lambda' Z'[X y] by back substitution through the factor:
    /// Q_R = S^{-1} T, then Q_j = L11_j^{-T} (L_{X1,j}' - L21_j' Q_R).
    fn solutions(&mut self, cp: &CrossProducts, factor: &mut BlockedFactor) {
        let (q0, m, k) = (cp.q0, cp.m, cp.p + 1);
        if m > 0 {
            self.qr.copy_from_slice(&factor.lxr);
            factor.rest.solve(&mut self.qr, k);
        }
        for j in 0..cp.l0 {
            let qj = &mut self.q1[j * q0 * k..(j + 1) * q0 * k];
            qj.copy_from_slice(&factor.lx1[j * q0 * k..(j + 1) * q0 * k]);
            for e in cp.level_cross(j) {
                let b = cp.rest_blocks[e.block()];
                let l21 = &factor.l21[e.values()..e.values() + b.q * q0];
                for c in 0..k {
                    let qr = &self.qr[c * m + b.row..c * m + b.row + b.q];
                    for t in 0..q0 {
                        qj[c * q0 + t] -= dot(&l21[t * b.q..(t + 1) * b.q], qr);
                    }
                }
            }
            small::solve_lower_transpose(&factor.l11[j * q0 * q0..(j + 1) * q0 * q0], q0, qj, k);
        }
    }

    /// V = Lambda Q and P = Z'[X y] - Z'Z V, block by block of Z'Z.
    fn residual_cross_products(&mut self, cp: &CrossProducts) {
        let (q0, m, k) = (cp.q0, cp.m, cp.p + 1);
        for j in 0..cp.l0 {
            let r = j * q0 * k..(j + 1) * q0 * k;
            lambda_times(&self.lambdas[0], q0, &self.q1[r.clone()], &mut self.v1[r], k);
        }
        for b in &cp.rest_blocks {
            let lam = &self.lambdas[b.term];
            for c in 0..k {
                let r = c * m + b.row..c * m + b.row + b.q;
                lambda_times(lam, b.q, &self.qr[r.clone()], &mut self.vr[r], 1);
            }
        }
        self.p1.copy_from_slice(&cp.zxy0);
        self.pr.copy_from_slice(&cp.zxy_rest);
        for j in 0..cp.l0 {
            let zz = &cp.zz0[j * q0 * q0..(j + 1) * q0 * q0];
            let (v1, p1) = (&self.v1[j * q0 * k..(j + 1) * q0 * k], &mut self.p1[j * q0 * k..(j + 1) * q0 * k]);
            for c in 0..k {
                for x in 0..q0 {
                    p1[c * q0 + x] -= (0..q0).map(|y| zz[y * q0 + x] * v1[c * q0 + y]).sum::<f64>();
                }
            }
            // Z_b'Z_j blocks (q_b x q0) and their transposes.
            for e in cp.level_cross(j) {
                let b = cp.rest_blocks[e.block()];
                let cross = &cp.cross_values[e.values()..e.values() + b.q * q0];
                for c in 0..k {
                    for t in 0..q0 {
                        let col = &cross[t * b.q..(t + 1) * b.q];
                        p1[c * q0 + t] -= dot(col, &self.vr[c * m + b.row..c * m + b.row + b.q]);
                        let vt = v1[c * q0 + t];
                        for (r, z) in col.iter().enumerate() {
                            self.pr[c * m + b.row + r] -= z * vt;
                        }
                    }
                }
            }
        }
        // Z_R'Z_R V_R from its stored lower triangle.
        let (vr, pr) = (&self.vr, &mut self.pr);
        for_each_stored(&cp.pattern, &cp.zz_rest, |r, c, z| {
            for col in 0..k {
                pr[col * m + r] -= z * vr[col * m + c];
                if r != c {
                    pr[col * m + c] -= z * vr[col * m + r];
                }
            }
        });
    }

    /// u-hat = Q e and P e with e = (-beta, 1); for REML, P_X K_XX^{-1}.
    fn combine_columns(&mut self, cp: &CrossProducts, factor: &BlockedFactor, reml: bool) {
        let (q0, m, p, k) = (cp.q0, cp.m, cp.p, cp.p + 1);
        let beta = shifted_beta(&factor.lxx, p);
        let combine = |src: &[f64], ld: usize, row: usize| -> f64 {
            src[p * ld + row] - (0..p).map(|c| src[c * ld + row] * beta[c]).sum::<f64>()
        };
        for j in 0..cp.l0 {
            for x in 0..q0 {
                let (q1, p1) = (&self.q1[j * q0 * k..], &self.p1[j * q0 * k..]);
                self.u_hat[j * q0 + x] = combine(q1, q0, x);
                self.resid[j * q0 + x] = combine(p1, q0, x);
            }
        }
        let first = cp.l0 * q0;
        for r in 0..m {
            self.u_hat[first + r] = combine(&self.qr, m, r);
            self.resid[first + r] = combine(&self.pr, m, r);
        }
        if reml && p > 0 {
            let vxx = factor.unscaled_vcov(p);
            for j in 0..cp.l0 {
                let (p1, rx) = (&self.p1[j * q0 * k..], &mut self.rx1[j * q0 * p..(j + 1) * q0 * p]);
                for c in 0..p {
                    for x in 0..q0 {
                        rx[c * q0 + x] = (0..p).map(|d| p1[d * q0 + x] * vxx[c * p + d]).sum();
                    }
                }
            }
            for c in 0..p {
                for r in 0..m {
                    self.rxr[c * m + r] = (0..p).map(|d| self.pr[d * m + r] * vxx[c * p + d]).sum();
                }
            }
        }
    }

    /// W_j[b] = sum_{b'} S^{-1}_{b b'} L21_{b' j} for the rest blocks b
    /// touching level j of the first term, into `w`.
    fn level_w(&mut self, cp: &CrossProducts, factor: &BlockedFactor, j: usize) {
        let Some(sinv) = &self.sinv else { return };
        let (q0, m) = (cp.q0, cp.m);
        let range = cp.cross_ptr[j]..cp.cross_ptr[j + 1];
        let entries = cp.level_cross(j);
        if let Some(all) = &self.w_dense {
            // W = S^{-1} L21 computed for every level at once: copy this level's blocks.
            for e in entries {
                let b = cp.rest_blocks[e.block()];
                for t in 0..q0 {
                    let col = (j * q0 + t) * m + b.row;
                    self.w[e.values() + t * b.q..e.values() + (t + 1) * b.q].copy_from_slice(&all[col..col + b.q]);
                }
            }
            return;
        }
        match sinv.dense() {
            Some(dense) if cp.all_scalar => {
                let (rows, l21) = (&cp.entry_row[range.clone()], &factor.l21[range.clone()]);
                for (wa, &ra) in self.w[range].iter_mut().zip(rows) {
                    let col = &dense[ra as usize * m..(ra as usize + 1) * m];
                    *wa = rows.iter().zip(l21).map(|(&rb, lb)| col[rb as usize] * lb).sum();
                }
            }
            Some(dense) => {
                // Gather S^{-1} on the level's rows and L21_j stacked, one product.
                let rows = &mut self.level_rows;
                rows.clear();
                for e in entries {
                    let b = cp.rest_blocks[e.block()];
                    rows.extend(b.row..b.row + b.q);
                }
                let r = rows.len();
                let (sub, lj, wj) =
                    (&mut self.level_s[..r * r], &mut self.level_l[..r * q0], &mut self.level_wj[..r * q0]);
                for (c, &rc) in rows.iter().enumerate() {
                    let col = &dense[rc * m..(rc + 1) * m];
                    for (x, &rx) in rows.iter().enumerate() {
                        sub[c * r + x] = col[rx];
                    }
                }
                let mut at = 0;
                for e in entries {
                    let qb = cp.rest_blocks[e.block()].q;
                    for t in 0..q0 {
                        lj[t * r + at..t * r + at + qb]
                            .copy_from_slice(&factor.l21[e.values() + t * qb..e.values() + (t + 1) * qb]);
                    }
                    at += qb;
                }
                linalg::gemm_nn(wj, sub, lj, r, r, q0, 1.0, false);
                let mut at = 0;
                for e in entries {
                    let qb = cp.rest_blocks[e.block()].q;
                    for t in 0..q0 {
                        self.w[e.values() + t * qb..e.values() + (t + 1) * qb]
                            .copy_from_slice(&wj[t * r + at..t * r + at + qb]);
                    }
                    at += qb;
                }
            }
            None => {
                for ea in entries {
                    let ba = cp.rest_blocks[ea.block()];
                    let wa = &mut self.w[ea.values()..ea.values() + ba.q * q0];
                    wa.iter_mut().for_each(|v| *v = 0.0);
                    for eb in entries {
                        let bb = cp.rest_blocks[eb.block()];
                        let lb = &factor.l21[eb.values()..eb.values() + bb.q * q0];
                        for x in 0..ba.q {
                            for z in 0..bb.q {
                                let s = sinv.get(&cp.pattern, ba.row + x, bb.row + z);
                                for t in 0..q0 {
                                    wa[t * ba.q + x] += s * lb[t * bb.q + z];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// H, the diagonal blocks of A^{-1} Lambda'Z'Z (see the module notes).
    fn diagonal_blocks(&mut self, cp: &CrossProducts, factor: &BlockedFactor) {
        let q0 = cp.q0;
        self.hr.iter_mut().for_each(|v| *v = 0.0);
        if let (Some(all), Some(a), Some(sinv)) =
            (self.w_dense.as_mut(), factor.l21_dense.as_ref(), self.sinv.as_ref().and_then(|s| s.dense()))
        {
            // The factor keeps L21 dense (m x l0 q0): W = S^{-1} L21 in one product.
            linalg::gemm_nn(all, sinv, a, cp.m, cp.m, cp.l0 * q0, 1.0, false);
        }
        for j in 0..cp.l0 {
            self.level_w(cp, factor, j);
            let lam0 = &self.lambdas[0];
            let l11 = &factor.l11[j * q0 * q0..(j + 1) * q0 * q0];
            let entries = cp.level_cross(j);
            // N = (I + sum_b L21_b' W_b) L11^{-1} lambda0' Z_j'Z_j - sum_b W_b' lambda_b' Z_b'Z_j.
            let zz = &cp.zz0[j * q0 * q0..(j + 1) * q0 * q0];
            let m1 = &mut self.small_a[..q0 * q0];
            small::at_m(lam0, zz, q0, q0, q0, m1);
            small::solve_lower(l11, q0, m1, q0);
            let g = &mut self.small_b[..q0 * q0];
            for t in 0..q0 {
                for s in 0..q0 {
                    g[t * q0 + s] = if s == t { 1.0 } else { 0.0 };
                }
            }
            for e in entries {
                let b = cp.rest_blocks[e.block()];
                let (l21, w) =
                    (&factor.l21[e.values()..e.values() + b.q * q0], &self.w[e.values()..e.values() + b.q * q0]);
                for t in 0..q0 {
                    for s in 0..q0 {
                        g[t * q0 + s] += dot(&l21[s * b.q..(s + 1) * b.q], &w[t * b.q..(t + 1) * b.q]);
                    }
                }
            }
            let h = &mut self.h1[j * q0 * q0..(j + 1) * q0 * q0];
            for t in 0..q0 {
                for s in 0..q0 {
                    h[t * q0 + s] = (0..q0).map(|u| g[u * q0 + s] * m1[t * q0 + u]).sum();
                }
            }
            for e in entries {
                let b = cp.rest_blocks[e.block()];
                let (lam_b, w) = (&self.lambdas[b.term], &self.w[e.values()..e.values() + b.q * q0]);
                let cross = &cp.cross_values[e.values()..e.values() + b.q * q0];
                for t in 0..q0 {
                    for z in 0..b.q {
                        // (lambda_b' Z_b'Z_j)[z, t]
                        let lc: f64 = (z..b.q).map(|r| lam_b[z * b.q + r] * cross[t * b.q + r]).sum();
                        for s in 0..q0 {
                            h[t * q0 + s] -= w[s * b.q + z] * lc;
                        }
                    }
                }
            }
            small::solve_lower_transpose(l11, q0, h, q0);
            // The rest blocks' share through this level: -W_b L11^{-1} lambda0' Z_j'Z_b.
            for e in entries {
                let b = cp.rest_blocks[e.block()];
                let cross = &cp.cross_values[e.values()..e.values() + b.q * q0];
                let x = &mut self.small_a[..q0 * b.q];
                for y in 0..b.q {
                    for s in 0..q0 {
                        x[y * q0 + s] = (s..q0).map(|t| lam0[s * q0 + t] * cross[t * b.q + y]).sum();
                    }
                }
                small::solve_lower(l11, q0, x, b.q);
                let w = &self.w[e.values()..e.values() + b.q * q0];
                let hb = &mut self.hr[self.hr_offset[e.block()]..self.hr_offset[e.block()] + b.q * b.q];
                for y in 0..b.q {
                    for xr in 0..b.q {
                        hb[y * b.q + xr] -= (0..q0).map(|s| w[s * b.q + xr] * x[y * q0 + s]).sum::<f64>();
                    }
                }
            }
        }
        // The rest blocks' share through the rest: sum_beta S^{-1}_{alpha beta} lambda_beta' Z_beta'Z_alpha.
        let Some(sinv) = &self.sinv else { return };
        if let (true, Some(dense)) = (cp.all_scalar, sinv.dense()) {
            // Scalar blocks: H_a += S^{-1}[r, a] lambda_r Z'Z[r, a], both triangles of Z'Z.
            let m = cp.m;
            let scale: Vec<f64> = cp.rest_blocks.iter().map(|b| self.lambdas[b.term][0]).collect();
            for c in 0..m {
                let (zz, si) = (&cp.zz_rest[c * m..(c + 1) * m], &dense[c * m..(c + 1) * m]);
                let mut hc = si[c] * scale[c] * zz[c];
                for r in c + 1..m {
                    let v = si[r] * zz[r];
                    hc += v * scale[r];
                    self.hr[r] += v * scale[c];
                }
                self.hr[c] += hc;
            }
            return;
        }
        let (hr, offset, row_block, lambdas) = (&mut self.hr, &self.hr_offset, &self.row_block, &self.lambdas);
        let blocks = &cp.rest_blocks;
        let mut add = |row: usize, col: usize, z: f64| {
            // Z_R'Z_R[row, col] = z enters H_alpha[:, col] for alpha = col's block, beta = row's block.
            let (ia, ib) = (row_block[col], row_block[row]);
            let (a, b) = (blocks[ia], blocks[ib]);
            let (wl, yl) = (row - b.row, col - a.row);
            let lam_b = &lambdas[b.term];
            let h = &mut hr[offset[ia]..offset[ia] + a.q * a.q];
            for x in 0..a.q {
                let v: f64 = (0..=wl).map(|u| sinv.get(&cp.pattern, a.row + x, b.row + u) * lam_b[u * b.q + wl]).sum();
                h[yl * a.q + x] += v * z;
            }
        };
        for_each_stored(&cp.pattern, &cp.zz_rest, |r, c, z| {
            add(r, c, z);
            if r != c {
                add(c, r, z);
            }
        });
    }

    /// The gradient pieces, parameter by parameter: sums over the levels of
    /// its term of products of rows (l, r) and (l, c), (r, c) its position
    /// in the term's lambda.
    fn assemble(&self, cp: &CrossProducts, par: &SystemTerms, reml: bool, out: &mut GradientPieces) {
        let (q0, m, p, k) = (cp.q0, cp.m, cp.p, cp.p + 1);
        let first = cp.l0 * q0;
        for (kk, t) in par.terms.iter().enumerate() {
            let q = t.q;
            for &(i, r, c) in &t.entries {
                let (mut ld, mut rx, mut rss) = (0.0, 0.0, 0.0);
                for l in 0..t.nlevels {
                    if kk == 0 {
                        let (hr, qc, base) = (l * q0 * q0, l * q0 * k, l * q0);
                        ld += self.h1[hr + r * q0 + c];
                        rss += self.resid[base + r] * self.u_hat[base + c];
                        if reml {
                            let rxb = l * q0 * p;
                            rx += (0..p).map(|x| self.q1[qc + x * q0 + c] * self.rx1[rxb + x * q0 + r]).sum::<f64>();
                        }
                    } else {
                        let bi = cp.term_first_block[kk] + l;
                        let b = cp.rest_blocks[bi];
                        ld += self.hr[self.hr_offset[bi] + r * q + c];
                        rss += self.resid[first + b.row + r] * self.u_hat[first + b.row + c];
                        if reml {
                            rx += (0..p).map(|x| self.qr[x * m + b.row + c] * self.rxr[x * m + b.row + r]).sum::<f64>();
                        }
                    }
                }
                out.ld_l2[i] = 2.0 * ld;
                out.ld_rx2[i] = if reml { -2.0 * rx } else { 0.0 };
                out.pwrss[i] = -2.0 * rss;
            }
        }
    }
}

/// dst = lambda src for lower-triangular lambda (q x q) and src (q x k).
#[inline]
fn lambda_times(lam: &[f64], q: usize, src: &[f64], dst: &mut [f64], k: usize) {
    for c in 0..k {
        for x in 0..q {
            dst[c * q + x] = (0..=x).map(|y| lam[y * q + x] * src[c * q + y]).sum();
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// beta for the shifted response from L_XX: R_X' beta = its y row.
fn shifted_beta(lxx: &[f64], p: usize) -> Vec<f64> {
    let k = p + 1;
    let mut beta: Vec<f64> = (0..p).map(|i| lxx[i * k + p]).collect();
    for i in (0..p).rev() {
        let mut s = beta[i];
        for t in i + 1..p {
            s -= lxx[i * k + t] * beta[t];
        }
        beta[i] = s / lxx[i * k + i];
    }
    beta
}

/// Call `f(row, col, value)` for every stored lower-triangular entry of a
/// matrix laid out as `pattern` (row >= col).
fn for_each_stored(pattern: &RestPattern, values: &[f64], mut f: impl FnMut(usize, usize, f64)) {
    match pattern {
        RestPattern::Dense { m } => {
            for c in 0..*m {
                for r in c..*m {
                    let v = values[c * m + r];
                    if v != 0.0 {
                        f(r, c, v);
                    }
                }
            }
        }
        RestPattern::Sparse { m, col_ptr, row_idx, .. } => {
            for c in 0..*m {
                for pos in col_ptr[c]..col_ptr[c + 1] {
                    if values[pos] != 0.0 {
                        f(row_idx[pos], c, values[pos]);
                    }
                }
            }
        }
    }
}
