//! The knobs of the sampler chain, as one serde value shared by the CLI, the engine and the TUI.

use serde::{Deserialize, Serialize};

use super::contrast::{ContrastKnobs, DolaLayers};
use super::crowd::Combine;
use super::grammar::GrammarSpec;
use super::stage::{DEFAULT_ORDER, STAGE_NAMES};
use super::steer::SteerKnobs;

/// Every knob of the sampler chain. `None` (or the neutral value) disables a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplerConfig {
    /// Softmax temperature; 1.0 is neutral, 0.0 means greedy.
    pub temperature: f32,
    pub top_k: Option<usize>,
    pub top_p: Option<f32>,
    pub min_p: Option<f32>,
    pub epsilon: Option<f32>,
    pub eta: Option<f32>,
    pub typical_p: Option<f32>,
    /// HF repetition penalty (1.0 neutral).
    pub repetition_penalty: f32,
    /// OpenAI frequency penalty (0.0 neutral).
    pub frequency_penalty: f32,
    /// OpenAI presence penalty (0.0 neutral).
    pub presence_penalty: f32,
    /// Ban any token that would complete an n-gram already in the sequence.
    pub no_repeat_ngram: Option<usize>,
    /// Additive logit bias per token id.
    pub logit_bias: Vec<(u32, f32)>,
    /// Banned token sequences (already tokenised); a single-token sequence bans that token.
    pub bad_words: Vec<Vec<u32>>,
    /// Always take the most probable token of the final distribution.
    pub greedy: bool,
    /// Stage order, by stage name.
    pub order: Vec<String>,
    /// Seed of the sequence's RNG.
    pub seed: u64,
    /// Least number of candidates every truncation stage keeps (HF `min_tokens_to_keep`).
    #[serde(default = "one")]
    pub min_keep: usize,
    /// Contrastive decoding against the session's amateur.
    #[serde(default)]
    pub contrast: Option<ContrastKnobs>,
    /// DoLa over these premature layers.
    #[serde(default)]
    pub dola_layers: Option<DolaLayers>,
    /// Contrastive search's α: it runs when `> 0` and `top_k > 1` (Hugging Face's switch),
    /// choosing among the top-k by confidence minus degeneration penalty.
    #[serde(default)]
    pub penalty_alpha: Option<f32>,
    /// Output ensembling with the session's other members, combined this way.
    #[serde(default)]
    pub ensemble: Option<Combine>,
    /// A constraint on the output (a regex, a JSON schema or a Lark grammar): the `grammar`
    /// stage removes the tokens it forbids.
    #[serde(default)]
    pub grammar: Option<GrammarSpec>,
    /// FUDGE: the probe file, λ and the candidates scored (`fudge` stage).
    #[serde(default)]
    pub fudge: Option<SteerKnobs>,
    /// Reward-augmented decoding: the reward, β and the candidates scored (`rad` stage).
    #[serde(default)]
    pub rad: Option<SteerKnobs>,
}

fn one() -> usize {
    1
}

/// Hugging Face `generate`'s sampling defaults (temperature 1.0, top-k 50, top-p 1.0 i.e. off,
/// no penalties), sampled rather than greedy, seed 0, the [`DEFAULT_ORDER`].
impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 1.0,
            top_k: Some(50),
            top_p: None,
            min_p: None,
            epsilon: None,
            eta: None,
            typical_p: None,
            repetition_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            no_repeat_ngram: None,
            logit_bias: Vec::new(),
            bad_words: Vec::new(),
            greedy: false,
            order: DEFAULT_ORDER.iter().map(|s| s.to_string()).collect(),
            seed: 0,
            min_keep: 1,
            contrast: None,
            dola_layers: None,
            penalty_alpha: None,
            ensemble: None,
            grammar: None,
            fudge: None,
            rad: None,
        }
    }
}

impl SamplerConfig {
    /// Whether the choice is greedy (`greedy`, or temperature 0).
    pub fn is_greedy(&self) -> bool {
        self.greedy || self.temperature == 0.0
    }

    /// Whether contrastive search chooses the tokens (`penalty_alpha > 0` and `top_k > 1`).
    pub fn contrastive_search(&self) -> Option<(f32, usize)> {
        match (self.penalty_alpha, self.top_k) {
            (Some(a), Some(k)) if a > 0.0 && k > 1 => Some((a, k)),
            _ => None,
        }
    }

    /// Rejects impossible values with a one-line message naming the knob and the value.
    pub fn validate(&self) -> Result<(), String> {
        let t = self.temperature;
        if !(t >= 0.0 && t.is_finite()) {
            return Err(format!("temperature must be a finite number >= 0, got {t}"));
        }
        if self.top_k == Some(0) {
            return Err("top_k must be >= 1, got 0".into());
        }
        check(self.top_p, "top_p", "(0, 1]", |x| x > 0.0 && x <= 1.0)?;
        check(self.min_p, "min_p", "[0, 1]", |x| (0.0..=1.0).contains(&x))?;
        check(self.epsilon, "epsilon", "[0, 1)", |x| {
            (0.0..1.0).contains(&x)
        })?;
        check(self.eta, "eta", "[0, 1)", |x| (0.0..1.0).contains(&x))?;
        check(self.typical_p, "typical_p", "(0, 1]", |x| {
            x > 0.0 && x <= 1.0
        })?;
        let r = self.repetition_penalty;
        if !(r > 0.0 && r.is_finite()) {
            return Err(format!("repetition_penalty must be > 0, got {r}"));
        }
        for (name, v) in [
            ("frequency_penalty", self.frequency_penalty),
            ("presence_penalty", self.presence_penalty),
        ] {
            if !v.is_finite() {
                return Err(format!("{name} must be finite, got {v}"));
            }
        }
        if self.no_repeat_ngram == Some(0) {
            return Err("no_repeat_ngram must be >= 1, got 0".into());
        }
        if let Some(k) = self.contrast {
            if !(k.alpha > 0.0 && k.alpha <= 1.0) {
                return Err(format!("cd_alpha must be in (0, 1], got {}", k.alpha));
            }
            let t = k.amateur_temperature;
            if !(t > 0.0 && t.is_finite()) {
                return Err(format!("amateur_temperature must be > 0, got {t}"));
            }
        }
        check(self.penalty_alpha, "penalty_alpha", "[0, 1]", |x| {
            (0.0..=1.0).contains(&x)
        })?;
        if let Some(g) = &self.grammar {
            g.validate()?;
        }
        if let Some(f) = &self.fudge {
            f.validate("fudge")?;
        }
        if let Some(r) = &self.rad {
            r.validate("reward")?;
        }
        if self.min_keep == 0 {
            return Err("min_keep must be >= 1, got 0".into());
        }
        if let Some(&(id, b)) = self
            .logit_bias
            .iter()
            .find(|(_, b)| b.is_nan() || *b == f32::INFINITY)
        {
            return Err(format!(
                "logit_bias for token {id} must be finite or -inf, got {b}"
            ));
        }
        let mut ids: Vec<u32> = self.logit_bias.iter().map(|&(id, _)| id).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("logit_bias lists token {} twice", w[0]));
        }
        if self.bad_words.iter().any(|s| s.is_empty()) {
            return Err("bad_words contains an empty sequence".into());
        }
        for (i, name) in self.order.iter().enumerate() {
            if !STAGE_NAMES.contains(&name.as_str()) {
                return Err(format!(
                    "unknown sampler stage {name:?} in order (known: {})",
                    STAGE_NAMES.join(",")
                ));
            }
            if self.order[..i].contains(name) {
                return Err(format!("sampler stage {name:?} appears twice in order"));
            }
        }
        Ok(())
    }
}

/// Checks an optional knob against its allowed range.
fn check(v: Option<f32>, name: &str, range: &str, ok: impl Fn(f32) -> bool) -> Result<(), String> {
    match v {
        Some(x) if !ok(x) => Err(format!("{name} must be in {range}, got {x}")),
        _ => Ok(()),
    }
}
