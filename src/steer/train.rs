//! Training a probe from a JSON Lines file of `{"text": ..., "label": ...}`.

use std::path::Path;

use serde_json::Value;

use super::features::prefix_feature;
use super::probe::{fit_logistic, Probe, TrainReport, PROBE_FORMAT};
use crate::model::Loaded;

/// One labelled text.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub label: bool,
}

/// Reads `{"text": STRING, "label": true|false|1|0}` lines (blank lines skipped); a bad line
/// is a one-line error naming the file and line.
pub fn read_examples(path: &Path) -> Result<Vec<Example>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| format!("{} line {}: {why}", path.display(), i + 1);
        let v: Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
        let text = v["text"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("expected a non-empty string \"text\""))?;
        let label = match &v["label"] {
            Value::Bool(b) => *b,
            Value::Number(n) if n.as_f64() == Some(1.0) => true,
            Value::Number(n) if n.as_f64() == Some(0.0) => false,
            _ => return Err(bad("expected \"label\": true, false, 1 or 0")),
        };
        out.push(Example {
            text: text.to_string(),
            label,
        });
    }
    if out.is_empty() {
        return Err(format!("{}: no examples", path.display()));
    }
    Ok(out)
}

/// How to train.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The block read (the model's layer count: its final-normed last block).
    pub layer: usize,
    /// The attribute's name, saved in the probe.
    pub attribute: String,
    /// L2 regularisation of the weights.
    pub l2: f64,
    /// Hold the last fifth of the examples out and report its accuracy (they are then not
    /// trained on). The last fifth, not every fifth line: data files list a text's prefixes
    /// together, and a held-out prefix whose siblings were trained on would flatter the probe.
    pub holdout: bool,
}

/// Trains a probe on `examples` read through `lm` (one forward per text);
/// `progress(done, total)` after each text.
pub fn train_probe(
    lm: &Loaded,
    examples: &[Example],
    opts: &TrainOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<Probe, String> {
    let mc = lm.model.config();
    if opts.layer == 0 || opts.layer > mc.layers {
        return Err(format!(
            "--layer {}: the model has layers 1..={}",
            opts.layer, mc.layers
        ));
    }
    let mut xs = Vec::with_capacity(examples.len());
    for (i, ex) in examples.iter().enumerate() {
        let ids = lm.tok.encode(&ex.text).map_err(|e| e.to_string())?;
        if ids.is_empty() {
            return Err(format!("example {}: the text has no tokens", i + 1));
        }
        xs.push(prefix_feature(&lm.model, &ids, opts.layer).map_err(|e| e.to_string())?);
        progress(i + 1, examples.len());
    }
    let ys: Vec<bool> = examples.iter().map(|e| e.label).collect();
    let cut = xs.len() - xs.len() / 5;
    let held = |i: usize| opts.holdout && i >= cut;
    let pick = |keep: bool| -> (Vec<Vec<f32>>, Vec<bool>) {
        (0..xs.len())
            .filter(|&i| held(i) != keep)
            .map(|i| (xs[i].clone(), ys[i]))
            .unzip()
    };
    let (tx, ty) = pick(true);
    let (hx, hy) = pick(false);
    let fit = fit_logistic(&tx, &ty, opts.l2, 50)?;
    Ok(Probe {
        format: PROBE_FORMAT.into(),
        attribute: opts.attribute.clone(),
        model: lm.name(),
        hidden: mc.hidden,
        layer: opts.layer,
        normed: opts.layer == mc.layers,
        train: TrainReport {
            examples: tx.len(),
            positives: ty.iter().filter(|&&y| y).count(),
            accuracy: fit.accuracy(&tx, &ty),
            heldout_accuracy: (!hx.is_empty()).then(|| fit.accuracy(&hx, &hy)),
            loss: fit.loss,
            iterations: fit.iterations,
            l2: opts.l2 as f32,
        },
        mean: fit.mean,
        std: fit.std,
        weights: fit.weights,
        bias: fit.bias,
    })
}
