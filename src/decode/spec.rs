//! Each stage described once: its name, abbreviation, how its threshold reads, how it is built
//! from the knobs, and the knobs the TUI's panel steps. A stage's file exports its
//! [`StageSpec`] as `SPEC`; [`crate::decode::stage::STAGES`] lists them in the default order,
//! and the chain, `--samplers`, the knob panel, the order summary and the distribution
//! panel's cutoff markers are all read from there.

use super::config::SamplerConfig;
use super::stage::Stage;

/// How the distribution panel reads a stage's [`crate::decode::trace::StageTrace::threshold`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdKind {
    /// A number in the stage's own unit (or none): shown in its parameters only.
    Own,
    /// A probability floor: candidates below it were cut (`p≥` in the panel).
    ProbabilityFloor,
}

/// One stage of the chain, described once.
pub struct StageSpec {
    /// The name in `--samplers`, `order` and traces.
    pub name: &'static str,
    /// Short name in the knob panel's order summary.
    pub abbrev: &'static str,
    pub threshold: ThresholdKind,
    /// The stage under `cfg`'s knobs, `None` when they make it neutral.
    pub build: fn(&SamplerConfig) -> Option<Box<dyn Stage>>,
    /// The knobs the TUI's panel shows for it.
    pub knobs: &'static [KnobSpec],
}

/// One knob of the TUI's panel: how it shows, steps and toggles a [`SamplerConfig`].
pub struct KnobSpec {
    /// Short label.
    pub label: &'static str,
    /// One-line explanation.
    pub hint: &'static str,
    /// Position in the panel (ascending).
    pub rank: u8,
    /// Whether its stage is active.
    pub enabled: fn(&SamplerConfig) -> bool,
    /// The value as shown.
    pub value: fn(&SamplerConfig) -> String,
    /// Steps it up (`true`) or down; an optional knob that is off is switched on first.
    pub adjust: fn(&mut SamplerConfig, bool),
    /// Switches it off (returning the value it had, to remember) or back on at the
    /// remembered value or its default.
    pub toggle: fn(&mut SamplerConfig, Option<f32>) -> Option<f32>,
}

/// Knobs that are not a stage's: the choice at the end of the chain, the seed, the order.
pub const CHOICE_KNOBS: &[KnobSpec] = &[
    KnobSpec {
        label: "penalty α",
        hint: "contrastive search: confidence vs similarity (top-k)",
        rank: 14,
        enabled: |c| c.contrastive_search().is_some(),
        value: |c| off_or(c.penalty_alpha, |a| format!("{a:.2}")),
        adjust: |c, up| {
            c.penalty_alpha = Some(c.penalty_alpha.map_or(0.6, |a| step(a, up, 0.05, 0.0, 1.0)))
        },
        toggle: |c, back| flip(&mut c.penalty_alpha, back, 0.6),
    },
    KnobSpec {
        label: "mode",
        hint: "greedy takes the top final token",
        rank: 15,
        enabled: |c| c.greedy,
        value: |c| if c.greedy { "greedy" } else { "sample" }.to_string(),
        adjust: |c, _| c.greedy = !c.greedy,
        toggle: |c, _| {
            c.greedy = !c.greedy;
            None
        },
    },
    KnobSpec {
        label: "seed",
        hint: "seed of the sampling RNG",
        rank: 16,
        enabled: |_| true,
        value: |c| c.seed.to_string(),
        adjust: |c, up| {
            c.seed = if up {
                c.seed.wrapping_add(1)
            } else {
                c.seed.wrapping_sub(1)
            }
        },
        toggle: |_, _| None,
    },
    KnobSpec {
        label: "order",
        hint: "+/- moves temperature through the chain",
        rank: 17,
        enabled: |_| true,
        value: |c| order_summary(&c.order),
        adjust: |c, up| move_stage(&mut c.order, "temperature", up),
        toggle: |_, _| None,
    },
];

/// `v` stepped by `d` up or down, rounded to a multiple of `d`, clamped to `[lo, hi]`.
pub fn step(v: f32, up: bool, d: f32, lo: f32, hi: f32) -> f32 {
    let v = if up { v + d } else { v - d };
    ((v / d).round() * d).clamp(lo, hi)
}

/// The next value on a logarithmic `ladder` above (`up`) or below `v`.
pub fn ladder(ladder: &[f32], v: f32, up: bool) -> f32 {
    let i = ladder
        .iter()
        .position(|&x| x >= v * 0.999)
        .unwrap_or(ladder.len() - 1);
    let j = if up {
        (i + 1).min(ladder.len() - 1)
    } else {
        i.saturating_sub(1)
    };
    ladder[j]
}

/// Toggles an optional knob: takes its value out (returned), or puts back `back` or `on`.
pub fn flip<T: Copy>(slot: &mut Option<T>, back: Option<T>, on: T) -> Option<T> {
    match slot.take() {
        Some(v) => Some(v),
        None => {
            *slot = Some(back.unwrap_or(on));
            None
        }
    }
}

/// Toggles a knob with a neutral value: sets it to `neutral` (returning the old value), or
/// back to `back` or `on`.
pub fn neutral(slot: &mut f32, neutral: f32, back: Option<f32>, on: f32) -> Option<f32> {
    if *slot != neutral {
        Some(std::mem::replace(slot, neutral))
    } else {
        *slot = back.unwrap_or(on);
        None
    }
}

/// `off`, or the value formatted.
pub fn off_or<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "off".to_string())
}

/// Moves stage `name` one place later (`up`) or earlier in `order`.
pub fn move_stage(order: &mut [String], name: &str, up: bool) {
    if let Some(i) = order.iter().position(|s| s == name) {
        let j = if up { i + 1 } else { i.wrapping_sub(1) };
        if j < order.len() {
            order.swap(i, j);
        }
    }
}

/// Compact form of a stage order, from the stages' abbreviations: `pen›k›p›min›T`.
pub fn order_summary(order: &[String]) -> String {
    order
        .iter()
        .map(|s| super::stage::spec(s).map_or(s.as_str(), |spec| spec.abbrev))
        .collect::<Vec<_>>()
        .join("›")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_moves_temperature() {
        let mut order: Vec<String> = ["top_k", "temperature", "top_p"].map(String::from).to_vec();
        move_stage(&mut order, "temperature", true);
        assert_eq!(order_summary(&order), "k›p›T");
        move_stage(&mut order, "temperature", true);
        assert_eq!(order_summary(&order), "k›p›T");
    }

    #[test]
    fn toggles_remember() {
        let mut slot = Some(0.8);
        let off = flip(&mut slot, None, 0.9);
        assert_eq!((slot, off), (None, Some(0.8)));
        flip(&mut slot, off, 0.9);
        assert_eq!(slot, Some(0.8));
        let mut t = 0.7;
        let off = neutral(&mut t, 1.0, None, 0.5);
        assert_eq!((t, off), (1.0, Some(0.7)));
        neutral(&mut t, 1.0, off, 0.5);
        assert_eq!(t, 0.7);
    }
}
