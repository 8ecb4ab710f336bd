//! Methods that contrast two views of the model: contrastive decoding (expert vs amateur),
//! DoLa (final vs premature layer), contrastive search (confidence vs degeneration), and the
//! logit lens that shows what each layer would predict.
//!
//! Pure Rust: the engine computes the model-side [`Signals`] of a step (the amateur's logits,
//! the head applied to premature layers, hidden states) and these functions do the rest.

pub mod cd;
pub mod dola;
pub mod lens;
pub mod search;

use serde::{Deserialize, Serialize};

use super::candidates::Candidates;
use super::grammar::GrammarMask;
use super::math::log_softmax;
use super::steer::SteerScores;
use super::trace::ContrastRow;

pub use cd::{ContrastKnobs, Contrastive};
pub use dola::{divergence, Dola, DolaLayers};

/// Rows of a contrast kept in a trace (best contrast first).
pub const CONTRAST_ROWS: usize = 32;

/// Model-side inputs of one step that the contrast stages read besides the target's logits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    /// Raw logits of the amateur (contrastive decoding).
    pub amateur: Option<Vec<f32>>,
    /// The head applied to candidate premature layers (DoLa), as `(layer, logits)`.
    pub premature: Vec<(usize, Vec<f32>)>,
    /// Raw logits of the ensemble's other members (other prompts, other models).
    pub members: Vec<Vec<f32>>,
    /// The tokens the constraint (`--regex`, `--json-schema`, `--grammar`) allows next.
    #[serde(default)]
    pub grammar: Option<std::sync::Arc<GrammarMask>>,
    /// FUDGE's per-candidate log P(attribute | prefix + x).
    #[serde(default)]
    pub fudge: Option<SteerScores>,
    /// RAD's per-candidate reward r(prefix + x).
    #[serde(default)]
    pub rad: Option<SteerScores>,
}

/// Natural log of 0.1: the plausibility cut of both contrasts by default.
const LN_TENTH: f64 = -std::f64::consts::LN_10;

/// The shared core of contrastive decoding and DoLa. Keeps the live candidates whose expert
/// log-probability is at least `max + ln_ratio` (and at least `min_keep` of them), then sets
/// each survivor's logit to `expert - base[id]`. Returns the cut in log-probability and the
/// survivors' rows, best contrast first.
fn contrast(
    c: &mut Candidates,
    ln_ratio: f64,
    base: &[f32],
    min_keep: usize,
) -> (f64, Vec<ContrastRow>) {
    let log_z = c.log_z();
    let kth = c
        .sorted_prefix(min_keep.max(1))
        .last()
        .map_or(f64::NEG_INFINITY, |x| x.logit as f64 - log_z);
    let best = c.sorted_prefix(1).first().map_or(0.0, |x| x.logit as f64) - log_z;
    let cut = (best + ln_ratio).min(kth);
    c.retain_where(|_, x| x.logit as f64 - log_z >= cut);
    let mut rows = Vec::with_capacity(c.len());
    for x in c.logits_mut() {
        let expert = (x.logit as f64 - log_z) as f32;
        let amateur = base
            .get(x.id as usize)
            .copied()
            .unwrap_or(f32::NEG_INFINITY);
        x.logit = expert - amateur;
        rows.push(ContrastRow {
            id: x.id,
            expert,
            amateur,
            contrast: x.logit,
        });
    }
    rows.sort_by(|a, b| b.contrast.total_cmp(&a.contrast).then(a.id.cmp(&b.id)));
    rows.truncate(CONTRAST_ROWS);
    (cut, rows)
}

/// Log-softmax of `logits / t`.
fn tempered_log_softmax(logits: &[f32], t: f32) -> Vec<f32> {
    if t == 1.0 {
        return log_softmax(logits);
    }
    let scaled: Vec<f32> = logits.iter().map(|&l| l / t).collect();
    log_softmax(&scaled)
}

#[cfg(test)]
mod tests;
