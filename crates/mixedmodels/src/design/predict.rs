//! Putting new data through a learned design: the linear predictor
//! `X beta + Z b + offset` of `predict()` for linear and generalized models.

use super::re_form::ReForm;
use super::DesignSpec;
use crate::data::{DataFrame, MISSING};
use crate::error::Result;

impl DesignSpec {
    /// The linear predictor on new data: `X beta`, plus `Z b` where `use_re`
    /// (levels not seen in the fit get zero random effects, as lme4's
    /// `allow.new.levels = TRUE`), plus the formula's offsets. `ranef[k]` holds
    /// term k's conditional modes level by level (`q` values a level).
    pub fn linear_predictor(
        &self,
        data: &DataFrame,
        beta: &[f64],
        ranef: &[Vec<f64>],
        use_re: bool,
    ) -> Result<Vec<f64>> {
        self.linear_predictor_re(data, beta, ranef, &ReForm::from_flag(use_re))
    }

    /// The linear predictor with the random effects `re` selects (lme4's
    /// `predict(re.form = )`, see [`ReForm`]).
    pub fn linear_predictor_re(
        &self,
        data: &DataFrame,
        beta: &[f64],
        ranef: &[Vec<f64>],
        re: &ReForm,
    ) -> Result<Vec<f64>> {
        // Only the terms whose grouping factor `re` names are built (and their columns read).
        let (kept, columns) = self.re_form_terms(re)?;
        for c in &columns {
            data.get(c)?;
        }
        let design = self.with_terms(&kept).apply(data)?;
        let mut eta = vec![0.0; data.nrows()];
        for (j, b) in beta.iter().enumerate() {
            for (e, x) in eta.iter_mut().zip(design.x.column(j)) {
                *e += x * b;
            }
        }
        if !kept.is_empty() {
            let selection = self.re_form_selection(re, &design.terms, data)?;
            let kept_ranef = kept.iter().map(|&k| &ranef[k]);
            for ((t, b), used) in design.terms.iter().zip(kept_ranef).zip(&selection) {
                let q = t.q();
                for (i, e) in eta.iter_mut().enumerate() {
                    let level = t.refs[i];
                    if level != MISSING {
                        let l = level as usize;
                        let z = t.z_row(i);
                        *e += (0..q).filter(|&c| used[c]).map(|c| z[c] * b[l * q + c]).sum::<f64>();
                    }
                }
            }
        }
        if let Some(o) = &design.offset {
            eta.iter_mut().zip(o).for_each(|(e, ov)| *e += ov);
        }
        Ok(eta)
    }
}
