//! Prior weights: a numeric column of the data, one weight a row.

use crate::data::{Column, DataFrame};
use crate::error::{Error, Result};

/// Which weights a model accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightRule {
    /// A linear model's weights scale residual variances: each must be > 0.
    Positive,
    /// A GLMM's may be 0 (R's glm accepts them; the response check decides).
    NonNegative,
}

/// Read the weights column `name`, checking every value against `rule`; an
/// error names the column and the first offending row.
pub fn prior_weights(name: &str, data: &DataFrame, rule: WeightRule) -> Result<Vec<f64>> {
    let values = match data.get(name)? {
        Column::Numeric(v) => v.to_vec(),
        Column::Factor(_) => return Err(Error::column(name, "weights must be numbers, not a categorical column")),
    };
    let acceptable = |w: f64| {
        w.is_finite()
            && match rule {
                WeightRule::Positive => w > 0.0,
                WeightRule::NonNegative => w >= 0.0,
            }
    };
    if let Some(i) = values.iter().position(|w| !acceptable(*w)) {
        let need = if rule == WeightRule::Positive { "positive" } else { "non-negative" };
        return Err(Error::column(name, format!("weights must be {need} and finite; row {i} has {}", values[i])));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: Vec<f64>) -> DataFrame<'static> {
        DataFrame::new().with_numeric("w", w).unwrap().with_labels("g", &["a", "b", "a"]).unwrap()
    }

    #[test]
    fn errors_name_the_column_and_row() {
        let df = frame(vec![1.0, 0.0, 2.0]);
        assert_eq!(prior_weights("w", &df, WeightRule::NonNegative).unwrap(), vec![1.0, 0.0, 2.0]);
        let e = prior_weights("w", &df, WeightRule::Positive).unwrap_err().to_string();
        assert!(e.contains("'w'") && e.contains("row 1"), "{e}");
        let e = prior_weights("g", &df, WeightRule::Positive).unwrap_err().to_string();
        assert!(e.contains("'g'") && e.contains("categorical"), "{e}");
    }
}
