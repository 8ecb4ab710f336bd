//! The sampler knobs as the knob panel lists them: how each is shown, stepped and toggled.

use crate::decode::config::SamplerConfig;
use crate::decode::contrast::{ContrastKnobs, DolaLayers};

/// One adjustable knob of [`SamplerConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knob {
    Temperature,
    TopK,
    TopP,
    MinP,
    Epsilon,
    Eta,
    TypicalP,
    RepetitionPenalty,
    FrequencyPenalty,
    PresencePenalty,
    NoRepeatNgram,
    /// Contrastive decoding's amateur: off, the loaded model, or the target's first L layers.
    Amateur,
    /// Contrastive decoding's plausibility α.
    CdAlpha,
    /// DoLa's candidate layers: off, low, high.
    Dola,
    /// Contrastive search's α (with top-k > 1).
    PenaltyAlpha,
    Mode,
    Seed,
    Order,
    /// FUDGE's λ (with a probe given at launch, `--fudge`).
    FudgeLambda,
    /// RAD's β (with a reward given at launch, `--reward`).
    RewardBeta,
}

/// The amateur layer contrastive decoding starts from when switched on in the TUI.
const DEFAULT_AMATEUR_LAYER: usize = 8;

/// Values the logarithmic knobs (epsilon, eta) step through.
const LOG_LADDER: [f32; 9] = [1e-5, 3e-5, 1e-4, 3e-4, 6e-4, 1e-3, 2e-3, 4e-3, 9e-3];

impl Knob {
    /// Every knob, in panel order.
    pub const ALL: [Knob; 20] = [
        Knob::Temperature,
        Knob::TopK,
        Knob::TopP,
        Knob::MinP,
        Knob::Epsilon,
        Knob::Eta,
        Knob::TypicalP,
        Knob::RepetitionPenalty,
        Knob::FrequencyPenalty,
        Knob::PresencePenalty,
        Knob::NoRepeatNgram,
        Knob::Amateur,
        Knob::CdAlpha,
        Knob::Dola,
        Knob::PenaltyAlpha,
        Knob::Mode,
        Knob::Seed,
        Knob::Order,
        Knob::FudgeLambda,
        Knob::RewardBeta,
    ];

    /// Short label for the panel.
    pub fn label(self) -> &'static str {
        match self {
            Knob::Temperature => "temperature",
            Knob::TopK => "top-k",
            Knob::TopP => "top-p",
            Knob::MinP => "min-p",
            Knob::Epsilon => "epsilon",
            Knob::Eta => "eta",
            Knob::TypicalP => "typical-p",
            Knob::RepetitionPenalty => "repetition",
            Knob::FrequencyPenalty => "frequency",
            Knob::PresencePenalty => "presence",
            Knob::NoRepeatNgram => "no-repeat n",
            Knob::Amateur => "amateur",
            Knob::CdAlpha => "cd alpha",
            Knob::Dola => "dola",
            Knob::PenaltyAlpha => "penalty α",
            Knob::Mode => "mode",
            Knob::Seed => "seed",
            Knob::Order => "order",
            Knob::FudgeLambda => "fudge λ",
            Knob::RewardBeta => "reward β",
        }
    }

    /// One-line explanation shown under the panel for the selected knob.
    pub fn hint(self) -> &'static str {
        match self {
            Knob::Temperature => "divide logits by T: <1 peaks, >1 flattens",
            Knob::TopK => "keep the k most probable tokens",
            Knob::TopP => "keep the smallest head with mass >= p",
            Knob::MinP => "drop tokens below min-p x top-1",
            Knob::Epsilon => "drop tokens below an absolute probability",
            Knob::Eta => "entropy-dependent epsilon cutoff",
            Knob::TypicalP => "keep tokens near the expected surprise",
            Knob::RepetitionPenalty => "divide logits of seen tokens (HF)",
            Knob::FrequencyPenalty => "subtract per occurrence (OpenAI)",
            Knob::PresencePenalty => "subtract once if seen (OpenAI)",
            Knob::NoRepeatNgram => "ban tokens completing a seen n-gram",
            Knob::Amateur => "contrastive decoding: minus log p of the first L layers",
            Knob::CdAlpha => "contrast only tokens with p >= alpha x top-1",
            Knob::Dola => "DoLa: contrast with the most divergent early layer",
            Knob::PenaltyAlpha => "contrastive search: confidence vs similarity (top-k)",
            Knob::Mode => "greedy takes the top final token",
            Knob::Seed => "seed of the sampling RNG",
            Knob::Order => "+/- moves temperature through the chain",
            Knob::FudgeLambda => "FUDGE: + λ·log P(attribute) on the top-k (--fudge)",
            Knob::RewardBeta => "RAD: + β·reward on the top-k (--reward)",
        }
    }

    /// Whether the knob's stage is active under `c`.
    pub fn enabled(self, c: &SamplerConfig) -> bool {
        match self {
            Knob::Temperature => c.temperature != 1.0,
            Knob::TopK => c.top_k.is_some(),
            Knob::TopP => c.top_p.is_some(),
            Knob::MinP => c.min_p.is_some(),
            Knob::Epsilon => c.epsilon.is_some(),
            Knob::Eta => c.eta.is_some(),
            Knob::TypicalP => c.typical_p.is_some(),
            Knob::RepetitionPenalty => c.repetition_penalty != 1.0,
            Knob::FrequencyPenalty => c.frequency_penalty != 0.0,
            Knob::PresencePenalty => c.presence_penalty != 0.0,
            Knob::NoRepeatNgram => c.no_repeat_ngram.is_some(),
            Knob::Amateur | Knob::CdAlpha => c.contrast.is_some(),
            Knob::Dola => c.dola_layers.is_some(),
            Knob::PenaltyAlpha => c.contrastive_search().is_some(),
            Knob::Mode => c.greedy,
            Knob::Seed | Knob::Order => true,
            Knob::FudgeLambda => c.fudge.is_some(),
            Knob::RewardBeta => c.rad.is_some(),
        }
    }

    /// The knob's value under `c`, as shown in the panel.
    pub fn value(self, c: &SamplerConfig) -> String {
        fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
            v.map(f).unwrap_or_else(|| "off".to_string())
        }
        match self {
            Knob::Temperature => format!("{:.2}", c.temperature),
            Knob::TopK => opt(c.top_k, |k| k.to_string()),
            Knob::TopP => opt(c.top_p, |p| format!("{p:.2}")),
            Knob::MinP => opt(c.min_p, |p| format!("{p:.2}")),
            Knob::Epsilon => opt(c.epsilon, |p| format!("{p:.0e}")),
            Knob::Eta => opt(c.eta, |p| format!("{p:.0e}")),
            Knob::TypicalP => opt(c.typical_p, |p| format!("{p:.2}")),
            Knob::RepetitionPenalty => format!("{:.2}", c.repetition_penalty),
            Knob::FrequencyPenalty => format!("{:.1}", c.frequency_penalty),
            Knob::PresencePenalty => format!("{:.1}", c.presence_penalty),
            Knob::NoRepeatNgram => opt(c.no_repeat_ngram, |n| n.to_string()),
            Knob::Amateur => opt(c.contrast, |k| match k.amateur_layer {
                Some(l) => format!("self:{l}"),
                None => "model".to_string(),
            }),
            Knob::CdAlpha => opt(c.contrast, |k| format!("{:.2}", k.alpha)),
            Knob::Dola => opt(c.dola_layers.as_ref(), |d| d.to_string()),
            Knob::PenaltyAlpha => opt(c.penalty_alpha, |a| format!("{a:.2}")),
            Knob::Mode => if c.greedy { "greedy" } else { "sample" }.to_string(),
            Knob::Seed => c.seed.to_string(),
            Knob::Order => order_summary(&c.order),
            Knob::FudgeLambda => opt(c.fudge.as_ref(), |k| format!("{:.2}", k.weight)),
            Knob::RewardBeta => opt(c.rad.as_ref(), |k| format!("{:.1}", k.weight)),
        }
    }

    /// Step the knob up (`dir > 0`) or down; a disabled optional knob is switched on first.
    pub fn adjust(self, c: &mut SamplerConfig, dir: i32) {
        let up = dir > 0;
        let step = |v: f32, d: f32, lo: f32, hi: f32| {
            let v = if up { v + d } else { v - d };
            ((v / d).round() * d).clamp(lo, hi)
        };
        match self {
            Knob::Temperature => c.temperature = step(c.temperature, 0.05, 0.0, 5.0),
            Knob::TopK => {
                c.top_k = Some(match c.top_k {
                    None => 40,
                    Some(k) => {
                        let d = if k < 10 || (k == 10 && !up) {
                            1
                        } else if k < 50 || (k == 50 && !up) {
                            5
                        } else {
                            10
                        };
                        if up {
                            k + d
                        } else {
                            k.saturating_sub(d).max(1)
                        }
                    }
                })
            }
            Knob::TopP => c.top_p = Some(c.top_p.map_or(0.9, |p| step(p, 0.05, 0.05, 1.0))),
            Knob::MinP => c.min_p = Some(c.min_p.map_or(0.05, |p| step(p, 0.01, 0.01, 1.0))),
            Knob::Epsilon => c.epsilon = Some(c.epsilon.map_or(3e-4, |p| ladder(p, up))),
            Knob::Eta => c.eta = Some(c.eta.map_or(6e-4, |p| ladder(p, up))),
            Knob::TypicalP => {
                c.typical_p = Some(c.typical_p.map_or(0.95, |p| step(p, 0.05, 0.05, 1.0)))
            }
            Knob::RepetitionPenalty => {
                c.repetition_penalty = step(c.repetition_penalty, 0.05, 0.5, 3.0)
            }
            Knob::FrequencyPenalty => {
                c.frequency_penalty = step(c.frequency_penalty, 0.1, -2.0, 2.0)
            }
            Knob::PresencePenalty => c.presence_penalty = step(c.presence_penalty, 0.1, -2.0, 2.0),
            Knob::NoRepeatNgram => {
                c.no_repeat_ngram = Some(match c.no_repeat_ngram {
                    None => 3,
                    Some(n) if up => (n + 1).min(10),
                    Some(n) => n.saturating_sub(1).max(1),
                })
            }
            Knob::Amateur => {
                let k = c.contrast.get_or_insert_with(ContrastKnobs::default);
                k.amateur_layer = Some(match k.amateur_layer {
                    None => DEFAULT_AMATEUR_LAYER,
                    Some(l) if up => l + 1,
                    Some(l) => l.saturating_sub(1).max(1),
                });
            }
            Knob::CdAlpha => {
                let k = c.contrast.get_or_insert_with(|| ContrastKnobs {
                    amateur_layer: Some(DEFAULT_AMATEUR_LAYER),
                    ..ContrastKnobs::default()
                });
                k.alpha = step(k.alpha, 0.05, 0.05, 1.0);
            }
            Knob::Dola => {
                c.dola_layers = match (&c.dola_layers, up) {
                    (None, _) => Some(DolaLayers::High),
                    (Some(DolaLayers::Low), true) | (Some(DolaLayers::High), false) => {
                        Some(DolaLayers::Low)
                    }
                    _ => Some(DolaLayers::High),
                }
            }
            Knob::PenaltyAlpha => {
                c.penalty_alpha = Some(c.penalty_alpha.map_or(0.6, |a| step(a, 0.05, 0.0, 1.0)))
            }
            Knob::Mode => c.greedy = !c.greedy,
            Knob::Seed => {
                c.seed = if up {
                    c.seed.wrapping_add(1)
                } else {
                    c.seed.wrapping_sub(1)
                }
            }
            Knob::Order => move_temperature(&mut c.order, up),
            // Steering needs a probe or reward named at launch; without one these do nothing.
            Knob::FudgeLambda => {
                if let Some(k) = c.fudge.as_mut() {
                    k.weight = step(k.weight, 0.25, -5.0, 20.0);
                }
            }
            Knob::RewardBeta => {
                if let Some(k) = c.rad.as_mut() {
                    k.weight = step(k.weight, 1.0, -50.0, 100.0);
                }
            }
        }
    }

    /// Switch an optional knob off, or back on at `remembered` (or its default step-on value).
    /// Returns the value that was switched off, for the caller to remember.
    pub fn toggle(self, c: &mut SamplerConfig, remembered: Option<f32>) -> Option<f32> {
        fn flip<T: Copy>(slot: &mut Option<T>, back: Option<T>, on: T) -> Option<T> {
            match slot.take() {
                Some(v) => Some(v),
                None => {
                    *slot = Some(back.unwrap_or(on));
                    None
                }
            }
        }
        fn neutral(slot: &mut f32, neutral: f32, back: Option<f32>, on: f32) -> Option<f32> {
            if *slot != neutral {
                Some(std::mem::replace(slot, neutral))
            } else {
                *slot = back.unwrap_or(on);
                None
            }
        }
        let usize_back = remembered.map(|v| v as usize);
        match self {
            Knob::Temperature => neutral(&mut c.temperature, 1.0, remembered, 0.7),
            Knob::TopK => flip(&mut c.top_k, usize_back, 40).map(|v| v as f32),
            Knob::TopP => flip(&mut c.top_p, remembered, 0.9),
            Knob::MinP => flip(&mut c.min_p, remembered, 0.05),
            Knob::Epsilon => flip(&mut c.epsilon, remembered, 3e-4),
            Knob::Eta => flip(&mut c.eta, remembered, 6e-4),
            Knob::TypicalP => flip(&mut c.typical_p, remembered, 0.95),
            Knob::RepetitionPenalty => neutral(&mut c.repetition_penalty, 1.0, remembered, 1.2),
            Knob::FrequencyPenalty => neutral(&mut c.frequency_penalty, 0.0, remembered, 0.5),
            Knob::PresencePenalty => neutral(&mut c.presence_penalty, 0.0, remembered, 0.5),
            Knob::NoRepeatNgram => flip(&mut c.no_repeat_ngram, usize_back, 3).map(|v| v as f32),
            Knob::Amateur | Knob::CdAlpha => {
                let on = ContrastKnobs {
                    amateur_layer: Some(remembered.map_or(DEFAULT_AMATEUR_LAYER, |l| l as usize)),
                    ..ContrastKnobs::default()
                };
                flip(&mut c.contrast, None, on).and_then(|k| k.amateur_layer.map(|l| l as f32))
            }
            Knob::Dola => {
                if c.dola_layers.take().is_none() {
                    c.dola_layers = Some(DolaLayers::High);
                }
                None
            }
            Knob::PenaltyAlpha => flip(&mut c.penalty_alpha, remembered, 0.6),
            Knob::Mode => {
                c.greedy = !c.greedy;
                None
            }
            Knob::Seed | Knob::Order => None,
            Knob::FudgeLambda => c
                .fudge
                .as_mut()
                .and_then(|k| neutral(&mut k.weight, 0.0, remembered, 1.0)),
            Knob::RewardBeta => c
                .rad
                .as_mut()
                .and_then(|k| neutral(&mut k.weight, 0.0, remembered, 10.0)),
        }
    }
}

fn ladder(v: f32, up: bool) -> f32 {
    let i = LOG_LADDER
        .iter()
        .position(|&x| x >= v * 0.999)
        .unwrap_or(LOG_LADDER.len() - 1);
    let j = if up {
        (i + 1).min(LOG_LADDER.len() - 1)
    } else {
        i.saturating_sub(1)
    };
    LOG_LADDER[j]
}

/// Move the `temperature` stage one place later (`up`) or earlier in the chain.
fn move_temperature(order: &mut [String], up: bool) {
    if let Some(i) = order.iter().position(|s| s == "temperature") {
        let j = if up { i + 1 } else { i.wrapping_sub(1) };
        if j < order.len() {
            order.swap(i, j);
        }
    }
}

/// Compact form of a stage order: `pen›k›p›min›T`.
pub fn order_summary(order: &[String]) -> String {
    order
        .iter()
        .map(|s| stage_abbrev(s))
        .collect::<Vec<_>>()
        .join("›")
}

/// Short name of a chain stage.
pub fn stage_abbrev(name: &str) -> &str {
    match name {
        "logit_bias" => "bias",
        "bans" => "ban",
        "no_repeat_ngram" => "ngram",
        "penalties" => "pen",
        "temperature" => "T",
        "top_k" => "k",
        "top_p" => "p",
        "min_p" => "min",
        "epsilon" => "ε",
        "eta" => "η",
        "typical_p" => "typ",
        "contrast" => "cd",
        "ensemble" => "ens",
        "dola" => "dola",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_sensible() {
        let mut c = SamplerConfig {
            temperature: 0.8,
            ..SamplerConfig::default()
        };
        Knob::Temperature.adjust(&mut c, 1);
        assert!((c.temperature - 0.85).abs() < 1e-6);
        c.top_k = None;
        Knob::TopK.adjust(&mut c, -1);
        assert_eq!(c.top_k, Some(40));
        Knob::TopK.adjust(&mut c, 1);
        assert_eq!(c.top_k, Some(45));
        c.top_k = Some(1);
        Knob::TopK.adjust(&mut c, -1);
        assert_eq!(c.top_k, Some(1));
        c.epsilon = Some(3e-4);
        Knob::Epsilon.adjust(&mut c, 1);
        assert_eq!(c.epsilon, Some(6e-4));
    }

    #[test]
    fn toggle_remembers() {
        let mut c = SamplerConfig {
            top_p: Some(0.8),
            ..SamplerConfig::default()
        };
        let off = Knob::TopP.toggle(&mut c, None);
        assert_eq!((c.top_p, off), (None, Some(0.8)));
        Knob::TopP.toggle(&mut c, off);
        assert_eq!(c.top_p, Some(0.8));
    }

    #[test]
    fn order_moves_temperature() {
        let mut order: Vec<String> = ["top_k", "temperature", "top_p"].map(String::from).to_vec();
        move_temperature(&mut order, true);
        assert_eq!(order_summary(&order), "k›p›T");
        move_temperature(&mut order, true);
        assert_eq!(order_summary(&order), "k›p›T");
    }
}
