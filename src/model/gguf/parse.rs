//! Parsing the header, metadata and tensor infos of a GGUF file from its bytes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::super::error::{sanitize, ModelError};
use super::super::quant::GgmlType;
use super::{
    vt, Header, MetaValue, Result, TensorInfo, DEFAULT_ALIGNMENT, MAGIC, MAX_ARRAY_DEPTH, MAX_DIMS,
};
/// Bounds-checked little-endian cursor over the file bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, what: String) -> ModelError {
        ModelError::Truncated {
            path: self.path.to_path_buf(),
            what: sanitize(&what),
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.corrupt(format!(
                "{} needs {n} bytes at offset {} but the file is {} bytes long",
                what(),
                self.pos,
                self.buf.len()
            )));
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// Reads a `u64` count of items that each take at least `min_size` bytes, rejecting
    /// counts that could not fit in the rest of the file.
    fn count(&mut self, min_size: usize, what: &dyn Fn() -> String) -> Result<usize> {
        let n = self.u64(what)?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min_size) <= self.remaining() => Ok(n),
            _ => Err(self.corrupt(format!(
                "{} claims {n} items but only {} bytes remain",
                what(),
                self.remaining()
            ))),
        }
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String> {
        let len = self.count(1, &|| format!("length of {}", what()))?;
        let bytes = self.take(len, what)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    fn value(&mut self, ty: u32, depth: usize, what: &dyn Fn() -> String) -> Result<MetaValue> {
        Ok(match ty {
            vt::U8 => MetaValue::U8(u8::from_le_bytes(self.array(what)?)),
            vt::I8 => MetaValue::I8(i8::from_le_bytes(self.array(what)?)),
            vt::U16 => MetaValue::U16(u16::from_le_bytes(self.array(what)?)),
            vt::I16 => MetaValue::I16(i16::from_le_bytes(self.array(what)?)),
            vt::U32 => MetaValue::U32(self.u32(what)?),
            vt::I32 => MetaValue::I32(i32::from_le_bytes(self.array(what)?)),
            vt::F32 => MetaValue::F32(f32::from_le_bytes(self.array(what)?)),
            vt::BOOL => MetaValue::Bool(self.array::<1>(what)?[0] != 0),
            vt::STRING => MetaValue::Str(self.string(what)?),
            vt::ARRAY => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(self.corrupt(format!("{} nests arrays too deeply", what())));
                }
                let elem_ty = self.u32(what)?;
                let min_size = match elem_ty {
                    vt::U8 | vt::I8 | vt::BOOL => 1,
                    vt::U16 | vt::I16 => 2,
                    vt::U32 | vt::I32 | vt::F32 => 4,
                    vt::U64 | vt::I64 | vt::F64 | vt::STRING => 8,
                    vt::ARRAY => 12,
                    _ => return Err(self.bad_type(elem_ty, what)),
                };
                let n = self.count(min_size, what)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(elem_ty, depth + 1, what)?);
                }
                MetaValue::Array(items)
            }
            vt::U64 => MetaValue::U64(self.u64(what)?),
            vt::I64 => MetaValue::I64(i64::from_le_bytes(self.array(what)?)),
            vt::F64 => MetaValue::F64(f64::from_le_bytes(self.array(what)?)),
            _ => return Err(self.bad_type(ty, what)),
        })
    }

    fn bad_type(&self, ty: u32, what: &dyn Fn() -> String) -> ModelError {
        self.corrupt(format!("{} has unknown value type {ty}", what()))
    }
}

pub(super) fn parse(buf: &[u8], path: &Path) -> Result<Header> {
    let mut r = Reader { buf, pos: 0, path };
    let magic = r.u32(&|| "magic".into()).map_err(|_| ModelError::NotGguf {
        path: path.to_path_buf(),
        reason: format!("file is only {} bytes long", buf.len()),
    })?;
    if magic != MAGIC {
        return Err(ModelError::NotGguf {
            path: path.to_path_buf(),
            reason: format!("magic {magic:#010x}"),
        });
    }
    let version = r.u32(&|| "version".into())?;
    if !(2..=3).contains(&version) {
        return Err(ModelError::UnsupportedVersion {
            path: path.to_path_buf(),
            version,
        });
    }
    // Minimal sizes: a tensor info is name length + n_dims + type + offset; a metadata
    // pair is key length + value type + a one-byte value.
    let n_tensors = r.count(24, &|| "tensor count".into())?;
    let n_kv = r.count(13, &|| "metadata count".into())?;

    let mut metadata = BTreeMap::new();
    for i in 0..n_kv {
        let key = r.string(&|| format!("metadata key #{i}"))?;
        let what = || format!("metadata value '{key}'");
        let ty = r.u32(&what)?;
        let value = r.value(ty, 0, &what)?;
        if metadata.insert(key.clone(), value).is_some() {
            return Err(r.corrupt(format!("metadata key '{key}' appears twice")));
        }
    }

    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(v) => match v.as_i128().and_then(|a| u64::try_from(a).ok()) {
            Some(a) if a.is_power_of_two() => a,
            _ => return Err(r.corrupt(format!("general.alignment {v:?} is not a power of two"))),
        },
    };

    let mut tensors: Vec<TensorInfo> = Vec::with_capacity(n_tensors);
    let mut names = HashMap::with_capacity(n_tensors);
    for i in 0..n_tensors {
        let name = r.string(&|| format!("name of tensor #{i}"))?;
        let what = || format!("info of tensor '{name}'");
        let n_dims = r.u32(&what)? as usize;
        if n_dims > MAX_DIMS {
            return Err(r.corrupt(format!("tensor '{name}' has {n_dims} dimensions")));
        }
        let dims = (0..n_dims)
            .map(|_| r.u64(&what))
            .collect::<Result<Vec<u64>>>()?;
        let type_id = r.u32(&what)?;
        let offset = r.u64(&what)?;
        let ty = GgmlType::from_id(type_id)
            .ok_or_else(|| r.corrupt(format!("tensor '{name}' has unknown ggml type {type_id}")))?;
        let n_elements = dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))
            .ok_or_else(|| r.corrupt(format!("tensor '{name}' dims {dims:?} overflow")))?;
        let inner = dims.first().copied().unwrap_or(1);
        if inner % ty.block_size() as u64 != 0 {
            return Err(r.corrupt(format!(
                "tensor '{name}' row of {inner} elements is not a whole number of {ty} blocks",
            )));
        }
        if offset % alignment != 0 {
            return Err(r.corrupt(format!(
                "tensor '{name}' offset {offset} is not a multiple of the alignment {alignment}"
            )));
        }
        let n_bytes = (n_elements / ty.block_size())
            .checked_mul(ty.type_size())
            .ok_or_else(|| r.corrupt(format!("tensor '{name}' is too large")))?;
        if names.insert(name.clone(), i).is_some() {
            return Err(r.corrupt(format!("tensor '{name}' appears twice")));
        }
        tensors.push(TensorInfo {
            name,
            dims,
            ty,
            offset,
            n_elements,
            n_bytes,
        });
    }

    let data_start = usize::try_from(align_up(r.pos as u64, alignment))
        .map_err(|_| r.corrupt("data section start overflows".into()))?;
    for t in &tensors {
        let end = usize::try_from(t.offset)
            .ok()
            .and_then(|o| o.checked_add(data_start)?.checked_add(t.n_bytes));
        if end.is_none_or(|e| e > buf.len()) {
            return Err(r.corrupt(format!(
                "data of tensor '{}' ({} bytes at data offset {}) extends past the end of the file ({} bytes)",
                t.name,
                t.n_bytes,
                t.offset,
                buf.len()
            )));
        }
    }

    Ok(Header {
        version,
        metadata,
        tensors,
        alignment,
        data_start,
    })
}

pub(super) fn align_up(x: u64, alignment: u64) -> u64 {
    x.div_ceil(alignment).saturating_mul(alignment)
}
