//! Writing small GGUF v3 files (tests and fixtures).

use std::path::Path;

use super::super::error::ModelError;
use super::super::quant::GgmlType;
use super::parse::align_up;
use super::{vt, MetaValue, Result, DEFAULT_ALIGNMENT, MAGIC};

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

    /// Adds a metadata pair, or replaces the value of a key already set. Setting
    /// `general.alignment` changes the layout written.
    pub fn meta(&mut self, key: &str, value: MetaValue) -> &mut Self {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.metadata.push((key.to_string(), value)),
        }
        self
    }

    /// Removes a metadata key.
    pub fn remove_meta(&mut self, key: &str) -> &mut Self {
        self.metadata.retain(|(k, _)| k != key);
        self
    }

    /// The metadata, in the order written.
    pub fn metadata(&self) -> &[(String, MetaValue)] {
        &self.metadata
    }

    /// Names of the tensors, in the order written.
    pub fn tensor_names(&self) -> Vec<String> {
        self.tensors.iter().map(|t| t.0.clone()).collect()
    }

    /// Changes a tensor's declared shape (outermost first) or type, keeping its bytes: a
    /// way to write inconsistent files for tests.
    pub fn redeclare(&mut self, name: &str, shape: Option<&[usize]>, ty: Option<GgmlType>) {
        for t in self.tensors.iter_mut().filter(|t| t.0 == name) {
            if let Some(shape) = shape {
                t.1 = shape.iter().rev().map(|&d| d as u64).collect();
            }
            if let Some(ty) = ty {
                t.2 = ty;
            }
        }
    }

    /// Removes a tensor.
    pub fn remove_tensor(&mut self, name: &str) -> &mut Self {
        self.tensors.retain(|t| t.0 != name);
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

pub(super) fn put_str(out: &mut Vec<u8>, s: &str) {
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
