//! Linear and generalized linear models without random effects, and the
//! two-stage summary-statistics model (pymer4's `Lm` and `Lm2`, R's `lm`,
//! `glm` and `lme4::lmList`), sharing the formula language and design code
//! of the mixed models.
//!
//! - [`ols`]: least squares by the QR decomposition of the whitened design;
//!   [`sandwich`]: classical, heteroscedasticity (HC0-HC3), Newey-West and
//!   cluster-robust covariances; [`welch`]: group-variance weights.
//! - [`glm`]: IRLS as R's `glm.fit`; [`correlations`]: semi-partial and
//!   partial correlations; [`groups`]: one fit per group, in parallel.
//! - [`resampling`]: permutation, sign-flip and case-bootstrap loops (rayon,
//!   reproducible for a seed at any thread count).
//! - [`frame`], [`linear`], [`generalized`], [`two_stage`]: the models.
//!
//! ```
//! use mixedmodels::data::DataFrame;
//! use mixedmodels::lm::{Lm, LmOptions, SeChoice, SeMethod};
//!
//! let x: Vec<f64> = (0..20).map(|i| i as f64).collect();
//! let y: Vec<f64> = x.iter().map(|v| 1.0 + 2.0 * v + (v * 1.7).sin()).collect();
//! let data = DataFrame::new().with_numeric("y", y)?.with_numeric("x", x)?;
//! let options = LmOptions { se: SeChoice::Method(SeMethod::Hc3), ..LmOptions::default() };
//! let m = Lm::fit("y ~ x", &data, &options)?;
//! assert_eq!(m.fixed_names, ["(Intercept)", "x"]);
//! assert!((m.fit.beta[1] - 2.0).abs() < 0.1 && m.df == 18.0);
//! # Ok::<(), mixedmodels::Error>(())
//! ```

pub mod correlations;
pub mod frame;
pub mod generalized;
pub mod glm;
pub mod groups;
pub mod linear;
pub mod ols;
pub mod resampling;
pub mod sandwich;
pub mod two_stage;
pub mod welch;

pub use correlations::CorrelationKind;
pub use generalized::{Glm, GlmOptions};
pub use linear::{Lm, LmOptions, LmWeights, SeChoice};
pub use resampling::FlipStatistic;
pub use sandwich::SeMethod;
pub use two_stage::{FirstLevel, Lm2, Lm2Options};
