//! Stages that forbid tokens given the history: banned sequences and no-repeat n-grams.

use super::candidates::Candidates;
use super::spec::{flip, off_or, KnobSpec, StageSpec, ThresholdKind};
use super::stage::{Effect, History, Stage};

/// Banned token sequences (HF `NoBadWordsLogitsProcessor`): a one-token sequence is always
/// banned; a longer one bans its last token when its other tokens end the history (and, as in
/// HF, only once the history is at least as long as the whole sequence).
pub struct Bans {
    pub sequences: Vec<Vec<u32>>,
}

impl Stage for Bans {
    fn name(&self) -> &'static str {
        BANS.name
    }

    fn params(&self) -> String {
        format!("{} sequences", self.sequences.len())
    }

    fn apply(&self, c: &mut Candidates, history: History<'_>) -> Effect {
        let tokens = history.tokens;
        let banned: Vec<u32> = self
            .sequences
            .iter()
            .filter_map(|seq| {
                let (&last, prefix) = seq.split_last()?;
                let applies =
                    seq.len() == 1 || (seq.len() <= tokens.len() && tokens.ends_with(prefix));
                applies.then_some(last)
            })
            .collect();
        c.remove_ids(&banned);
        Effect::default()
    }
}

/// Forbids any token that would repeat an n-gram of the history, prompt included (HF
/// `NoRepeatNGramLogitsProcessor`): with the last `n - 1` tokens as prefix, every earlier
/// occurrence of that prefix bans the token that followed it. `n = 1` bans every seen token.
pub struct NoRepeatNgram {
    pub n: usize,
}

impl Stage for NoRepeatNgram {
    fn name(&self) -> &'static str {
        NO_REPEAT_NGRAM.name
    }

    fn params(&self) -> String {
        format!("n={}", self.n)
    }

    fn apply(&self, c: &mut Candidates, history: History<'_>) -> Effect {
        let tokens = history.tokens;
        let n = self.n;
        if n == 0 || tokens.len() < n {
            return Effect::default();
        }
        let prefix = &tokens[tokens.len() + 1 - n..];
        let banned: Vec<u32> = tokens
            .windows(n)
            .filter(|w| &w[..n - 1] == prefix)
            .map(|w| w[n - 1])
            .collect();
        c.remove_ids(&banned);
        Effect::default()
    }
}

/// `bans` (set on the command line; no knob).
pub const BANS: StageSpec = StageSpec {
    name: "bans",
    abbrev: "ban",
    threshold: ThresholdKind::Own,
    build: |c| {
        (!c.bad_words.is_empty()).then(|| {
            Box::new(Bans {
                sequences: c.bad_words.clone(),
            }) as Box<dyn Stage>
        })
    },
    knobs: &[],
};

/// `no_repeat_ngram`.
pub const NO_REPEAT_NGRAM: StageSpec = StageSpec {
    name: "no_repeat_ngram",
    abbrev: "ngram",
    threshold: ThresholdKind::Own,
    build: |c| {
        c.no_repeat_ngram
            .map(|n| Box::new(NoRepeatNgram { n }) as Box<dyn Stage>)
    },
    knobs: &[KnobSpec {
        label: "no-repeat n",
        hint: "ban tokens completing a seen n-gram",
        rank: 10,
        enabled: |c| c.no_repeat_ngram.is_some(),
        value: |c| off_or(c.no_repeat_ngram, |n| n.to_string()),
        adjust: |c, up| {
            c.no_repeat_ngram = Some(match c.no_repeat_ngram {
                None => 3,
                Some(n) if up => (n + 1).min(10),
                Some(n) => n.saturating_sub(1).max(1),
            })
        },
        toggle: |c, back| {
            flip(&mut c.no_repeat_ngram, back.map(|v| v as usize), 3).map(|v| v as f32)
        },
    }],
};
