//! Repetition, frequency and presence penalties, as one stage.

use super::candidates::Candidates;
use super::stage::{Effect, History, Stage};

/// Penalizes tokens already seen.
///
/// - Repetition (HF `RepetitionPenaltyLogitsProcessor`): over the whole history, prompt
///   included (HF's default for decoder-only models), each distinct seen token's logit is
///   divided by `repetition` when positive and multiplied when negative.
/// - Frequency and presence (OpenAI semantics): over the generated tokens only (the prompt is
///   what the user asked about; penalizing it would push the model off-topic),
///   `logit -= count * frequency + (count > 0) * presence`.
///
/// Repetition applies first, then frequency/presence (llama.cpp's order).
pub struct Penalties {
    pub repetition: f32,
    pub frequency: f32,
    pub presence: f32,
}

impl Penalties {
    /// Whether every knob is neutral.
    pub fn is_neutral(&self) -> bool {
        self.repetition == 1.0 && self.frequency == 0.0 && self.presence == 0.0
    }
}

impl Stage for Penalties {
    fn name(&self) -> &'static str {
        "penalties"
    }

    fn params(&self) -> String {
        format!(
            "rep={} freq={} pres={}",
            self.repetition, self.frequency, self.presence
        )
    }

    fn removes(&self) -> bool {
        false
    }

    fn apply(&self, c: &mut Candidates, history: History<'_>) -> Effect {
        let seen = counts(history.tokens);
        let generated = counts(history.generated());
        if seen.is_empty() {
            return Effect::default();
        }
        let index = c.id_index();
        let items = c.logits_mut();
        if self.repetition != 1.0 {
            for &(id, _) in &seen {
                if let Some(pos) = index.get(id) {
                    let l = &mut items[pos].logit;
                    *l = if *l < 0.0 {
                        *l * self.repetition
                    } else {
                        *l / self.repetition
                    };
                }
            }
        }
        if self.frequency != 0.0 || self.presence != 0.0 {
            for &(id, n) in &generated {
                if let Some(pos) = index.get(id) {
                    items[pos].logit -= n as f32 * self.frequency + self.presence;
                }
            }
        }
        Effect::default()
    }
}

/// Distinct ids with their counts, sorted by id.
fn counts(tokens: &[u32]) -> Vec<(u32, u32)> {
    let mut sorted = tokens.to_vec();
    sorted.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for id in sorted {
        match out.last_mut() {
            Some((last, n)) if *last == id => *n += 1,
            _ => out.push((id, 1)),
        }
    }
    out
}
