//! Inference on a fitted linear mixed model: derivatives at the optimum,
//! Satterthwaite's and Kenward-Roger's degrees of freedom, and the tests of
//! linear hypotheses built on them.

pub mod derivatives;
pub mod hypothesis;
pub mod kenward_roger;
pub mod profile;
pub mod profile_glmm;
pub mod satterthwaite;

pub use derivatives::{derivatives, Derivatives};
pub use hypothesis::{DdfMethod, FTest, TTest};
pub use kenward_roger::{KenwardRoger, KrTest};
