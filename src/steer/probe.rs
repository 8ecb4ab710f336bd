//! An attribute probe: logistic regression on one hidden state of the language model.
//!
//! The feature of a text is the residual stream at its last position after block `layer`
//! (through the model's final norm when `layer` is the last block), standardised by the
//! training set's mean and standard deviation. P(attribute | text) = σ(w · z + b). Trained by
//! Newton's method on the L2-regularised log-loss (d = 576 for SmolLM2: a 577 × 577 system per
//! iteration, solved by Cholesky in f64).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file format tag written into every probe file.
pub const PROBE_FORMAT: &str = "logitscope-probe/1";

/// A trained probe, as saved (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Always [`PROBE_FORMAT`].
    pub format: String,
    /// The attribute's name (e.g. `science`).
    pub attribute: String,
    /// The model it was trained on (file stem).
    pub model: String,
    /// The model's hidden size.
    pub hidden: usize,
    /// The block whose output is read (the final-normed last block when equal to the layer
    /// count).
    pub layer: usize,
    /// Whether the feature goes through the final norm.
    pub normed: bool,
    /// Feature means (standardisation).
    pub mean: Vec<f32>,
    /// Feature standard deviations (standardisation; never 0).
    pub std: Vec<f32>,
    /// Weights on the standardised features.
    pub weights: Vec<f32>,
    pub bias: f32,
    /// How training went.
    pub train: TrainReport,
}

/// What training measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    pub examples: usize,
    pub positives: usize,
    /// Accuracy on the training set.
    pub accuracy: f32,
    /// Accuracy on the held-out last fifth of the examples, when trained with one.
    pub heldout_accuracy: Option<f32>,
    /// Mean log-loss on the training set.
    pub loss: f32,
    pub iterations: usize,
    pub l2: f32,
}

impl Probe {
    /// The logit w · z + b of a raw feature vector.
    pub fn logit(&self, feature: &[f32]) -> f32 {
        let terms = feature
            .iter()
            .zip(&self.mean)
            .zip(&self.std)
            .zip(&self.weights)
            .map(|(((&x, &m), &sd), &w)| w as f64 * ((x - m) / sd) as f64);
        (self.bias as f64 + terms.sum::<f64>()) as f32
    }

    /// log P(attribute | text) = log σ(logit), computed stably.
    pub fn log_prob(&self, feature: &[f32]) -> f32 {
        log_sigmoid(self.logit(feature) as f64) as f32
    }

    /// P(attribute | text).
    pub fn prob(&self, feature: &[f32]) -> f32 {
        log_sigmoid(self.logit(feature) as f64).exp() as f32
    }

    /// Reads a probe file; errors are one line naming the file.
    pub fn load(path: &Path) -> Result<Probe, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("probe {}: {e}", path.display()))?;
        let p: Probe = serde_json::from_str(&text)
            .map_err(|e| format!("probe {}: not a probe file: {e}", path.display()))?;
        if p.format != PROBE_FORMAT {
            return Err(format!(
                "probe {}: format {:?}, expected {PROBE_FORMAT:?}",
                path.display(),
                p.format
            ));
        }
        let d = p.hidden;
        if p.mean.len() != d || p.std.len() != d || p.weights.len() != d {
            return Err(format!(
                "probe {}: its vectors do not have the hidden size {d}",
                path.display()
            ));
        }
        if p.std.iter().any(|&s| !(s > 0.0 && s.is_finite())) {
            return Err(format!("probe {}: a zero or bad std", path.display()));
        }
        Ok(p)
    }

    /// Checks the probe fits a model of `hidden` size and `layers` blocks.
    pub fn check_model(&self, hidden: usize, layers: usize, name: &str) -> Result<(), String> {
        if self.hidden != hidden {
            return Err(format!(
                "the probe ({}, trained on {}) reads hidden size {}, but {name} has {hidden}",
                self.attribute, self.model, self.hidden
            ));
        }
        if self.layer > layers {
            return Err(format!(
                "the probe ({}) reads layer {}, but {name} has {layers} layers",
                self.attribute, self.layer
            ));
        }
        Ok(())
    }
}

/// log σ(x), stable for large |x|.
pub fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

/// The fitted parameters of a logistic regression.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub weights: Vec<f32>,
    pub bias: f32,
    pub iterations: usize,
    /// Mean log-loss on the training rows.
    pub loss: f32,
}

impl Fit {
    /// P(label = 1) of a raw feature vector.
    pub fn prob(&self, x: &[f32]) -> f64 {
        let terms = x
            .iter()
            .zip(&self.mean)
            .zip(&self.std)
            .zip(&self.weights)
            .map(|(((&x, &m), &sd), &w)| w as f64 * ((x - m) / sd) as f64);
        log_sigmoid(self.bias as f64 + terms.sum::<f64>()).exp()
    }

    /// Share of rows whose predicted class (p ≥ 0.5) equals the label.
    pub fn accuracy(&self, xs: &[Vec<f32>], ys: &[bool]) -> f32 {
        let right = xs
            .iter()
            .zip(ys)
            .filter(|(x, y)| (self.prob(x) >= 0.5) == **y)
            .count();
        right as f32 / xs.len().max(1) as f32
    }
}

/// Fits σ(w · z + b) to labels `ys` on standardised features `xs` by Newton's method on the
/// mean log-loss + `l2`/2 · |w|² (the bias is not regularised), until the step is below 1e-6
/// or after `max_iter` iterations.
pub fn fit_logistic(xs: &[Vec<f32>], ys: &[bool], l2: f64, max_iter: usize) -> Result<Fit, String> {
    let n = xs.len();
    if n == 0 || n != ys.len() {
        return Err("no training examples".into());
    }
    let d = xs[0].len();
    if xs.iter().any(|x| x.len() != d) {
        return Err("training features differ in length".into());
    }
    if ys.iter().all(|&y| y) || ys.iter().all(|&y| !y) {
        return Err("the training labels are all the same: need both classes".into());
    }
    let mut mean = vec![0f64; d];
    for x in xs {
        for (m, &v) in mean.iter_mut().zip(x) {
            *m += v as f64 / n as f64;
        }
    }
    let mut var = vec![0f64; d];
    for x in xs {
        for ((s, &v), m) in var.iter_mut().zip(x).zip(&mean) {
            *s += (v as f64 - m).powi(2) / n as f64;
        }
    }
    let std: Vec<f64> = var.iter().map(|v| v.sqrt().max(1e-6)).collect();
    // Standardised design with a trailing 1 for the bias.
    let z: Vec<Vec<f64>> = xs
        .iter()
        .map(|x| {
            let mut r: Vec<f64> = (0..d).map(|i| (x[i] as f64 - mean[i]) / std[i]).collect();
            r.push(1.0);
            r
        })
        .collect();
    let m = d + 1;
    let mut w = vec![0f64; m];
    let mut iterations = 0;
    for _ in 0..max_iter {
        iterations += 1;
        let mut grad = vec![0f64; m];
        let mut hess = vec![0f64; m * m];
        for (row, &y) in z.iter().zip(ys) {
            let s: f64 = row.iter().zip(&w).map(|(a, b)| a * b).sum();
            let p = log_sigmoid(s).exp();
            let g = p - if y { 1.0 } else { 0.0 };
            let h = (p * (1.0 - p)).max(1e-12);
            for i in 0..m {
                grad[i] += g * row[i] / n as f64;
                let hi = h * row[i] / n as f64;
                for j in 0..=i {
                    hess[i * m + j] += hi * row[j];
                }
            }
        }
        for i in 0..d {
            grad[i] += l2 * w[i];
            hess[i * m + i] += l2;
        }
        hess[(m - 1) * m + (m - 1)] += 1e-9;
        let step = cholesky_solve(&mut hess, &grad, m)?;
        let norm = step.iter().map(|s| s * s).sum::<f64>().sqrt();
        for (wi, si) in w.iter_mut().zip(&step) {
            *wi -= si;
        }
        if norm < 1e-6 {
            break;
        }
    }
    let loss = z
        .iter()
        .zip(ys)
        .map(|(row, &y)| {
            let s: f64 = row.iter().zip(&w).map(|(a, b)| a * b).sum();
            -log_sigmoid(if y { s } else { -s })
        })
        .sum::<f64>()
        / n as f64;
    Ok(Fit {
        mean: mean.iter().map(|&v| v as f32).collect(),
        std: std.iter().map(|&v| v as f32).collect(),
        weights: w[..d].iter().map(|&v| v as f32).collect(),
        bias: w[d] as f32,
        iterations,
        loss: loss as f32,
    })
}

/// Solves `A x = b` for a symmetric positive-definite `A` given by its lower triangle
/// (row-major `m × m`, overwritten by its Cholesky factor).
fn cholesky_solve(a: &mut [f64], b: &[f64], m: usize) -> Result<Vec<f64>, String> {
    for j in 0..m {
        let mut s = a[j * m + j];
        for k in 0..j {
            s -= a[j * m + k] * a[j * m + k];
        }
        if s <= 0.0 {
            return Err("the training problem is singular".into());
        }
        let l = s.sqrt();
        a[j * m + j] = l;
        for i in j + 1..m {
            let mut s = a[i * m + j];
            for k in 0..j {
                s -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = s / l;
        }
    }
    let mut y = vec![0f64; m];
    for i in 0..m {
        let s: f64 = (0..i).map(|k| a[i * m + k] * y[k]).sum();
        y[i] = (b[i] - s) / a[i * m + i];
    }
    let mut x = vec![0f64; m];
    for i in (0..m).rev() {
        let s: f64 = (i + 1..m).map(|k| a[k * m + i] * x[k]).sum();
        x[i] = (y[i] - s) / a[i * m + i];
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        // A = [[4, 2], [2, 3]], b = [2, 1] -> x = [0.5, 0].
        let mut a = vec![4.0, 0.0, 2.0, 3.0];
        let x = cholesky_solve(&mut a, &[2.0, 1.0], 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
    }

    #[test]
    fn log_sigmoid_is_stable() {
        assert!((log_sigmoid(0.0) - 0.5f64.ln()).abs() < 1e-12);
        assert!(log_sigmoid(-800.0).is_finite() && log_sigmoid(800.0) == 0.0);
    }

    #[test]
    fn one_class_is_refused() {
        let e = fit_logistic(&[vec![1.0], vec![2.0]], &[true, true], 0.1, 5).unwrap_err();
        assert!(e.contains("both classes"), "{e}");
    }
}
