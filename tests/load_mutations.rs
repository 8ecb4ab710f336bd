//! Hostile model files: the tiny GGUF mutated in metadata values, tensor dimensions, types,
//! offsets and counts (and random bytes), and the tiny Hugging Face directories mutated in
//! `config.json`. Every load either succeeds — and then a forward pass runs without
//! panicking — or fails with one line. Nothing may panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use logitscope::model::gguf::{
    tiny_gemma3, tiny_llama, GgufWriter, MetaValue, TINY_GEMMA_VOCAB, TINY_VOCAB,
};
use logitscope::model::quant::GgmlType;
use logitscope::model::{self, Dtype};
use proptest::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

mod common;

/// What one hostile input did.
#[derive(Debug, PartialEq)]
enum Outcome {
    Loaded,
    Rejected(String),
}

/// Loads `path`; on success runs the prompt `abc` and a single id through the model. Panics
/// (failing the test) with the input's label if anything panicked or an error was not one line.
fn try_load(path: &Path, label: &str) -> Outcome {
    let run = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        let lm = model::load(path, Dtype::F32, &mut |_, _| {}).map_err(|e| e.to_string())?;
        let ids = lm.tok.encode("abc").map_err(|e| e.to_string())?;
        let mut cache = lm.model.new_cache();
        if !ids.is_empty() {
            lm.model
                .next_logits(&ids, &mut cache)
                .map_err(|e| e.to_string())?;
        }
        let logits = lm
            .model
            .next_logits(&[0], &mut cache)
            .map_err(|e| e.to_string())?;
        assert_eq!(logits.len(), lm.model.config().vocab_size, "{label}");
        Ok(())
    }));
    match run {
        Err(_) => panic!("{label}: loading or running panicked"),
        Ok(Ok(())) => Outcome::Loaded,
        Ok(Err(msg)) => {
            assert!(
                !msg.is_empty() && !msg.contains('\n'),
                "{label}: not one line: {msg:?}"
            );
            Outcome::Rejected(msg)
        }
    }
}

fn write(dir: &TempDir, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join("m.gguf");
    std::fs::write(&p, bytes).unwrap();
    p
}

fn bytes(w: &GgufWriter) -> Vec<u8> {
    w.to_bytes().unwrap()
}

/// Hostile replacements for a metadata value.
fn hostile_values(v: &MetaValue) -> Vec<MetaValue> {
    let mut out = vec![
        MetaValue::U32(0),
        MetaValue::U32(1),
        MetaValue::U32(3),
        MetaValue::U32(u32::MAX),
        MetaValue::U64(u64::MAX),
        MetaValue::U64(1 << 20),
        MetaValue::I32(-1),
        MetaValue::I64(i64::MIN),
        MetaValue::F32(f32::NAN),
        MetaValue::F32(-1.0),
        MetaValue::F32(f32::INFINITY),
        MetaValue::Bool(true),
        MetaValue::Str(String::new()),
        MetaValue::Str("gpt2".into()),
        MetaValue::Array(vec![]),
    ];
    if let Some(n) = v.as_i128() {
        for m in [n - 1, n + 1, n * 2, n / 2] {
            out.push(MetaValue::U64(m.max(0) as u64));
        }
    }
    if let Some(items) = v.as_array() {
        out.push(MetaValue::Array(items[..items.len() / 2].to_vec()));
        let mut more = items.to_vec();
        more.extend(items.iter().cloned());
        out.push(MetaValue::Array(more));
        out.push(MetaValue::Array(vec![MetaValue::U32(7); items.len()]));
    }
    out
}

#[test]
fn the_unmutated_tiny_gguf_loads_and_runs() {
    let dir = TempDir::new().unwrap();
    let p = write(&dir, &bytes(&tiny_llama()));
    assert_eq!(try_load(&p, "tiny"), Outcome::Loaded);
    let lm = model::load(&p, Dtype::F32, &mut |_, _| {}).unwrap();
    assert_eq!(lm.model.config().vocab_size, TINY_VOCAB);
    assert_eq!(lm.tok.encode("abcd").unwrap(), vec![16, 17]);
}

#[test]
fn the_unmutated_tiny_gemma_gguf_loads_and_runs() {
    let dir = TempDir::new().unwrap();
    let p = write(&dir, &bytes(&tiny_gemma3()));
    assert_eq!(try_load(&p, "tiny gemma"), Outcome::Loaded);
    let lm = model::load(&p, Dtype::F32, &mut |_, _| {}).unwrap();
    assert_eq!(lm.model.config().vocab_size, TINY_GEMMA_VOCAB);
}

#[test]
fn mutated_metadata_values_never_panic() {
    let dir = TempDir::new().unwrap();
    let (mut loaded, mut rejected) = (0, 0);
    let seeds: [fn() -> GgufWriter; 2] = [tiny_llama, tiny_gemma3];
    for (seed, (key, value)) in seeds.iter().flat_map(|seed| {
        seed()
            .metadata()
            .to_vec()
            .into_iter()
            .map(move |kv| (seed, kv))
    }) {
        let mut cases: Vec<(String, GgufWriter)> = Vec::new();
        let mut removed = seed();
        removed.remove_meta(&key);
        cases.push((format!("{key} removed"), removed));
        for hostile in hostile_values(&value) {
            let mut w = seed();
            w.meta(&key, hostile.clone());
            cases.push((format!("{key} = {hostile:?}"), w));
        }
        for (label, w) in cases {
            match try_load(&write(&dir, &bytes(&w)), &label) {
                Outcome::Loaded => loaded += 1,
                Outcome::Rejected(_) => rejected += 1,
            }
        }
    }
    eprintln!("metadata: {loaded} loaded, {rejected} rejected");
    // Both kinds happen: the values the model does not depend on still load.
    assert!(
        loaded > 10 && rejected > 100,
        "{loaded} loaded, {rejected} rejected"
    );
}

#[test]
fn mutated_tensor_dims_and_types_never_panic() {
    let dir = TempDir::new().unwrap();
    let types: Vec<GgmlType> = (0..64).filter_map(GgmlType::from_id).collect();
    let mut rejected = 0;
    for name in tiny_llama().tensor_names() {
        let shape: Vec<usize> = {
            let p = write(&dir, &bytes(&tiny_llama()));
            let g = logitscope::model::gguf::GgufFile::open(&p).unwrap();
            g.tensor(&name).unwrap().shape()
        };
        let mut shapes: Vec<Vec<usize>> = vec![
            shape.iter().map(|d| d * 2).collect(),
            shape.iter().map(|d| (d / 2).max(1)).collect(),
            shape.iter().rev().copied().collect(),
            [&[1][..], &shape].concat(),
            shape[1..].to_vec(),
            vec![0; shape.len()],
        ];
        shapes.dedup();
        let mut cases: Vec<(String, GgufWriter)> = Vec::new();
        let mut removed = tiny_llama();
        removed.remove_tensor(&name);
        cases.push((format!("{name} removed"), removed));
        for s in &shapes {
            let mut w = tiny_llama();
            w.redeclare(&name, Some(s), None);
            cases.push((format!("{name} shape {s:?}"), w));
        }
        for &ty in &types {
            let mut w = tiny_llama();
            w.redeclare(&name, None, Some(ty));
            cases.push((format!("{name} type {ty}"), w));
        }
        for (label, w) in cases {
            if let Outcome::Rejected(_) = try_load(&write(&dir, &bytes(&w)), &label) {
                rejected += 1;
            }
        }
    }
    eprintln!("tensors: {rejected} rejected");
    assert!(rejected > 300, "{rejected} rejected");
}

/// Byte position of the offset field of tensor `name` in a file written by [`GgufWriter`].
fn offset_field(file: &[u8], name: &str, n_dims: usize) -> usize {
    let mut needle = (name.len() as u64).to_le_bytes().to_vec();
    needle.extend(name.as_bytes());
    let at = file
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("tensor name in the header");
    at + needle.len() + 4 + 8 * n_dims + 4
}

#[test]
fn mutated_counts_and_offsets_never_panic() {
    let dir = TempDir::new().unwrap();
    let base = bytes(&tiny_llama());
    let put = |b: &mut Vec<u8>, at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    let get = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    // Header: tensor count at byte 8, metadata count at byte 16.
    for (field, at) in [("tensor count", 8), ("metadata count", 16)] {
        let n = get(&base, at);
        for v in [0, 1, n - 1, n + 1, n * 2, u64::MAX, 1 << 40] {
            let mut b = base.clone();
            put(&mut b, at, v);
            cases.push((format!("{field} = {v}"), b));
        }
    }
    let p = write(&dir, &base);
    let g = logitscope::model::gguf::GgufFile::open(&p).unwrap();
    let offsets: Vec<u64> = g.tensors().iter().map(|t| t.offset).collect();
    for t in g.tensors() {
        let at = offset_field(&base, &t.name, t.n_dims());
        assert_eq!(get(&base, at), t.offset);
        for v in
            offsets
                .iter()
                .copied()
                .chain([0, t.offset + 1, t.offset + 32, u64::MAX, u64::MAX - 31])
        {
            let mut b = base.clone();
            put(&mut b, at, v);
            cases.push((format!("{} offset = {v}", t.name), b));
        }
        // The first dimension and the type id, written raw (no writer checks).
        for v in [0u64, 1, 31, 33, u32::MAX as u64, u64::MAX] {
            let mut b = base.clone();
            put(&mut b, at - 4 - 8 * t.n_dims(), v);
            cases.push((format!("{} dim 0 = {v}", t.name), b));
        }
        for v in [2u32, 4, 5, 31, 40, 1000, u32::MAX] {
            let mut b = base.clone();
            b[at - 4..at].copy_from_slice(&v.to_le_bytes());
            cases.push((format!("{} type id = {v}", t.name), b));
        }
    }
    drop(g);
    for cut in (0..base.len()).step_by(base.len() / 97 + 1) {
        cases.push((format!("truncated to {cut} bytes"), base[..cut].to_vec()));
    }
    eprintln!(
        "counts, offsets, dims, type ids, truncations: {} cases",
        cases.len()
    );
    for (label, b) in &cases {
        let outcome = try_load(&write(&dir, b), label);
        // A shorter file or a dimension that contradicts the metadata cannot load; other
        // edits may describe a different but consistent model.
        let must_fail = label.starts_with("truncated") || label.contains(" dim 0 = ");
        assert!(
            !must_fail || matches!(outcome, Outcome::Rejected(_)),
            "{label}: loaded"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Up to four random bytes overwritten anywhere in the file.
    #[test]
    fn random_byte_changes_never_panic(
        edits in prop::collection::vec((0usize..1 << 16, any::<u8>()), 1..5)
    ) {
        let dir = TempDir::new().unwrap();
        let mut b = bytes(&tiny_llama());
        let n = b.len();
        let label = format!("edits {edits:?}");
        for (at, v) in edits {
            b[at % n] = v;
        }
        try_load(&write(&dir, &b), &label);
    }
}

/// A copy of a committed Hugging Face fixture whose `config.json` is `config`, the weights
/// and tokenizer linked from the fixture.
fn hf_dir(dir: &TempDir, fixture: &str, config: &Value) -> PathBuf {
    let src = common::fixture(fixture);
    let dst = dir.path().join(fixture);
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "config.json" {
            std::os::unix::fs::symlink(entry.path(), dst.join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(dst.join("config.json"), config.to_string()).unwrap();
    dst
}

#[test]
fn mutated_config_json_fields_never_panic() {
    let dir = TempDir::new().unwrap();
    for fixture in ["tiny-llama", "tiny-gpt2"] {
        let text = std::fs::read_to_string(common::fixture(fixture).join("config.json")).unwrap();
        let base: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            try_load(&hf_dir(&dir, fixture, &base), fixture),
            Outcome::Loaded
        );
        let (mut loaded, mut rejected) = (0, 0);
        for key in base.as_object().unwrap().keys() {
            let v = &base[key];
            let mut values: Vec<Value> = vec![
                Value::Null,
                0.into(),
                1.into(),
                (-1).into(),
                1.5.into(),
                u64::MAX.into(),
                (1u64 << 20).into(),
                "x".into(),
                Value::Array(vec![]),
                false.into(),
            ];
            if let Some(n) = v.as_u64() {
                values.extend([n + 1, n.saturating_sub(1), n * 2, n / 2].map(Value::from));
            }
            let mut removed = base.clone();
            removed.as_object_mut().unwrap().remove(key);
            let mut cases = vec![(format!("{fixture}: {key} removed"), removed)];
            for hostile in values {
                let mut c = base.clone();
                c[key] = hostile.clone();
                cases.push((format!("{fixture}: {key} = {hostile}"), c));
            }
            for (label, c) in cases {
                match try_load(&hf_dir(&dir, fixture, &c), &label) {
                    Outcome::Loaded => loaded += 1,
                    Outcome::Rejected(_) => rejected += 1,
                }
            }
        }
        eprintln!("{fixture} config.json: {loaded} loaded, {rejected} rejected");
        assert!(
            loaded > 100 && rejected > 50,
            "{fixture}: {loaded} loaded, {rejected} rejected"
        );
    }
}

#[test]
fn mutated_safetensors_headers_never_panic() {
    let dir = TempDir::new().unwrap();
    let fixture = "tiny-gpt2";
    let src = common::fixture(fixture).join("model.safetensors");
    let file = std::fs::read(&src).unwrap();
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&file[8..8 + n]).unwrap();
    let data = &file[8 + n..];
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture(fixture).join("config.json")).unwrap(),
    )
    .unwrap();
    let names: Vec<String> = header
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    let mut rejected = 0;
    for name in &names {
        let shape = header[name]["shape"].clone();
        let dims: Vec<u64> = serde_json::from_value(shape).unwrap();
        let doubled: Vec<u64> = dims.iter().map(|d| d * 2).collect();
        let reversed: Vec<u64> = dims.iter().rev().copied().collect();
        for (what, field, v) in [
            ("shape doubled", "shape", serde_json::json!(doubled)),
            ("shape reversed", "shape", serde_json::json!(reversed)),
            ("rank 0", "shape", serde_json::json!([])),
            ("dtype I64", "dtype", serde_json::json!("I64")),
            ("dtype F16", "dtype", serde_json::json!("F16")),
            ("offsets", "data_offsets", serde_json::json!([0, 4])),
        ] {
            let mut h = header.clone();
            h[name][field] = v;
            let text = h.to_string();
            let mut b = (text.len() as u64).to_le_bytes().to_vec();
            b.extend(text.as_bytes());
            b.extend(data);
            let d = hf_dir(&dir, fixture, &config);
            std::fs::remove_file(d.join("model.safetensors")).unwrap();
            std::fs::write(d.join("model.safetensors"), &b).unwrap();
            let label = format!("{name}: {what}");
            if let Outcome::Rejected(_) = try_load(&d, &label) {
                rejected += 1;
            }
        }
    }
    eprintln!(
        "safetensors headers: {rejected} of {} rejected",
        names.len() * 6
    );
    assert!(rejected >= names.len() * 5, "{rejected} rejected");
}
