//! What a plan is valid for, and where it is kept.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What a plan is valid for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Key {
    pub(super) cpu: String,
    pub(super) threads: i32,
    pub(super) libtorch: String,
    /// OpenMP's wait settings (`OMP_WAIT_POLICY`/`GOMP_SPINCOUNT`), which change the timings.
    #[serde(default)]
    pub(super) openmp: String,
    /// The revision of our own kernels ([`crate::model::gemv::REVISION`]): a plan timed
    /// against older ones is timed again.
    #[serde(default)]
    pub(super) kernels: u32,
}

pub(super) fn current_key() -> Key {
    Key {
        cpu: cpu_id(),
        threads: tch::get_num_threads(),
        libtorch: libtorch_id(),
        openmp: ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT"]
            .map(|v| std::env::var(v).unwrap_or_default())
            .join("/"),
        kernels: crate::model::gemv::REVISION,
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

/// `<cache>/plans/plan-<hash of the key>.json` under [`super::super::cache_dir`].
pub(super) fn plan_path(key: &Key) -> Option<PathBuf> {
    let cache = super::super::cache_dir()?;
    let text = serde_json::to_string(key).ok()?;
    // FNV-1a: stable across runs and platforms (std's hasher is not).
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Some(cache.join("plans").join(format!("plan-{hash:016x}.json")))
}
