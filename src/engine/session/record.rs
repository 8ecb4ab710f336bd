//! Building a step's record: the hand-picked choice of a branch and the temperature sweep.

use crate::decode::math::{log_softmax, Tempered};
use crate::decode::trace::{Chosen, StepTrace};
use crate::engine::protocol::TemperatureColumn;

/// Temperatures always shown by the temperature panel (the configured one is added).
pub const SWEEP_TEMPERATURES: [f32; 4] = [0.3, 0.7, 1.0, 1.5];

/// The choice record for a token the user picked by hand.
pub(super) fn forced_choice(logits: &[f32], trace: &StepTrace, id: u32) -> Chosen {
    let lp = log_softmax(logits);
    let raw = lp.get(id as usize).map_or(0.0, |x| x.exp());
    let own = logits
        .get(id as usize)
        .copied()
        .unwrap_or(f32::NEG_INFINITY);
    let rank = logits.iter().filter(|&&l| l > own).count();
    let final_prob = trace
        .candidates
        .iter()
        .find(|c| c.id == id)
        .map_or(0.0, |c| c.final_p);
    Chosen {
        id,
        raw_prob: raw,
        final_prob,
        rank,
        draw: None,
    }
}

/// Probabilities of the traced candidates under each sweep temperature (full-vocabulary
/// softmax).
pub fn temperature_sweep(
    logits: &[f32],
    trace: &StepTrace,
    current: f32,
) -> Vec<TemperatureColumn> {
    let mut temps = SWEEP_TEMPERATURES.to_vec();
    if current > 0.0 && !temps.iter().any(|&t| (t - current).abs() < 1e-6) {
        temps.push(current);
    }
    let mut tempered = Tempered::new(logits);
    temps
        .into_iter()
        .map(|t| TemperatureColumn {
            temperature: t,
            probs: tempered.probs(t, trace.candidates.iter().map(|c| c.id)),
        })
        .collect()
}
