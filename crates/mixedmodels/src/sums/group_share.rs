//! The share of whole groups in the cross-products, from the reduced
//! statistics: the [`RowsShare`] an in-memory model computes from the rows
//! of some levels of a grouping factor F (`model::downdate`), here from the
//! per-group pieces ([`super::pieces`]) and the cross-products themselves.
//!
//! For the rows R of levels G of F:
//! - every block that involves a level in G of a term of F holds R's rows
//!   only: its share is the block itself (read from the cross-products);
//! - the one term of another factor (if any) loses, at each of its levels l,
//!   the sums over the rows of (l, g), g in G: the pair table's cell pieces,
//!   sum w z z' and sum w z c' M (M maps c = [1, x - x_pilot, y - y_pilot]
//!   to [X y_s], `super::assemble`);
//! - [X y_s]'W[X y_s] loses M' (sum over R of w c c') M, n the rows of R,
//!   and the sum of log weights theirs.
//!
//! Held-out prediction errors of a refit, sum over R of (y - X beta)^2, are
//! v' M' (sum over R of c c') M v with v = [beta_ols - beta, 1] (y_s = y -
//! X beta_ols): the unweighted pieces.

use super::pieces::PieceSums;
use super::plan::{Layout, SumsPlan};
use crate::error::{Error, Result};
use crate::model::{CrossProducts, RowsShare};

/// What a fit from sums keeps to delete groups: the pieces and how to read them.
#[derive(Debug, Clone)]
pub struct GroupPieces {
    layout: Layout,
    /// The grouping factor's name of each bar (formula order).
    bar_groups: Vec<String>,
    /// Bar of each term (lme4's order).
    bar_order: Vec<usize>,
    /// The bar pairs (a, b), a < b, in the order of the pair tables.
    pairs: Vec<(usize, usize)>,
    /// The levels of each pair table (as `PairSums::levels`).
    pair_levels: Vec<Vec<(u32, u32)>>,
    pieces: PieceSums,
    /// M_s (K x (p + 1), column-major) and the least-squares beta y_s subtracts.
    m: Vec<f64>,
    beta_ols: Vec<f64>,
    /// Does the formula have offsets (the sums then hold y less offsets)?
    offsets: bool,
}

/// Sums over held-out rows that the prediction scores read (unweighted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldOut {
    pub n: f64,
    /// sum (y - X beta - offset)^2 for the refit's beta.
    pub sse: f64,
    /// sum (y - y0) and sum (y - y0)^2, y0 the pilot mean of the response
    /// (NaN with offsets: the sums hold y less offsets).
    pub sum_y: f64,
    pub sum_y2: f64,
}

impl GroupPieces {
    /// The pieces of a pass planned by `plan` (None when it did not sum them).
    pub fn new(
        plan: &SumsPlan,
        pair_levels: Vec<Vec<(u32, u32)>>,
        pieces: PieceSums,
        m: Vec<f64>,
        beta_ols: Vec<f64>,
    ) -> Option<GroupPieces> {
        plan.layout.group_pieces.then(|| GroupPieces {
            layout: plan.layout.clone(),
            bar_groups: plan.spec.formula.bars.iter().map(|b| b.group_name.clone()).collect(),
            bar_order: plan.spec.bar_order.clone(),
            pairs: plan.pairs(),
            pair_levels,
            pieces,
            m,
            beta_ols,
            offsets: plan.offset_expr.is_some(),
        })
    }

    /// The deletion of levels of `factor`, checked and indexed once.
    pub fn deletion(&self, factor: &str) -> Result<GroupDeletion<'_>> {
        let of_factor = |kk: &usize| self.bar_groups[self.bar_order[*kk]] == factor;
        let own: Vec<usize> = (0..self.bar_order.len()).filter(of_factor).collect();
        let other: Vec<usize> = (0..self.bar_order.len()).filter(|kk| !of_factor(kk)).collect();
        if own.is_empty() {
            return Err(Error::Argument(format!("'{factor}' is not a grouping factor of the model")));
        }
        if other.len() > 1 {
            let names: Vec<&str> = other.iter().map(|&kk| self.bar_groups[self.bar_order[kk]].as_str()).collect();
            return Err(Error::Data(format!(
                "deleting a level of {factor} from an out-of-core fit needs the sums over its rows of the \
                 products of two other terms ({}), i.e. sums over triples of levels, which the pass does not \
                 form: with more than one term of other factors, fit the data in memory",
                names.join(", ")
            )));
        }
        let own_bar = self.bar_order[own[0]];
        let other = other.first().map(|&kk| {
            let bar = self.bar_order[kk];
            let (a, b) = (own_bar.min(bar), own_bar.max(bar));
            let table = self.pairs.iter().position(|&x| x == (a, b)).expect("a pair table");
            let levels = self.bar_levels(own_bar);
            let mut cells = vec![Vec::new(); levels];
            for (e, &(la, lb)) in self.pair_levels[table].iter().enumerate() {
                let (g, l) = if own_bar == a { (la, lb) } else { (lb, la) };
                cells[g as usize].push((l as usize, e));
            }
            OtherTerm { kk, bar, first: a, table, cells }
        });
        Ok(GroupDeletion { pieces: self, own, own_bar, other })
    }

    fn bar_levels(&self, bar: usize) -> usize {
        let width = self.layout.level_piece_width();
        self.pieces.terms[bar].len() / width
    }

    fn k(&self) -> usize {
        self.layout.k()
    }

    /// M' G M for a K x K symmetric G given by `entry(i, j)`, i >= j.
    fn transformed_gram(&self, entry: impl Fn(usize, usize) -> f64) -> Vec<f64> {
        let (k, kp) = (self.k(), self.m.len() / self.k());
        let g = |i: usize, j: usize| if i >= j { entry(i, j) } else { entry(j, i) };
        let mut gm = vec![0.0; k * kp];
        for c in 0..kp {
            for i in 0..k {
                gm[c * k + i] = (0..k).map(|j| g(i, j) * self.m[c * k + j]).sum();
            }
        }
        let mut out = vec![0.0; kp * kp];
        for c in 0..kp {
            for r in 0..kp {
                out[c * kp + r] = (0..k).map(|i| self.m[r * k + i] * gm[c * k + i]).sum();
            }
        }
        out
    }
}

/// The term of another factor than the deleted one, and its cells with each deleted level.
#[derive(Debug, Clone)]
struct OtherTerm {
    kk: usize,
    bar: usize,
    /// The pair table's first bar and its index.
    first: usize,
    table: usize,
    /// For each level of the deleted factor: (level of this term, cell index).
    cells: Vec<Vec<(usize, usize)>>,
}

/// Deleting levels of one grouping factor: the terms it touches.
pub struct GroupDeletion<'a> {
    pieces: &'a GroupPieces,
    /// Terms (lme4's order) of the deleted factor, and the bar of the first.
    own: Vec<usize>,
    own_bar: usize,
    other: Option<OtherTerm>,
}

/// (position, value) pairs: positions taken whole from the cross-products,
/// and positions summed from pieces.
#[derive(Default)]
struct Positions {
    zz0: Vec<usize>,
    zxy0: Vec<usize>,
    cross: Vec<usize>,
    zz_rest: Vec<usize>,
    zxy_rest: Vec<usize>,
}

fn whole(mut positions: Vec<usize>, values: &[f64]) -> Vec<(usize, f64)> {
    positions.sort_unstable();
    positions.dedup();
    positions.into_iter().map(|p| (p, values[p])).collect()
}

/// Merge (position, value) pairs of disjoint position sets, summing repeats.
fn merged(mut a: Vec<(usize, f64)>, b: Vec<(usize, f64)>) -> Vec<(usize, f64)> {
    a.extend(b);
    a.sort_by_key(|e| e.0);
    let mut out: Vec<(usize, f64)> = Vec::with_capacity(a.len());
    for (pos, v) in a {
        match out.last_mut() {
            Some(last) if last.0 == pos => last.1 += v,
            _ => out.push((pos, v)),
        }
    }
    out
}

impl GroupDeletion<'_> {
    /// The number of levels of the deleted factor.
    pub fn nlevels(&self) -> usize {
        self.pieces.bar_levels(self.own_bar)
    }

    /// The share of the rows of `levels` in `cp` (the full fit's cross-products).
    pub fn share(&self, cp: &CrossProducts, levels: &[usize]) -> RowsShare {
        let mut at = Positions::default();
        for &g in levels {
            for &kk in &self.own {
                own_positions(cp, kk, g, &mut at);
            }
        }
        let (mut zz0, mut zxy0, mut zz_rest, mut zxy_rest) = (vec![], vec![], vec![], vec![]);
        if let Some(o) = &self.other {
            self.other_share(cp, o, levels, &mut zz0, &mut zxy0, &mut zz_rest, &mut zxy_rest);
        }
        let layout = &self.pieces.layout;
        let level = |g: usize| {
            let w = layout.level_piece_width();
            &self.pieces.pieces.terms[self.own_bar][g * w..(g + 1) * w]
        };
        let sum = |pos: usize| levels.iter().map(|&g| level(g)[pos]).sum::<f64>();
        let xyxy = self.pieces.transformed_gram(|i, j| sum(layout.piece_gram(i, j)));
        RowsShare {
            zz0: merged(whole(at.zz0, &cp.zz0), zz0),
            zxy0: merged(whole(at.zxy0, &cp.zxy0), zxy0),
            cross_values: whole(at.cross, &cp.cross_values),
            zz_rest: merged(whole(at.zz_rest, &cp.zz_rest), zz_rest),
            zxy_rest: merged(whole(at.zxy_rest, &cp.zxy_rest), zxy_rest),
            xyxy,
            n: sum(layout.piece_count()).round() as usize,
            log_weights: layout.piece_log_weight().map_or(0.0, sum),
        }
    }

    /// The other term's own blocks over the deleted rows, from the cell pieces.
    #[allow(clippy::too_many_arguments)]
    fn other_share(
        &self,
        cp: &CrossProducts,
        o: &OtherTerm,
        levels: &[usize],
        zz0: &mut Vec<(usize, f64)>,
        zxy0: &mut Vec<(usize, f64)>,
        zz_rest: &mut Vec<(usize, f64)>,
        zxy_rest: &mut Vec<(usize, f64)>,
    ) {
        let pieces = self.pieces;
        let layout = &pieces.layout;
        let (k, kp, q) = (pieces.k(), cp.p + 1, layout.q[o.bar]);
        let width = layout.cell_piece_width(o.first, if o.first == o.bar { self.own_bar } else { o.bar });
        let values = &pieces.pieces.pairs[o.table];
        for &g in levels {
            for &(l, e) in &o.cells[g] {
                let cell = &values[e * width..(e + 1) * width];
                let zz = |r: usize, c: usize| cell[layout.cell_zz(o.first, o.bar, r.max(c), r.min(c))];
                let zxy = |r: usize, c: usize| {
                    (0..k).map(|i| cell[layout.cell_zc(o.first, o.bar, r, i)] * pieces.m[c * k + i]).sum::<f64>()
                };
                if o.kk == 0 {
                    for c in 0..q {
                        for r in 0..q {
                            zz0.push((l * q * q + c * q + r, zz(r, c)));
                        }
                    }
                    for c in 0..kp {
                        for r in 0..q {
                            zxy0.push((l * q * kp + c * q + r, zxy(r, c)));
                        }
                    }
                } else {
                    let row = cp.rest_blocks[cp.term_first_block[o.kk] + l].row;
                    for c in 0..q {
                        for r in c..q {
                            if let Some(pos) = cp.pattern.position(row + r, row + c) {
                                zz_rest.push((pos, zz(r, c)));
                            }
                        }
                    }
                    for c in 0..kp {
                        for r in 0..q {
                            zxy_rest.push((c * cp.m + row + r, zxy(r, c)));
                        }
                    }
                }
            }
        }
    }

    /// The held-out rows' sums for predictions by `beta` (X beta + offset).
    pub fn held_out(&self, levels: &[usize], beta: &[f64]) -> HeldOut {
        let pieces = self.pieces;
        let layout = &pieces.layout;
        let w = layout.level_piece_width();
        let level = |g: usize| &pieces.pieces.terms[self.own_bar][g * w..(g + 1) * w];
        let sum = |pos: usize| levels.iter().map(|&g| level(g)[pos]).sum::<f64>();
        let gram = pieces.transformed_gram(|i, j| sum(layout.piece_unweighted_gram(i, j)));
        let kp = beta.len() + 1;
        let mut v: Vec<f64> = pieces.beta_ols.iter().zip(beta).map(|(a, b)| a - b).collect();
        v.push(1.0);
        let sse = (0..kp).map(|c| v[c] * (0..kp).map(|r| gram[c * kp + r] * v[r]).sum::<f64>()).sum();
        let y = layout.k() - 1;
        let response = |pos: usize| if pieces.offsets { f64::NAN } else { sum(pos) };
        HeldOut {
            n: sum(layout.piece_count()),
            sse,
            sum_y: response(layout.piece_unweighted_gram(y, 0)),
            sum_y2: response(layout.piece_unweighted_gram(y, y)),
        }
    }
}

/// Every position of `cp` that involves level `g` of term `kk`.
fn own_positions(cp: &CrossProducts, kk: usize, g: usize, at: &mut Positions) {
    let (q0, kp) = (cp.q0, cp.p + 1);
    let entry_values = |e: usize, at: &mut Vec<usize>| {
        let start = cp.cross[e].values();
        at.extend(start..start + q0 * cp.rest_blocks[cp.cross[e].block()].q);
    };
    if kk == 0 {
        at.zz0.extend(g * q0 * q0..(g + 1) * q0 * q0);
        at.zxy0.extend(g * q0 * kp..(g + 1) * q0 * kp);
        for e in cp.cross_ptr[g]..cp.cross_ptr[g + 1] {
            entry_values(e, &mut at.cross);
        }
        return;
    }
    let block = cp.term_first_block[kk] + g;
    let (row, q) = (cp.rest_blocks[block].row, cp.rest_blocks[block].q);
    for c in 0..kp {
        at.zxy_rest.extend((row..row + q).map(|r| c * cp.m + r));
    }
    for &(_, e) in &cp.block_entries[cp.block_ptr[block]..cp.block_ptr[block + 1]] {
        entry_values(e as usize, &mut at.cross);
    }
    // The block's rows and columns of the rest's lower triangle.
    for r in row..row + q {
        at.zz_rest.extend((0..=r).filter_map(|c| cp.pattern.position(r, c)));
    }
    for c in row..row + q {
        at.zz_rest.extend((row + q..cp.m).filter_map(|r| cp.pattern.position(r, c)));
    }
}
