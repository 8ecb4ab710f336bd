//! Steering toward an attribute: FUDGE (Yang & Klein 2021) and reward-augmented decoding
//! (RAD, Deng & Raffel 2023).
//!
//! Both look at the `k` most probable candidates x of the distribution entering the stage
//! and score each continuation prefix + x: FUDGE with an attribute classifier's
//! log P(a | prefix + x), RAD with a reward r(prefix + x). The new logit of a candidate is its
//! log-probability plus λ·log P(a | ·) (FUDGE) or β·r (RAD); every other candidate is removed.
//!
//! Pure: the engine runs the classifier or reward on the candidates (one batched forward of
//! prefix + x for a probe) and hands the scores over in the step's
//! [`Signals`](super::contrast::Signals); the stages only combine them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::candidates::Candidates;
use super::spec::{neutral, off_or, step, KnobSpec, StageSpec, ThresholdKind};
use super::stage::{Effect, History, Stage};
use super::trace::{StageDetail, SteerRow};

/// Default number of candidates scored (`--fudge-topk`, `--reward-topk`).
pub const DEFAULT_STEER_TOPK: usize = 100;

/// The knobs of one steering stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteerKnobs {
    /// FUDGE: the probe file. RAD: the reward, `probe:FILE` or `lexicon:sentiment`.
    pub spec: String,
    /// λ (FUDGE) or β (RAD).
    pub weight: f32,
    /// How many of the most probable candidates are scored and kept.
    pub top_k: usize,
}

impl SteerKnobs {
    /// Rejects an empty spec, a non-finite weight and `top_k == 0`, naming the flag.
    pub fn validate(&self, flag: &str) -> Result<(), String> {
        if self.spec.trim().is_empty() {
            return Err(format!("--{flag} is empty"));
        }
        if !self.weight.is_finite() {
            return Err(format!(
                "--{flag}: the weight must be finite, got {}",
                self.weight
            ));
        }
        if self.top_k == 0 {
            return Err(format!("--{flag}: top-k must be >= 1, got 0"));
        }
        if flag == "reward" {
            RewardSpec::parse(&self.spec)?;
        }
        Ok(())
    }
}

/// What RAD's reward is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewardSpec {
    /// A probe's probability of its attribute, P(a | prefix + x), in [0, 1].
    Probe(String),
    /// The summed word valence of the generated text under a lexicon (`sentiment`: VADER's
    /// valences divided by 4, so each word scores in [-1, 1]).
    Lexicon(String),
}

/// The lexicons `lexicon:NAME` knows.
pub const LEXICONS: [&str; 1] = ["sentiment"];

impl RewardSpec {
    /// Parses `probe:FILE` or `lexicon:NAME`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        match spec.split_once(':') {
            Some(("probe", f)) if !f.is_empty() => Ok(RewardSpec::Probe(f.to_string())),
            Some(("lexicon", n)) if LEXICONS.contains(&n) => Ok(RewardSpec::Lexicon(n.into())),
            Some(("lexicon", n)) => Err(format!(
                "--reward lexicon:{n}: unknown lexicon (known: {})",
                LEXICONS.join(", ")
            )),
            _ => Err(format!(
                "--reward {spec}: expected probe:FILE or lexicon:sentiment"
            )),
        }
    }
}

/// Per-candidate scores the engine computed for a steering stage: `scores[i]` belongs to
/// `ids[i]`; ids are the most probable candidates first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SteerScores {
    pub ids: Vec<u32>,
    pub scores: Vec<f32>,
}

/// Which steering method a [`Steer`] stage runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SteerKind {
    /// FUDGE: logit = log p + λ·log P(a | prefix + x).
    Fudge,
    /// RAD: logit = log p + β·r(prefix + x).
    Rad,
}

/// The `fudge` or `rad` stage.
pub struct Steer {
    pub kind: SteerKind,
    pub knobs: SteerKnobs,
}

impl Stage for Steer {
    fn name(&self) -> &'static str {
        match self.kind {
            SteerKind::Fudge => FUDGE.name,
            SteerKind::Rad => RAD.name,
        }
    }

    fn params(&self) -> String {
        let w = match self.kind {
            SteerKind::Fudge => "lambda",
            SteerKind::Rad => "beta",
        };
        format!("{w}={} k={}", self.knobs.weight, self.knobs.top_k)
    }

    fn apply(&self, c: &mut Candidates, history: History<'_>) -> Effect {
        let scores = history.signals.and_then(|s| match self.kind {
            SteerKind::Fudge => s.fudge.as_ref(),
            SteerKind::Rad => s.rad.as_ref(),
        });
        let Some(scores) = scores else {
            return Effect::default();
        };
        let rows = steer(c, scores, self.knobs.weight, self.knobs.top_k);
        Effect {
            threshold: Some(self.knobs.weight),
            prefix: false,
            detail: Some(StageDetail::Steer { rows }),
        }
    }
}

/// The core of both stages: keeps the `top_k` most probable live candidates that have a
/// score, sets each one's logit to its log-probability (under the entering set) plus
/// `weight · score`, and returns their rows, best combined first.
pub fn steer(c: &mut Candidates, scores: &SteerScores, weight: f32, top_k: usize) -> Vec<SteerRow> {
    let by_id: HashMap<u32, f32> = scores
        .ids
        .iter()
        .copied()
        .zip(scores.scores.iter().copied())
        .collect();
    let log_z = c.log_z();
    c.retain_where(|_, x| by_id.contains_key(&x.id));
    c.truncate_ranked(top_k);
    let mut rows = Vec::with_capacity(c.len());
    for x in c.logits_mut() {
        let lm = (x.logit as f64 - log_z) as f32;
        let score = by_id[&x.id];
        let combined = (lm as f64 + weight as f64 * score as f64) as f32;
        x.logit = combined;
        rows.push(SteerRow {
            id: x.id,
            lm_logprob: lm,
            score,
            combined,
        });
    }
    rows.sort_by(|a, b| b.combined.total_cmp(&a.combined).then(a.id.cmp(&b.id)));
    rows
}

/// `fudge`: + λ·log P(attribute | prefix + x) on the top-k (a probe given with `--fudge`).
pub const FUDGE: StageSpec = StageSpec {
    name: "fudge",
    abbrev: "fudge",
    threshold: ThresholdKind::Own,
    build: |c| {
        c.fudge.clone().map(|knobs| {
            Box::new(Steer {
                kind: SteerKind::Fudge,
                knobs,
            }) as Box<dyn Stage>
        })
    },
    // Steering needs a probe named at launch; without one the knob does nothing.
    knobs: &[KnobSpec {
        label: "fudge λ",
        hint: "FUDGE: + λ·log P(attribute) on the top-k (--fudge)",
        rank: 18,
        enabled: |c| c.fudge.is_some(),
        value: |c| off_or(c.fudge.as_ref(), |k| format!("{:.2}", k.weight)),
        adjust: |c, up| {
            if let Some(k) = c.fudge.as_mut() {
                k.weight = step(k.weight, up, 0.25, -5.0, 20.0);
            }
        },
        toggle: |c, back| {
            c.fudge
                .as_mut()
                .and_then(|k| neutral(&mut k.weight, 0.0, back, 1.0))
        },
    }],
};

/// `rad`: + β·reward(prefix + x) on the top-k (a reward given with `--reward`).
pub const RAD: StageSpec = StageSpec {
    name: "rad",
    abbrev: "rad",
    threshold: ThresholdKind::Own,
    build: |c| {
        c.rad.clone().map(|knobs| {
            Box::new(Steer {
                kind: SteerKind::Rad,
                knobs,
            }) as Box<dyn Stage>
        })
    },
    // Steering needs a reward named at launch; without one the knob does nothing.
    knobs: &[KnobSpec {
        label: "reward β",
        hint: "RAD: + β·reward on the top-k (--reward)",
        rank: 19,
        enabled: |c| c.rad.is_some(),
        value: |c| off_or(c.rad.as_ref(), |k| format!("{:.1}", k.weight)),
        adjust: |c, up| {
            if let Some(k) = c.rad.as_mut() {
                k.weight = step(k.weight, up, 1.0, -50.0, 100.0);
            }
        },
        toggle: |c, back| {
            c.rad
                .as_mut()
                .and_then(|k| neutral(&mut k.weight, 0.0, back, 10.0))
        },
    }],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reward_specs_parse() {
        assert_eq!(
            RewardSpec::parse("probe:a.json"),
            Ok(RewardSpec::Probe("a.json".into()))
        );
        assert_eq!(
            RewardSpec::parse("lexicon:sentiment"),
            Ok(RewardSpec::Lexicon("sentiment".into()))
        );
        assert!(RewardSpec::parse("lexicon:joy")
            .unwrap_err()
            .contains("unknown lexicon"));
        assert!(RewardSpec::parse("probe:").is_err());
        assert!(RewardSpec::parse("bleu").is_err());
    }

    #[test]
    fn knobs_validate() {
        let k = SteerKnobs {
            spec: "x".into(),
            weight: 1.0,
            top_k: 0,
        };
        assert!(k.validate("fudge").unwrap_err().contains("top-k"));
        let k = SteerKnobs {
            top_k: 3,
            weight: f32::NAN,
            ..k
        };
        assert!(k.validate("fudge").unwrap_err().contains("finite"));
    }
}
