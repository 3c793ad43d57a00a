//! The per-row passes of PIRLS (linear predictor, mean, deviance, working
//! weights and response) over fixed chunks of rows, run in parallel. The
//! chunks depend on the number of rows only and partial sums are added in
//! chunk order, so results do not depend on the number of threads.

use std::ops::Range;

use rayon::prelude::*;

/// Rows a chunk (small enough for its arrays to stay in cache).
const ROWS_PER_CHUNK: usize = 16_384;

/// `f(rows, a_chunk, b_chunk)` on each chunk of two row-aligned arrays, in
/// parallel when there are several chunks; the results in chunk order.
pub fn for_chunks<T: Send>(
    a: &mut [f64],
    b: &mut [f64],
    f: impl Fn(Range<usize>, &mut [f64], &mut [f64]) -> T + Sync + Send,
) -> Vec<T> {
    let run = |(c, (x, y)): (usize, (&mut [f64], &mut [f64]))| {
        let start = c * ROWS_PER_CHUNK;
        f(start..start + x.len(), x, y)
    };
    if a.len() <= ROWS_PER_CHUNK {
        return vec![run((0, (a, b)))];
    }
    a.par_chunks_mut(ROWS_PER_CHUNK).zip(b.par_chunks_mut(ROWS_PER_CHUNK)).enumerate().map(run).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_rows_in_order() {
        let n = 2 * ROWS_PER_CHUNK + 5;
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        let ranges = for_chunks(&mut a, &mut b, |rows, x, y| {
            for (k, i) in rows.clone().enumerate() {
                x[k] = i as f64;
                y[k] = 2.0 * i as f64;
            }
            rows
        });
        assert_eq!(ranges, vec![0..ROWS_PER_CHUNK, ROWS_PER_CHUNK..2 * ROWS_PER_CHUNK, 2 * ROWS_PER_CHUNK..n]);
        assert!(a.iter().enumerate().all(|(i, v)| *v == i as f64));
        assert!(b.iter().enumerate().all(|(i, v)| *v == 2.0 * i as f64));
    }
}
