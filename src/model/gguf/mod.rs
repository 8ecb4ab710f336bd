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

mod parse;
#[cfg(test)]
mod tests;
mod tiny;
mod writer;

pub use tiny::{tiny_gemma3, tiny_llama, TINY_GEMMA_VOCAB, TINY_HIDDEN, TINY_VOCAB};
pub use writer::GgufWriter;

use parse::parse;

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
