//! The linear mixed model: cross-products formed once, the relative
//! covariance factor, the blocked Cholesky factor, and the profiled objective.

pub mod blocked;
pub mod crossprod;
pub mod downdate;
pub mod fill;
pub mod gradient;
pub mod lambda;
pub mod lmm;
pub mod rest;
pub mod rest_inverse;
pub mod scatter;
pub mod start;
pub mod system;

pub use blocked::{BlockedFactor, Pieces};
pub use crossprod::CrossProducts;
pub use downdate::{RowData, RowsShare};
pub use lambda::Parameterization;
pub use lmm::{objective_from, LinearMixedModel, ResponseParts};
