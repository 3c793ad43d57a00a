//! A set of rows' own share of the cross-products of [Z X y], and the
//! cross-products without those rows: the system of the data with a group
//! (or a fold, or one observation) deleted, formed from the full system by
//! subtracting the rows' sums instead of re-reading the data. Case-deletion
//! diagnostics and cross-validation refit on it.
//!
//! A share lists the positions it touches, so a workspace downdated for one
//! group is restored for the next by copying those positions back from the
//! full system: the values then never depend on which groups a thread saw
//! before (subtracting and adding back would leave rounding behind).

use super::crossprod::CrossProducts;
use super::scatter::{RowScatter, NOT_STORED};
use crate::design::ReTerm;

/// The rows of a model: [X y] column-major (n x p and n) and prior weights.
#[derive(Clone, Copy)]
pub struct RowData<'a> {
    pub x: &'a [f64],
    pub y: &'a [f64],
    pub weights: Option<&'a [f64]>,
    pub terms: &'a [ReTerm],
}

/// Sums over some rows, as (position, value) pairs per value array of
/// [`CrossProducts`] (positions ascending, each once), plus the dense
/// [X y]'W[X y] block, the row count and the sum of log weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowsShare {
    pub zz0: Vec<(usize, f64)>,
    pub zxy0: Vec<(usize, f64)>,
    pub cross_values: Vec<(usize, f64)>,
    pub zz_rest: Vec<(usize, f64)>,
    pub zxy_rest: Vec<(usize, f64)>,
    pub xyxy: Vec<f64>,
    pub n: usize,
    pub log_weights: f64,
}

/// Accumulates (position, value) pairs, then merges repeats in position order.
#[derive(Default)]
struct Sparse(Vec<(usize, f64)>);

impl Sparse {
    fn add(&mut self, pos: usize, v: f64) {
        self.0.push((pos, v));
    }

    /// Sum the values of each position. The pairs of one position are added in
    /// the order the rows came (a stable sort), so the sums are reproducible.
    fn finish(mut self) -> Vec<(usize, f64)> {
        self.0.sort_by_key(|e| e.0);
        let mut out: Vec<(usize, f64)> = Vec::with_capacity(self.0.len());
        for (pos, v) in self.0 {
            match out.last_mut() {
                Some(last) if last.0 == pos => last.1 += v,
                _ => out.push((pos, v)),
            }
        }
        out
    }
}

impl CrossProducts {
    /// The share of `rows` (indices into the model's rows, in any order but
    /// each once) in the cross-products, located through `scatter`.
    pub fn rows_share(&self, scatter: &RowScatter, data: RowData, rows: &[usize]) -> RowsShare {
        let (n, p, q0, m, k) = (self.n, self.p, self.q0, self.m, self.p + 1);
        let terms = data.terms;
        let t0 = &terms[0];
        let (mut zz0, mut zxy0, mut cross, mut zz_rest, mut zxy_rest) =
            (Sparse::default(), Sparse::default(), Sparse::default(), Sparse::default(), Sparse::default());
        let mut xyxy = vec![0.0; k * k];
        let mut log_weights = 0.0;
        let mut xy = vec![0.0; k];
        for &i in rows {
            let w = data.weights.map_or(1.0, |w| w[i]);
            if data.weights.is_some() {
                log_weights += w.ln();
            }
            for (c, v) in xy.iter_mut().enumerate() {
                *v = if c < p { data.x[c * n + i] } else { data.y[i] };
            }
            let j = t0.refs[i] as usize;
            let z = t0.z_row(i);
            for c in 0..q0 {
                for r in 0..q0 {
                    zz0.add(j * q0 * q0 + c * q0 + r, w * z[r] * z[c]);
                }
            }
            for (c, v) in xy.iter().enumerate() {
                for r in 0..q0 {
                    zxy0.add(j * q0 * k + c * q0 + r, w * z[r] * v);
                }
            }
            let cross_at = &scatter.cross[i * scatter.nrest..(i + 1) * scatter.nrest];
            let mut rest_at = scatter.rest[i * scatter.rest_per_row..(i + 1) * scatter.rest_per_row].iter();
            for (ka, ta) in terms.iter().enumerate().skip(1) {
                let blk = self.rest_blocks[self.term_first_block[ka] + ta.refs[i] as usize];
                let za = ta.z_row(i);
                let e = cross_at[ka - 1] as usize;
                for c in 0..q0 {
                    for r in 0..blk.q {
                        cross.add(e + c * blk.q + r, w * za[r] * z[c]);
                    }
                }
                // The scatter lists rest term a's products in the order rest
                // term b, column of b, column of a (see `RowScatter`).
                for tb in terms.iter().skip(1) {
                    for zbv in tb.z_row(i) {
                        for zav in za {
                            let pos = *rest_at.next().expect("the scatter has every product");
                            if pos != NOT_STORED {
                                zz_rest.add(pos as usize, w * zav * zbv);
                            }
                        }
                    }
                }
                for (c, v) in xy.iter().enumerate() {
                    for (ca, zav) in za.iter().enumerate() {
                        zxy_rest.add(c * m + blk.row + ca, w * zav * v);
                    }
                }
            }
            for c in 0..k {
                for r in 0..k {
                    xyxy[c * k + r] += w * xy[r] * xy[c];
                }
            }
        }
        RowsShare {
            zz0: zz0.finish(),
            zxy0: zxy0.finish(),
            cross_values: cross.finish(),
            zz_rest: zz_rest.finish(),
            zxy_rest: zxy_rest.finish(),
            xyxy,
            n: rows.len(),
            log_weights,
        }
    }

    /// Make `self` (a copy of `full`, possibly downdated before by another
    /// share) the cross-products of `full` without `share`'s rows.
    pub fn set_downdated(&mut self, full: &CrossProducts, share: &RowsShare) {
        let pairs = |dst: &mut [f64], src: &[f64], s: &[(usize, f64)]| {
            for &(pos, v) in s {
                dst[pos] = src[pos] - v;
            }
        };
        pairs(&mut self.zz0, &full.zz0, &share.zz0);
        pairs(&mut self.zxy0, &full.zxy0, &share.zxy0);
        pairs(&mut self.cross_values, &full.cross_values, &share.cross_values);
        pairs(&mut self.zz_rest, &full.zz_rest, &share.zz_rest);
        pairs(&mut self.zxy_rest, &full.zxy_rest, &share.zxy_rest);
        for (d, (f, s)) in self.xyxy.iter_mut().zip(full.xyxy.iter().zip(&share.xyxy)) {
            *d = f - s;
        }
        self.n = full.n - share.n;
        self.log_weights = full.log_weights - share.log_weights;
    }

    /// Undo [`CrossProducts::set_downdated`]: copy `share`'s positions back from `full`.
    pub fn restore(&mut self, full: &CrossProducts, share: &RowsShare) {
        let pairs = |dst: &mut [f64], src: &[f64], s: &[(usize, f64)]| {
            for &(pos, _) in s {
                dst[pos] = src[pos];
            }
        };
        pairs(&mut self.zz0, &full.zz0, &share.zz0);
        pairs(&mut self.zxy0, &full.zxy0, &share.zxy0);
        pairs(&mut self.cross_values, &full.cross_values, &share.cross_values);
        pairs(&mut self.zz_rest, &full.zz_rest, &share.zz_rest);
        pairs(&mut self.zxy_rest, &full.zxy_rest, &share.zxy_rest);
        self.xyxy.copy_from_slice(&full.xyxy);
        self.n = full.n;
        self.log_weights = full.log_weights;
    }
}
