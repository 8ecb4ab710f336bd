//! The knob panel's knobs: those of every stage's [`StageSpec`](crate::decode::spec::StageSpec)
//! plus the choice knobs, in panel order; how each shows, steps and toggles is in its
//! [`KnobSpec`].

use std::sync::OnceLock;

use crate::decode::config::SamplerConfig;
use crate::decode::spec::{KnobSpec, CHOICE_KNOBS};
use crate::decode::stage::STAGES;

/// One adjustable knob of [`SamplerConfig`].
#[derive(Clone, Copy)]
pub struct Knob(&'static KnobSpec);

impl PartialEq for Knob {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl std::fmt::Debug for Knob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Knob({})", self.0.label)
    }
}

impl Knob {
    /// Every knob, in panel order.
    pub fn all() -> &'static [Knob] {
        static ALL: OnceLock<Vec<Knob>> = OnceLock::new();
        ALL.get_or_init(|| {
            let mut all: Vec<Knob> = STAGES
                .iter()
                .flat_map(|s| s.knobs.iter())
                .chain(CHOICE_KNOBS)
                .map(Knob)
                .collect();
            all.sort_by_key(|k| k.0.rank);
            all
        })
    }

    /// The knob labelled `label`.
    pub fn named(label: &str) -> Option<Knob> {
        Knob::all().iter().copied().find(|k| k.label() == label)
    }

    /// Short label for the panel.
    pub fn label(self) -> &'static str {
        self.0.label
    }

    /// One-line explanation shown under the panel for the selected knob.
    pub fn hint(self) -> &'static str {
        self.0.hint
    }

    /// Whether the knob's stage is active under `c`.
    pub fn enabled(self, c: &SamplerConfig) -> bool {
        (self.0.enabled)(c)
    }

    /// The knob's value under `c`, as shown in the panel.
    pub fn value(self, c: &SamplerConfig) -> String {
        (self.0.value)(c)
    }

    /// Step the knob up (`dir > 0`) or down; a disabled optional knob is switched on first.
    pub fn adjust(self, c: &mut SamplerConfig, dir: i32) {
        (self.0.adjust)(c, dir > 0)
    }

    /// Switch an optional knob off, or back on at `remembered` (or its default step-on value).
    /// Returns the value that was switched off, for the caller to remember.
    pub fn toggle(self, c: &mut SamplerConfig, remembered: Option<f32>) -> Option<f32> {
        (self.0.toggle)(c, remembered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knob(label: &str) -> Knob {
        Knob::named(label).expect(label)
    }

    #[test]
    fn the_panel_starts_with_temperature_and_lists_every_knob_once() {
        let labels: Vec<&str> = Knob::all().iter().map(|k| k.label()).collect();
        assert_eq!(labels[..3], ["temperature", "top-k", "top-p"]);
        assert!(
            labels.contains(&"order") && labels.contains(&"fudge λ"),
            "{labels:?}"
        );
        let mut unique = labels.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), labels.len(), "{labels:?}");
    }

    #[test]
    fn steps_are_sensible() {
        let mut c = SamplerConfig {
            temperature: 0.8,
            ..SamplerConfig::default()
        };
        knob("temperature").adjust(&mut c, 1);
        assert!((c.temperature - 0.85).abs() < 1e-6);
        c.top_k = None;
        knob("top-k").adjust(&mut c, -1);
        assert_eq!(c.top_k, Some(40));
        knob("top-k").adjust(&mut c, 1);
        assert_eq!(c.top_k, Some(45));
        c.top_k = Some(1);
        knob("top-k").adjust(&mut c, -1);
        assert_eq!(c.top_k, Some(1));
        c.epsilon = Some(3e-4);
        knob("epsilon").adjust(&mut c, 1);
        assert_eq!(c.epsilon, Some(6e-4));
    }

    #[test]
    fn toggle_remembers() {
        let mut c = SamplerConfig {
            top_p: Some(0.8),
            ..SamplerConfig::default()
        };
        let off = knob("top-p").toggle(&mut c, None);
        assert_eq!((c.top_p, off), (None, Some(0.8)));
        knob("top-p").toggle(&mut c, off);
        assert_eq!(c.top_p, Some(0.8));
    }
}
