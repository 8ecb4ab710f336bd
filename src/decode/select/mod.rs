//! Choosing among finished candidate texts (minimum Bayes risk and its utilities).

pub mod metrics;
