//! The selected inverse of the rest block: S^{-1} on S's own pattern, from
//! its Cholesky factor, never the dense inverse of a sparse S.
//!
//! The gradient of the profiled objective needs the blocks of A^{-1} where
//! Z'Z is nonzero (see `gradient`); through the blocked factor these come
//! down to S^{-1} on pairs of rest blocks that share a level of the first
//! term, which is S's pattern (`crossprod::rest_pattern`).
//!
//! - Dense S: the full inverse, L^{-T} L^{-1}.
//! - Sparse S: Takahashi's recursion (Takahashi, Fagan and Chin 1973; in
//!   supernodal form as in Lin et al. 2011, "SelInv", ACM TOMS 37(4)) on the
//!   factor of the permuted matrix P S P' = L L', one supernode (a set of
//!   columns J sharing the row pattern R below them) at a time, last first:
//!
//!   ```text
//!   U    = L_RJ L_JJ^{-1}
//!   Z_RJ = -Z_RR U
//!   Z_JJ = (L_JJ L_JJ')^{-1} - U' Z_RJ
//!   ```
//!
//!   Z_RR lies in later supernodes, on L's pattern (which is closed under
//!   this recursion), so Z = (P S P')^{-1} is computed on L's pattern only.
//!   A simplicial factor is read as supernodes of one column.

use faer::sparse::linalg::cholesky::SymbolicCholeskyRaw;

use super::rest::{RestFactor, RestPattern};
use crate::linalg;

/// S^{-1} on S's pattern, recomputed from each new factor into buffers
/// allocated once.
pub struct RestInverse {
    /// S^{-1} in the layout of the pattern's values (dense: m x m, both
    /// triangles; sparse: S's lower-triangular positions).
    pub values: Vec<f64>,
    kind: Kind,
}

enum Kind {
    Dense { m: usize, linv: Vec<f64> },
    Sparse(Box<SparseInverse>),
}

/// Takahashi's recursion on the supernodes of the sparse factor.
struct SparseInverse {
    nodes: Supernodes,
    /// Z = (P S P')^{-1} on L's pattern, in the layout of L's values.
    z: Vec<f64>,
    /// For each stored position of S (original order), its position in `z`.
    gather: Vec<usize>,
    /// Scratch of one supernode: Z_RR, L_JJ, U, Z_RJ, Z_JJ and L_JJ^{-1}.
    zrr: Vec<f64>,
    ljj: Vec<f64>,
    u: Vec<f64>,
    zrj: Vec<f64>,
    jj: Vec<f64>,
    linv: Vec<f64>,
}

/// The column structure of a supernodal (or simplicial) Cholesky factor.
struct Supernodes {
    /// First column of each supernode, and the end (n_s + 1 values).
    begin: Vec<usize>,
    /// `pattern[pattern_ptr[s]..pattern_ptr[s + 1]]`: rows below supernode s, ascending.
    pattern_ptr: Vec<usize>,
    pattern: Vec<usize>,
    /// Offset of supernode s's values: (width + rows below) x width, column-major.
    val_ptr: Vec<usize>,
    /// The supernode holding each column.
    of_col: Vec<usize>,
}

impl Supernodes {
    fn from_factor(raw: &SymbolicCholeskyRaw<usize>) -> Supernodes {
        match raw {
            SymbolicCholeskyRaw::Supernodal(sym) => {
                let ns = sym.n_supernodes();
                let mut begin: Vec<usize> = sym.supernode_begin().to_vec();
                begin.push(sym.supernode_end()[ns - 1]);
                let mut pattern_ptr = vec![0];
                let mut pattern = Vec::new();
                for s in 0..ns {
                    pattern.extend_from_slice(sym.supernode(s).pattern());
                    pattern_ptr.push(pattern.len());
                }
                Self::with_columns(begin, pattern_ptr, pattern, sym.col_ptr_for_val().to_vec())
            }
            SymbolicCholeskyRaw::Simplicial(sym) => {
                // Each column stores its diagonal first, then the rows below.
                let (ptr, rows) = (sym.col_ptr(), sym.row_idx());
                let n = sym.ncols();
                let mut pattern_ptr = vec![0];
                let mut pattern = Vec::new();
                for j in 0..n {
                    pattern.extend_from_slice(&rows[ptr[j] + 1..ptr[j + 1]]);
                    pattern_ptr.push(pattern.len());
                }
                Self::with_columns((0..=n).collect(), pattern_ptr, pattern, ptr.to_vec())
            }
        }
    }

    fn with_columns(begin: Vec<usize>, pattern_ptr: Vec<usize>, pattern: Vec<usize>, val_ptr: Vec<usize>) -> Self {
        let n = *begin.last().expect("at least the end");
        let mut of_col = vec![0; n];
        for s in 0..begin.len() - 1 {
            of_col[begin[s]..begin[s + 1]].iter_mut().for_each(|v| *v = s);
        }
        debug_assert!((0..begin.len() - 1).all(|s| pattern[pattern_ptr[s]..pattern_ptr[s + 1]].is_sorted()));
        Supernodes { begin, pattern_ptr, pattern, val_ptr, of_col }
    }

    fn count(&self) -> usize {
        self.begin.len() - 1
    }

    fn width(&self, s: usize) -> usize {
        self.begin[s + 1] - self.begin[s]
    }

    fn below(&self, s: usize) -> &[usize] {
        &self.pattern[self.pattern_ptr[s]..self.pattern_ptr[s + 1]]
    }

    /// Position of entry (i, k), i >= k, of the factor's pattern in its values.
    fn position(&self, i: usize, k: usize) -> usize {
        let t = self.of_col[k];
        let (w, below) = (self.width(t), self.below(t));
        let row = if i < self.begin[t + 1] {
            i - self.begin[t]
        } else {
            w + below.binary_search(&i).expect("the entry lies on the factor's pattern")
        };
        self.val_ptr[t] + (k - self.begin[t]) * (w + below.len()) + row
    }
}

impl RestInverse {
    pub fn new(pattern: &RestPattern) -> RestInverse {
        match pattern {
            RestPattern::Dense { m } => {
                RestInverse { values: vec![0.0; m * m], kind: Kind::Dense { m: *m, linv: vec![0.0; m * m] } }
            }
            RestPattern::Sparse { m, col_ptr, row_idx, symbolic } => {
                let nodes = Supernodes::from_factor(symbolic.raw());
                let inv: Vec<usize> = match symbolic.perm() {
                    Some(perm) => perm.arrays().1.to_vec(),
                    None => (0..*m).collect(),
                };
                let mut gather = Vec::with_capacity(row_idx.len());
                for c in 0..*m {
                    for &r in &row_idx[col_ptr[c]..col_ptr[c + 1]] {
                        let (i, k) = (inv[r].max(inv[c]), inv[r].min(inv[c]));
                        gather.push(nodes.position(i, k));
                    }
                }
                let (wmax, rmax) = (0..nodes.count())
                    .map(|s| (nodes.width(s), nodes.below(s).len()))
                    .fold((0, 0), |(a, b), (w, r)| (a.max(w), b.max(r)));
                let sparse = SparseInverse {
                    z: vec![0.0; symbolic.len_val()],
                    gather,
                    zrr: vec![0.0; rmax * rmax],
                    ljj: vec![0.0; wmax * wmax],
                    u: vec![0.0; rmax * wmax],
                    zrj: vec![0.0; rmax * wmax],
                    jj: vec![0.0; wmax * wmax],
                    linv: vec![0.0; wmax * wmax],
                    nodes,
                };
                RestInverse { values: vec![0.0; row_idx.len()], kind: Kind::Sparse(Box::new(sparse)) }
            }
        }
    }

    /// Recompute from a freshly factored S.
    pub fn compute(&mut self, factor: &RestFactor) {
        match &mut self.kind {
            Kind::Dense { m, linv } => linalg::inverse_from_cholesky(factor.values(), *m, linv, &mut self.values),
            Kind::Sparse(sp) => {
                let l = factor.sparse_factor_values().expect("a sparse pattern has a sparse factor");
                sp.takahashi(l);
                for (v, &pos) in self.values.iter_mut().zip(&sp.gather) {
                    *v = sp.z[pos];
                }
            }
        }
    }
}

impl SparseInverse {
    fn takahashi(&mut self, l: &[f64]) {
        let nodes = &self.nodes;
        for s in (0..nodes.count()).rev() {
            let (w, below) = (nodes.width(s), nodes.below(s));
            let nr = below.len();
            let rows = w + nr;
            let ls = &l[nodes.val_ptr[s]..nodes.val_ptr[s] + rows * w];
            // Z_RR from the later supernodes (full symmetric, nr x nr).
            let zrr = &mut self.zrr[..nr * nr];
            for b in 0..nr {
                for a in b..nr {
                    let v = self.z[nodes.position(below[a], below[b])];
                    zrr[b * nr + a] = v;
                    zrr[a * nr + b] = v;
                }
            }
            let ljj = &mut self.ljj[..w * w];
            let u = &mut self.u[..nr * w];
            for c in 0..w {
                for r in 0..w {
                    ljj[c * w + r] = if r >= c { ls[c * rows + r] } else { 0.0 };
                }
                u[c * nr..(c + 1) * nr].copy_from_slice(&ls[c * rows + w..(c + 1) * rows]);
            }
            // U = L_RJ L_JJ^{-1}, Z_RJ = -Z_RR U, Z_JJ = (L_JJ L_JJ')^{-1} - U' Z_RJ.
            linalg::solve_right_lower(ljj, w, u, nr);
            let zrj = &mut self.zrj[..nr * w];
            linalg::gemm_nn(zrj, zrr, u, nr, nr, w, -1.0, false);
            let jj = &mut self.jj[..w * w];
            linalg::inverse_from_cholesky(ljj, w, &mut self.linv[..w * w], jj);
            linalg::gemm_tn(jj, u, zrj, nr, w, w, -1.0, true);
            let zs = &mut self.z[nodes.val_ptr[s]..nodes.val_ptr[s] + rows * w];
            for c in 0..w {
                zs[c * rows..c * rows + w].copy_from_slice(&jj[c * w..(c + 1) * w]);
                zs[c * rows + w..(c + 1) * rows].copy_from_slice(&zrj[c * nr..(c + 1) * nr]);
            }
        }
    }
}

impl RestInverse {
    /// The full inverse (m x m, both triangles) when S is stored dense.
    pub fn dense(&self) -> Option<&[f64]> {
        matches!(self.kind, Kind::Dense { .. }).then_some(self.values.as_slice())
    }

    /// S^{-1}[r, c] for an entry on S's pattern (either triangle).
    #[inline]
    pub fn get(&self, pattern: &RestPattern, r: usize, c: usize) -> f64 {
        match pattern {
            RestPattern::Dense { m } => self.values[c * m + r],
            RestPattern::Sparse { .. } => {
                let pos = pattern.position(r.max(c), r.min(c));
                debug_assert!(pos.is_some(), "S^{{-1}} is only kept on S's pattern");
                pos.map_or(0.0, |p| self.values[p])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use faer::sparse::linalg::cholesky::CholeskySymbolicParams;
    use faer::sparse::linalg::SupernodalThreshold;

    use super::*;

    /// A sparse SPD matrix: a band, a few dense rows (large supernodes at
    /// the end of the elimination) and a strong diagonal; lower-triangular columns.
    fn test_matrix(m: usize) -> (Vec<Vec<usize>>, Vec<f64>) {
        let mut dense = vec![0.0; m * m];
        let mut columns = vec![Vec::new(); m];
        let mut set = |r: usize, c: usize, v: f64, columns: &mut Vec<Vec<usize>>| {
            let (r, c) = (r.max(c), r.min(c));
            if !columns[c].contains(&r) {
                columns[c].push(r);
            }
            dense[c * m + r] = v;
            dense[r * m + c] = v;
        };
        for c in 0..m {
            set(c, c, 8.0 + (c % 5) as f64, &mut columns);
            for d in [1, 3, 7] {
                if c + d < m {
                    set(c + d, c, 0.3 - 0.1 * d as f64 / 7.0, &mut columns);
                }
            }
            for hub in [m - 1, m - 2, m / 2] {
                if hub != c && c % 4 == 0 {
                    set(hub, c, 0.05, &mut columns);
                }
            }
        }
        (columns, dense)
    }

    #[test]
    fn takahashi_matches_the_dense_inverse_simplicial_and_supernodal() {
        let m = 120;
        let (columns, dense) = test_matrix(m);
        let want = linalg::inverse_spd(&dense, m).unwrap();
        for threshold in [SupernodalThreshold::FORCE_SIMPLICIAL, SupernodalThreshold::FORCE_SUPERNODAL] {
            let params = CholeskySymbolicParams { supernodal_flop_ratio_threshold: threshold, ..Default::default() };
            let pattern = RestPattern::sparse(m, columns.clone(), params).unwrap();
            let mut factor = RestFactor::new(&pattern, 1);
            let RestPattern::Sparse { col_ptr, row_idx, .. } = &pattern else { unreachable!() };
            for c in 0..m {
                for pos in col_ptr[c]..col_ptr[c + 1] {
                    factor.values_mut()[pos] = dense[c * m + row_idx[pos]];
                }
            }
            assert!(factor.factor());
            let mut inv = RestInverse::new(&pattern);
            if let Kind::Sparse(sp) = &inv.kind {
                let widest = (0..sp.nodes.count()).map(|s| sp.nodes.width(s)).max().unwrap();
                assert_eq!(widest > 1, threshold == SupernodalThreshold::FORCE_SUPERNODAL, "{threshold:?}");
            }
            inv.compute(&factor);
            for c in 0..m {
                for &r in &row_idx[col_ptr[c]..col_ptr[c + 1]] {
                    let (got, w) = (inv.get(&pattern, r, c), want[c * m + r]);
                    assert!((got - w).abs() < 1e-13, "{threshold:?} ({r}, {c}): {got} vs {w}");
                }
            }
        }
    }
}
