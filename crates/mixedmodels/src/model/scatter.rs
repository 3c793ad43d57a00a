//! Where each row's products land in the cross-products: for every row, the
//! offset of its block of Z_rest'Z_0 and the positions of its Z_rest'Z_rest
//! products in the rest's storage. Finding them takes a binary search each
//! (the first term's level entries, the sparse pattern's columns); a GLMM
//! refills the cross-products at every PIRLS iteration, so it computes them
//! once and each refill is a pass of multiply-adds.

use super::crossprod::CrossProducts;
use super::fill::RowSums;
use crate::design::ReTerm;

/// Marks a product above the diagonal (not stored) or outside the pattern.
pub const NOT_STORED: u32 = u32::MAX;

/// Positions are u32: the arrays they index (Z_rest'Z_0's values and the
/// rest's lower triangle) would need 32 GB of values to overflow them.
#[derive(Debug, Clone)]
pub struct RowScatter {
    /// Rest terms (terms 1..).
    pub nrest: usize,
    /// `cross[i * nrest + a]`: offset in `cross_values` of row i's block for rest term a.
    pub cross: Vec<u32>,
    /// Products a row contributes to Z_rest'Z_rest: sum over rest terms a, b of q_a q_b.
    pub rest_per_row: usize,
    /// `rest[i * rest_per_row ..]`: their positions in `zz_rest`, in the order
    /// rest term a, rest term b, column of b, column of a; [`NOT_STORED`] above the diagonal.
    pub rest: Vec<u32>,
    /// Per-thread buffers of the last refill, reused by the next.
    pub sums: Vec<RowSums>,
}

impl RowScatter {
    pub fn new(cp: &CrossProducts, terms: &[ReTerm]) -> RowScatter {
        let n = cp.n;
        let nrest = terms.len() - 1;
        let rest_per_row: usize = {
            let total_q: usize = terms.iter().skip(1).map(|t| t.q()).sum();
            total_q * total_q
        };
        let mut cross = Vec::with_capacity(n * nrest);
        let mut rest = Vec::with_capacity(n * rest_per_row);
        let t0 = &terms[0];
        for i in 0..n {
            let level = cp.level_cross(t0.refs[i] as usize);
            for (ka, ta) in terms.iter().enumerate().skip(1) {
                let ba = cp.term_first_block[ka] + ta.refs[i] as usize;
                // The level's entries are sorted by block (`cross_structure`).
                let entry = level[level.partition_point(|e| e.block() < ba)];
                debug_assert_eq!(entry.block(), ba);
                cross.push(entry.values() as u32);
                let row_a = cp.rest_blocks[ba].row;
                for (kb, tb) in terms.iter().enumerate().skip(1) {
                    let row_b = cp.rest_blocks[cp.term_first_block[kb] + tb.refs[i] as usize].row;
                    for cb in 0..tb.q() {
                        for ca in 0..ta.q() {
                            let (row, col) = (row_a + ca, row_b + cb);
                            let pos = if row >= col { cp.pattern.position(row, col) } else { None };
                            rest.push(pos.map_or(NOT_STORED, |p| p as u32));
                        }
                    }
                }
            }
        }
        RowScatter { nrest, cross, rest_per_row, rest, sums: vec![] }
    }
}
