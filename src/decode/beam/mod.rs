//! Beam search, diverse (group) beam search and stochastic beam search: a pure state machine
//! ([`BeamSearch`]) and the tree it grows ([`BeamTree`]). Model-agnostic: the driver runs the
//! model on the live beams, one batched forward per step, and reorders its caches by
//! [`BeamStep::parents`].

pub mod config;
pub mod hyps;
pub mod search;
pub mod tree;

pub use config::{BeamConfig, EarlyStopping};
pub use hyps::{normalized, Hypotheses, Hypothesis};
pub use search::{Beam, BeamError, BeamSearch, BeamStep, Pruned, StepNode, ROOT, TOP_PER_NODE};
pub use tree::BeamTree;
