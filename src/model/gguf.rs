//! Reader for GGUF model files (versions 2 and 3), over a memory map.
//!
//! Layout: magic `GGUF`, `u32` version, `u64` tensor count, `u64` metadata count, the
//! metadata key/value pairs, the tensor infos, then (aligned to `general.alignment`,
//! default 32) the tensor data section. Everything is little-endian; every read is
//! bounds-checked, so a truncated or corrupt file yields an error, never a panic.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::error::ModelError;
use super::quant::{self, GgmlType};

type Result<T> = std::result::Result<T, ModelError>;

/// `GGUF` read as a little-endian `u32`.
const MAGIC: u32 = 0x4655_4747;
/// Alignment of the data section and of each tensor when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Most dimensions a ggml tensor can have.
const MAX_DIMS: usize = 4;
/// Deepest nesting of arrays accepted in metadata.
const MAX_ARRAY_DEPTH: usize = 8;

/// GGUF metadata value type ids.
mod vt {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    /// Elements all share one type (an empty array's element type is not kept).
    Array(Vec<MetaValue>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl MetaValue {
    /// The value as an integer, if it is one of the integer types.
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            MetaValue::U8(v) => v.into(),
            MetaValue::I8(v) => v.into(),
            MetaValue::U16(v) => v.into(),
            MetaValue::I16(v) => v.into(),
            MetaValue::U32(v) => v.into(),
            MetaValue::I32(v) => v.into(),
            MetaValue::U64(v) => v.into(),
            MetaValue::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// The value as an `f32`, if it is numeric (integers are converted).
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            MetaValue::F32(v) => Some(v),
            MetaValue::F64(v) => Some(v as f32),
            _ => self.as_i128().map(|v| v as f32),
        }
    }

    /// The value as a string slice, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if the value is an array.
    pub fn as_array(&self) -> Option<&[MetaValue]> {
        match self {
            MetaValue::Array(a) => Some(a),
            _ => None,
        }
    }

    fn type_id(&self) -> u32 {
        match self {
            MetaValue::U8(_) => vt::U8,
            MetaValue::I8(_) => vt::I8,
            MetaValue::U16(_) => vt::U16,
            MetaValue::I16(_) => vt::I16,
            MetaValue::U32(_) => vt::U32,
            MetaValue::I32(_) => vt::I32,
            MetaValue::F32(_) => vt::F32,
            MetaValue::Bool(_) => vt::BOOL,
            MetaValue::Str(_) => vt::STRING,
            MetaValue::Array(_) => vt::ARRAY,
            MetaValue::U64(_) => vt::U64,
            MetaValue::I64(_) => vt::I64,
            MetaValue::F64(_) => vt::F64,
        }
    }
}

/// Where and how one tensor is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// Dimensions as GGUF lists them: innermost (contiguous) first.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Byte offset of the data, relative to the start of the data section.
    pub offset: u64,
    /// Product of `dims`.
    pub n_elements: usize,
    /// Size of the data in bytes.
    pub n_bytes: usize,
}

impl TensorInfo {
    /// Number of dimensions.
    pub fn n_dims(&self) -> usize {
        self.dims.len()
    }

    /// Dimensions outermost first, as torch expects (`dims` reversed).
    pub fn shape(&self) -> Vec<usize> {
        // Each dimension divides `n_elements`, which fits in usize (checked on load).
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

/// An open, memory-mapped GGUF file with its parsed header.
pub struct GgufFile {
    path: PathBuf,
    mmap: Mmap,
    header: Header,
    by_name: HashMap<String, usize>,
}

struct Header {
    version: u32,
    metadata: BTreeMap<String, MetaValue>,
    tensors: Vec<TensorInfo>,
    alignment: u64,
    data_start: usize,
}

impl GgufFile {
    /// Maps `path` and parses its header, metadata and tensor infos, checking that every
    /// tensor's data lies inside the file.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile> {
        let path = path.as_ref().to_path_buf();
        let io = |source| ModelError::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io)?;
        // SAFETY: the map is read-only; as with every mmap-based model loader, the file
        // must not be truncated or rewritten by another process while it is open.
        let mmap = unsafe { Mmap::map(&file) }.map_err(io)?;
        let header = parse(&mmap, &path)?;
        let by_name = header
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(GgufFile {
            path,
            mmap,
            header,
            by_name,
        })
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.header.version
    }

    /// Data alignment in bytes (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.header.alignment
    }

    /// File offset of the tensor data section.
    pub fn data_start(&self) -> usize {
        self.header.data_start
    }

    /// All metadata, by key.
    pub fn metadata(&self) -> &BTreeMap<String, MetaValue> {
        &self.header.metadata
    }

    /// The metadata value under `key`.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.header.metadata.get(key)
    }

    /// An integer value of any integer type that fits in `u32`.
    pub fn get_u32(&self, key: &str) -> Option<u32> {
        self.get(key)?.as_i128()?.try_into().ok()
    }

    /// An integer value of any integer type that fits in `u64`.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_i128()?.try_into().ok()
    }

    /// A numeric value (float or integer) as `f32`.
    pub fn get_f32(&self, key: &str) -> Option<f32> {
        self.get(key)?.as_f32()
    }

    /// A boolean value.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            MetaValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A string value.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }

    /// An array of strings (`None` if any element is not a string).
    pub fn get_str_array(&self, key: &str) -> Option<Vec<&str>> {
        self.get(key)?
            .as_array()?
            .iter()
            .map(MetaValue::as_str)
            .collect()
    }

    /// An array of integers that all fit in `i32`.
    pub fn get_i32_array(&self, key: &str) -> Option<Vec<i32>> {
        self.get(key)?
            .as_array()?
            .iter()
            .map(|v| v.as_i128()?.try_into().ok())
            .collect()
    }

    /// An array of numbers, as `f32`.
    pub fn get_f32_array(&self, key: &str) -> Option<Vec<f32>> {
        self.get(key)?
            .as_array()?
            .iter()
            .map(MetaValue::as_f32)
            .collect()
    }

    /// The length of an array value.
    pub fn get_array_len(&self, key: &str) -> Option<usize> {
        Some(self.get(key)?.as_array()?.len())
    }

    /// `general.architecture`, e.g. `llama`.
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// All tensor infos, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.header.tensors
    }

    /// The tensor named `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.header.tensors[i])
    }

    /// The raw (possibly quantized) bytes of a tensor.
    pub fn tensor_bytes(&self, info: &TensorInfo) -> Result<&[u8]> {
        let start = usize::try_from(info.offset)
            .ok()
            .and_then(|o| o.checked_add(self.header.data_start));
        start
            .and_then(|s| self.mmap.get(s..s.checked_add(info.n_bytes)?))
            .ok_or_else(|| ModelError::Truncated {
                path: self.path.clone(),
                what: format!("data of tensor '{}' lies outside the file", info.name),
            })
    }

    /// Dequantizes tensor `name` to `f32`, returning the data and its shape (outermost first).
    pub fn dequantize(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let info = self.tensor(name).ok_or_else(|| ModelError::MissingTensor {
            name: name.to_string(),
        })?;
        let data = quant::dequantize(info.ty, self.tensor_bytes(info)?).ok_or_else(|| {
            ModelError::UnsupportedQuant {
                path: Some(self.path.clone()),
                tensor: info.name.clone(),
                ty: info.ty.name().to_string(),
            }
        })?;
        Ok((data, info.shape()))
    }
}

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
            what,
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

fn parse(buf: &[u8], path: &Path) -> Result<Header> {
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

fn align_up(x: u64, alignment: u64) -> u64 {
    x.div_ceil(alignment).saturating_mul(alignment)
}

/// Builds small GGUF v3 files, for tests and fixtures.
///
/// Tensors are laid out in the order added, each aligned; no padding follows the last one.
#[derive(Default)]
pub struct GgufWriter {
    metadata: Vec<(String, MetaValue)>,
    tensors: Vec<(String, Vec<u64>, GgmlType, Vec<u8>)>,
}

impl GgufWriter {
    /// An empty file: no metadata, no tensors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a metadata pair. Setting `general.alignment` changes the layout written.
    pub fn meta(&mut self, key: &str, value: MetaValue) -> &mut Self {
        self.metadata.push((key.to_string(), value));
        self
    }

    /// Adds a tensor from raw bytes in type `ty`, with `shape` outermost first.
    pub fn tensor(
        &mut self,
        name: &str,
        shape: &[usize],
        ty: GgmlType,
        data: Vec<u8>,
    ) -> &mut Self {
        let dims = shape.iter().rev().map(|&d| d as u64).collect();
        self.tensors.push((name.to_string(), dims, ty, data));
        self
    }

    /// Adds an `F32` tensor.
    pub fn tensor_f32(&mut self, name: &str, shape: &[usize], data: &[f32]) -> &mut Self {
        let bytes = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.tensor(name, shape, GgmlType::F32, bytes)
    }

    /// Serializes the file. Fails if an array mixes element types.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let alignment = self
            .metadata
            .iter()
            .find(|(k, _)| k == "general.alignment")
            .and_then(|(_, v)| v.as_i128())
            .and_then(|a| u64::try_from(a).ok())
            .unwrap_or(DEFAULT_ALIGNMENT)
            .max(1);
        let mut out = Vec::new();
        out.extend(MAGIC.to_le_bytes());
        out.extend(3u32.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            put_str(&mut out, key);
            out.extend(value.type_id().to_le_bytes());
            put_value(&mut out, value)?;
        }
        let mut offset = 0u64;
        let mut offsets = Vec::with_capacity(self.tensors.len());
        for (name, dims, ty, data) in &self.tensors {
            put_str(&mut out, name);
            out.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend(d.to_le_bytes());
            }
            out.extend(ty.id().to_le_bytes());
            out.extend(offset.to_le_bytes());
            offsets.push(offset);
            offset = align_up(offset + data.len() as u64, alignment);
        }
        let data_start = align_up(out.len() as u64, alignment);
        for ((_, _, _, data), off) in self.tensors.iter().zip(offsets) {
            out.resize((data_start + off) as usize, 0);
            out.extend(data);
        }
        Ok(out)
    }

    /// Writes the file to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_bytes()?).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, value: &MetaValue) -> Result<()> {
    match value {
        MetaValue::U8(v) => out.extend(v.to_le_bytes()),
        MetaValue::I8(v) => out.extend(v.to_le_bytes()),
        MetaValue::U16(v) => out.extend(v.to_le_bytes()),
        MetaValue::I16(v) => out.extend(v.to_le_bytes()),
        MetaValue::U32(v) => out.extend(v.to_le_bytes()),
        MetaValue::I32(v) => out.extend(v.to_le_bytes()),
        MetaValue::F32(v) => out.extend(v.to_le_bytes()),
        MetaValue::Bool(v) => out.push(u8::from(*v)),
        MetaValue::Str(s) => put_str(out, s),
        MetaValue::Array(items) => {
            let ty = items.first().map_or(vt::U8, MetaValue::type_id);
            if items.iter().any(|v| v.type_id() != ty) {
                return Err(ModelError::Other(
                    "GGUF array elements must all have one type".into(),
                ));
            }
            out.extend(ty.to_le_bytes());
            out.extend((items.len() as u64).to_le_bytes());
            for item in items {
                put_value(out, item)?;
            }
        }
        MetaValue::U64(v) => out.extend(v.to_le_bytes()),
        MetaValue::I64(v) => out.extend(v.to_le_bytes()),
        MetaValue::F64(v) => out.extend(v.to_le_bytes()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL_MODEL: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    );

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
    fn corrupted_bytes_never_panic() {
        // Flip each byte of the header region to a few values; parsing may succeed or
        // fail, but must not panic or allocate absurdly.
        let bytes = sample().to_bytes().unwrap();
        let header_len = parse_bytes(&bytes).unwrap().data_start;
        for i in 0..header_len {
            for v in [0x00, 0x7f, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                let _ = parse_bytes(&b);
            }
        }
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
        let huge_string =
            one_kv(&[&vt::STRING.to_le_bytes()[..], &u64::MAX.to_le_bytes()].concat());
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

    #[test]
    fn real_model_if_present() {
        let path = Path::new(REAL_MODEL);
        if !path.exists() {
            eprintln!("skipping: {} not found", path.display());
            return;
        }
        let f = GgufFile::open(path).unwrap();
        assert_eq!(f.architecture(), Some("llama"));
        assert_eq!(f.get_u32("llama.block_count"), Some(30));
        assert!(f.tensor("blk.29.attn_q.weight").is_some());
        assert!(f.tensor("blk.30.attn_q.weight").is_none());
        assert_eq!(f.tensor("token_embd.weight").unwrap().shape(), [49152, 576]);
        assert_eq!(f.get_array_len("tokenizer.ggml.tokens"), Some(49152));
        let (q, shape) = f.dequantize("blk.0.attn_q.weight").unwrap();
        assert_eq!(shape, [576, 576]);
        assert!(q.iter().all(|x| x.is_finite()));
        let n = q.len() as f64;
        let mean = q.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let std = (q
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        assert!(
            mean.abs() < 0.05 && (0.01..1.0).contains(&std),
            "mean {mean} std {std}"
        );
    }
}
