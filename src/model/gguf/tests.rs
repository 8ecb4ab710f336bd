//! Tests of the GGUF reader and writer.

use super::writer::put_str;
use super::*;

fn tmp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("logitscope-gguf-{}-{tag}.gguf", std::process::id()))
}

/// Writes `bytes` to a fresh temp file, opens it, and removes the file.
fn open_bytes(tag: &str, bytes: &[u8]) -> Result<GgufFile> {
    let path = tmp_path(tag);
    std::fs::write(&path, bytes).expect("write temp file");
    let file = GgufFile::open(&path);
    std::fs::remove_file(&path).expect("remove temp file");
    file
}

fn parse_bytes(bytes: &[u8]) -> Result<Header> {
    parse(bytes, Path::new("mem.gguf"))
}

fn sample() -> GgufWriter {
    let mut w = GgufWriter::new();
    w.meta("general.architecture", MetaValue::Str("llama".into()))
        .meta("u8", MetaValue::U8(200))
        .meta("i8", MetaValue::I8(-5))
        .meta("u16", MetaValue::U16(60000))
        .meta("i16", MetaValue::I16(-300))
        .meta("u32", MetaValue::U32(4_000_000_000))
        .meta("i32", MetaValue::I32(-7))
        .meta("f32", MetaValue::F32(1e-5))
        .meta("bool", MetaValue::Bool(true))
        .meta("u64", MetaValue::U64(1 << 40))
        .meta("i64", MetaValue::I64(-(1 << 40)))
        .meta("f64", MetaValue::F64(10000.5))
        .meta(
            "tokens",
            MetaValue::Array(vec![
                MetaValue::Str("a".into()),
                MetaValue::Str("héllo".into()),
            ]),
        )
        .meta(
            "ids",
            MetaValue::Array(vec![MetaValue::I32(1), MetaValue::I32(-2)]),
        )
        .meta(
            "scores",
            MetaValue::Array(vec![MetaValue::F32(0.5), MetaValue::F32(-1.0)]),
        )
        .meta(
            "nested",
            MetaValue::Array(vec![
                MetaValue::Array(vec![MetaValue::U8(1), MetaValue::U8(2)]),
                MetaValue::Array(vec![]),
            ]),
        )
        .tensor_f32("w", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        .tensor_f32("b", &[3], &[-1.0, 0.0, 1.0]);
    w
}

#[test]
fn roundtrip_metadata_of_every_type() {
    let f = open_bytes("roundtrip", &sample().to_bytes().unwrap()).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.architecture(), Some("llama"));
    assert_eq!(f.get("u8"), Some(&MetaValue::U8(200)));
    assert_eq!(f.get("i8"), Some(&MetaValue::I8(-5)));
    assert_eq!(f.get("u16"), Some(&MetaValue::U16(60000)));
    assert_eq!(f.get("i16"), Some(&MetaValue::I16(-300)));
    assert_eq!(f.get("f32"), Some(&MetaValue::F32(1e-5)));
    assert_eq!(f.get("i64"), Some(&MetaValue::I64(-(1 << 40))));
    assert_eq!(f.get("f64"), Some(&MetaValue::F64(10000.5)));
    assert_eq!(f.get_bool("bool"), Some(true));
    assert_eq!(f.get_str_array("tokens"), Some(vec!["a", "héllo"]));
    assert_eq!(f.get_i32_array("ids"), Some(vec![1, -2]));
    assert_eq!(f.get_f32_array("scores"), Some(vec![0.5, -1.0]));
    assert_eq!(f.get_array_len("tokens"), Some(2));
    let nested = f.get("nested").and_then(MetaValue::as_array).unwrap();
    assert_eq!(
        nested[0],
        MetaValue::Array(vec![MetaValue::U8(1), MetaValue::U8(2)])
    );
    assert_eq!(nested[1], MetaValue::Array(vec![]));
    assert_eq!(f.metadata().len(), 16);
}

#[test]
fn typed_getters_convert_between_integer_types() {
    let f = open_bytes("getters", &sample().to_bytes().unwrap()).unwrap();
    assert_eq!(f.get_u32("u8"), Some(200));
    assert_eq!(f.get_u32("u16"), Some(60000));
    assert_eq!(f.get_u64("u32"), Some(4_000_000_000));
    assert_eq!(f.get_u64("u64"), Some(1 << 40));
    assert_eq!(f.get_u32("u64"), None, "does not fit");
    assert_eq!(f.get_u32("i8"), None, "negative");
    assert_eq!(f.get_f32("f64"), Some(10000.5));
    assert_eq!(f.get_f32("i32"), Some(-7.0));
    assert_eq!(f.get_str("u8"), None, "wrong type");
    assert_eq!(f.get_u32("missing"), None);
    assert_eq!(f.get_str_array("ids"), None);
    assert_eq!(f.get_i32_array("u32"), None);
}

#[test]
fn tensors_and_shapes() {
    let f = open_bytes("tensors", &sample().to_bytes().unwrap()).unwrap();
    assert_eq!(f.alignment(), 32);
    assert_eq!(f.data_start() % 32, 0);
    let names: Vec<&str> = f.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["w", "b"]);
    let w = f.tensor("w").unwrap();
    assert_eq!(
        (w.dims.clone(), w.n_dims(), w.shape()),
        (vec![3, 2], 2, vec![2, 3])
    );
    assert_eq!(
        (w.ty, w.offset, w.n_elements, w.n_bytes),
        (GgmlType::F32, 0, 6, 24)
    );
    assert_eq!(f.tensor("b").unwrap().offset, 32);
    assert_eq!(f.tensor_bytes(w).unwrap()[4..8], 2f32.to_le_bytes());
    let (data, shape) = f.dequantize("b").unwrap();
    assert_eq!((data, shape), (vec![-1.0, 0.0, 1.0], vec![3]));
    assert!(f.tensor("nope").is_none());
    assert!(matches!(
        f.dequantize("nope"),
        Err(ModelError::MissingTensor { name }) if name == "nope"
    ));
}

#[test]
fn quantized_tensor_through_file() {
    // One Q8_0 block: d = 0.5, q = j - 16.
    let mut block = half::f16::from_f32(0.5).to_le_bytes().to_vec();
    block.extend((0..32).map(|j| (j as i8 - 16) as u8));
    let mut w = GgufWriter::new();
    w.tensor("q", &[1, 32], GgmlType::Q8_0, block);
    let f = open_bytes("q8", &w.to_bytes().unwrap()).unwrap();
    let (data, shape) = f.dequantize("q").unwrap();
    assert_eq!(shape, [1, 32]);
    assert_eq!((data[0], data[31]), (-8.0, 7.5));
}

#[test]
fn custom_alignment_is_honoured() {
    let mut w = GgufWriter::new();
    w.meta("general.alignment", MetaValue::U32(64))
        .tensor_f32("a", &[1], &[1.0])
        .tensor_f32("b", &[1], &[2.0]);
    let f = open_bytes("align", &w.to_bytes().unwrap()).unwrap();
    assert_eq!(f.alignment(), 64);
    assert_eq!(f.data_start() % 64, 0);
    assert_eq!(f.tensor("b").unwrap().offset, 64);
    assert_eq!(f.dequantize("b").unwrap().0, [2.0]);

    let mut bad = GgufWriter::new();
    bad.meta("general.alignment", MetaValue::U32(48));
    assert!(matches!(
        parse_bytes(&bad.to_bytes().unwrap()),
        Err(ModelError::Truncated { .. })
    ));
}

#[test]
fn version_2_is_read_and_1_is_rejected() {
    let mut bytes = sample().to_bytes().unwrap();
    bytes[4] = 2;
    assert_eq!(parse_bytes(&bytes).unwrap().version, 2);
    bytes[4] = 1;
    let err = parse_bytes(&bytes).err().unwrap();
    assert!(matches!(
        err,
        ModelError::UnsupportedVersion { version: 1, .. }
    ));
    assert_eq!(
        err.to_string(),
        "mem.gguf: GGUF version 1 is not supported (only versions 2 and 3 are)"
    );
}

#[test]
fn non_gguf_files_are_rejected() {
    let err = parse_bytes(b"\x7fELF\x02\x01\x01\x00").err().unwrap();
    assert_eq!(
        err.to_string(),
        "mem.gguf: not a GGUF file (magic 0x464c457f)"
    );
    let err = open_bytes("empty", b"").err().unwrap();
    assert!(matches!(err, ModelError::NotGguf { .. }), "{err}");
    let missing = GgufFile::open("/nonexistent/model.gguf").err().unwrap();
    assert!(matches!(missing, ModelError::Io { .. }));
    assert!(missing.to_string().starts_with("/nonexistent/model.gguf: "));
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let bytes = sample().to_bytes().unwrap();
    assert!(parse_bytes(&bytes).is_ok());
    for len in 0..bytes.len() {
        match parse_bytes(&bytes[..len]) {
            Err(ModelError::Truncated { .. } | ModelError::NotGguf { .. }) => {}
            Err(e) => panic!("length {len}: unexpected error {e}"),
            Ok(_) => panic!("length {len}: truncated file parsed"),
        }
    }
    let cut = open_bytes("cut", &bytes[..bytes.len() - 1]).err().unwrap();
    assert!(cut.to_string().contains("tensor 'b'"), "{cut}");
}

#[test]
fn corrupted_header_bytes_give_a_consistent_header_or_one_line() {
    // Flip each byte of the header region to a few values: parsing either fails with a
    // one-line message, or yields a header whose every tensor lies inside the bytes.
    let bytes = sample().to_bytes().unwrap();
    let header_len = parse_bytes(&bytes).unwrap().data_start;
    let (mut ok, mut failed) = (0, 0);
    for i in 0..header_len {
        for v in [0x00, 0x7f, 0xff] {
            let mut b = bytes.clone();
            b[i] = v;
            match parse_bytes(&b) {
                Ok(h) => {
                    ok += 1;
                    for t in &h.tensors {
                        let end = h.data_start + t.offset as usize + t.n_bytes;
                        assert!(
                            end <= b.len(),
                            "byte {i} = {v:#x}: {} ends at {end}",
                            t.name
                        );
                        assert_eq!(t.n_elements, t.dims.iter().product::<u64>() as usize);
                    }
                }
                Err(e) => {
                    failed += 1;
                    let msg = e.to_string();
                    assert!(
                        msg.starts_with("mem.gguf: ") && !msg.contains('\n'),
                        "{msg}"
                    );
                }
            }
        }
    }
    assert!(ok > 0 && failed > 0, "{ok} parsed, {failed} failed");
}

/// A header with one metadata pair whose value bytes are `value` (type id first).
fn one_kv(value: &[u8]) -> Vec<u8> {
    let mut b = GgufWriter::new().to_bytes().unwrap();
    b[16] = 1; // metadata count
    put_str(&mut b, "k");
    b.extend(value);
    b
}

#[test]
fn absurd_lengths_and_counts_are_errors() {
    let huge_string = one_kv(&[&vt::STRING.to_le_bytes()[..], &u64::MAX.to_le_bytes()].concat());
    let err = parse_bytes(&huge_string).err().unwrap();
    assert!(err.to_string().contains("claims"), "{err}");

    let huge_array = one_kv(
        &[
            &vt::ARRAY.to_le_bytes()[..],
            &vt::U32.to_le_bytes(),
            &(1u64 << 40).to_le_bytes(),
        ]
        .concat(),
    );
    assert!(matches!(
        parse_bytes(&huge_array),
        Err(ModelError::Truncated { .. })
    ));

    let bad_type = one_kv(&99u32.to_le_bytes());
    let err = parse_bytes(&bad_type).err().unwrap();
    assert!(err.to_string().contains("unknown value type 99"), "{err}");

    let mut deep = Vec::new();
    for _ in 0..100 {
        deep.extend(vt::ARRAY.to_le_bytes());
        deep.extend(1u64.to_le_bytes());
    }
    let err = parse_bytes(&one_kv(&[&vt::ARRAY.to_le_bytes()[..], &deep].concat()))
        .err()
        .unwrap();
    assert!(err.to_string().contains("too deeply"), "{err}");

    let mut many_tensors = GgufWriter::new().to_bytes().unwrap();
    many_tensors[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        parse_bytes(&many_tensors),
        Err(ModelError::Truncated { .. })
    ));
}

#[test]
fn bad_tensor_infos_are_errors() {
    let mut w = GgufWriter::new();
    w.tensor("q", &[1, 30], GgmlType::Q8_0, vec![0; 34]);
    let err = parse_bytes(&w.to_bytes().unwrap()).err().unwrap();
    assert!(
        err.to_string()
            .contains("not a whole number of Q8_0 blocks"),
        "{err}"
    );

    let mut w = GgufWriter::new();
    w.tensor_f32("t", &[1], &[1.0]);
    let mut bytes = w.to_bytes().unwrap();
    let info = 24 + 8 + 1; // header, name length, name
    bytes[info + 4 + 8..info + 4 + 8 + 4].copy_from_slice(&77u32.to_le_bytes());
    let err = parse_bytes(&bytes).err().unwrap();
    assert!(err.to_string().contains("unknown ggml type 77"), "{err}");

    let mut bytes = w.to_bytes().unwrap();
    bytes[info + 4 + 8 + 4] = 4; // offset 4: misaligned
    let err = parse_bytes(&bytes).err().unwrap();
    assert!(
        err.to_string().contains("not a multiple of the alignment"),
        "{err}"
    );

    let mut w = GgufWriter::new();
    w.tensor_f32("t", &[1], &[1.0])
        .tensor_f32("t", &[1], &[2.0]);
    let err = parse_bytes(&w.to_bytes().unwrap()).err().unwrap();
    assert!(err.to_string().contains("appears twice"), "{err}");
}

#[test]
fn unsupported_quant_names_tensor_and_type() {
    let mut w = GgufWriter::new();
    w.tensor("blk.0.ffn_up.weight", &[256], GgmlType::Q2_K, vec![0; 84]);
    let f = open_bytes("q2k", &w.to_bytes().unwrap()).unwrap();
    assert_eq!(f.tensor_bytes(&f.tensors()[0]).unwrap().len(), 84);
    let err = f.dequantize("blk.0.ffn_up.weight").err().unwrap();
    assert!(matches!(&err, ModelError::UnsupportedQuant { ty, .. } if ty == "Q2_K"));
    assert!(err
        .to_string()
        .ends_with("tensor 'blk.0.ffn_up.weight' has unsupported type Q2_K"));
}

#[test]
fn writer_rejects_mixed_arrays() {
    let mut w = GgufWriter::new();
    w.meta(
        "x",
        MetaValue::Array(vec![MetaValue::U8(1), MetaValue::I8(1)]),
    );
    assert!(matches!(w.to_bytes(), Err(ModelError::Other(_))));
}
