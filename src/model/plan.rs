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
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

use super::config::{Arch, ModelConfig};
use super::gemv;

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

/// What a plan is valid for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Key {
    cpu: String,
    threads: i32,
    libtorch: String,
    /// OpenMP's wait settings (`OMP_WAIT_POLICY`/`GOMP_SPINCOUNT`), which change the timings.
    #[serde(default)]
    openmp: String,
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

/// The candidates, as (storage, method).
const CANDIDATES: [(Storage, Method); 6] = [
    (Storage::Row, Method::Linear),
    (Storage::Row, Method::Wxt),
    (Storage::Row, Method::Gemv),
    (Storage::Col, Method::Linear),
    (Storage::Col, Method::Wxt),
    (Storage::Col, Method::Xwt),
];

/// A layout must beat plain `linear` by this factor to be chosen.
const MARGIN: f64 = 0.93;

/// A warm-up round, then timed rounds (every candidate once per round, interleaved). The
/// fastest round counts: on a shared machine, interference only ever adds time.
const ROUNDS: usize = 5;

/// Times every candidate on `count` synthetic matrices of the shape (streamed one after the
/// other, as decoding streams the layers) and picks the layout.
fn tune(kind: Kind, s: Shape) -> Entry {
    // As many matrices as the model has (a pass streams what decoding streams), within
    // 256 MiB.
    let elem = if kind == Kind::Float { 4 } else { 2 };
    let bytes = (s.out * s.inp * elem).max(1) as usize;
    let count = s.count.clamp(1, ((256 << 20) / bytes).max(1));
    let opts = (kind, Device::Cpu);
    let rows: Vec<Tensor> = (0..count)
        .map(|_| Tensor::full([s.out, s.inp], 0.01, opts))
        .collect();
    let cols: Vec<Tensor> = (0..count)
        .map(|_| Tensor::full([s.inp, s.out], 0.01, opts))
        .collect();
    let xs: Vec<Tensor> = BUCKETS
        .iter()
        .map(|&m| Tensor::full([m, s.inp], 0.5, opts))
        .collect();
    let mut samples = vec![vec![Vec::with_capacity(ROUNDS); BUCKETS.len()]; CANDIDATES.len()];
    for round in 0..=ROUNDS {
        for (bi, x) in xs.iter().enumerate() {
            for (ci, &(storage, method)) in CANDIDATES.iter().enumerate() {
                let ws = match storage {
                    Storage::Row => &rows,
                    Storage::Col => &cols,
                };
                let t0 = Instant::now();
                for w in ws {
                    let _ = apply(w, storage, method, x);
                }
                let ms = t0.elapsed().as_secs_f64() * 1e3;
                if round > 0 {
                    samples[ci][bi].push(ms);
                }
            }
        }
    }
    let med: Vec<[f64; 3]> = samples
        .iter()
        .map(|per| std::array::from_fn(|bi| per[bi].iter().copied().fold(f64::INFINITY, f64::min)))
        .collect();
    let choice = pick(&med);
    let ms = CANDIDATES
        .iter()
        .zip(&med)
        .map(|(&(st, m), v)| {
            let st = match st {
                Storage::Row => "row",
                Storage::Col => "col",
            };
            (format!("{st} {}", m.name()), *v)
        })
        .collect();
    Entry {
        choice,
        count: s.count,
        ms,
    }
}

/// The decision from median times (`med[candidate][bucket]`, candidates as [`CANDIDATES`]).
fn pick(med: &[[f64; 3]]) -> Choice {
    let linear = med[0];
    // Decode (one row) is what runs most; weight it so.
    let weights = [4.0, 1.0, 1.0];
    let best_of = |storage: Storage| -> Option<([Method; 3], f64)> {
        let mut methods = [Method::Linear; 3];
        let mut score = 0.0;
        for bi in 0..BUCKETS.len() {
            let (ci, t) = CANDIDATES
                .iter()
                .enumerate()
                .filter(|(_, c)| c.0 == storage)
                .map(|(ci, _)| (ci, med[ci][bi]))
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            let row_linear = storage == Storage::Row && ci == 0;
            if row_linear || t <= MARGIN * linear[bi] {
                methods[bi] = CANDIDATES[ci].1;
                score += weights[bi] * t;
            } else if storage == Storage::Row {
                methods[bi] = Method::Linear;
                score += weights[bi] * linear[bi];
            } else {
                // The transposed storage would be slower than `linear` at this row count.
                return None;
            }
        }
        Some((methods, score))
    };
    let row = best_of(Storage::Row);
    let col = best_of(Storage::Col);
    match (row, col) {
        (_, Some((methods, c))) if row.as_ref().is_none_or(|r| c < MARGIN * r.1) => Choice {
            storage: Storage::Col,
            methods,
        },
        (Some((methods, _)), _) => Choice {
            storage: Storage::Row,
            methods,
        },
        _ => Choice::LINEAR,
    }
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
        // Only ever chosen with row storage (see `CANDIDATES`).
        Method::Gemv => match storage {
            Storage::Row => gemv::matmul_t(w, x),
            Storage::Col => x.matmul(&wc),
        },
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

fn current_key() -> Key {
    Key {
        cpu: cpu_id(),
        threads: tch::get_num_threads(),
        libtorch: libtorch_id(),
        openmp: ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT"]
            .map(|v| std::env::var(v).unwrap_or_default())
            .join("/"),
    }
}

/// The CPU model, its family/model/stepping, logical CPU count and last-level cache size.
fn cpu_id() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let llc = (0..8)
        .rev()
        .find_map(|i| {
            std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu0/cache/index{i}/size"))
                .ok()
        })
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!(
        "{} (family {} model {} stepping {}; {cpus} cpus; llc {llc}; {})",
        field("model name"),
        field("cpu family"),
        field("model"),
        field("stepping"),
        std::env::consts::ARCH,
    )
}

/// The libtorch build this process runs: the version file next to the loaded
/// `libtorch_cpu` when there is one, else the library's size.
fn libtorch_id() -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let Some(lib) = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("libtorch_cpu."))
        .map(PathBuf::from)
    else {
        return "unknown".into();
    };
    let root = lib.parent().and_then(|d| d.parent());
    if let Some(root) = root {
        // A Python wheel's `version.py`, or a libtorch archive's `build-version`.
        if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
            let get = |k: &str| {
                text.lines()
                    .find(|l| l.starts_with(k))
                    .and_then(|l| l.split('\'').nth(1))
                    .unwrap_or("")
                    .to_string()
            };
            return format!("{} {}", get("__version__"), get("git_version"));
        }
        if let Ok(v) = std::fs::read_to_string(root.join("build-version")) {
            return v.trim().to_string();
        }
    }
    let size = std::fs::metadata(&lib).map_or(0, |m| m.len());
    format!("libtorch_cpu of {size} bytes")
}

/// `<cache>/plans/plan-<hash of the key>.json` under [`super::cache_dir`].
fn plan_path(key: &Key) -> Option<PathBuf> {
    let cache = super::cache_dir()?;
    let text = serde_json::to_string(key).ok()?;
    // FNV-1a: stable across runs and platforms (std's hasher is not).
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Some(cache.join("plans").join(format!("plan-{hash:016x}.json")))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_pick_never_loses_to_linear() {
        // candidates: row linear, row wxt, row gemv, col linear, col wxt, col xwt
        let slow_elsewhere = [[1.0; 3], [3.0; 3], [1.2; 3], [2.0; 3], [2.5; 3], [1.5; 3]];
        assert!(pick(&slow_elsewhere).is_linear());
        let wxt_wins = [[4.0; 3], [1.0; 3], [4.0; 3], [4.0; 3], [4.0; 3], [4.0; 3]];
        let c = pick(&wxt_wins);
        assert_eq!(c.storage, Storage::Row);
        assert_eq!(c.methods, [Method::Wxt; 3]);
        // Our kernels win at one and four rows, libtorch's duplicated row at eight.
        let gemv_wins = [
            [4.0; 3],
            [5.0, 5.0, 1.0],
            [1.0, 2.0, 3.0],
            [9.0; 3],
            [9.0; 3],
            [9.0; 3],
        ];
        let c = pick(&gemv_wins);
        assert_eq!(c.storage, Storage::Row);
        assert_eq!(c.methods, [Method::Gemv, Method::Gemv, Method::Wxt]);
        // Transposed storage wins at one row but loses at four: not chosen.
        let mixed = [
            [4.0, 4.0, 4.0],
            [5.0; 3],
            [5.0; 3],
            [1.0, 9.0, 1.0],
            [9.0; 3],
            [9.0; 3],
        ];
        assert_eq!(pick(&mixed).storage, Storage::Row);
        // Within the margin of linear: keep linear.
        let close = [[1.0; 3], [0.97; 3], [0.96; 3], [2.0; 3], [2.0; 3], [2.0; 3]];
        assert!(pick(&close).is_linear());
        let col_wins = [
            [4.0; 3],
            [5.0; 3],
            [5.0; 3],
            [2.0, 3.0, 3.0],
            [5.0; 3],
            [1.0, 9.0, 2.0],
        ];
        let c = pick(&col_wins);
        assert_eq!(c.storage, Storage::Col);
        assert_eq!(c.methods, [Method::Xwt, Method::Linear, Method::Xwt]);
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
