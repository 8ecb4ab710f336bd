//! The tokenizer: built with the `tokenizers` crate from GGUF metadata or a `tokenizer.json`,
//! plus the byte view of every token that display and streaming need.

use std::path::Path;

use serde_json::{json, Value};
use tokenizers::Tokenizer;

use super::detok::escape_bytes;
use super::error::{sanitize, ModelError};
use super::gguf::GgufFile;

/// How a vocabulary's token strings map back to bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pieces {
    /// GPT-2 byte-level: every byte is one printable character.
    ByteLevel,
    /// SentencePiece style: `▁` is a space, `<0xNN>` a raw byte.
    Metaspace,
}

/// A tokenizer and the bytes of every token.
pub struct Tok {
    inner: Tokenizer,
    /// Raw bytes of each token id (special tokens: their literal text).
    bytes: Vec<Vec<u8>>,
    /// Whether each token id is a special (control) token.
    special: Vec<bool>,
    add_bos: Option<u32>,
}

impl Tok {
    /// Builds the tokenizer that a GGUF file describes: `tokenizer.ggml.model == "gpt2"` is
    /// byte-level BPE over `tokens` + `merges` (CONTROL-type tokens are special); `"llama"`
    /// in a Gemma file is SentencePiece, built as Hugging Face's GGUF converter builds
    /// Gemma's (a Unigram over `tokens` + `scores` with byte fallback, spaces as `▁`).
    pub fn from_gguf(g: &GgufFile, path: &Path) -> Result<Self, ModelError> {
        let bad = |msg: &str| ModelError::BadConfig {
            path: path.to_path_buf(),
            msg: sanitize(msg),
        };
        let model = g.get_str("tokenizer.ggml.model").unwrap_or("");
        let gemma = g.architecture().is_some_and(|a| a.starts_with("gemma"));
        let tokens = g
            .get_str_array("tokenizer.ggml.tokens")
            .ok_or_else(|| bad("missing tokenizer.ggml.tokens"))?;
        let types = g
            .get_i32_array("tokenizer.ggml.token_type")
            .unwrap_or_default();
        let (spec, kind) = match model {
            "gpt2" => (bpe_spec(g, &tokens, &types), Pieces::ByteLevel),
            "llama" if gemma => (gemma_spec(g, &tokens, path)?, Pieces::Metaspace),
            _ => {
                return Err(bad(&format!(
                    "tokenizer model \"{model}\" is not supported (byte-level BPE \"gpt2\", or \"llama\" SentencePiece in a Gemma file)"
                )))
            }
        };
        let inner = Tokenizer::from_bytes(spec.to_string().as_bytes())
            .map_err(|e| bad(&format!("cannot build tokenizer: {e}")))?;
        let add_bos = if g.get_bool("tokenizer.ggml.add_bos_token").unwrap_or(false) {
            g.get_u64("tokenizer.ggml.bos_token_id").map(|v| v as u32)
        } else {
            None
        };
        let pieces: Vec<String> = tokens.iter().map(|s| s.to_string()).collect();
        let special: Vec<bool> = (0..pieces.len())
            .map(|i| types.get(i) == Some(&3))
            .collect();
        Ok(Tok {
            bytes: token_bytes(&pieces, &special, kind),
            special,
            inner,
            add_bos,
        })
    }

    /// Loads a Hugging Face `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let bad = |msg: String| ModelError::BadConfig {
            path: path.to_path_buf(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let inner = Tokenizer::from_bytes(text.as_bytes())
            .map_err(|e| bad(format!("cannot build tokenizer: {e}")))?;
        let kind = if text.contains("\"ByteLevel\"") {
            Pieces::ByteLevel
        } else {
            Pieces::Metaspace
        };
        let n = inner.get_vocab_size(true);
        let mut pieces = vec![String::new(); n];
        let mut special = vec![false; n];
        for (piece, id) in inner.get_vocab(true) {
            if let Some(slot) = pieces.get_mut(id as usize) {
                *slot = piece;
            }
        }
        for (id, tok) in inner.get_added_tokens_decoder() {
            if let Some(s) = special.get_mut(id as usize) {
                *s = tok.special;
            }
        }
        Ok(Tok {
            bytes: token_bytes(&pieces, &special, kind),
            special,
            inner,
            add_bos: None,
        })
    }

    /// Token ids of `text` (special-token strings are recognised; a BOS is prepended when
    /// the model asks for one).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| ModelError::Other(format!("tokenizer failed: {e}")))?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        ids.extend(self.add_bos);
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    /// Number of token ids.
    pub fn vocab_size(&self) -> usize {
        self.bytes.len()
    }

    /// Whether `id` is a special (control) token.
    pub fn is_special(&self, id: u32) -> bool {
        self.special.get(id as usize).copied().unwrap_or(false)
    }

    /// The raw bytes of a token (empty for an unknown id).
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.bytes.get(id as usize).map_or(&[], |b| b.as_slice())
    }

    /// A token as text for display: its bytes, with invalid UTF-8 as `\xNN`.
    pub fn display(&self, id: u32) -> String {
        escape_bytes(self.token_bytes(id))
    }

    /// Every token's display text, indexed by id.
    pub fn display_vocab(&self) -> Vec<String> {
        (0..self.bytes.len() as u32)
            .map(|i| self.display(i))
            .collect()
    }

    /// Decodes ids to text the way the tokenizer's decoder does.
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&i| self.token_bytes(i).to_vec())
            .collect();
        escape_bytes(&bytes)
    }
}

/// A `tokenizers` spec for byte-level BPE (SmolLM2, GPT-2 style GGUF vocabularies).
fn bpe_spec(g: &GgufFile, tokens: &[&str], types: &[i32]) -> Value {
    let merges = g.get_str_array("tokenizer.ggml.merges").unwrap_or_default();
    let vocab: serde_json::Map<String, Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), json!(i)))
        .collect();
    let added: Vec<Value> = tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| matches!(types.get(*i), Some(3) | Some(4)))
        .map(|(i, t)| added_token(i, t, types[i] == 3))
        .collect();
    // SmolLM2 (and most llama.cpp "smollm"/"gpt2"-style pre-tokenizers) split digits
    // individually before the GPT-2 byte-level regex.
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false,
                            "trim_offsets": true, "use_regex": true});
    let pre = match g.get_str("tokenizer.ggml.pre").unwrap_or("default") {
        "gpt-2" | "gpt2" => byte_level.clone(),
        _ => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true}, byte_level.clone()]}),
    };
    json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": added, "normalizer": null, "pre_tokenizer": pre,
        "post_processor": null, "decoder": byte_level,
        "model": {"type": "BPE", "dropout": null, "unk_token": null,
                  "continuing_subword_prefix": null, "end_of_word_suffix": null,
                  "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges},
    })
}

/// A `tokenizers` spec for Gemma's SentencePiece vocabulary, as Hugging Face's GGUF converter
/// (`GGUFGemmaConverter`) builds it: a Unigram over the pieces and their scores with byte
/// fallback, `<0x09>` renamed to a tab and blank pieces written with `▁`, spaces normalised
/// to `▁`; the pad / eos / bos / unk tokens are the only added (special) tokens. The BOS is
/// prepended by [`Tok::encode`], not by a post-processor.
fn gemma_spec(g: &GgufFile, tokens: &[&str], path: &Path) -> Result<Value, ModelError> {
    let scores = g
        .get_f32_array("tokenizer.ggml.scores")
        .filter(|s| s.len() == tokens.len())
        .ok_or_else(|| ModelError::BadConfig {
            path: path.to_path_buf(),
            msg: format!(
                "tokenizer.ggml.scores must give one score per token ({} tokens)",
                tokens.len()
            ),
        })?;
    let vocab: Vec<Value> = tokens
        .iter()
        .zip(&scores)
        .map(|(&t, &s)| {
            let piece = if t == "<0x09>" {
                "\t".to_string()
            } else if t.contains(' ') && t.trim().is_empty() {
                "\u{2581}".repeat(t.chars().count())
            } else {
                t.to_string()
            };
            json!([piece, s])
        })
        .collect();
    let id = |k: &str| g.get_u64(&format!("tokenizer.ggml.{k}_token_id"));
    let mut specials: Vec<usize> = ["padding", "eos", "bos", "unknown"]
        .iter()
        .filter_map(|k| id(k))
        .map(|i| i as usize)
        .filter(|&i| i < tokens.len())
        .collect();
    specials.sort_unstable();
    specials.dedup();
    let added: Vec<Value> = specials
        .iter()
        .map(|&i| added_token(i, tokens[i], true))
        .collect();
    Ok(json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "},
                          "behavior": "MergedWithPrevious", "invert": false},
        "post_processor": null,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "Unigram", "unk_id": id("unknown"), "vocab": vocab,
                  "byte_fallback": true},
    }))
}

fn added_token(id: usize, content: &str, special: bool) -> Value {
    json!({"id": id, "content": content, "single_word": false, "lstrip": false,
           "rstrip": false, "normalized": false, "special": special})
}

/// The bytes behind every token piece.
fn token_bytes(pieces: &[String], special: &[bool], kind: Pieces) -> Vec<Vec<u8>> {
    let unbyte = byte_level_inverse();
    pieces
        .iter()
        .zip(special)
        .map(|(p, &sp)| {
            if sp {
                return p.as_bytes().to_vec();
            }
            match kind {
                Pieces::ByteLevel => p
                    .chars()
                    .flat_map(|c| match unbyte.get(&c) {
                        Some(&b) => vec![b],
                        None => c.to_string().into_bytes(),
                    })
                    .collect(),
                Pieces::Metaspace => metaspace_bytes(p),
            }
        })
        .collect()
}

fn metaspace_bytes(p: &str) -> Vec<u8> {
    if let Some(hex) = p.strip_prefix("<0x").and_then(|s| s.strip_suffix('>')) {
        if let Ok(b) = u8::from_str_radix(hex, 16) {
            return vec![b];
        }
    }
    p.replace('\u{2581}', " ").into_bytes()
}

/// GPT-2's `bytes_to_unicode` table, inverted: printable character -> byte.
fn byte_level_inverse() -> std::collections::HashMap<char, u8> {
    let mut map = std::collections::HashMap::with_capacity(256);
    let mut extra = 0u32;
    for b in 0u32..256 {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let c = if printable {
            b
        } else {
            extra += 1;
            255 + extra
        };
        if let Some(c) = char::from_u32(c) {
            map.insert(c, b as u8);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_table_covers_every_byte() {
        let t = byte_level_inverse();
        assert_eq!(t.len(), 256);
        assert_eq!(t[&'Ġ'], b' ');
        assert_eq!(t[&'Ċ'], b'\n');
        assert_eq!(t[&'A'], b'A');
    }

    #[test]
    fn metaspace_pieces() {
        assert_eq!(metaspace_bytes("\u{2581}the"), b" the");
        assert_eq!(metaspace_bytes("<0xE4>"), vec![0xe4]);
    }
}
