//! Errors raised while loading model files and building models.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Everything that can go wrong between a model file on disk and a ready model.
///
/// Each message is a single line that names the file or value at fault and the problem,
/// so it can be shown to the user as-is.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The file could not be opened, read or mapped.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file does not start with the GGUF magic (or is too short to hold it).
    #[error("{}: not a GGUF file ({reason})", path.display())]
    NotGguf { path: PathBuf, reason: String },

    /// A GGUF file of a version this reader does not understand.
    #[error(
        "{}: GGUF version {version} is not supported (only versions 2 and 3 are)",
        path.display()
    )]
    UnsupportedVersion { path: PathBuf, version: u32 },

    /// The file ends early, or a count, length or offset in it is impossible.
    #[error("{}: truncated or corrupt GGUF file: {what}", path.display())]
    Truncated { path: PathBuf, what: String },

    /// A tensor is stored in a ggml type that cannot be dequantized.
    #[error("{}tensor '{tensor}' has unsupported type {ty}", path_prefix(path.as_deref()))]
    UnsupportedQuant {
        path: Option<PathBuf>,
        tensor: String,
        ty: String,
    },

    /// The model declares an architecture that is not implemented.
    #[error("unsupported model architecture '{arch}'")]
    UnknownArch { arch: String },

    /// Hyper-parameters or other configuration are missing or inconsistent.
    #[error("{}: bad model configuration: {msg}", path.display())]
    BadConfig { path: PathBuf, msg: String },

    /// A tensor the architecture needs is absent from the file.
    #[error("model has no tensor '{name}'")]
    MissingTensor { name: String },

    /// The tokens do not fit in the model's context window.
    #[error("{needed} tokens do not fit in the model's context of {context} tokens")]
    ContextFull { needed: usize, context: usize },

    /// Anything else, already phrased as a one-line message.
    #[error("{0}")]
    Other(String),
}

impl ModelError {
    /// Whether the fault lies in the input (a model file, a value, a prompt too long) rather
    /// than in a computation that failed while running.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, ModelError::Other(_))
    }
}

/// Text from a file made fit for a one-line message: control characters escaped, at most
/// 200 characters kept.
pub fn sanitize(text: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn path_prefix(path: Option<&Path>) -> String {
    path.map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_the_file() {
        let errs = [
            ModelError::NotGguf {
                path: "models/x.gguf".into(),
                reason: "magic 0x464c457f".into(),
            },
            ModelError::UnsupportedQuant {
                path: Some("m.gguf".into()),
                tensor: "blk.0.attn_q.weight".into(),
                ty: "Q2_K".into(),
            },
            ModelError::Io {
                path: "gone.gguf".into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            },
        ];
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(msgs[0], "models/x.gguf: not a GGUF file (magic 0x464c457f)");
        assert_eq!(
            msgs[1],
            "m.gguf: tensor 'blk.0.attn_q.weight' has unsupported type Q2_K"
        );
        assert!(msgs[2].starts_with("gone.gguf: "));
        assert!(msgs.iter().all(|m| !m.contains('\n')));
        let no_path = ModelError::UnsupportedQuant {
            path: None,
            tensor: "t".into(),
            ty: "IQ2_XXS".into(),
        };
        assert_eq!(
            no_path.to_string(),
            "tensor 't' has unsupported type IQ2_XXS"
        );
    }
}
