//! Constrained decoding's chain stage: the tokens a regex, a JSON schema or a grammar forbids
//! are removed.
//!
//! Pure: the engine computes the step's [`GrammarMask`] (with `crate::constrain`, which wraps
//! llguidance) and hands it over in the step's [`Signals`](super::contrast::Signals); the stage
//! only applies it. A mask marked complete allows exactly the end-of-sequence ids, so the
//! stage then keeps only end-of-sequence. A step whose allowed tokens all fall (the mask is
//! empty, or earlier stages removed every allowed token) fails with
//! [`DecodeError::Unsatisfiable`].

use serde::{Deserialize, Serialize};

use super::candidates::Candidates;
use super::error::DecodeError;
use super::spec::{StageSpec, ThresholdKind};
use super::stage::{Effect, History, Stage};

/// Which language a constraint is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrammarKind {
    /// A regular expression (Rust `regex` syntax) the whole output must match.
    Regex,
    /// A JSON schema the output must be an instance of.
    JsonSchema,
    /// A context-free grammar in llguidance's Lark dialect (rule `start` is the output).
    Lark,
}

impl GrammarKind {
    /// The command-line flag that sets this kind.
    pub fn flag(self) -> &'static str {
        match self {
            GrammarKind::Regex => "--regex",
            GrammarKind::JsonSchema => "--json-schema",
            GrammarKind::Lark => "--grammar",
        }
    }
}

/// A constraint on the generated text: its kind and source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GrammarSpec {
    pub kind: GrammarKind,
    pub source: String,
}

/// The largest source accepted (a guard against passing a data file by mistake).
pub const MAX_GRAMMAR_BYTES: usize = 1 << 20;

impl GrammarSpec {
    pub fn new(kind: GrammarKind, source: impl Into<String>) -> Self {
        GrammarSpec {
            kind,
            source: source.into(),
        }
    }

    /// The cheap checks (non-empty, not huge, a schema is JSON); compiling it is
    /// `crate::constrain::check`'s job.
    pub fn validate(&self) -> Result<(), String> {
        let flag = self.kind.flag();
        if self.source.trim().is_empty() {
            return Err(format!("{flag}: the constraint is empty"));
        }
        if self.source.len() > MAX_GRAMMAR_BYTES {
            return Err(format!(
                "{flag}: the constraint is {} bytes, more than the {MAX_GRAMMAR_BYTES} accepted",
                self.source.len()
            ));
        }
        if self.kind == GrammarKind::JsonSchema {
            serde_json::from_str::<serde_json::Value>(&self.source)
                .map_err(|e| format!("{flag}: the schema is not JSON: {e}"))?;
        }
        Ok(())
    }

    /// A short description for the trace's `params`.
    pub fn describe(&self) -> String {
        match self.kind {
            GrammarKind::Regex => {
                let mut s: String = self.source.chars().take(40).collect();
                if s.len() < self.source.len() {
                    s.push('…');
                }
                format!("regex={s}")
            }
            GrammarKind::JsonSchema => format!("json_schema ({} bytes)", self.source.len()),
            GrammarKind::Lark => format!("lark ({} lines)", self.source.lines().count()),
        }
    }
}

/// The tokens a constraint allows as the next token: one bit per vocabulary id (49,152 bits,
/// 6 KB, on SmolLM2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrammarMask {
    /// Bit `id % 32` of word `id / 32` allows token `id`.
    words: Vec<u32>,
    /// Whether the constraint is complete: the mask then allows exactly end-of-sequence.
    pub complete: bool,
    /// Why no token is allowed, when none is.
    pub reason: Option<String>,
}

impl GrammarMask {
    /// A mask from 32-bit words (bit `id % 32` of word `id / 32`).
    pub fn from_words(words: Vec<u32>, complete: bool) -> Self {
        GrammarMask {
            words,
            complete,
            reason: None,
        }
    }

    /// A mask allowing exactly `ids` over a vocabulary of `vocab` ids.
    pub fn from_ids(vocab: usize, ids: &[u32], complete: bool) -> Self {
        let mut words = vec![0u32; vocab.div_ceil(32)];
        for &id in ids.iter().filter(|&&id| (id as usize) < vocab) {
            words[id as usize / 32] |= 1 << (id % 32);
        }
        GrammarMask::from_words(words, complete)
    }

    /// A mask that allows nothing, saying why.
    pub fn unsatisfiable(vocab: usize, reason: impl Into<String>) -> Self {
        GrammarMask {
            words: vec![0; vocab.div_ceil(32)],
            complete: false,
            reason: Some(reason.into()),
        }
    }

    /// Whether token `id` is allowed.
    pub fn allows(&self, id: u32) -> bool {
        self.words
            .get(id as usize / 32)
            .is_some_and(|w| w >> (id % 32) & 1 == 1)
    }

    /// How many ids are allowed.
    pub fn allowed_count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The allowed ids, ascending.
    pub fn allowed_ids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for (i, &w) in self.words.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                let b = w.trailing_zeros();
                out.push(i as u32 * 32 + b);
                w &= w - 1;
            }
        }
        out
    }

    /// The mask's words.
    pub fn words(&self) -> &[u32] {
        &self.words
    }
}

/// Removes the candidates the step's [`GrammarMask`] forbids. Without a mask in the step's
/// signals (a chain run outside a session) it changes nothing.
pub struct Grammar {
    pub spec: GrammarSpec,
}

impl Stage for Grammar {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn params(&self) -> String {
        self.spec.describe()
    }

    fn apply(&self, c: &mut Candidates, history: History<'_>) -> Effect {
        let Some(mask) = history.signals.and_then(|s| s.grammar.as_deref()) else {
            return Effect::default();
        };
        // Complete: the mask is end-of-sequence alone, so this keeps only end-of-sequence.
        c.retain_where(|_, x| mask.allows(x.id));
        Effect::default()
    }

    fn empty_error(&self, history: History<'_>) -> DecodeError {
        let mask = history.signals.and_then(|s| s.grammar.as_deref());
        let reason = match mask {
            Some(GrammarMask {
                reason: Some(r), ..
            }) => r.clone(),
            Some(m) if m.complete => {
                "it is complete, and the stages before it removed end-of-sequence".into()
            }
            _ => "every token it allows was removed by the stages before it".into(),
        };
        DecodeError::Unsatisfiable {
            constraint: self.spec.kind.flag().to_string(),
            reason,
        }
    }
}

/// `grammar` (a constraint given on the command line; no knob).
pub const SPEC: StageSpec = StageSpec {
    name: "grammar",
    abbrev: "gram",
    threshold: ThresholdKind::Own,
    build: |c| {
        c.grammar
            .clone()
            .map(|spec| Box::new(Grammar { spec }) as Box<dyn Stage>)
    },
    knobs: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_bits_round_trip() {
        let m = GrammarMask::from_ids(100, &[0, 31, 32, 99, 100], false);
        assert_eq!(m.allowed_ids(), vec![0, 31, 32, 99]);
        assert_eq!(m.allowed_count(), 4);
        assert!(m.allows(31) && !m.allows(30) && !m.allows(1000));
    }

    #[test]
    fn validate_rejects_empty_and_non_json() {
        assert!(GrammarSpec::new(GrammarKind::Regex, " ")
            .validate()
            .is_err());
        let e = GrammarSpec::new(GrammarKind::JsonSchema, "{")
            .validate()
            .unwrap_err();
        assert!(
            e.starts_with("--json-schema: the schema is not JSON"),
            "{e}"
        );
        assert!(GrammarSpec::new(GrammarKind::Lark, "start: \"a\"")
            .validate()
            .is_ok());
    }

    #[test]
    fn describe_is_short() {
        let s = GrammarSpec::new(GrammarKind::Regex, "a".repeat(100)).describe();
        assert!(s.chars().count() < 50, "{s}");
    }
}
