//! Random rearrangements of rows for permutation tests and the case
//! bootstrap. Replicate `i` of a run always draws from
//! [`replicate_rng`]`(seed, i)`, so a run gives the same numbers whatever the
//! number of threads its replicates are spread over.

use rand::rngs::Xoshiro256PlusPlus;
use rand::RngExt;

pub use crate::resample::replicate_rng;

/// A uniformly random permutation of `0..n` (Fisher-Yates).
pub fn permutation(n: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    shuffle(&mut idx, rng);
    idx
}

/// Shuffle a slice in place (Fisher-Yates).
pub fn shuffle<T>(values: &mut [T], rng: &mut Xoshiro256PlusPlus) {
    for i in (1..values.len()).rev() {
        let j = rng.random_range(0..=i);
        values.swap(i, j);
    }
}

/// A permutation of `0..n` that moves rows only within their block: each
/// block's rows (listed in `blocks`, together a partition of `0..n`) are
/// shuffled among themselves, as pymer4 shuffles a response within clusters.
pub fn permutation_within(n: usize, blocks: &[Vec<usize>], rng: &mut Xoshiro256PlusPlus) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut targets = Vec::new();
    for rows in blocks {
        targets.clear();
        targets.extend_from_slice(rows);
        shuffle(&mut targets, rng);
        for (&to, &from) in rows.iter().zip(&targets) {
            idx[to] = from;
        }
    }
    idx
}

/// `n` row indices drawn from `0..n` with replacement (a case bootstrap sample).
pub fn resample_rows(n: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<usize> {
    (0..n).map(|_| rng.random_range(0..n)).collect()
}

/// `n` random signs, +1 or -1 with probability 1/2 each.
pub fn random_signs(n: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
    (0..n).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_permutations_and_reproducible() {
        let p = permutation(50, &mut replicate_rng(7, 3));
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(p, permutation(50, &mut replicate_rng(7, 3)));
        assert_ne!(p, permutation(50, &mut replicate_rng(7, 4)));
    }

    #[test]
    fn shuffles_within_blocks_stay_in_their_block() {
        let blocks = vec![vec![0, 2, 4, 6], vec![1, 3], vec![5, 7, 8]];
        let block_of = |i: usize| blocks.iter().position(|b| b.contains(&i)).unwrap();
        for rep in 0..20 {
            let p = permutation_within(9, &blocks, &mut replicate_rng(1, rep));
            assert!((0..9).all(|i| block_of(i) == block_of(p[i])), "{p:?}");
            let mut sorted = p.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..9).collect::<Vec<_>>());
        }
    }

    #[test]
    fn resamples_and_signs_cover_their_range() {
        let r = resample_rows(1000, &mut replicate_rng(2, 0));
        assert!(r.iter().all(|&i| i < 1000));
        let distinct = r.iter().collect::<std::collections::HashSet<_>>().len();
        // About 1 - 1/e of the rows appear in a bootstrap sample.
        assert!((550..720).contains(&distinct), "{distinct}");
        let s = random_signs(1000, &mut replicate_rng(2, 1));
        let plus = s.iter().filter(|v| **v > 0.0).count();
        assert!((430..570).contains(&plus), "{plus}");
    }
}
