//! Per-machine layout plan for the projections: which libtorch call, or our own
//! matrix-vector kernel ([`super::gemv`]), multiplies a few rows by each weight matrix
//! fastest *on this CPU*.
//!
//! Decoding multiplies 1 (decode), B (beams, samples) or k (verification) rows by every
//! weight, so its speed is the rate at which the weights stream from memory, and libtorch's
//! CPU kernels differ a lot in that rate from one CPU to the next: on one machine `W·xᵀ` with
//! a duplicated row was 3× faster than `linear`, on another it was 3× slower. So nothing is
//! chosen by hand: at load, every projection shape is timed once in each candidate layout
//! (the ones `examples/bandwidth.rs` compares, and ours) for the row counts {1, 4, 8}, and the winner is
//! kept in a plan file keyed by the CPU, the thread count, the libtorch build, the dtype and
//! the shape, so later starts pay nothing.
//!
//! Plain `linear` on the `[out, in]` weight is always a candidate and the default; another
//! layout is taken only when it beats `linear` by a clear margin at every row count where it
//! would be used, so the plan is never slower than `linear` (up to timing noise).
//!
//! `LOGITSCOPE_PLAN=off` skips the plan (plain `linear` everywhere); `LOGITSCOPE_PLAN=retune`
//! times again and overwrites the cached plan.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tch::{Kind, Tensor};

mod key;
mod tune;

use super::config::{Arch, ModelConfig};
use super::gemv;
use key::{current_key, plan_path, Key};
use tune::tune;

/// Row counts the plan is made for; a call with `m` rows uses the first bucket `≥ m`, and
/// calls with more rows than the last bucket (prefill) use plain `linear`.
pub const BUCKETS: [i64; 3] = [1, 4, 8];

/// How the weight is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// `[out, in]` contiguous (Hugging Face's layout).
    Row,
    /// `[in, out]` contiguous (the transpose).
    Col,
}

/// Which libtorch call computes `x·Wᵀ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// `linear(x, W)`.
    Linear,
    /// `(W·xᵀ)ᵀ`, a single row duplicated (libtorch's matrix-vector path is slow on some
    /// CPUs).
    Wxt,
    /// `x·Wᵀ` through `matmul`.
    Xwt,
    /// Our own matrix-vector kernels ([`super::gemv`]), on the `[out, in]` weight.
    Gemv,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Linear => "linear",
            Method::Wxt => "wxt",
            Method::Xwt => "xwt",
            Method::Gemv => "gemv",
        }
    }
}

/// The layout of one projection shape: its storage and a method per row bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub storage: Storage,
    pub methods: [Method; 3],
}

impl Choice {
    /// Plain `linear` on the `[out, in]` weight for every row count.
    pub const LINEAR: Choice = Choice {
        storage: Storage::Row,
        methods: [Method::Linear; 3],
    };

    /// The method for a call with `m` rows (`linear` above the last bucket).
    pub fn method(&self, m: i64) -> Method {
        BUCKETS
            .iter()
            .position(|&b| m <= b)
            .map_or(Method::Linear, |i| self.methods[i])
    }

    /// Whether this is plain `linear` everywhere.
    pub fn is_linear(&self) -> bool {
        *self == Choice::LINEAR
    }
}

/// One projection shape of a model: `count` matrices of `[out, in]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub out: i64,
    pub inp: i64,
    pub count: usize,
}

/// The projection shapes of a model of this configuration, as its architecture builds them
/// (fused q/k/v and gate/up for Llama; GPT-2's head is the embedding, not a projection).
pub fn model_shapes(cfg: &ModelConfig) -> Vec<Shape> {
    let (h, d, l) = (cfg.hidden as i64, cfg.head_dim as i64, cfg.layers);
    let (heads, kv, f) = (
        cfg.heads as i64,
        cfg.kv_heads as i64,
        cfg.intermediate as i64,
    );
    let shape = |out, inp, count| Shape { out, inp, count };
    match cfg.arch {
        Arch::Llama | Arch::Gemma3 => vec![
            shape((heads + 2 * kv) * d, h, l),
            shape(h, heads * d, l),
            shape(2 * f, h, l),
            shape(h, f, l),
            shape(cfg.vocab_size as i64, h, 1),
        ],
        Arch::Gpt2 => vec![
            shape(3 * h, h, l),
            shape(h, h, l),
            shape(f, h, l),
            shape(h, f, l),
        ],
    }
}

/// A tuned entry: the choice and the fastest milliseconds per pass over all `count` matrices
/// of the shape, per candidate and bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    choice: Choice,
    count: usize,
    /// `"row linear" -> [ms at 1, 4, 8 rows]`.
    ms: BTreeMap<String, [f64; 3]>,
}

/// What the plan file holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PlanFile {
    key: Key,
    /// `"f32 960x576" -> entry`.
    entries: BTreeMap<String, Entry>,
}

struct State {
    file: PlanFile,
    path: Option<PathBuf>,
    /// Entries this process looked up, for the report.
    used: Vec<String>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

static OFF: AtomicBool = AtomicBool::new(false);

/// Whether the plan is switched off (`LOGITSCOPE_PLAN=off`, or inside [`without_plan`]).
fn disabled() -> bool {
    OFF.load(Ordering::Relaxed) || std::env::var("LOGITSCOPE_PLAN").is_ok_and(|v| v == "off")
}

/// Runs `f` (a model load) with the plan switched off: plain `linear` everywhere, for
/// comparisons.
pub fn without_plan<T>(f: impl FnOnce() -> T) -> T {
    OFF.store(true, Ordering::Relaxed);
    let out = f();
    OFF.store(false, Ordering::Relaxed);
    out
}

fn retune() -> bool {
    std::env::var("LOGITSCOPE_PLAN").is_ok_and(|v| v == "retune")
}

fn entry_name(kind: Kind, out: i64, inp: i64) -> String {
    let k = match kind {
        Kind::Float => "f32",
        Kind::BFloat16 => "bf16",
        Kind::Half => "f16",
        Kind::Double => "f64",
        _ => "other",
    };
    format!("{k} {out}x{inp}")
}

/// The layout for a `[out, in]` weight of `kind`: the plan's choice when it has one, else
/// plain `linear`.
pub fn choice(kind: Kind, out: i64, inp: i64) -> Choice {
    if disabled() {
        return Choice::LINEAR;
    }
    let name = entry_name(kind, out, inp);
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(state) = guard.as_mut() else {
        return Choice::LINEAR;
    };
    if state.file.key != current_key() {
        return Choice::LINEAR;
    }
    match state.file.entries.get(&name) {
        Some(e) => {
            if !state.used.contains(&name) {
                state.used.push(name);
            }
            e.choice
        }
        None => Choice::LINEAR,
    }
}

/// Makes sure the plan has an entry for every shape (timing the missing ones, a second or
/// so per dtype, then saving the plan). Float kinds only; others need no plan.
pub fn prepare(kind: Kind, shapes: &[Shape]) {
    if disabled() || !matches!(kind, Kind::Float | Kind::BFloat16) {
        return;
    }
    let key = current_key();
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_none_or(|s| s.file.key != key) {
        let path = plan_path(&key);
        let file = path
            .as_ref()
            .filter(|_| !retune())
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<PlanFile>(&t).ok())
            .filter(|f| f.key == key)
            .unwrap_or_else(|| PlanFile {
                key: key.clone(),
                entries: BTreeMap::new(),
            });
        *guard = Some(State {
            file,
            path,
            used: Vec::new(),
        });
    }
    let Some(state) = guard.as_mut() else {
        return;
    };
    let mut added = false;
    for s in shapes {
        let name = entry_name(kind, s.out, s.inp);
        if state.file.entries.contains_key(&name) {
            continue;
        }
        let _no_grad = tch::no_grad_guard();
        state.file.entries.insert(name, tune(kind, *s));
        added = true;
    }
    if added {
        if let Some(p) = &state.path {
            // A plan that cannot be saved is made again next time; nothing else depends on it.
            let _ = save(p, &state.file);
        }
    }
}

fn save(path: &PathBuf, file: &PlanFile) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(file).map_err(std::io::Error::other)?;
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// The plan this process uses, for `bench`: the key, the file, and every entry looked up.
pub fn report() -> Value {
    if disabled() {
        return json!({"off": true});
    }
    let guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(state) = guard.as_ref() else {
        return json!({"entries": {}});
    };
    let entries: serde_json::Map<String, Value> = state
        .used
        .iter()
        .filter_map(|n| state.file.entries.get(n).map(|e| (n, e)))
        .map(|(n, e)| {
            let methods: Vec<&str> = e.choice.methods.iter().map(|m| m.name()).collect();
            let ms: serde_json::Map<String, Value> =
                e.ms.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            (
                n.clone(),
                json!({"storage": e.choice.storage, "rows_1_4_8": methods, "count": e.count,
                       "best_ms_per_pass_rows_1_4_8": ms}),
            )
        })
        .collect();
    json!({"cpu": state.file.key.cpu, "threads": state.file.key.threads,
           "libtorch": state.file.key.libtorch,
           "file": state.path.as_ref().map(|p| p.display().to_string()),
           "entries": entries})
}

/// `x·Wᵀ` (`x`: `[m, in]`) for a weight stored as `storage`, by `method`; `[m, out]`.
pub(crate) fn apply(w: &Tensor, storage: Storage, method: Method, x: &Tensor) -> Tensor {
    // `wr` is `[out, in]` and `wc` is `[in, out]`, one of them a transposed view.
    let (wr, wc) = match storage {
        Storage::Row => (w.shallow_clone(), w.tr()),
        Storage::Col => (w.tr(), w.shallow_clone()),
    };
    match method {
        Method::Linear => x.linear::<Tensor>(&wr, None),
        Method::Xwt => x.matmul(&wc),
        // A copy only for transposed storage, which the plan never pairs with it.
        Method::Gemv => gemv::matmul_t(&wr.contiguous(), x),
        Method::Wxt => {
            let m = x.size()[0];
            let xs = if m == 1 {
                x.repeat([2, 1])
            } else {
                x.shallow_clone()
            };
            wr.matmul(&xs.tr()).tr().narrow(0, 0, m).contiguous()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tune::CANDIDATES;
    use super::*;
    use tch::Device;

    #[test]
    fn every_layout_computes_the_same_product() {
        let w = Tensor::randn([7, 5], (Kind::Float, Device::Cpu));
        for m in [1, 3, 9] {
            let x = Tensor::randn([m, 5], (Kind::Float, Device::Cpu));
            let want = x.matmul(&w.tr());
            for &(storage, method) in &CANDIDATES {
                let stored = match storage {
                    Storage::Row => w.shallow_clone(),
                    Storage::Col => w.tr().contiguous(),
                };
                let got = apply(&stored, storage, method, &x);
                assert_eq!(got.size(), [m, 7]);
                let d = (got - &want).abs().max().double_value(&[]);
                assert!(d < 1e-5, "{storage:?} {method:?} m={m}: {d}");
            }
        }
    }

    #[test]
    fn buckets_route_row_counts() {
        let c = Choice {
            storage: Storage::Row,
            methods: [Method::Wxt, Method::Xwt, Method::Linear],
        };
        assert_eq!(c.method(1), Method::Wxt);
        assert_eq!(c.method(3), Method::Xwt);
        assert_eq!(c.method(8), Method::Linear);
        assert_eq!(c.method(128), Method::Linear);
    }
}
