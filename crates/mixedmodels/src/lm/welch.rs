//! Weights from group variances (pymer4's `Lm.fit(weights="column")`): each
//! row weighs 1 / var(y in its group), the sample variance with n - 1, and
//! with two groups the t tests take the Welch-Satterthwaite degrees of
//! freedom (v1/n1 + v2/n2)^2 / ((v1/n1)^2/(n1-1) + (v2/n2)^2/(n2-1)): a
//! regression on the group indicator is then Welch's t-test.

use crate::data::Factor;
use crate::error::{Error, Result};

/// Inverse group variances a row, and the Welch df when there are exactly two groups.
pub struct GroupVarianceWeights {
    pub weights: Vec<f64>,
    pub welch_df: Option<f64>,
    pub ngroups: usize,
}

/// `y` grouped by `groups` (no missing codes), for the column `column`.
pub fn group_variance_weights(y: &[f64], groups: &Factor, column: &str) -> Result<GroupVarianceWeights> {
    let k = groups.levels.len();
    let mut count = vec![0usize; k];
    let mut sum = vec![0.0; k];
    for (&g, v) in groups.codes.iter().zip(y) {
        count[g as usize] += 1;
        sum[g as usize] += v;
    }
    let mean: Vec<f64> = sum.iter().zip(&count).map(|(s, c)| s / *c as f64).collect();
    let mut ss = vec![0.0; k];
    for (&g, v) in groups.codes.iter().zip(y) {
        ss[g as usize] += (v - mean[g as usize]).powi(2);
    }
    let mut variance = vec![f64::NAN; k];
    for g in 0..k {
        if count[g] < 2 {
            return Err(Error::column(
                column,
                format!(
                    "weights: group '{}' has {} row(s); a group variance needs at least 2",
                    groups.levels[g], count[g]
                ),
            ));
        }
        variance[g] = ss[g] / (count[g] - 1) as f64;
        if variance[g].is_nan() || variance[g] <= 0.0 {
            return Err(Error::column(
                column,
                format!("weights: the response does not vary within group '{}' (variance 0)", groups.levels[g]),
            ));
        }
    }
    let weights = groups.codes.iter().map(|&g| 1.0 / variance[g as usize]).collect();
    let welch_df = (k == 2).then(|| {
        let a: Vec<f64> = (0..2).map(|g| variance[g] / count[g] as f64).collect();
        let num = (a[0] + a[1]).powi(2);
        let den: f64 = (0..2).map(|g| a[g] * a[g] / (count[g] - 1) as f64).sum();
        num / den
    });
    Ok(GroupVarianceWeights { weights, welch_df, ngroups: k })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_groups_give_welch_df() {
        // Group a: 1, 2, 3 (var 1); group b: 2, 4, 6, 8 (var 20/3).
        let y = [1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 8.0];
        let f = Factor::new(vec![0, 0, 0, 1, 1, 1, 1], vec!["a".into(), "b".into()]);
        let w = group_variance_weights(&y, &f, "g").unwrap();
        assert!((w.weights[0] - 1.0).abs() < 1e-15 && (w.weights[6] - 0.15).abs() < 1e-15);
        // (1/3 + 5/3)^2 / ((1/3)^2/2 + (5/3)^2/3) = 4 / (1/18 + 25/27)
        let expected = 4.0 / (1.0 / 18.0 + 25.0 / 27.0);
        assert!((w.welch_df.unwrap() - expected).abs() < 1e-12);
        let single = Factor::new(vec![0, 0, 1], vec!["a".into(), "b".into()]);
        let e = group_variance_weights(&[1.0, 2.0, 3.0], &single, "g").err().unwrap().to_string();
        assert!(e.contains("'g'") && e.contains("group 'b'"), "{e}");
    }
}
