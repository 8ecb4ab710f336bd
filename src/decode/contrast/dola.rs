//! DoLa (Chuang et al. 2024): contrast the final layer with the premature layer that differs
//! from it most, with Hugging Face's layer choice, divergence and relative-top filter.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{contrast, LN_TENTH};
use crate::decode::candidates::Candidates;
use crate::decode::math::log_softmax;
use crate::decode::spec::{off_or, KnobSpec, StageSpec, ThresholdKind};
use crate::decode::stage::{Effect, History, Stage};
use crate::decode::trace::StageDetail;

/// Which premature layers DoLa may contrast with (`--dola-layers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DolaLayers {
    /// The lower half (Hugging Face's `"low"`).
    Low,
    /// The upper half (Hugging Face's `"high"`).
    High,
    /// Explicit layer indices (0 = the embedding output).
    List(Vec<usize>),
}

impl DolaLayers {
    /// The candidate layers for a model of `layers` blocks, as Hugging Face picks them: with
    /// tied embeddings the embedding output (an identity through the head) and layer 1 are
    /// skipped; `low` is every second layer from there to `layers / 2`, `high` every second
    /// layer from `layers / 2` (for models over 40 layers: the first / last 20, every second);
    /// a list keeps the indices below `layers`.
    pub fn candidates(&self, layers: usize, tied: bool) -> Vec<usize> {
        let start = if tied { 2 } else { 0 };
        let half = layers / 2;
        match self {
            DolaLayers::Low if start == half => vec![start],
            DolaLayers::Low if layers <= 40 => (start..half).step_by(2).collect(),
            DolaLayers::Low => (start..20).step_by(2).collect(),
            DolaLayers::High if layers <= 40 => (half..layers).step_by(2).collect(),
            DolaLayers::High => (layers - 20..layers).step_by(2).collect(),
            DolaLayers::List(v) => v.iter().copied().filter(|&l| l < layers).collect(),
        }
    }
}

impl FromStr for DolaLayers {
    type Err = String;

    /// `low`, `high` or a comma-separated list of layer indices.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "low" => Ok(DolaLayers::Low),
            "high" => Ok(DolaLayers::High),
            "" => Err("--dola-layers is empty: give low, high or L1,L2,...".into()),
            list => list
                .split(',')
                .map(|x| {
                    x.trim().parse::<usize>().map_err(|_| {
                        format!("--dola-layers: {x:?} is not a layer index (give low, high or L1,L2,...)")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(DolaLayers::List),
        }
    }
}

impl fmt::Display for DolaLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DolaLayers::Low => f.write_str("low"),
            DolaLayers::High => f.write_str("high"),
            DolaLayers::List(v) => {
                let s: Vec<String> = v.iter().map(|l| l.to_string()).collect();
                f.write_str(&s.join(","))
            }
        }
    }
}

/// Hugging Face's DoLa divergence between the final and a premature distribution (both
/// log-probabilities over the vocabulary): with `m = (p + q) / 2`, the mean over the
/// vocabulary of `½ (m · (ln m − ln p) + m · (ln m − ln q))` — `torch.nn.functional.kl_div`'s
/// argument order makes it `KL(m‖p) + KL(m‖q)` rather than the textbook `KL(p‖m) + KL(q‖m)`;
/// the layer choice only compares values, and this is the one `generate` uses.
pub fn divergence(final_lp: &[f32], premature_lp: &[f32]) -> f64 {
    let mut total = 0.0f64;
    for (&a, &b) in final_lp.iter().zip(premature_lp) {
        let (p, q) = ((a as f64).exp(), (b as f64).exp());
        let m = 0.5 * (p + q);
        if m > 0.0 {
            let lm = m.ln();
            let term = |lx: f32| {
                if lx == f32::NEG_INFINITY {
                    0.0
                } else {
                    m * (lm - lx as f64)
                }
            };
            total += 0.5 * (term(a) + term(b));
        }
    }
    total / final_lp.len().max(1) as f64
}

/// The DoLa contrast as a stage: reads the premature layers' logits from the step's signals,
/// picks the one with the largest [`divergence`] from the distribution entering the stage
/// (the first on ties), keeps the tokens with probability at least 0.1 × the best (Hugging
/// Face's `relative_top`), and sets their logits to `log p_final − log p_premature`.
pub struct Dola {
    pub layers: DolaLayers,
    pub min_keep: usize,
}

impl Stage for Dola {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn params(&self) -> String {
        format!("layers={}", self.layers)
    }

    fn apply(&self, c: &mut Candidates, history: History<'_>) -> Effect {
        let premature = match history.signals {
            Some(s) if !s.premature.is_empty() => &s.premature,
            _ => return Effect::default(),
        };
        let vocab = premature[0].1.len();
        let log_z = c.log_z();
        let mut final_lp = vec![f32::NEG_INFINITY; vocab];
        for x in c.items() {
            if let Some(v) = final_lp.get_mut(x.id as usize) {
                *v = (x.logit as f64 - log_z) as f32;
            }
        }
        let mut best: Option<(usize, f64, Vec<f32>)> = None;
        let mut scores = Vec::with_capacity(premature.len());
        for (layer, logits) in premature {
            let lp = log_softmax(logits);
            let d = divergence(&final_lp, &lp);
            scores.push((*layer, d as f32));
            if best.as_ref().is_none_or(|(_, b, _)| d > *b) {
                best = Some((*layer, d, lp));
            }
        }
        let Some((layer, _, base)) = best else {
            return Effect::default();
        };
        let (cut, rows) = contrast(c, LN_TENTH, &base, self.min_keep);
        Effect {
            threshold: Some(cut.exp() as f32),
            prefix: true,
            detail: Some(StageDetail::Contrast {
                rows,
                premature_layer: Some(layer),
                divergence: scores,
            }),
        }
    }
}

/// `dola`: contrast with the most divergent early layer.
pub const SPEC: StageSpec = StageSpec {
    name: "dola",
    abbrev: "dola",
    threshold: ThresholdKind::Own,
    build: |c| {
        c.dola_layers.clone().map(|layers| {
            Box::new(Dola {
                layers,
                min_keep: 1,
            }) as Box<dyn Stage>
        })
    },
    knobs: &[KnobSpec {
        label: "dola",
        hint: "DoLa: contrast with the most divergent early layer",
        rank: 13,
        enabled: |c| c.dola_layers.is_some(),
        value: |c| off_or(c.dola_layers.as_ref(), |d| d.to_string()),
        adjust: |c, up| {
            c.dola_layers = match (&c.dola_layers, up) {
                (None, _) => Some(DolaLayers::High),
                (Some(DolaLayers::Low), true) | (Some(DolaLayers::High), false) => {
                    Some(DolaLayers::Low)
                }
                _ => Some(DolaLayers::High),
            }
        },
        toggle: |c, _| {
            if c.dola_layers.take().is_none() {
                c.dola_layers = Some(DolaLayers::High);
            }
            None
        },
    }],
};
