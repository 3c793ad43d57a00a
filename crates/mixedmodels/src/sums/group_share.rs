//! The share of whole groups in the cross-products, from the reduced
//! statistics: the [`RowsShare`] an in-memory model computes from the rows
//! of some levels of a grouping factor F (`model::downdate`), here from the
//! per-group pieces ([`super::pieces`]) and the cross-products themselves.
//!
//! For the rows R of levels G of F:
//! - every block that involves a level in G of a term of F holds R's rows
//!   only: its share is the block itself (read from the cross-products);
//! - each term of another factor loses, at each of its levels l, the sums
//!   over the rows of (l, g), g in G: the pair table's cell pieces, sum w z
//!   z' and sum w z c' M (M maps c = [1, x - x_pilot, y - y_pilot] to
//!   [X y_s], `super::assemble`);
//! - each two terms b, c of other factors lose, at each pair of their levels
//!   (l_b, l_c), sum w z_b z_c' over the rows of (g, l_b, l_c): the triple
//!   pieces ([`super::triples`]), placed where Z_b'W Z_c sits (Z_rest'Z_0
//!   when one is the first term, else the rest's lower triangle);
//! - [X y_s]'W[X y_s] loses M' (sum over R of w c c') M, n the rows of R,
//!   and the sum of log weights theirs.
//!
//! Held-out prediction errors of a refit, sum over R of (y - X beta)^2, are
//! v' M' (sum over R of c c') M v with v = [beta_ols - beta, 1] (y_s = y -
//! X beta_ols): the unweighted pieces.

use super::pieces::PieceSums;
use super::plan::{Layout, SumsPlan};
use super::triples::Triple;
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
    /// The triple tables (as `SumsPlan::triples`).
    triples: Vec<Triple>,
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
            triples: plan.triples(),
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
        let own_bar = self.bar_order[own[0]];
        let others = other.iter().map(|&kk| self.other_term(own_bar, kk)).collect();
        let first_bar =
            (0..self.bar_groups.len()).find(|&b| self.bar_groups[b] == factor).expect("a bar of the factor");
        let mut blocks = Vec::new();
        for (i, &kb) in other.iter().enumerate() {
            blocks.extend(other[i + 1..].iter().map(|&kc| self.other_block(first_bar, kb, kc)));
        }
        Ok(GroupDeletion { pieces: self, own, own_bar, others, blocks })
    }

    /// Term `kk` of another factor than `own_bar`'s, and its cells with each level of `own_bar`.
    fn other_term(&self, own_bar: usize, kk: usize) -> OtherTerm {
        let bar = self.bar_order[kk];
        let (a, b) = (own_bar.min(bar), own_bar.max(bar));
        let table = self.pairs.iter().position(|&x| x == (a, b)).expect("a pair table");
        let mut cells = vec![Vec::new(); self.bar_levels(own_bar)];
        for (e, &(la, lb)) in self.pair_levels[table].iter().enumerate() {
            let (g, l) = if own_bar == a { (la, lb) } else { (lb, la) };
            cells[g as usize].push((l as usize, e));
        }
        OtherTerm { kk, bar, first: a, table, cells }
    }

    /// The block between terms `kb` and `kc` of other factors than
    /// `first_bar`'s, and its triples with each level of that factor.
    fn other_block(&self, first_bar: usize, kb: usize, kc: usize) -> OtherBlock {
        // The triple table orders its two bars as the formula does.
        let (kb, kc) = if self.bar_order[kb] < self.bar_order[kc] { (kb, kc) } else { (kc, kb) };
        let triple = Triple { f: first_bar, b: self.bar_order[kb], c: self.bar_order[kc] };
        let table = self.triples.iter().position(|&t| t == triple).expect("a triple table");
        let mut cells = vec![Vec::new(); self.bar_levels(first_bar)];
        for (e, &(g, lb, lc)) in self.pieces.triples[table].levels.iter().enumerate() {
            cells[g as usize].push((lb as usize, lc as usize, e));
        }
        OtherBlock { kb, kc, qb: self.layout.q[triple.b], qc: self.layout.q[triple.c], table, cells }
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

/// The block between two terms of other factors than the deleted one, and
/// its triples with each deleted level.
#[derive(Debug, Clone)]
struct OtherBlock {
    /// The two terms (lme4's order; kb's bar first in the formula) and their q.
    kb: usize,
    kc: usize,
    qb: usize,
    qc: usize,
    /// The triple table's index.
    table: usize,
    /// For each level of the deleted factor: (level of kb, level of kc, triple index).
    cells: Vec<Vec<(usize, usize, usize)>>,
}

/// Deleting levels of one grouping factor: the terms it touches.
pub struct GroupDeletion<'a> {
    pieces: &'a GroupPieces,
    /// Terms (lme4's order) of the deleted factor, and the bar of the first.
    own: Vec<usize>,
    own_bar: usize,
    /// The terms of other factors, and the blocks between each two of them.
    others: Vec<OtherTerm>,
    blocks: Vec<OtherBlock>,
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
        for o in &self.others {
            self.other_share(cp, o, levels, &mut zz0, &mut zxy0, &mut zz_rest, &mut zxy_rest);
        }
        let mut cross = vec![];
        for block in &self.blocks {
            self.block_share(cp, block, levels, &mut cross, &mut zz_rest);
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
            cross_values: merged(whole(at.cross, &cp.cross_values), cross),
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

    /// The block between two terms of other factors over the deleted rows,
    /// from the triple pieces: S = sum w z_b z_c' at each pair of levels.
    fn block_share(
        &self,
        cp: &CrossProducts,
        o: &OtherBlock,
        levels: &[usize],
        cross: &mut Vec<(usize, f64)>,
        zz_rest: &mut Vec<(usize, f64)>,
    ) {
        let width = o.qb * o.qc;
        let values = &self.pieces.pieces.triples[o.table].values;
        for &g in levels {
            for &(lb, lc, e) in &o.cells[g] {
                let s = &values[e * width..(e + 1) * width];
                // s[i + j qb] = sum w z_{b,i} z_{c,j}.
                let at = |i: usize, j: usize| s[j * o.qb + i];
                if o.kb == 0 || o.kc == 0 {
                    // Z_rest'Z_0: the other term's rows, term 0's columns (q_rest x q0, column-major).
                    let (l0, k_rest, l_rest) = if o.kb == 0 { (lb, o.kc, lc) } else { (lc, o.kb, lb) };
                    let start = cross_entry(cp, l0, cp.term_first_block[k_rest] + l_rest);
                    let q_rest = if o.kb == 0 { o.qc } else { o.qb };
                    for i in 0..o.qb {
                        for j in 0..o.qc {
                            let (r, c) = if o.kb == 0 { (j, i) } else { (i, j) };
                            cross.push((start + c * q_rest + r, at(i, j)));
                        }
                    }
                } else {
                    let row_b = cp.rest_blocks[cp.term_first_block[o.kb] + lb].row;
                    let row_c = cp.rest_blocks[cp.term_first_block[o.kc] + lc].row;
                    for i in 0..o.qb {
                        for j in 0..o.qc {
                            let (r, c) = (row_b + i, row_c + j);
                            if let Some(pos) = cp.pattern.position(r.max(c), r.min(c)) {
                                zz_rest.push((pos, at(i, j)));
                            }
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

/// The first value of the entry of Z_rest'Z_0 at level `l0` of term 0 and rest block `block`.
fn cross_entry(cp: &CrossProducts, l0: usize, block: usize) -> usize {
    let entries = &cp.cross[cp.cross_ptr[l0]..cp.cross_ptr[l0 + 1]];
    let e = entries.binary_search_by_key(&block, |e| e.block()).expect("rows of the pair have an entry");
    entries[e].values()
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
