//! Contrastive decoding (Li et al. 2023): expert minus amateur over the expert's plausible set.

use serde::{Deserialize, Serialize};

use super::{contrast, tempered_log_softmax};
use crate::decode::candidates::Candidates;
use crate::decode::stage::{Effect, History, Stage};
use crate::decode::trace::StageDetail;

/// The knobs of contrastive decoding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContrastKnobs {
    /// Plausibility: keep `x` with `p_expert(x) >= alpha * max p_expert` (paper: 0.1).
    pub alpha: f32,
    /// The amateur's temperature τ (paper: 0.5).
    pub amateur_temperature: f32,
    /// The amateur is the target's own first `L` layers (`self:L`); `None`: a separate
    /// amateur model.
    #[serde(default)]
    pub amateur_layer: Option<usize>,
}

impl Default for ContrastKnobs {
    fn default() -> Self {
        ContrastKnobs {
            alpha: 0.1,
            amateur_temperature: 0.5,
            amateur_layer: None,
        }
    }
}

/// Replaces the logits by `log p_expert(x) - log p_amateur(x)` (the amateur's softmax at
/// temperature τ) over `V_head = {x : p_expert(x) >= alpha · max p_expert}`; the rest is
/// removed. The expert is the distribution entering the stage; the amateur's raw logits come
/// from the step's signals. Without them the stage changes nothing and reports no detail.
pub struct Contrastive {
    pub knobs: ContrastKnobs,
    pub min_keep: usize,
}

impl Stage for Contrastive {
    fn name(&self) -> &'static str {
        "contrast"
    }

    fn params(&self) -> String {
        let amateur = match self.knobs.amateur_layer {
            Some(l) => format!(" amateur=self:{l}"),
            None => String::new(),
        };
        format!(
            "alpha={} tau={}{amateur}",
            self.knobs.alpha, self.knobs.amateur_temperature
        )
    }

    fn apply(&self, c: &mut Candidates, history: History<'_>) -> Effect {
        let Some(amateur) = history.signals.and_then(|s| s.amateur.as_deref()) else {
            return Effect::default();
        };
        let base = tempered_log_softmax(amateur, self.knobs.amateur_temperature);
        let ln_alpha = (self.knobs.alpha as f64).ln();
        let (cut, rows) = contrast(c, ln_alpha, &base, self.min_keep);
        Effect {
            threshold: Some(cut.exp() as f32),
            prefix: true,
            detail: Some(StageDetail::Contrast {
                rows,
                premature_layer: None,
                divergence: Vec::new(),
            }),
        }
    }
}
