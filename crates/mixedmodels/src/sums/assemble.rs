//! From the reduced statistics to the blocked system an in-memory fit
//! builds: the same [`CrossProducts`] (the same structure, the same values up
//! to the rounding of the sums), so that every step after it is the same code.
//!
//! The sums come centred: c = [1, x - x_pilot, y - y_pilot]. X's columns go
//! back to their own values exactly (x = (x - x_pilot) + x_pilot, a linear
//! map M of c), and the response enters, as in memory, minus its
//! least-squares fit on X: y - X beta_ols = c m_s, computed in the centred
//! coordinates, where its sum of squares keeps its digits.

use super::group_share::GroupPieces;
use super::plan::{Layout, SumsPlan};
use super::stats::ReducedStats;
use crate::design::model_matrix::column_recipes;
use crate::design::random::check_term;
use crate::design::ReTerm;
use crate::error::{Error, Result};
use crate::linalg;
use crate::model::crossprod::CrossEntry;
use crate::model::lmm::check_variation;
use crate::model::start::{moment_terms, start_from_summary, LevelSums, ResidualSummary};
use crate::model::{CrossProducts, Parameterization};

/// R's tolerance for rank deficiency in X (lme4's `chkRank.drop.cols`).
const RANK_TOL: f64 = 1e-7;

/// Everything a linear mixed model needs from the sums.
pub struct Assembled {
    pub cp: CrossProducts,
    /// The random-effects terms in lme4's order, without rows.
    pub terms: Vec<ReTerm>,
    pub beta_ols: Vec<f64>,
    pub start: Vec<f64>,
    /// The columns of the full X kept by the rank check.
    pub fixed_keep: Vec<usize>,
    /// X'X of the kept columns, unweighted (p x p).
    pub x_gram: Vec<f64>,
    /// The per-group pieces, when the pass summed them.
    pub group_pieces: Option<GroupPieces>,
}

/// The K x K Gram matrix of c (weighted, or unweighted), filled from its lower triangle.
fn gram(layout: &Layout, global: &[f64], unweighted: bool) -> Vec<f64> {
    let k = layout.k();
    let mut g = vec![0.0; k * k];
    for j in 0..k {
        for i in j..k {
            let v = global[if unweighted { layout.global_unweighted_gram(i, j) } else { layout.global_gram(i, j) }];
            g[j * k + i] = v;
            g[i * k + j] = v;
        }
    }
    g
}

/// a' G b for K-vectors.
fn quad(g: &[f64], k: usize, a: &[f64], b: &[f64]) -> f64 {
    (0..k).map(|j| b[j] * (0..k).map(|i| a[i] * g[j * k + i]).sum::<f64>()).sum()
}

/// The checks the pass counted: non-finite responses, bad weights.
fn check_rows(plan: &SumsPlan, global: &[f64]) -> Result<()> {
    let layout = &plan.layout;
    let bad_y = global[layout.global_bad_y()];
    if bad_y > 0.0 {
        let response = plan.spec.formula.response.as_ref().map(|r| r.deparse()).unwrap_or_default();
        return Err(Error::column(&response, format!("the response is not finite at {bad_y} rows")));
    }
    if let Some(pos) = layout.global_bad_weight() {
        if global[pos] > 0.0 {
            return Err(Error::column(
                "weights",
                format!("weights must be positive and finite; {} rows are not", global[pos]),
            ));
        }
    }
    Ok(())
}

/// The random-effects terms without rows, in lme4's order (bar indices in `order`).
fn rowless_terms(plan: &SumsPlan, n: usize) -> Result<Vec<ReTerm>> {
    let spec = &plan.spec;
    let names: Vec<String> = spec.formula.variables.iter().map(|v| v.name.clone()).collect();
    let random = spec.random_vars.as_ref().unwrap_or(&spec.vars);
    spec.bar_order
        .iter()
        .map(|&b| {
            let bar = &spec.formula.bars[b];
            let cnames = column_recipes(&bar.lhs, random, &names)?.into_iter().map(|r| r.name).collect();
            let t = ReTerm {
                group: bar.group_name.clone(),
                levels: spec.groups[b].levels.clone(),
                refs: vec![],
                cnames,
                z: vec![],
            };
            check_term(&t, n)?;
            Ok(t)
        })
        .collect()
}

/// The raw X'WX of the full X (p x p) from the centred Gram: x_j = x~_j + mu_j 1.
fn raw_x_gram(layout: &Layout, g: &[f64], centre: &[f64]) -> Vec<f64> {
    let (k, nx) = (layout.k(), layout.nx);
    let mut out = vec![0.0; nx * nx];
    for j in 0..nx {
        for i in 0..nx {
            let (a, b) = (1 + i, 1 + j);
            out[j * nx + i] = g[b * k + a] + centre[i] * g[b * k] + centre[j] * g[a] + centre[i] * centre[j] * g[0];
        }
    }
    out
}

/// The rank check on the full X: columns kept and names dropped.
fn rank_check(plan: &SumsPlan, raw: &[f64]) -> Result<Vec<usize>> {
    let nx = plan.layout.nx;
    for j in 0..nx {
        if !raw[j * nx + j].is_finite() {
            return Err(Error::column(
                &plan.x_names[j],
                "has non-finite values, or values too large for double precision arithmetic: transform or rescale it",
            ));
        }
    }
    Ok(linalg::independent_columns_of_gram(raw, nx, RANK_TOL))
}

/// M_s (K x (p + 1), column-major): c -> [X (kept columns), y - X beta_ols].
fn shifted_map(layout: &Layout, keep: &[usize], x_centre: &[f64], y_centre: f64, beta: &[f64]) -> Vec<f64> {
    let (k, p) = (layout.k(), keep.len());
    let mut m = vec![0.0; k * (p + 1)];
    for (t, &j) in keep.iter().enumerate() {
        m[t * k] = x_centre[j];
        m[t * k + 1 + j] = 1.0;
    }
    // y = y~ + y_pilot, minus X beta.
    m[p * k] = y_centre;
    m[p * k + k - 1] = 1.0;
    for (t, b) in beta.iter().enumerate() {
        for i in 0..k {
            m[p * k + i] -= m[t * k + i] * b;
        }
    }
    m
}

/// Weighted least squares of y on X from the Gram of c (as `least_squares` in memory).
fn least_squares(g: &[f64], k: usize, m: &[f64], p: usize) -> Vec<f64> {
    let col = |t: usize| &m[t * k..(t + 1) * k];
    let xtx: Vec<f64> = (0..p * p).map(|idx| quad(g, k, col(idx % p), col(idx / p))).collect();
    let xty: Vec<f64> = (0..p).map(|t| quad(g, k, col(t), col(p))).collect();
    match linalg::inverse_spd(&xtx, p) {
        Some(inv) => (0..p).map(|r| (0..p).map(|c| inv[c * p + r] * xty[c]).sum()).collect(),
        None => vec![0.0; p],
    }
}

/// sum w z_r [X y_s]_c for one level: the level's sums of w z c' times M_s.
fn z_xy(layout: &Layout, b: usize, level: &[f64], m: &[f64], r: usize, c: usize) -> f64 {
    let k = layout.k();
    (0..k).map(|i| level[layout.term_zc(b, r, i)] * m[c * k + i]).sum()
}

pub fn assemble(plan: &SumsPlan, mut stats: ReducedStats) -> Result<Assembled> {
    let layout = &plan.layout;
    let global = &std::mem::take(&mut stats.global);
    check_rows(plan, global)?;
    let n = global[layout.global_count()].round() as usize;
    if n == 0 {
        return Err(Error::Data("the data have no rows (after dropping rows with missing values)".into()));
    }
    let terms = rowless_terms(plan, n)?;
    let k = layout.k();
    let g = gram(layout, global, false);
    let fixed_keep = rank_check(plan, &raw_x_gram(layout, &g, &plan.x_centre))?;
    let p = fixed_keep.len();
    if n <= p {
        return Err(Error::Data(format!("{n} observations are too few for {p} fixed effects")));
    }
    let unshifted = shifted_map(layout, &fixed_keep, &plan.x_centre, plan.y_centre, &vec![0.0; p]);
    let beta_ols = least_squares(&g, k, &unshifted, p);
    let m = shifted_map(layout, &fixed_keep, &plan.x_centre, plan.y_centre, &beta_ols);
    check_response_varies(&g, k, &unshifted, &m, p)?;

    let group_pieces = plan.layout.group_pieces.then(|| {
        let levels = stats.pairs.iter().map(|pair| pair.levels.clone()).collect();
        GroupPieces::new(plan, levels, std::mem::take(&mut stats.pieces), m.clone(), beta_ols.clone())
    });
    let order = &plan.spec.bar_order;
    let mut cp = cross_structure(plan, &mut stats, &terms, n, p);
    fill_first_term(plan, &stats, &mut cp, order[0], &m);
    fill_rest(plan, &stats, &mut cp, &m)?;
    fill_cross(plan, stats.pairs, &mut cp);
    for c in 0..=p {
        for r in 0..=p {
            cp.xyxy[c * (p + 1) + r] = quad(&g, k, &m[r * k..(r + 1) * k], &m[c * k..(c + 1) * k]);
        }
    }
    cp.log_weights = layout.global_log_weight().map_or(0.0, |pos| global[pos]);
    let start = moment_start(plan, &stats.terms, global, &terms, &m, p);
    let gu = gram(layout, global, true);
    let x_gram =
        (0..p * p).map(|i| quad(&gu, k, &m[(i % p) * k..(i % p + 1) * k], &m[(i / p) * k..(i / p + 1) * k])).collect();
    Ok(Assembled { cp, terms, beta_ols, start, fixed_keep, x_gram, group_pieces: group_pieces.flatten() })
}

fn check_response_varies(g: &[f64], k: usize, unshifted: &[f64], m: &[f64], p: usize) -> Result<()> {
    let y = &unshifted[p * k..(p + 1) * k];
    let ys = &m[p * k..(p + 1) * k];
    let yss = quad(g, k, y, y);
    let rss = quad(g, k, ys, ys);
    check_variation(rss, yss, false)
}

/// The bars of a pair table and whether the first term is its first bar.
fn pair_of(plan: &SumsPlan, a: usize, b: usize) -> (usize, bool) {
    if a < b {
        (plan.pairs().iter().position(|&x| x == (a, b)).expect("a pair"), true)
    } else {
        (plan.pairs().iter().position(|&x| x == (b, a)).expect("a pair"), false)
    }
}

/// Which blocks of Z_rest'Z_0 the rows reach: each level of the first term
/// with the levels of every other term it meets. Each term's pairs, sorted
/// by (level of the first term, its level), are merged level by level (a
/// level's entries are then sorted by block, as the terms' blocks follow each
/// other); a pair table whose first bar is the first term is read in place.
/// With two scalar terms, the one pair table is the whole of Z_rest'Z_0
/// (`fill_cross` moves its values), so its levels are released here, before
/// the structure's own arrays are allocated: at tens of millions of pairs
/// that is hundreds of MB less at the peak.
fn cross_structure(plan: &SumsPlan, stats: &mut ReducedStats, terms: &[ReTerm], n: usize, p: usize) -> CrossProducts {
    let order = &plan.spec.bar_order;
    let l0 = terms[0].nlevels();
    let (_, first_block, _) = crate::model::crossprod::rest_layout(terms);
    let single = single_scalar_pair(plan);
    let mut taken = Vec::new();
    if single {
        let (pi, _) = pair_of(plan, order[0], order[1]);
        taken = std::mem::take(&mut stats.pairs[pi].levels);
    }
    let stats = &*stats;
    let pairs: Vec<std::borrow::Cow<[(u32, u32)]>> = if single {
        vec![std::borrow::Cow::Owned(taken)]
    } else {
        order
            .iter()
            .skip(1)
            .map(|&bar| {
                let (pi, first_is_a) = pair_of(plan, order[0], bar);
                let levels = &stats.pairs[pi].levels;
                if first_is_a {
                    std::borrow::Cow::Borrowed(levels.as_slice())
                } else {
                    let mut swapped: Vec<(u32, u32)> = levels.iter().map(|&(l, j)| (j, l)).collect();
                    swapped.sort_unstable();
                    std::borrow::Cow::Owned(swapped)
                }
            })
            .collect()
    };
    let total: usize = pairs.iter().map(|p| p.len()).sum();
    let mut cross = Vec::with_capacity(total);
    let mut cross_ptr = Vec::with_capacity(l0 + 1);
    let mut cursor = vec![0usize; pairs.len()];
    cross_ptr.push(0);
    for j in 0..l0 as u32 {
        for (k, term_pairs) in pairs.iter().enumerate() {
            while cursor[k] < term_pairs.len() && term_pairs[cursor[k]].0 == j {
                cross.push(CrossEntry::new(first_block[k + 1] + term_pairs[cursor[k]].1 as usize));
                cursor[k] += 1;
            }
        }
        cross_ptr.push(cross.len());
    }
    drop(pairs);
    CrossProducts::with_structure(n, p, terms, cross_ptr, cross)
}

/// Z_0'WZ_0 and Z_0'W[X y_s], level by level of the first term.
fn fill_first_term(plan: &SumsPlan, stats: &ReducedStats, cp: &mut CrossProducts, bar: usize, m: &[f64]) {
    let layout = &plan.layout;
    let (q0, kk, p) = (cp.q0, cp.p + 1, cp.p);
    let width = layout.term_width(bar);
    for (j, level) in stats.terms[bar].chunks_exact(width).enumerate() {
        for c in 0..q0 {
            for r in 0..q0 {
                cp.zz0[j * q0 * q0 + c * q0 + r] = level[layout.term_zz(bar, r.max(c), r.min(c))];
            }
        }
        for c in 0..=p {
            for r in 0..q0 {
                cp.zxy0[j * q0 * kk + c * q0 + r] = z_xy(layout, bar, level, m, r, c);
            }
        }
    }
}

/// Z_rest'WZ_rest (the diagonal blocks of each term, and the blocks between
/// two terms of the rest) and Z_rest'W[X y_s].
fn fill_rest(plan: &SumsPlan, stats: &ReducedStats, cp: &mut CrossProducts, m: &[f64]) -> Result<()> {
    let layout = &plan.layout;
    let order = &plan.spec.bar_order;
    let (p, rows) = (cp.p, cp.m);
    let missing = || Error::Numerical("internal: a block of Z'Z outside the rest's pattern".into());
    for (kk, &bar) in order.iter().enumerate().skip(1) {
        let q = layout.q[bar];
        let width = layout.term_width(bar);
        for (l, level) in stats.terms[bar].chunks_exact(width).enumerate() {
            let row = cp.rest_blocks[cp.term_first_block[kk] + l].row;
            for c in 0..q {
                for r in c..q {
                    let pos = cp.pattern.position(row + r, row + c).ok_or_else(missing)?;
                    cp.zz_rest[pos] = level[layout.term_zz(bar, r, c)];
                }
            }
            for c in 0..=p {
                for r in 0..q {
                    cp.zxy_rest[c * rows + row + r] = z_xy(layout, bar, level, m, r, c);
                }
            }
        }
    }
    // Between rest terms ka < kb: rows of kb's blocks come after ka's (lower triangle).
    for (ka, &bar_a) in order.iter().enumerate().skip(1) {
        for (kb, &bar_b) in order.iter().enumerate().skip(ka + 1) {
            let (pi, a_first) = pair_of(plan, bar_a, bar_b);
            let pair = &stats.pairs[pi];
            let (qa, qb) = (layout.q[bar_a], layout.q[bar_b]);
            for (e, &(l1, l2)) in pair.levels.iter().enumerate() {
                let (la, lb) = if a_first { (l1, l2) } else { (l2, l1) };
                let row_a = cp.rest_blocks[cp.term_first_block[ka] + la as usize].row;
                let row_b = cp.rest_blocks[cp.term_first_block[kb] + lb as usize].row;
                let values = &pair.values[e * qa * qb..(e + 1) * qa * qb];
                for i in 0..qa {
                    for j in 0..qb {
                        // sum w z_{a,i} z_{b,j}, stored with the table's first bar first.
                        let v = if a_first {
                            values[layout.pair_index(bar_a, i, j)]
                        } else {
                            values[layout.pair_index(bar_b, j, i)]
                        };
                        let pos = cp.pattern.position(row_b + j, row_a + i).ok_or_else(missing)?;
                        cp.zz_rest[pos] = v;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Z_rest'WZ_0, entry by entry: sum w z_rest,r z_0,c at `values + c q_b + r`.
/// With two scalar terms, the pair table's values are that array already.
/// Two scalar terms, the first term the first bar of their pair table: the
/// table's values are Z_rest'Z_0's, in the same order.
fn single_scalar_pair(plan: &SumsPlan) -> bool {
    let order = &plan.spec.bar_order;
    order.len() == 2 && order[0] < order[1] && plan.layout.q.iter().all(|&q| q == 1)
}

fn fill_cross(plan: &SumsPlan, mut pairs: Vec<super::stats::PairSums>, cp: &mut CrossProducts) {
    let layout = &plan.layout;
    let order = &plan.spec.bar_order;
    let q0 = cp.q0;
    if single_scalar_pair(plan) {
        cp.cross_values = std::mem::take(&mut pairs[0].values);
        return;
    }
    // Each level's entries are sorted by block: find each pair's entry by bisection.
    for (kk, &bar) in order.iter().enumerate().skip(1) {
        let (pi, first_is_a) = pair_of(plan, order[0], bar);
        let pair = &pairs[pi];
        let qb = layout.q[bar];
        for (e, &(l1, l2)) in pair.levels.iter().enumerate() {
            let (j, l) = if first_is_a { (l1, l2) } else { (l2, l1) };
            let block = cp.term_first_block[kk] + l as usize;
            let entries = &cp.cross[cp.cross_ptr[j as usize]..cp.cross_ptr[j as usize + 1]];
            let at = entries.partition_point(|x| x.block() < block);
            let offset = entries[at].values();
            let values = &pair.values[e * q0 * qb..(e + 1) * q0 * qb];
            for c in 0..q0 {
                for r in 0..qb {
                    cp.cross_values[offset + c * qb + r] = if first_is_a {
                        values[layout.pair_index(order[0], c, r)]
                    } else {
                        values[layout.pair_index(bar, r, c)]
                    };
                }
            }
        }
    }
}

/// The moment start of `model::start`, from the sums: the residuals are
/// e = c m_s (the last column of M_s), their sums unweighted.
fn moment_start(
    plan: &SumsPlan,
    term_sums: &[Vec<f64>],
    global: &[f64],
    terms: &[ReTerm],
    m: &[f64],
    p: usize,
) -> Vec<f64> {
    let layout = &plan.layout;
    let k = layout.k();
    let e = &m[p * k..(p + 1) * k];
    let gu = gram(layout, global, true);
    let n = global[layout.global_count()];
    // sum e = sum_i (sum c_i) e_i, with sum c_i the unweighted Gram's column of the constant.
    let sum_e: f64 = (0..k).map(|i| gu[i] * e[i]).sum();
    let mean = sum_e / n;
    let var = quad(&gu, k, e, e) / n - mean * mean;
    let order = &plan.spec.bar_order;
    let intercept_only: Vec<bool> = order.iter().map(|&b| layout.intercept_only[b]).collect();
    let used = moment_terms(terms, &intercept_only);
    let levels = order
        .iter()
        .zip(used)
        .map(|(&bar, used)| {
            used.then(|| {
                let width = layout.term_width(bar);
                let (mut sum, mut count) = (Vec::new(), Vec::new());
                for level in term_sums[bar].chunks_exact(width) {
                    // unweighted sums of c over the level: the weighted ones (z = 1) without weights
                    let c_sum = |i: usize| match layout.term_unweighted(bar, i) {
                        Some(pos) => level[pos],
                        None => level[layout.term_zc(bar, 0, i)],
                    };
                    let nj = c_sum(0);
                    sum.push((0..k).map(|i| c_sum(i) * e[i]).sum::<f64>() - nj * mean);
                    count.push(nj);
                }
                LevelSums { sum, count }
            })
        })
        .collect();
    let shapes: Vec<(usize, usize)> = terms.iter().map(|t| (t.q(), t.nlevels())).collect();
    start_from_summary(&ResidualSummary { mean, var, levels }, &Parameterization::new(&shapes))
}
