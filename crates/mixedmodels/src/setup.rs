//! The stage every fit starts with, shared by [`crate::lmer`] and
//! [`crate::glmer`] (lme4's `lFormula` and `glFormula`): check that the data
//! hold the formula's columns, keep the rows without missing values in them
//! (remembering which rows, R's `na.omit`), learn the design on those rows
//! (data-dependent terms such as `scale` and `poly` over every row, as R's
//! model frame evaluates them before dropping: [`LearningRows`]) and read the
//! prior weights.

use crate::data::{DataFrame, FitRows};
use crate::design::{prior_weights, Contrasts, Design, DesignSpec, LearningRows, WeightRule};
use crate::error::Result;
use crate::formula::ModelFormula;

/// The rows a model is fitted to and the arrays learned from them.
pub struct ModelFrame<'a> {
    /// The data's rows without missing values in the model's columns.
    pub data: DataFrame<'a>,
    /// Which rows of the data as given those are.
    pub rows: FitRows,
    pub spec: DesignSpec,
    pub design: Design,
    /// Prior weights of the rows (None: every weight is one).
    pub weights: Option<Vec<f64>>,
}

impl<'a> ModelFrame<'a> {
    /// `weights` names a numeric column of prior weights, checked by `rule`.
    pub fn new(
        formula: ModelFormula,
        data: &DataFrame<'a>,
        contrasts: &[(String, Contrasts)],
        weights: Option<&str>,
        rule: WeightRule,
    ) -> Result<ModelFrame<'a>> {
        Self::reading(formula, data, contrasts, weights, rule, &[])
    }

    /// [`ModelFrame::new`] for a fit that reads further columns (`extra`:
    /// clusters, groups): rows missing one of them are dropped as well.
    pub fn reading(
        formula: ModelFormula,
        data: &DataFrame<'a>,
        contrasts: &[(String, Contrasts)],
        weights: Option<&str>,
        rule: WeightRule,
        extra: &[&str],
    ) -> Result<ModelFrame<'a>> {
        let mut used = formula.column_names();
        used.extend(weights.map(str::to_string));
        used.extend(extra.iter().map(|c| c.to_string()));
        for c in &used {
            data.get(c)?;
        }
        let all = data;
        let (data, rows) = data.clone().drop_missing(&used)?;
        let (spec, design) = DesignSpec::learn_from(formula, LearningRows { complete: &data, all }, contrasts)?;
        let weights = weights.map(|w| prior_weights(w, &data, rule)).transpose()?;
        Ok(ModelFrame { data, rows, spec, design, weights })
    }
}

/// The warnings about the set-up every fit reports first: rows dropped for
/// missing values, and fixed-effects columns dropped for rank deficiency
/// (lme4's message).
pub fn setup_warnings(rows: &FitRows, spec: &DesignSpec) -> Vec<String> {
    dropped_warnings(rows.dropped(), spec)
}

/// [`setup_warnings`] with the number of rows dropped for missing values.
pub fn dropped_warnings(dropped: usize, spec: &DesignSpec) -> Vec<String> {
    let mut out = Vec::new();
    if dropped > 0 {
        out.push(format!("{dropped} rows with missing values were dropped"));
    }
    if !spec.fixed_dropped.is_empty() {
        out.push(format!(
            "fixed-effect model matrix is rank deficient so dropping {} column(s): {}",
            spec.fixed_dropped.len(),
            spec.fixed_dropped.join(", ")
        ));
    }
    out
}
