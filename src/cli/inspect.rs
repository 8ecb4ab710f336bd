//! `logitscope inspect attention`: a prompt's attention probabilities for one layer, every
//! head (the exact full matrix, for parity checks against Hugging Face).

use clap::{Args, Subcommand};
use serde_json::json;

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
    let Inspect::Attention(a) = a.what;
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
    let tokens: Vec<String> = ids.iter().map(|&i| lm.tok.display(i)).collect();
    let lower = |h: usize, q: usize| m.row(h, q)[..=q].to_vec();
    if a.json {
        let heads: Vec<Vec<Vec<f32>>> = (0..m.heads)
            .map(|h| (0..m.tokens).map(|q| lower(h, q)).collect())
            .collect();
        println!(
            "{}",
            json!({"layer": a.layer, "tokens": tokens, "ids": ids, "heads": heads})
        );
        return Ok(());
    }
    for h in 0..m.heads {
        println!("layer {} head {h}", a.layer);
        for (q, tok) in tokens.iter().enumerate() {
            let row: Vec<String> = lower(h, q).iter().map(|p| format!("{p:.3}")).collect();
            println!("{tok:>12} {}", row.join(" "));
        }
    }
    Ok(())
}
