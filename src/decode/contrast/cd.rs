//! Contrastive decoding (Li et al. 2023): expert minus amateur over the expert's plausible set.

use serde::{Deserialize, Serialize};

use super::{contrast, tempered_log_softmax};
use crate::decode::candidates::Candidates;
use crate::decode::config::SamplerConfig;
use crate::decode::spec::{flip, off_or, step, KnobSpec, StageSpec, ThresholdKind};
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
        SPEC.name
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

/// The amateur layer contrastive decoding starts from when switched on in the TUI.
const DEFAULT_AMATEUR_LAYER: usize = 8;

/// `contrast`: contrastive decoding against the amateur.
pub const SPEC: StageSpec = StageSpec {
    name: "contrast",
    abbrev: "cd",
    threshold: ThresholdKind::Own,
    build: |c| {
        c.contrast
            .map(|knobs| Box::new(Contrastive { knobs, min_keep: 1 }) as Box<dyn Stage>)
    },
    knobs: &[
        KnobSpec {
            label: "amateur",
            hint: "contrastive decoding: minus log p of the first L layers",
            rank: 11,
            enabled: |c| c.contrast.is_some(),
            value: |c| {
                off_or(c.contrast, |k| match k.amateur_layer {
                    Some(l) => format!("self:{l}"),
                    None => "model".to_string(),
                })
            },
            adjust: |c, up| {
                let k = c.contrast.get_or_insert_with(ContrastKnobs::default);
                k.amateur_layer = Some(match k.amateur_layer {
                    None => DEFAULT_AMATEUR_LAYER,
                    Some(l) if up => l + 1,
                    Some(l) => l.saturating_sub(1).max(1),
                });
            },
            toggle: toggle_contrast,
        },
        KnobSpec {
            label: "cd alpha",
            hint: "contrast only tokens with p >= alpha x top-1",
            rank: 12,
            enabled: |c| c.contrast.is_some(),
            value: |c| off_or(c.contrast, |k| format!("{:.2}", k.alpha)),
            adjust: |c, up| {
                let k = c.contrast.get_or_insert_with(|| ContrastKnobs {
                    amateur_layer: Some(DEFAULT_AMATEUR_LAYER),
                    ..ContrastKnobs::default()
                });
                k.alpha = step(k.alpha, up, 0.05, 0.05, 1.0);
            },
            toggle: toggle_contrast,
        },
    ],
};

/// Switches contrastive decoding off (remembering the amateur layer) or back on.
fn toggle_contrast(c: &mut SamplerConfig, back: Option<f32>) -> Option<f32> {
    let on = ContrastKnobs {
        amateur_layer: Some(back.map_or(DEFAULT_AMATEUR_LAYER, |l| l as usize)),
        ..ContrastKnobs::default()
    };
    flip(&mut c.contrast, None, on).and_then(|k| k.amateur_layer.map(|l| l as f32))
}
