//! The set-up shared by `Lm`, `Glm` and `Lm2` (R's `model.frame` +
//! `model.matrix` for `lm`): parse the formula (which must have no
//! random-effects terms), drop rows with missing values in any column the
//! model reads, and build the fixed-effects design with R's coding and rank
//! rules. Grouping columns (clusters, weight groups, `Lm2` groups) are read
//! as factors on the same rows.

use crate::data::{Column, DataFrame, Factor, FitRows, MISSING};
use crate::design::{Contrasts, DesignSpec, ModelMatrix, WeightRule};
use crate::error::{Error, Result};
use crate::formula::ModelFormula;
use crate::setup::{setup_warnings, ModelFrame};

/// The rows an `lm`-type model uses and its design on them.
pub struct LmFrame<'a> {
    pub data: DataFrame<'a>,
    /// Which rows of the data as given the fit uses.
    pub rows: FitRows,
    pub spec: DesignSpec,
    pub x: ModelMatrix,
    /// The formula's `offset(...)` terms summed, if any.
    pub offset: Option<Vec<f64>>,
    /// Prior weights from the column `weights` names (checked by `rule`).
    pub weights: Option<Vec<f64>>,
}

impl<'a> LmFrame<'a> {
    /// `extra` names further columns the fit reads (clusters, groups).
    pub fn new(
        formula: &str,
        data: &DataFrame<'a>,
        contrasts: &[(String, Contrasts)],
        weights: Option<&str>,
        rule: WeightRule,
        extra: &[&str],
    ) -> Result<LmFrame<'a>> {
        let formula = ModelFormula::parse(formula)?;
        if let Some(bar) = formula.bars.first() {
            return Err(Error::formula(
                &formula.source,
                bar.pos,
                "a linear model has no random-effects terms: use Lmer for (... | group)",
            ));
        }
        if formula.response.is_none() {
            return Err(Error::formula(&formula.source, 0, "the formula has no response before '~'"));
        }
        let ModelFrame { data, rows, spec, design, weights } =
            ModelFrame::reading(formula, data, contrasts, weights, rule, extra)?;
        Ok(LmFrame { data, rows, spec, x: design.x, offset: design.offset, weights })
    }

    /// Does the model have an intercept?
    pub fn intercept(&self) -> bool {
        self.spec.formula.fixed.intercept
    }

    /// The set-up warnings: rows dropped, columns dropped for rank deficiency.
    pub fn warnings(&self) -> Vec<String> {
        setup_warnings(&self.rows, &self.spec)
    }

    /// The column `name` as a factor (numbers become levels, as R's `factor`).
    pub fn factor(&self, name: &str) -> Result<Factor> {
        factor_of(&self.data, name)
    }
}

/// A column of `data` as a factor with only the levels that occur.
pub fn factor_of(data: &DataFrame, name: &str) -> Result<Factor> {
    let f = match data.get(name)? {
        Column::Factor(f) => f.clone(),
        Column::Numeric(v) => Factor::from_numbers(v),
    };
    if f.codes.contains(&MISSING) {
        return Err(Error::column(name, "has missing values"));
    }
    Ok(f.drop_unused())
}

/// The combinations of several factors' levels present in the data, as one
/// factor (levels `a:x`, first factor varying slowest, sorted as R's
/// `interaction(..., lex.order = TRUE, drop = TRUE)`).
pub fn interaction(factors: &[Factor]) -> Factor {
    let n = factors.first().map_or(0, |f| f.codes.len());
    let mut keys: Vec<Vec<u32>> = (0..n).map(|i| factors.iter().map(|f| f.codes[i]).collect()).collect();
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    let codes = keys.iter_mut().map(|k| distinct.binary_search(k).map_or(MISSING, |i| i as u32)).collect();
    let levels = distinct
        .iter()
        .map(|k| k.iter().zip(factors).map(|(&c, f)| f.levels[c as usize].as_str()).collect::<Vec<_>>().join(":"))
        .collect();
    Factor::new(codes, levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_effects_are_refused_and_missing_rows_dropped() {
        let data = DataFrame::new()
            .with_numeric("y", vec![1.0, 2.0, f64::NAN, 4.0])
            .unwrap()
            .with_numeric("x", vec![0.0, 1.0, 2.0, 3.0])
            .unwrap()
            .with_labels("g", &["a", "b", "a", "b"])
            .unwrap();
        let e = LmFrame::new("y ~ x + (1 | g)", &data, &[], None, WeightRule::Positive, &[]).err().unwrap().to_string();
        assert!(e.contains("Lmer"), "{e}");
        let frame = LmFrame::new("y ~ x", &data, &[], None, WeightRule::Positive, &["g"]).unwrap();
        assert_eq!(frame.rows.positions, [0, 1, 3]);
        assert_eq!(frame.x.names, ["(Intercept)", "x"]);
        assert_eq!(frame.factor("g").unwrap().codes, [0, 1, 1]);
    }

    #[test]
    fn interactions_sort_lexically() {
        let a = Factor::new(vec![1, 0, 1, 0], vec!["p".into(), "q".into()]);
        let b = Factor::new(vec![0, 1, 0, 0], vec!["x".into(), "y".into()]);
        let ab = interaction(&[a, b]);
        assert_eq!(ab.levels, ["p:x", "p:y", "q:x"]);
        assert_eq!(ab.codes, [2, 1, 2, 0]);
    }
}
