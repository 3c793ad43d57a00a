//! Fits of data larger than memory: a linear mixed model sees its data only
//! through the cross-products of [Z X y], which are sums by group (per level
//! of each grouping factor, per pair of levels of two of them, and a few
//! global sums). An engine that holds the rows (polars' streaming engine,
//! Dask, Spark) computes those sums; this module plans what it computes and
//! turns the sums into the same blocked system an in-memory fit builds, so
//! that from [`crate::model::CrossProducts`] on both fits are the same code.
//!
//! The stages, each a call from the bindings:
//! 1. [`SumsSetup::new`]: formula, column types and a pilot (the first
//!    complete rows) in; the first pass's requests out (distinct values of
//!    the factors' columns, moments of `scale()`d expressions).
//! 2. [`SumsSetup::learn`]: the design learned from the answers, and the
//!    plan of the second pass ([`SumsPlan`]): columns as expressions
//!    ([`ColumnExpr`]) and the sums of their products, table by table.
//! 3. The engine's pass: tables keyed by the grouping columns
//!    ([`ReducedStats::from_tables`]) or batches of rows ([`Accumulator`]).
//! 4. [`crate::lmer::Lmer::fit_sums`]: the fit, an [`crate::lmer::Lmer`]
//!    without rows.

pub mod assemble;
pub mod bootstrap;
pub mod expr;
pub mod fit;
pub mod group_share;
pub mod memory;
pub mod pieces;
pub mod plan;
pub mod rows;
pub mod setup;
pub mod stats;
pub mod triples;

pub use expr::{BinaryOp, ColumnExpr, UnaryOp};
pub use plan::{Layout, Product, SumsPlan, TableSpec};
pub use setup::{MomentRequest, SumsSetup};
pub use stats::{Accumulator, PairSums, ReducedStats};
