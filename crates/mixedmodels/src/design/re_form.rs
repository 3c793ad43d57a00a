//! Which random effects a prediction or a simulation conditions on: lme4's
//! `re.form`. `NULL` (all of them), `NA` or `~0` (none: the population
//! level), or a formula of random-effect terms such as `~ (1 | Subject)`. A
//! term of `re.form` names a grouping factor and effects (its columns); each
//! must be one the model has, and a model's effect is used when `re.form`
//! names it: for a model with `(Days | Subject)`, `re.form = ~ (1 | Subject)`
//! keeps the subjects' intercepts and leaves their slopes out (lme4's
//! `mkNewReTrms` picks the columns of `ranef()` the same way, by name).

use super::model_matrix::{model_matrix, VariableTable};
use super::{DesignSpec, ReTerm};
use crate::data::DataFrame;
use crate::error::{Error, Result};
use crate::formula::ModelFormula;

/// The random effects to condition on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReForm {
    /// Every random effect (lme4's `re.form = NULL`).
    All,
    /// None (`re.form = NA` or `~0`).
    Nothing,
    /// The random-effect terms of a formula (`~ (1 | Subject)`; the `~` may be left out).
    Terms(String),
}

impl ReForm {
    /// `All` when `use_re`, else `Nothing`.
    pub fn from_flag(use_re: bool) -> ReForm {
        if use_re {
            ReForm::All
        } else {
            ReForm::Nothing
        }
    }

    /// lme4's spellings: "NULL" (all), "NA", "~0", "~ 0", "0" (none), or a
    /// formula of random-effect terms.
    pub fn parse(text: &str) -> ReForm {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        match compact.as_str() {
            "NULL" => ReForm::All,
            "NA" | "~0" | "0" | "~-1" => ReForm::Nothing,
            _ => ReForm::Terms(text.trim().to_string()),
        }
    }

    /// Does the prediction read any random effect (and so the grouping factors)?
    pub fn uses_random_effects(&self) -> bool {
        !matches!(self, ReForm::Nothing)
    }
}

/// One flag a column of each random-effects term (in lme4's order): is it used?
pub type Selection = Vec<Vec<bool>>;

impl DesignSpec {
    /// The columns of `terms` (the model's terms, or some of them, on
    /// `data`) that `re` uses.
    pub fn re_form_selection(&self, re: &ReForm, terms: &[ReTerm], data: &DataFrame) -> Result<Selection> {
        let every = |on: bool| terms.iter().map(|t| vec![on; t.q()]).collect();
        let text = match re {
            ReForm::All => return Ok(every(true)),
            ReForm::Nothing => return Ok(every(false)),
            ReForm::Terms(text) => text,
        };
        let wanted = self.re_form_effects(&re_form_formula(text)?, data)?;
        for (group, name) in &wanted {
            let known = terms.iter().any(|t| &t.group == group && t.cnames.contains(name));
            if !known {
                return Err(Error::Argument(format!(
                    "re_form '{text}' asks for the random effect '{name}' of '{group}', which the model does not have"
                )));
            }
        }
        Ok(terms
            .iter()
            .map(|t| t.cnames.iter().map(|c| wanted.iter().any(|(g, n)| g == &t.group && n == c)).collect())
            .collect())
    }

    /// The model's terms (positions in lme4's order) whose grouping factor
    /// `re` names, and the data columns a prediction with `re` reads (the
    /// fixed part's, and those of `re`'s terms).
    pub(crate) fn re_form_terms(&self, re: &ReForm) -> Result<(Vec<usize>, Vec<String>)> {
        let mut columns = self.formula.columns_read(false, false, &[]);
        let groups: Vec<String> = match re {
            ReForm::Nothing => return Ok((vec![], columns)),
            ReForm::All => {
                columns = self.formula.columns_read(false, true, &[]);
                self.formula.bars.iter().map(|b| b.group_name.clone()).collect()
            }
            ReForm::Terms(text) => {
                let f = re_form_formula(text)?;
                for c in f.columns_read(false, true, &[]) {
                    if !columns.contains(&c) {
                        columns.push(c);
                    }
                }
                for b in &f.bars {
                    if !self.formula.bars.iter().any(|m| m.group_name == b.group_name) {
                        return Err(Error::Argument(format!(
                            "re_form '{text}' names the grouping factor '{}', which has no random effects in the model",
                            b.group_name
                        )));
                    }
                }
                f.bars.iter().map(|b| b.group_name.clone()).collect()
            }
        };
        let kept = (0..self.bar_order.len())
            .filter(|&k| groups.contains(&self.formula.bars[self.bar_order[k]].group_name))
            .collect();
        Ok((kept, columns))
    }

    /// The same design with only the random-effects terms at `kept` (positions
    /// in lme4's order).
    pub(crate) fn with_terms(&self, kept: &[usize]) -> DesignSpec {
        let mut spec = self.clone();
        let bars: Vec<usize> = kept.iter().map(|&k| self.bar_order[k]).collect();
        let mut sorted = bars.clone();
        sorted.sort_unstable();
        spec.formula.bars = sorted.iter().map(|&b| self.formula.bars[b].clone()).collect();
        spec.groups = sorted.iter().map(|&b| self.groups[b].clone()).collect();
        spec.bar_order = bars.iter().map(|b| sorted.binary_search(b).expect("a kept bar")).collect();
        spec
    }

    /// The (grouping factor, effect name) pairs of a `re.form` formula's
    /// terms, its variables coded as the model codes them.
    fn re_form_effects(&self, formula: &ModelFormula, data: &DataFrame) -> Result<Vec<(String, String)>> {
        let model_specs = self.random_vars.as_ref().unwrap_or(&self.vars);
        let mut specs = Vec::with_capacity(formula.variables.len());
        for v in &formula.variables {
            let Some(k) = self.formula.variables.iter().position(|m| m.name == v.name) else {
                return Err(Error::Argument(format!(
                    "re_form '{}' uses '{}', which is not a variable of the model",
                    formula.source, v.name
                )));
            };
            specs.push(model_specs[k].clone());
        }
        let values = specs.iter().map(|s| s.apply(data)).collect::<Result<Vec<_>>>()?;
        let names: Vec<String> = formula.variables.iter().map(|v| v.name.clone()).collect();
        let table = VariableTable { specs: &specs, values: &values, names: &names };
        let mut out = Vec::new();
        for bar in &formula.bars {
            let columns = model_matrix(&bar.lhs, &table, data.nrows())?;
            out.extend(columns.names.into_iter().map(|c| (bar.group_name.clone(), c)));
        }
        Ok(out)
    }
}

/// A `re.form` formula: random-effect terms only (the `~` may be left out).
fn re_form_formula(text: &str) -> Result<ModelFormula> {
    let source = if text.trim_start().starts_with('~') { text.to_string() } else { format!("~ {text}") };
    let formula = ModelFormula::parse(&source)?;
    if formula.bars.is_empty() || !formula.fixed.terms.is_empty() || formula.response.is_some() {
        return Err(Error::formula(
            text,
            0,
            "re_form takes random-effect terms only, as '(1 | Subject)', or '~0' for none",
        ));
    }
    Ok(formula)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lme4_spellings() {
        assert_eq!(ReForm::parse("NULL"), ReForm::All);
        for none in ["NA", "~0", "~ 0", " 0 "] {
            assert_eq!(ReForm::parse(none), ReForm::Nothing, "{none}");
        }
        assert_eq!(ReForm::parse(" ~ (1 | g) "), ReForm::Terms("~ (1 | g)".into()));
        assert!(!ReForm::Nothing.uses_random_effects() && ReForm::parse("(1|g)").uses_random_effects());
    }
}
