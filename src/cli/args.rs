//! Arguments shared by several subcommands: the model, and the sampler knobs.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::decode::config::SamplerConfig;
use crate::decode::contrast::ContrastKnobs;
use crate::decode::grammar::{GrammarKind, GrammarSpec};
use crate::decode::steer::SteerKnobs;
use crate::model::tokenizer::Tok;
use crate::model::{default_model_path, threads, Dtype};

use super::CliError;

/// Compute precision on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DtypeArg {
    F32,
    Bf16,
    /// Weight-only int8 projections, bf16 activations.
    Q8,
    /// Weight-only int4 projections (GGUF 4-bit codes kept, scales in bf16), bf16 activations.
    Q4,
}

impl From<DtypeArg> for Dtype {
    fn from(d: DtypeArg) -> Dtype {
        match d {
            DtypeArg::F32 => Dtype::F32,
            DtypeArg::Bf16 => Dtype::Bf16,
            DtypeArg::Q8 => Dtype::Q8,
            DtypeArg::Q4 => Dtype::Q4,
        }
    }
}

/// Which model to load and how to run it.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// A GGUF file or a Hugging Face directory (config.json, *.safetensors, tokenizer.json).
    /// Default: the installed SmolLM2-135M-Instruct (scripts/setup.sh).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Compute precision (never f16: it is ~100x slower on CPUs). q8 / q4: weight-only int8 /
    /// int4 projections (libtorch's packed CPU kernels; int8 decode steps on our own).
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: DtypeArg,
    /// Where the model runs: cpu, or cuda (needs an NVIDIA GPU and libtorch's CUDA build).
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    pub device: String,
    /// CPU threads for the model, fixed (default: all cores, dropping to one while steps
    /// show another process holding a core, and probing back now and then).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub threads: Option<usize>,
}

impl ModelArgs {
    /// The model path, after applying the default; sets the thread count.
    pub fn prepare(&self) -> Result<PathBuf, CliError> {
        match self.device.as_str() {
            "cpu" => {}
            "cuda" if !tch::Cuda::is_available() => {
                return Err(CliError::usage(
                    "--device cuda: no CUDA device is available on this machine (use --device cpu)",
                ))
            }
            "cuda" => {
                return Err(CliError::usage(
                    "--device cuda: a GPU is present, but this build runs models on the CPU only",
                ))
            }
            other => {
                return Err(CliError::usage(format!(
                    "--device {other}: expected cpu or cuda"
                )))
            }
        }
        match self.threads {
            Some(0) => return Err(CliError::usage("--threads must be at least 1")),
            Some(n) => threads::pin(n as i32),
            None => {
                threads::govern(std::thread::available_parallelism().map_or(1, |n| n.get()) as i32)
            }
        }
        let path = self.model.clone().unwrap_or_else(default_model_path);
        if !path.exists() {
            let hint = if self.model.is_none() {
                " (run scripts/setup.sh to install the default model)"
            } else {
                ""
            };
            return Err(CliError::usage(format!(
                "{}: no such model file or directory{hint}",
                path.display()
            )));
        }
        Ok(path)
    }
}

/// The sampler chain's knobs.
#[derive(Debug, Clone, Args)]
pub struct KnobArgs {
    /// Always take the most probable token (same as --temperature 0).
    #[arg(long)]
    pub greedy: bool,
    /// Seed of the sampling RNG (PCG64); the same seed, prompt and knobs give the same tokens.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Softmax temperature (0 = greedy; 1 = the model's distribution).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub temperature: Option<f32>,
    /// Keep the K most probable tokens.
    #[arg(long, value_name = "K", allow_hyphen_values = true)]
    pub top_k: Option<usize>,
    /// Nucleus: keep the smallest set of most probable tokens whose mass reaches P, in (0, 1].
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    pub top_p: Option<f32>,
    /// Keep tokens with probability at least P times the top token's, in [0, 1].
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    pub min_p: Option<f32>,
    /// Epsilon sampling: keep tokens with probability at least E, in [0, 1).
    #[arg(long, value_name = "E", allow_hyphen_values = true)]
    pub epsilon: Option<f32>,
    /// Eta sampling: entropy-dependent cutoff min(eta, sqrt(eta)·exp(-H)), in [0, 1).
    #[arg(long, value_name = "ETA", allow_hyphen_values = true)]
    pub eta: Option<f32>,
    /// Locally typical sampling mass, in (0, 1].
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    pub typical_p: Option<f32>,
    /// Hugging Face repetition penalty (> 0; 1 = off): divides positive, multiplies negative
    /// logits of tokens already in the text.
    #[arg(long, value_name = "R", allow_hyphen_values = true)]
    pub repetition_penalty: Option<f32>,
    /// OpenAI frequency penalty: logit -= F × count of the token among generated tokens.
    #[arg(long, value_name = "F", allow_hyphen_values = true)]
    pub frequency_penalty: Option<f32>,
    /// OpenAI presence penalty: logit -= P when the token was generated at least once.
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    pub presence_penalty: Option<f32>,
    /// Never repeat an n-gram of this size.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub no_repeat_ngram: Option<usize>,
    /// Ban a string (repeatable). It is tokenised the ways it can appear: as given, with a
    /// leading space, and capitalised (with and without the space); the last token of each
    /// tokenisation is banned whenever the text ends with the tokens before it.
    #[arg(long, value_name = "STR")]
    pub ban: Vec<String>,
    /// Add F to token ID's logit (repeatable; F may be -inf to ban it).
    #[arg(long, value_name = "ID=F", value_parser = parse_bias, allow_hyphen_values = true)]
    pub logit_bias: Vec<(u32, f32)>,
    /// Stage order, comma-separated (default:
    /// dola,contrast,ensemble,grammar,fudge,rad,logit_bias,penalties,no_repeat_ngram,bans,temperature,top_k,top_p,min_p,typical_p,epsilon,eta).
    #[arg(long, value_name = "ORDER", value_delimiter = ',')]
    pub samplers: Option<Vec<String>>,
    /// Contrastive decoding (Li et al. 2023) against this amateur: `self:L` (the target's own
    /// first L layers, then its final norm and head) or a GGUF file / Hugging Face directory
    /// of a smaller model with the same vocabulary. Scores log p_expert − log p_amateur over
    /// the tokens with p_expert ≥ cd-alpha × the best.
    #[arg(long, value_name = "SPEC")]
    pub amateur: Option<String>,
    /// Contrastive decoding's plausibility cut α, in (0, 1].
    #[arg(
        long,
        value_name = "A",
        default_value_t = 0.1,
        allow_hyphen_values = true
    )]
    pub cd_alpha: f32,
    /// The amateur's temperature τ (the paper uses 0.5).
    #[arg(
        long,
        value_name = "T",
        default_value_t = 0.5,
        allow_hyphen_values = true
    )]
    pub amateur_temperature: f32,
    /// DoLa (Chuang et al. 2024): contrast the final layer with the premature layer of largest
    /// divergence among `low` (the lower half), `high` (the upper half) or L1,L2,... (0 = the
    /// embedding output), as Hugging Face chooses them. As Hugging Face advises, add
    /// --repetition-penalty 1.2 (DoLa alone tends to repeat itself).
    #[arg(long, value_name = "LAYERS")]
    pub dola_layers: Option<String>,
    /// Contrastive search (Su et al. 2022) with this α in [0, 1]: runs when α > 0 and
    /// --top-k K > 1, choosing among the K most probable tokens by (1 − α)·p − α·(largest
    /// cosine similarity of its hidden state to the context's). The K candidates run in one
    /// batched forward.
    #[arg(long, value_name = "A", allow_hyphen_values = true)]
    pub penalty_alpha: Option<f32>,
    /// Constrain the output to match this regular expression, whole (Rust regex syntax,
    /// anchored at both ends): the `grammar` stage removes every token that cannot continue a
    /// match and, once the match cannot be extended, allows only end-of-sequence.
    #[arg(long, value_name = "R", allow_hyphen_values = true, conflicts_with_all = ["json_schema", "grammar"])]
    pub regex: Option<String>,
    /// Constrain the output to be JSON valid under the JSON schema in FILE (llguidance's
    /// subset of draft 2020-12: types, properties, required, enum, const, patterns, lengths,
    /// ranges, anyOf, $ref, ...).
    #[arg(long, value_name = "FILE", conflicts_with = "grammar")]
    pub json_schema: Option<PathBuf>,
    /// Constrain the output by the context-free grammar in FILE, in llguidance's Lark dialect
    /// (rule `start`; "literals", /regexes/, rule alternatives and repetitions, %json{...}
    /// for an embedded schema).
    #[arg(long, value_name = "FILE")]
    pub grammar: Option<PathBuf>,
    /// FUDGE (Yang & Klein 2021): rescore the --fudge-topk most probable candidates x by
    /// adding λ·log P(attribute | prefix + x) from this probe (`logitscope probe train`); the
    /// candidates run in one batched forward, and the other tokens are removed.
    #[arg(long, value_name = "PROBE")]
    pub fudge: Option<String>,
    /// FUDGE's λ (0: the top-k alone, scores shown but not used).
    #[arg(
        long,
        value_name = "λ",
        default_value_t = 1.0,
        allow_hyphen_values = true
    )]
    pub fudge_lambda: f32,
    /// How many candidates FUDGE scores and keeps.
    #[arg(long, value_name = "K", default_value_t = crate::decode::steer::DEFAULT_STEER_TOPK, allow_hyphen_values = true)]
    pub fudge_topk: usize,
    /// Reward-augmented decoding (Deng & Raffel 2023): add β·r(prefix + x) to the
    /// --reward-topk most probable candidates and remove the rest. r is `probe:FILE` (the
    /// probe's P(attribute | prefix + x), one batched forward) or `lexicon:sentiment` (the
    /// summed VADER valence / 4 of the generated words; no forward).
    #[arg(long, value_name = "SPEC")]
    pub reward: Option<String>,
    /// RAD's β.
    #[arg(
        long,
        value_name = "β",
        default_value_t = 10.0,
        allow_hyphen_values = true
    )]
    pub reward_beta: f32,
    /// How many candidates RAD scores and keeps.
    #[arg(long, value_name = "K", default_value_t = crate::decode::steer::DEFAULT_STEER_TOPK, allow_hyphen_values = true)]
    pub reward_topk: usize,
    /// The constraint once read and compiled (files are read once: FILE may be a pipe).
    #[arg(skip)]
    pub grammar_read: std::sync::OnceLock<Option<GrammarSpec>>,
}

fn parse_bias(s: &str) -> Result<(u32, f32), String> {
    let (id, f) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ID=F, got '{s}'"))?;
    let id = id
        .trim()
        .parse()
        .map_err(|_| format!("bad token id '{id}'"))?;
    let f = f.trim().parse().map_err(|_| format!("bad bias '{f}'"))?;
    Ok((id, f))
}

impl KnobArgs {
    /// The sampler configuration these knobs describe (validated).
    pub fn to_config(&self, tok: Option<&Tok>) -> Result<SamplerConfig, CliError> {
        let mut c = SamplerConfig {
            seed: self.seed,
            greedy: self.greedy,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            epsilon: self.epsilon,
            eta: self.eta,
            typical_p: self.typical_p,
            no_repeat_ngram: self.no_repeat_ngram,
            logit_bias: self.logit_bias.clone(),
            ..SamplerConfig::default()
        };
        if let Some(t) = self.temperature {
            c.temperature = t;
        }
        if let Some(r) = self.repetition_penalty {
            c.repetition_penalty = r;
        }
        if let Some(f) = self.frequency_penalty {
            c.frequency_penalty = f;
        }
        if let Some(p) = self.presence_penalty {
            c.presence_penalty = p;
        }
        if let Some(order) = &self.samplers {
            c.order = order.iter().map(|s| s.trim().to_string()).collect();
        }
        if let Some(spec) = &self.amateur {
            c.contrast = Some(ContrastKnobs {
                alpha: self.cd_alpha,
                amateur_temperature: self.amateur_temperature,
                amateur_layer: self_layer(spec)?,
            });
        }
        if let Some(d) = &self.dola_layers {
            c.dola_layers = Some(d.parse().map_err(CliError::usage)?);
        }
        c.penalty_alpha = self.penalty_alpha;
        c.grammar = self.grammar_spec()?;
        c.fudge = self.fudge.as_ref().map(|spec| SteerKnobs {
            spec: spec.clone(),
            weight: self.fudge_lambda,
            top_k: self.fudge_topk,
        });
        c.rad = self.reward.as_ref().map(|spec| SteerKnobs {
            spec: spec.clone(),
            weight: self.reward_beta,
            top_k: self.reward_topk,
        });
        if let Some(tok) = tok {
            for s in &self.ban {
                c.bad_words.extend(ban_variants(tok, s)?);
            }
        }
        c.validate().map_err(CliError::usage)?;
        Ok(c)
    }
}

impl KnobArgs {
    /// The amateur model to load for contrastive decoding (`--amateur PATH`), checked to exist.
    pub fn amateur_model(&self) -> Result<Option<PathBuf>, CliError> {
        match &self.amateur {
            Some(spec) if self_layer(spec)?.is_none() => {
                let p = PathBuf::from(spec);
                if !p.exists() {
                    return Err(CliError::usage(format!(
                        "--amateur {spec}: no such model file or directory (or give self:L)"
                    )));
                }
                Ok(Some(p))
            }
            _ => Ok(None),
        }
    }

    /// Loads `--amateur PATH` into the session's amateur role (same precision as the target).
    pub fn attach_amateur(
        &self,
        model: &ModelArgs,
        session: &mut crate::engine::session::Session,
    ) -> Result<(), CliError> {
        if let Some(p) = self.amateur_model()? {
            let lm = crate::model::load(&p, model.dtype.into(), &mut |_, _| {})?;
            session.attach(crate::engine::roles::Role::Amateur, lm)?;
        }
        Ok(())
    }

    /// The constraint of `--regex`, `--json-schema` or `--grammar`, read and compiled (on a
    /// byte vocabulary: a bad one is a one-line usage error before any model is loaded).
    pub fn grammar_spec(&self) -> Result<Option<GrammarSpec>, CliError> {
        if let Some(done) = self.grammar_read.get() {
            return Ok(done.clone());
        }
        let read = |kind: GrammarKind, path: &PathBuf| {
            std::fs::read_to_string(path)
                .map(|text| GrammarSpec::new(kind, text))
                .map_err(|e| CliError::usage(format!("{} {}: {e}", kind.flag(), path.display())))
        };
        let spec = match (&self.regex, &self.json_schema, &self.grammar) {
            (Some(r), _, _) => GrammarSpec::new(GrammarKind::Regex, r.clone()),
            (_, Some(p), _) => read(GrammarKind::JsonSchema, p)?,
            (_, _, Some(p)) => read(GrammarKind::Lark, p)?,
            _ => return Ok(None),
        };
        crate::constrain::check(&spec).map_err(CliError::usage)?;
        Ok(self.grammar_read.get_or_init(|| Some(spec)).clone())
    }

    /// Whether a grammar constraint is given.
    pub fn constrained(&self) -> bool {
        self.regex.is_some() || self.json_schema.is_some() || self.grammar.is_some()
    }

    /// Whether a method that needs the session's step loop (contrasts, contrastive search) is on.
    pub fn contrasts(&self) -> bool {
        self.amateur.is_some() || self.dola_layers.is_some() || self.penalty_alpha.is_some()
    }

    /// Whether FUDGE or RAD is on.
    pub fn steered(&self) -> bool {
        self.fudge.is_some() || self.reward.is_some()
    }
}

/// `Some(L)` for `self:L`, `None` for a path.
fn self_layer(spec: &str) -> Result<Option<usize>, CliError> {
    match spec.strip_prefix("self:") {
        Some(l) => l.trim().parse().map(Some).map_err(|_| {
            CliError::usage(format!(
                "--amateur {spec}: L must be a layer count (self:L)"
            ))
        }),
        None if spec.is_empty() => Err(CliError::usage(
            "--amateur is empty: give self:L or a model path",
        )),
        None => Ok(None),
    }
}

/// Token sequences of a banned string: as given, with a leading space, capitalised.
pub fn ban_variants(tok: &Tok, s: &str) -> Result<Vec<Vec<u32>>, CliError> {
    let trimmed = s.trim_start();
    if trimmed.is_empty() {
        return Err(CliError::usage("--ban needs a non-empty string"));
    }
    let cap: String = {
        let mut ch = trimmed.chars();
        ch.next()
            .map(|f| f.to_uppercase().chain(ch).collect())
            .unwrap_or_default()
    };
    let mut out: Vec<Vec<u32>> = Vec::new();
    for v in [
        trimmed.to_string(),
        format!(" {trimmed}"),
        cap.clone(),
        format!(" {cap}"),
    ] {
        let ids = tok.encode(&v).map_err(|e| CliError::usage(e.to_string()))?;
        if !ids.is_empty() && !out.contains(&ids) {
            out.push(ids);
        }
    }
    Ok(out)
}
