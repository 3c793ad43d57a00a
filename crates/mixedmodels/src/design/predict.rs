//! Putting new data through a learned design: the linear predictor
//! `X beta + Z b + offset` of `predict()` for linear and generalized models.

use super::{Design, DesignSpec};
use crate::data::{DataFrame, MISSING};
use crate::error::Result;

impl DesignSpec {
    /// The design for prediction: fixed part, and random part when asked for.
    pub fn apply_for_prediction(&self, data: &DataFrame, use_re: bool) -> Result<Design> {
        if use_re {
            return self.apply(data);
        }
        let mut no_re = self.clone();
        no_re.formula.bars.clear();
        no_re.groups.clear();
        no_re.bar_order.clear();
        no_re.apply(data)
    }

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
        self.check_prediction_columns(data, use_re)?;
        let design = self.apply_for_prediction(data, use_re)?;
        let mut eta = vec![0.0; data.nrows()];
        for (j, b) in beta.iter().enumerate() {
            for (e, x) in eta.iter_mut().zip(design.x.column(j)) {
                *e += x * b;
            }
        }
        if use_re {
            for (t, b) in design.terms.iter().zip(ranef) {
                let q = t.q();
                for (i, e) in eta.iter_mut().enumerate() {
                    let level = t.refs[i];
                    if level != MISSING {
                        let l = level as usize;
                        *e += t.z_row(i).iter().zip(&b[l * q..(l + 1) * q]).map(|(z, bv)| z * bv).sum::<f64>();
                    }
                }
            }
        }
        if let Some(o) = &design.offset {
            eta.iter_mut().zip(o).for_each(|(e, ov)| *e += ov);
        }
        Ok(eta)
    }

    /// Every column prediction reads must be present: a missing one is named
    /// before any arrays are built.
    fn check_prediction_columns(&self, data: &DataFrame, use_re: bool) -> Result<()> {
        for c in self.formula.columns_read(false, use_re, &[]) {
            data.get(&c)?;
        }
        Ok(())
    }
}
