//! `bench --grammar`: what a grammar constraint costs per step on the model's vocabulary —
//! the time to advance the matcher by one token and compute the next token's mask (49,152
//! bits on SmolLM2), along a valid output, for regexes, JSON schemas and a Lark grammar; and
//! the one-off costs (the token space, each compilation), and the `grammar` stage applying a
//! mask to a full logit vector.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::constrain::{Constraint, TokenSpace};
use crate::decode::contrast::Signals;
use crate::decode::grammar::{GrammarKind, GrammarSpec};
use crate::decode::math::median;
use crate::decode::{Chain, History, SamplerConfig};
use crate::model::Loaded;

use super::CliError;

/// A constraint and an output it accepts (tokenised as the model's tokenizer encodes it).
struct Case {
    name: &'static str,
    kind: GrammarKind,
    source: &'static str,
    output: &'static str,
}

const SCHEMA: &str = r#"{"type":"object","properties":{
  "name":{"type":"string","maxLength":40},
  "age":{"type":"integer","minimum":0,"maximum":150},
  "drink":{"enum":["tea","coffee","water"]},
  "tags":{"type":"array","items":{"type":"string"},"maxItems":8}},
  "required":["name","age","drink"],"additionalProperties":false}"#;

const CASES: [Case; 5] = [
    Case {
        name: "regex: a date",
        kind: GrammarKind::Regex,
        source: r" [A-Z][a-z]{2,8} [0-9]{1,2}, [0-9]{4}\.",
        output: " September 14, 1969.",
    },
    Case {
        name: "regex: free text",
        kind: GrammarKind::Regex,
        source: r"( [A-Za-z]+,?){1,60}\.",
        output: " The quick brown fox jumps over the lazy dog, then it sleeps in the warm sun.",
    },
    Case {
        name: "json schema: object",
        kind: GrammarKind::JsonSchema,
        source: SCHEMA,
        output: r#"{"name": "Alice Smith", "age": 34, "drink": "tea", "tags": ["reader", "cyclist"]}"#,
    },
    Case {
        name: "json schema: any JSON",
        kind: GrammarKind::JsonSchema,
        source: "{}",
        output: r#"{"id": 7, "items": [1.5, true, null, "x"], "meta": {"k": "v"}}"#,
    },
    Case {
        name: "lark: arithmetic",
        kind: GrammarKind::Lark,
        source: "start: expr\nexpr: term ((\"+\" | \"-\") term)*\nterm: factor ((\"*\" | \"/\") factor)*\nfactor: NUMBER | \"(\" expr \")\"\nNUMBER: /[0-9]+/\n",
        output: "(12+345)*6-(7/89)+1000",
    },
];

/// Times every case over `runs` runs and prints one JSON object.
pub fn bench_grammar(lm: Loaded, runs: usize) -> Result<(), CliError> {
    let tok = &lm.tok;
    let mc = lm.model.config();
    let vocab = tok.vocab_size().max(mc.vocab_size);
    let t0 = Instant::now();
    let space = TokenSpace::new(
        vocab,
        |id| tok.token_bytes(id),
        &mc.eos_ids,
        |id| tok.is_special(id),
    )
    .map_err(CliError::runtime)?;
    let space_ms = t0.elapsed().as_secs_f64() * 1e3;
    eprintln!("bench: token space over {vocab} tokens in {space_ms:.0} ms");
    let mut rows = Vec::new();
    for case in &CASES {
        let spec = GrammarSpec::new(case.kind, case.source);
        let t0 = Instant::now();
        let c = Arc::new(Constraint::new(&spec, &space).map_err(CliError::runtime)?);
        let compile_ms = t0.elapsed().as_secs_f64() * 1e3;
        let mut ids = tok.encode(case.output)?;
        if mc.bos_id.is_some_and(|b| ids.first() == Some(&b)) {
            ids.remove(0);
        }
        let mut run_medians = Vec::new();
        let mut cold = 0.0;
        let mut worst: f64 = 0.0;
        let mut allowed = Vec::new();
        let mut stage_ms = Vec::new();
        for run in 0..runs {
            let mut m = c.matcher();
            let mut ms = Vec::with_capacity(ids.len() + 1);
            for i in 0..=ids.len() {
                let t0 = Instant::now();
                let mask = m.mask(&ids[..i]);
                ms.push(t0.elapsed().as_secs_f64() * 1e3);
                if let Some(&next) = ids.get(i) {
                    if !mask.allows(next) {
                        return Err(CliError::runtime(format!(
                            "bench --grammar: {}: token {next} at step {i} is not allowed ({:?})",
                            case.name, mask.reason
                        )));
                    }
                } else if !mask.complete && !mask.allows(space.eos()[0]) {
                    return Err(CliError::runtime(format!(
                        "bench --grammar: {}: the output does not complete the constraint",
                        case.name
                    )));
                }
                if run == 0 {
                    allowed.push(mask.allowed_count() as f64);
                    // The stage on a full logit vector (every 4th step: it does not depend on
                    // the grammar, only on the vocabulary).
                    if i % 4 == 0 {
                        stage_ms.push(stage_time(&spec, mask, vocab));
                    }
                }
            }
            worst = ms.iter().copied().fold(worst, f64::max);
            if run == 0 {
                cold = median(&ms);
            }
            run_medians.push(median(&ms));
        }
        let med = median(&run_medians);
        eprintln!(
            "bench: {}: {} steps, mask {:.3} ms median ({:.3} cold), compile {compile_ms:.1} ms",
            case.name,
            ids.len() + 1,
            med,
            cold
        );
        rows.push(json!({
            "name": case.name, "kind": spec.kind, "steps": ids.len() + 1,
            "compile_ms": compile_ms, "mask_ms_median": med, "mask_ms_cold_median": cold,
            "mask_ms_max": worst, "allowed_tokens_median": median(&allowed),
            "stage_ms_median": median(&stage_ms),
        }));
    }
    let out: Value = json!({
        "bench": "grammar", "vocab": vocab, "runs": runs, "token_space_ms": space_ms,
        "constraints": rows,
    });
    println!("{out}");
    Ok(())
}

/// Milliseconds of the `grammar` stage alone (in a chain of it) on a `vocab`-wide logit vector.
fn stage_time(spec: &GrammarSpec, mask: crate::decode::grammar::GrammarMask, vocab: usize) -> f64 {
    let cfg = SamplerConfig {
        grammar: Some(spec.clone()),
        order: vec!["grammar".into()],
        top_k: None,
        ..SamplerConfig::default()
    };
    let chain = Chain::from_config(&cfg).expect("a grammar chain builds");
    let logits: Vec<f32> = (0..vocab)
        .map(|i| ((i * 7919) % 1000) as f32 * 0.01)
        .collect();
    let signals = Signals {
        grammar: Some(Arc::new(mask)),
        ..Signals::default()
    };
    let t0 = Instant::now();
    let _ = chain.process(&logits, History::new(&[], 0).with_signals(&signals));
    t0.elapsed().as_secs_f64() * 1e3
}
