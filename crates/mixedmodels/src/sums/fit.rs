//! A linear mixed model fitted from the reduced statistics: the sums are
//! assembled into the blocked system ([`super::assemble`]) and from there
//! the fit is the in-memory fit's code, line for line.

use super::assemble::{assemble, Assembled};
use super::plan::SumsPlan;
use super::stats::ReducedStats;
use crate::error::Result;
use crate::fit;
use crate::lmer::{Lmer, LmerOptions};
use crate::model::LinearMixedModel;
use crate::optim::{Monitor, Observer};
use crate::setup::dropped_warnings;

impl Lmer {
    /// Fit from the sums of a pass over the data planned by `plan`.
    /// `options.weights` and `options.contrasts` were the plan's business.
    pub fn fit_sums(plan: &SumsPlan, stats: ReducedStats, options: &LmerOptions) -> Result<Lmer> {
        Lmer::fit_sums_observed(plan, stats, options, None)
    }

    /// [`Lmer::fit_sums`], each evaluation of the optimizer reported to
    /// `observer` (as [`Lmer::fit_observed`]).
    pub fn fit_sums_observed(
        plan: &SumsPlan,
        stats: ReducedStats,
        options: &LmerOptions,
        observer: Option<Observer<'_>>,
    ) -> Result<Lmer> {
        let Assembled { cp, terms, beta_ols, start, fixed_keep, x_gram, group_pieces } = assemble(plan, stats)?;
        let mut spec = plan.spec.clone();
        spec.fixed_dropped =
            (0..plan.x_names.len()).filter(|j| !fixed_keep.contains(j)).map(|j| plan.x_names[j].clone()).collect();
        let fixed_names = fixed_keep.iter().map(|&j| plan.x_names[j].clone()).collect();
        let assign = fixed_keep.iter().map(|&j| plan.x_assign[j]).collect();
        spec.fixed_keep = fixed_keep;
        let mut model = LinearMixedModel::from_cross_products(cp, terms, 1, options.reml, beta_ols, start);
        let mut monitor = Monitor::new(observer);
        let mut fit = rayon::scope(|_| fit::fit_observed(&mut model, &options.fit, None, &mut monitor))?;
        fit.warnings.splice(0..0, dropped_warnings(plan.n_rows - plan.n_complete, &spec));
        let mut lmer = Lmer::without_rows(spec, model, fit, fixed_names, assign, plan.n_rows, options.clone(), x_gram);
        lmer.group_pieces = group_pieces;
        Ok(lmer)
    }
}
