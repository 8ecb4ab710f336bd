//! `logitscope inspect attention`: a prompt's attention probabilities for one layer, every
//! head (the exact full matrix, for parity checks against Hugging Face); `inspect lens`: the
//! logit lens of every layer at every position of a prompt.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::decode::contrast::lens::LensGrid;
use crate::model::lens::prompt_lens;
use crate::model::load;
use crate::model::taps::prompt_attention;

use super::args::ModelArgs;
use super::CliError;

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(subcommand)]
    what: Inspect,
}

#[derive(Debug, Subcommand)]
enum Inspect {
    /// Attention probabilities of one layer over the prompt, every head.
    Attention(AttentionArgs),
    /// How a prompt splits into tokens: index, id, the token's bytes (invalid UTF-8 as \xNN)
    /// and whether it is a special token.
    Tokens(TokensArgs),
    /// The logit lens: for every layer and position, the top-5 tokens the model would
    /// predict if it stopped after that layer (its head applied to its final norm of the
    /// residual stream), the entropy and KL(final ‖ layer).
    Lens(LensArgs),
}

#[derive(Debug, Args)]
struct TokensArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The text to split.
    #[arg(long)]
    prompt: String,
    /// Render the prompt through the model's chat template first (as --chat does).
    #[arg(long)]
    chat: bool,
    /// Print JSON: {"text", "tokens": [{"index", "id", "piece", "bytes", "special"}]}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct LensArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The text to read.
    #[arg(long)]
    prompt: String,
    /// Print JSON: {"tokens", "layers": [{"layer", "positions": [{"top": [{"id", "token",
    /// "logprob"}], "entropy", "kl_to_final"}]}]}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct AttentionArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The text whose attention to show.
    #[arg(long)]
    prompt: String,
    /// The layer (0-based).
    #[arg(long, value_name = "L")]
    layer: usize,
    /// Print JSON: {"layer", "tokens", "ids", "heads": [head][query][key 0..=query]}.
    #[arg(long)]
    json: bool,
}

pub fn run(a: InspectArgs) -> Result<(), CliError> {
    let a = match a.what {
        Inspect::Attention(a) => a,
        Inspect::Lens(a) => return lens(a),
        Inspect::Tokens(a) => return tokens(a),
    };
    if a.prompt.is_empty() {
        return Err(CliError::usage("--prompt is empty"));
    }
    let path = a.model.prepare()?;
    let lm = load(&path, a.model.dtype.into(), &mut |_, _| {})?;
    let ids = lm.tok.encode(&a.prompt)?;
    let layers = lm.model.config().layers;
    if a.layer >= layers {
        return Err(CliError::usage(format!(
            "--layer {} is out of range: the model has layers 0 to {}",
            a.layer,
            layers - 1
        )));
    }
    let m = prompt_attention(&lm.model, &ids, a.layer)?;
    let mut out = std::io::stdout().lock();
    let tokens: Vec<String> = ids.iter().map(|&i| lm.tok.display(i)).collect();
    let lower = |h: usize, q: usize| m.row(h, q)[..=q].to_vec();
    if a.json {
        let heads: Vec<Vec<Vec<f32>>> = (0..m.heads)
            .map(|h| (0..m.tokens).map(|q| lower(h, q)).collect())
            .collect();
        writeln!(
            out,
            "{}",
            json!({"layer": a.layer, "tokens": tokens, "ids": ids, "heads": heads})
        )?;
        return Ok(());
    }
    for h in 0..m.heads {
        writeln!(out, "layer {} head {h}", a.layer)?;
        for (q, tok) in tokens.iter().enumerate() {
            let row: Vec<String> = lower(h, q).iter().map(|p| format!("{p:.3}")).collect();
            writeln!(out, "{tok:>12} {}", row.join(" "))?;
        }
    }
    Ok(())
}

fn lens(a: LensArgs) -> Result<(), CliError> {
    if a.prompt.is_empty() {
        return Err(CliError::usage("--prompt is empty"));
    }
    let path = a.model.prepare()?;
    let lm = load(&path, a.model.dtype.into(), &mut |_, _| {})?;
    let ids = lm.tok.encode(&a.prompt)?;
    if ids.is_empty() {
        return Err(CliError::usage("the prompt has no tokens"));
    }
    let layers = lm.model.config().layers;
    let mut grid = LensGrid::new((1..=layers).collect());
    prompt_lens(&lm.model, &ids, |t, col| grid.push_column(t, &col))?;
    let tokens: Vec<String> = ids.iter().map(|&i| lm.tok.display(i)).collect();
    let mut out = std::io::stdout().lock();
    if a.json {
        let layers: Vec<_> = grid
            .layers
            .iter()
            .zip(&grid.cells)
            .map(|(l, row)| {
                let positions: Vec<_> = row
                    .iter()
                    .map(|c| {
                        json!({"top": c.top.iter().map(|&(id, lp)| json!({
                            "id": id, "token": lm.tok.display(id), "logprob": lp}))
                            .collect::<Vec<_>>(),
                            "entropy": c.entropy, "kl_to_final": c.kl_to_final})
                    })
                    .collect();
                json!({"layer": l, "positions": positions})
            })
            .collect();
        writeln!(
            out,
            "{}",
            json!({"tokens": tokens, "ids": ids, "layers": layers})
        )?;
        return Ok(());
    }
    // A layer × position table of each cell's top token.
    let width = 10;
    let cell = |s: &str| {
        let s: String = s.chars().take(width - 1).collect();
        format!("{s:<width$}")
    };
    let head: String = tokens.iter().map(|t| cell(t)).collect();
    writeln!(out, "{:>6}  {head}", "layer")?;
    for (l, row) in grid.layers.iter().zip(&grid.cells) {
        let line: String = row
            .iter()
            .map(|c| {
                cell(
                    &c.top
                        .first()
                        .map_or(String::new(), |&(id, _)| lm.tok.display(id)),
                )
            })
            .collect();
        writeln!(out, "{l:>6}  {line}")?;
    }
    Ok(())
}

fn tokens(a: TokensArgs) -> Result<(), CliError> {
    if a.prompt.is_empty() {
        return Err(CliError::usage("--prompt is empty"));
    }
    let path = a.model.prepare()?;
    let lm = load(&path, a.model.dtype.into(), &mut |_, _| {})?;
    let text = match (&lm.chat, a.chat) {
        (Some(t), true) => t.render_user(&a.prompt).map_err(CliError::usage)?,
        (None, true) => {
            return Err(CliError::usage(format!(
                "{} has no chat template",
                lm.name()
            )))
        }
        _ => a.prompt.clone(),
    };
    let ids = lm.tok.encode(&text)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let tokens: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                json!({"index": i, "id": id, "piece": lm.tok.display(id),
                       "bytes": lm.tok.token_bytes(id), "special": lm.tok.is_special(id)})
            })
            .collect();
        writeln!(out, "{}", json!({"text": text, "tokens": tokens}))?;
        return Ok(());
    }
    writeln!(out, "{:>5} {:>7}  {:<24} bytes", "index", "id", "piece")?;
    for (i, &id) in ids.iter().enumerate() {
        let shown = lm.tok.display(id).replace('\n', "\\n").replace('\t', "\\t");
        let piece = format!("\"{shown}\"");
        let mark = if lm.tok.is_special(id) {
            " special"
        } else {
            ""
        };
        let hex: Vec<String> = lm
            .tok
            .token_bytes(id)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        writeln!(out, "{i:>5} {id:>7}  {piece:<24} {}{mark}", hex.join(" "))?;
    }
    Ok(())
}
