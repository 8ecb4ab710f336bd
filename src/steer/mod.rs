//! Steering toward an attribute (FUDGE, RAD): the attribute probe, its training, the word
//! lexicon reward, and the hidden-state features they read.
//!
//! The chain stages that combine the scores are pure ([`crate::decode::steer`]); this module
//! computes the scores: [`probe`] and [`lexicon`] are plain Rust, [`features`] runs the model.

pub mod features;
pub mod lexicon;
pub mod probe;
pub mod train;
