//! Output ensembling: combine the next-token distributions of several members (other prompts
//! for the same question, other models with the same vocabulary) at every step.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::decode::candidates::Candidates;
use crate::decode::math::log_softmax;
use crate::decode::spec::{StageSpec, ThresholdKind};
use crate::decode::stage::{Effect, History, Stage};
use crate::decode::trace::{EnsembleRow, StageDetail};

/// Rows of an ensemble kept in a trace (best combined first).
pub const ENSEMBLE_ROWS: usize = 32;

/// How the members' distributions are combined (`--combine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Combine {
    /// The mean of the probabilities (a mixture).
    Mean,
    /// The mean of the log-probabilities, renormalised (a product of experts).
    Product,
}

impl FromStr for Combine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "mean" => Ok(Combine::Mean),
            "product" => Ok(Combine::Product),
            other => Err(format!("--combine {other:?}: expected mean or product")),
        }
    }
}

impl fmt::Display for Combine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Combine::Mean => "mean",
            Combine::Product => "product",
        })
    }
}

/// The ensemble as a stage: the distribution entering it is the first member (the session's
/// own prompt and model); the other members' raw logits come from the step's signals. Each
/// live candidate's logit becomes `ln(mean_m p_m(x))` or `mean_m ln p_m(x)`; a token some
/// member gives probability 0 keeps the mixture's value but leaves the product.
pub struct Ensemble {
    pub combine: Combine,
}

impl Stage for Ensemble {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn params(&self) -> String {
        format!("combine={}", self.combine)
    }

    fn apply(&self, c: &mut Candidates, history: History<'_>) -> Effect {
        let members: Vec<Vec<f32>> = match history.signals {
            Some(s) if !s.members.is_empty() => s.members.iter().map(|m| log_softmax(m)).collect(),
            _ => return Effect::default(),
        };
        let log_z = c.log_z();
        let n = (members.len() + 1) as f64;
        let mut rows = Vec::with_capacity(c.len());
        if self.combine == Combine::Product {
            c.retain_where(|_, x| {
                members
                    .iter()
                    .all(|m| m.get(x.id as usize).is_some_and(|l| l.is_finite()))
            });
        }
        for x in c.logits_mut() {
            let own = x.logit as f64 - log_z;
            let lps: Vec<f64> = std::iter::once(own)
                .chain(members.iter().map(|m| {
                    m.get(x.id as usize)
                        .map_or(f64::NEG_INFINITY, |&l| l as f64)
                }))
                .collect();
            let combined = match self.combine {
                Combine::Mean => (lps.iter().map(|l| l.exp()).sum::<f64>() / n).ln(),
                Combine::Product => lps.iter().sum::<f64>() / n,
            };
            x.logit = combined as f32;
            rows.push(EnsembleRow {
                id: x.id,
                members: lps.iter().map(|l| l.exp() as f32).collect(),
                combined: x.logit,
            });
        }
        rows.sort_by(|a, b| b.combined.total_cmp(&a.combined).then(a.id.cmp(&b.id)));
        rows.truncate(ENSEMBLE_ROWS);
        Effect {
            threshold: None,
            prefix: false,
            detail: Some(StageDetail::Ensemble { rows }),
        }
    }
}

/// `ensemble`: output ensembling with the session's other members (set on the command line).
pub const SPEC: StageSpec = StageSpec {
    name: "ensemble",
    abbrev: "ens",
    threshold: ThresholdKind::Own,
    build: |c| {
        c.ensemble
            .map(|combine| Box::new(Ensemble { combine }) as Box<dyn Stage>)
    },
    knobs: &[],
};
