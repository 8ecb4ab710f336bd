//! The search as a tree, for display: every step's new nodes and pruned candidates.

use serde::{Deserialize, Serialize};

use super::config::BeamConfig;
use super::hyps::Hypothesis;
use super::search::{BeamStep, StepNode, ROOT};

/// Everything a view of a beam search needs (token ids only; the view maps them to text).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BeamTree {
    pub config: Option<BeamConfig>,
    /// Prompt ids (the root).
    pub prompt: Vec<u32>,
    pub steps: Vec<BeamStep>,
    /// The best finished hypotheses so far, best first.
    pub hypotheses: Vec<Hypothesis>,
    pub done: bool,
}

impl BeamTree {
    pub fn new(config: BeamConfig, prompt: &[u32]) -> Self {
        BeamTree {
            config: Some(config),
            prompt: prompt.to_vec(),
            ..Self::default()
        }
    }

    /// Records a step and the hypotheses after it.
    pub fn push(&mut self, step: BeamStep, hypotheses: Vec<Hypothesis>) {
        self.done = step.done;
        self.steps.push(step);
        self.hypotheses = hypotheses;
    }

    /// The node with this id and the step it joined at.
    pub fn node(&self, id: usize) -> Option<(usize, &StepNode)> {
        self.steps
            .iter()
            .enumerate()
            .find_map(|(s, st)| st.nodes.iter().find(|n| n.id == id).map(|n| (s, n)))
    }

    /// The raw top candidates after node `id` (known once it has been expanded).
    pub fn top_of(&self, id: usize) -> Option<&[(u32, f32)]> {
        self.steps
            .iter()
            .flat_map(|s| &s.tops)
            .find(|(n, _)| *n == id)
            .map(|(_, t)| t.as_slice())
    }

    /// Node ids from the root (excluded) to `id`.
    pub fn path(&self, id: usize) -> Vec<usize> {
        let mut path = Vec::new();
        let mut at = id;
        while at != ROOT {
            let Some((_, n)) = self.node(at) else { break };
            path.push(at);
            at = n.parent;
        }
        path.reverse();
        path
    }

    /// The path of the best hypothesis, else of the best running beam of the last step.
    pub fn best_path(&self) -> Vec<usize> {
        if let Some(h) = self.hypotheses.first() {
            return self.path(h.node);
        }
        let best = self.steps.last().and_then(|s| {
            s.nodes
                .iter()
                .max_by(|a, b| a.score.total_cmp(&b.score))
                .map(|n| n.id)
        });
        best.map_or_else(Vec::new, |id| self.path(id))
    }
}
