//! Constraints on the generated text — a regular expression, a JSON schema or a Lark grammar —
//! turned into the set of tokens allowed next, for the chain's `grammar` stage
//! ([`crate::decode::grammar`]).
//!
//! # Why llguidance
//!
//! The masks come from [`llguidance`] (with its `toktrie` token trie), a maintained library
//! that llama.cpp, vLLM and SGLang use as a structured-output backend and Guidance is built
//! on, rather than from a hand-written matcher. It is pure Rust (no tch, no Python), it takes
//! the vocabulary as plain byte strings (so byte-level BPE tokens that split a UTF-8
//! character work), it covers all three inputs with one engine (regex → a one-rule Lark
//! grammar, JSON schema → a grammar with a JSON lexer, Lark for the rest), and it computes a
//! mask by walking the token trie against a lazily built lexer automaton and an Earley parser
//! instead of testing every token, which keeps a step's mask well under a millisecond on a
//! 49,152-token vocabulary (see `bench --grammar`). `outlines-core` was the alternative:
//! regex and JSON schema only (no context-free grammars), and an index precompiled over the
//! whole vocabulary per constraint.
//!
//! # Pieces
//!
//! - [`TokenSpace`]: the vocabulary as llguidance sees it (every id's bytes; end-of-sequence ids
//!   marked special so no text can produce them), built once per tokenizer.
//! - [`Constraint`]: one compiled spec over a token space.
//! - [`GrammarMatcher`]: the constraint's state after the generated tokens; incremental
//!   (advances by the new tokens when the history extends what it consumed, rebuilds when it
//!   does not, e.g. after a branch).
//! - [`Constrainer`]: what a session owns — the token space, built at the first constrained
//!   step, and the matcher of the constraint in force.

use crate::oneline::one_line;
use std::sync::{Arc, Mutex, OnceLock};

use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{ApproximateTokEnv, TokEnv, TokRxInfo, TokTrie};
use llguidance::{Matcher, ParserFactory};

use crate::decode::grammar::{GrammarKind, GrammarMask, GrammarSpec};

/// The vocabulary as llguidance sees it, and the parser factory compiled for it.
pub struct TokenSpace {
    factory: ParserFactory,
    vocab: usize,
    eos: Vec<u32>,
}

impl TokenSpace {
    /// A token space over `vocab` ids whose bytes `bytes(id)` gives (empty: never allowed),
    /// with end-of-sequence ids `eos` (at least one). The end-of-sequence ids and the ids
    /// `special` names (control tokens such as `<|im_start|>`) are marked special
    /// (llguidance's `0xFF` prefix): no text matches them; only a complete constraint allows
    /// end-of-sequence.
    pub fn new<'a>(
        vocab: usize,
        bytes: impl Fn(u32) -> &'a [u8],
        eos: &[u32],
        special: impl Fn(u32) -> bool,
    ) -> Result<Self, String> {
        let eos: Vec<u32> = eos
            .iter()
            .copied()
            .filter(|&e| (e as usize) < vocab)
            .collect();
        if eos.is_empty() {
            return Err(
                "the model declares no end-of-sequence token within its vocabulary, which a constraint needs"
                    .into(),
            );
        }
        let words: Vec<Vec<u8>> = (0..vocab as u32)
            .map(|id| {
                let b = bytes(id);
                if eos.contains(&id) || special(id) {
                    let mut s = vec![TokTrie::SPECIAL_TOKEN_MARKER];
                    s.extend_from_slice(if b.is_empty() { b"<eos>" } else { b });
                    s
                } else {
                    b.to_vec()
                }
            })
            .collect();
        let info = TokRxInfo::new(vocab as u32, eos[0]);
        let trie = TokTrie::from(&info, &words).with_eos_tokens(&eos);
        // Not canonical: llguidance never forces a tokenisation of its own, the mask allows
        // every token whose bytes the constraint accepts.
        let env: TokEnv = Arc::new(ApproximateTokEnv::new(trie));
        let mut factory = ParserFactory::new_simple(&env).map_err(one_line)?;
        factory.quiet();
        factory.limits_mut().verbose_errors = false;
        Ok(TokenSpace {
            factory,
            vocab,
            eos,
        })
    }

    /// Number of token ids (mask width).
    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// The end-of-sequence ids.
    pub fn eos(&self) -> &[u32] {
        &self.eos
    }

    /// The mask allowing end-of-sequence only (a complete constraint's).
    pub fn eos_mask(&self) -> GrammarMask {
        GrammarMask::from_ids(self.vocab, &self.eos, true)
    }
}

/// A byte-per-token space (256 bytes and an end-of-sequence token) for checking a spec
/// compiles without the model's tokenizer; built once.
fn byte_space() -> &'static TokenSpace {
    static SPACE: OnceLock<TokenSpace> = OnceLock::new();
    SPACE.get_or_init(|| {
        let bytes: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        TokenSpace::new(
            257,
            |id| bytes.get(id as usize).map_or(&[], |b| b),
            &[256],
            |_| false,
        )
        .expect("the byte space builds")
    })
}

/// Compiles `spec` (on a byte-per-token vocabulary, so in a few milliseconds): a bad regex,
/// schema or grammar is a one-line error naming its flag.
pub fn check(spec: &GrammarSpec) -> Result<(), String> {
    spec.validate()?;
    Constraint::new(spec, byte_space()).map(|_| ())
}

/// For a regex the `regex` crate cannot parse either, its error's last line (the reason
/// without the caret drawing), e.g. "unclosed character class".
fn regex_syntax_error(spec: &GrammarSpec) -> Option<String> {
    if spec.kind != GrammarKind::Regex {
        return None;
    }
    let e = regex::RegexBuilder::new(&spec.source)
        .size_limit(usize::MAX)
        .build()
        .err()?;
    let text = e.to_string();
    let why = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(|| one_line(&text), str::to_string);
    Some(why)
}

fn top_level(spec: &GrammarSpec) -> Result<TopLevelGrammar, String> {
    Ok(match spec.kind {
        GrammarKind::Regex => TopLevelGrammar::from_regex(&spec.source),
        GrammarKind::JsonSchema => {
            let v = serde_json::from_str(&spec.source)
                .map_err(|e| format!("the schema is not JSON: {e}"))?;
            TopLevelGrammar::from_json_schema(v)
        }
        GrammarKind::Lark => TopLevelGrammar::from_lark(spec.source.clone()),
    })
}

/// One spec compiled over a token space: a fresh matcher to clone.
pub struct Constraint {
    spec: GrammarSpec,
    fresh: Matcher,
    vocab: usize,
    eos: Vec<u32>,
}

impl Constraint {
    /// Compiles `spec` for `space`; errors are one line, prefixed by the spec's flag.
    pub fn new(spec: &GrammarSpec, space: &TokenSpace) -> Result<Self, String> {
        let flag = spec.kind.flag();
        let grammar = top_level(spec).map_err(|e| format!("{flag}: {e}"))?;
        let parser = space
            .factory
            .create_parser(grammar)
            .map_err(|e| match regex_syntax_error(spec) {
                Some(why) => format!("{flag} {:?}: {why}", spec.source),
                None => format!("{flag}: {}", one_line(e)),
            })?;
        let fresh = Matcher::new(Ok(parser));
        if let Some(e) = fresh.get_error() {
            return Err(format!("{flag}: {}", one_line(e)));
        }
        Ok(Constraint {
            spec: spec.clone(),
            fresh,
            vocab: space.vocab,
            eos: space.eos.clone(),
        })
    }

    pub fn spec(&self) -> &GrammarSpec {
        &self.spec
    }

    /// A matcher at the start of the output.
    pub fn matcher(self: &Arc<Self>) -> GrammarMatcher {
        GrammarMatcher {
            constraint: self.clone(),
            matcher: self.fresh.clone(),
            consumed: Vec::new(),
            failed: None,
        }
    }
}

/// A constraint's state after some generated tokens.
pub struct GrammarMatcher {
    constraint: Arc<Constraint>,
    matcher: Matcher,
    /// The generated tokens consumed so far.
    consumed: Vec<u32>,
    /// Why the consumed tokens already break the constraint.
    failed: Option<String>,
}

impl GrammarMatcher {
    /// The constraint this matcher follows.
    pub fn constraint(&self) -> &Arc<Constraint> {
        &self.constraint
    }

    /// The tokens allowed after `generated` (the output so far, prompt excluded), and whether
    /// the constraint is complete (then only end-of-sequence is allowed). Advances by the new
    /// tokens when `generated` extends what was consumed; starts over otherwise.
    pub fn mask(&mut self, generated: &[u32]) -> GrammarMask {
        let c = self.constraint.clone();
        if !generated.starts_with(&self.consumed) {
            self.matcher = c.fresh.clone();
            self.consumed.clear();
            self.failed = None;
        }
        let start = self.consumed.len();
        for (i, &t) in generated.iter().enumerate().skip(start) {
            if self.failed.is_none() {
                if let Err(e) = self.matcher.consume_token(t) {
                    self.failed = Some(format!(
                        "the output's token {t} (step {i}) breaks it ({})",
                        one_line(e)
                    ));
                }
            }
            self.consumed.push(t);
        }
        if let Some(why) = &self.failed {
            return GrammarMask::unsatisfiable(c.vocab, why.clone());
        }
        if self.matcher.is_stopped() {
            return GrammarMask::from_ids(c.vocab, &c.eos, true);
        }
        match self.matcher.compute_mask() {
            Ok(v) => {
                let mut words = v.as_slice().to_vec();
                words.resize(c.vocab.div_ceil(32), 0);
                if let Some(last) = words.last_mut() {
                    if !c.vocab.is_multiple_of(32) {
                        *last &= (1u32 << (c.vocab % 32)) - 1;
                    }
                }
                let mut mask = GrammarMask::from_words(words, false);
                let n = mask.allowed_count();
                if n > 0 && n <= c.eos.len() && mask.allowed_ids().iter().all(|t| c.eos.contains(t))
                {
                    mask.complete = true;
                }
                mask
            }
            Err(e) => GrammarMask::unsatisfiable(
                c.vocab,
                format!("no token can continue the output ({})", one_line(e)),
            ),
        }
    }
}

/// What a session keeps to constrain its steps: the token space (built at the first
/// constrained step: ~0.1 s on SmolLM2's vocabulary) and the matcher of the constraint in
/// force. Behind a mutex so a preview (`&self`) can compute a mask too.
#[derive(Default)]
pub struct Constrainer {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    space: Option<Arc<TokenSpace>>,
    matcher: Option<GrammarMatcher>,
}

impl Constrainer {
    /// The mask of `spec` after `generated`, building the token space with `space` the first
    /// time and recompiling when the spec changed.
    pub fn mask(
        &self,
        spec: &GrammarSpec,
        space: impl FnOnce() -> Result<TokenSpace, String>,
        generated: &[u32],
    ) -> Result<Arc<GrammarMask>, String> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let space = match &inner.space {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(space()?);
                inner.space = Some(s.clone());
                s
            }
        };
        if inner
            .matcher
            .as_ref()
            .is_none_or(|m| m.constraint().spec() != spec)
        {
            inner.matcher = None;
            let c = Arc::new(Constraint::new(spec, &space)?);
            inner.matcher = Some(c.matcher());
        }
        let m = inner.matcher.as_mut().expect("set above");
        Ok(Arc::new(m.mask(generated)))
    }
}

#[cfg(test)]
mod tests;
