//! logitscope: a terminal microscope for language-model decoding.
//!
//! Data flows one way: tokens → [`model`] (logits, attention, cache) → [`decode`] (the traced
//! sampler chain) → [`engine`] (the timeline of steps) → the TUI, which renders plain views.

pub mod cli;
pub mod constrain;
pub mod decode;
pub mod engine;
pub mod model;
pub mod oneline;
pub mod steer;
pub mod tui;
