//! `logitscope probe train`: an attribute probe (logistic regression on one hidden state) for
//! FUDGE (`--fudge FILE`) and RAD (`--reward probe:FILE`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::model::load;
use crate::steer::train::{read_examples, train_probe, TrainOptions};

use super::args::ModelArgs;
use super::CliError;

#[derive(Debug, Args)]
pub struct ProbeArgs {
    #[command(subcommand)]
    cmd: ProbeCmd,
}

#[derive(Debug, Subcommand)]
enum ProbeCmd {
    /// Train a probe on JSON Lines `{"text": STRING, "label": true|false}` and save it as JSON
    /// (prints a JSON summary: examples, accuracy, held-out accuracy).
    Train(TrainArgs),
}

#[derive(Debug, Args)]
struct TrainArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The labelled texts, one JSON object a line.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Where to write the probe.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The block whose output is read at the text's last position (default: the last block,
    /// through the final norm).
    #[arg(long, value_name = "L", allow_hyphen_values = true)]
    layer: Option<usize>,
    /// The attribute's name (default: the data file's stem).
    #[arg(long, value_name = "NAME")]
    attribute: Option<String>,
    /// L2 regularisation of the weights (on standardised features).
    #[arg(
        long,
        default_value_t = 0.05,
        value_name = "X",
        allow_hyphen_values = true
    )]
    l2: f64,
    /// Train on every example (no held-out last fifth).
    #[arg(long)]
    no_holdout: bool,
}

pub fn run(a: ProbeArgs) -> Result<(), CliError> {
    let ProbeCmd::Train(a) = a.cmd;
    if !(a.l2 > 0.0 && a.l2.is_finite()) {
        return Err(CliError::usage(format!("--l2 must be > 0, got {}", a.l2)));
    }
    let examples = read_examples(&a.data).map_err(CliError::usage)?;
    let path = a.model.prepare()?;
    let lm = load(&path, a.model.dtype.into(), &mut |_, _| {})?;
    let attribute = a.attribute.clone().unwrap_or_else(|| {
        a.data
            .file_stem()
            .map_or("attribute".into(), |s| s.to_string_lossy().into_owned())
    });
    let opts = TrainOptions {
        layer: a.layer.unwrap_or(lm.model.config().layers),
        attribute,
        l2: a.l2,
        holdout: !a.no_holdout,
    };
    let t0 = std::time::Instant::now();
    let probe = train_probe(&lm, &examples, &opts, |_, _| {}).map_err(CliError::usage)?;
    let text = serde_json::to_string(&probe).map_err(|e| CliError::runtime(e.to_string()))?;
    std::fs::write(&a.out, text)
        .map_err(|e| CliError::runtime(format!("{}: {e}", a.out.display())))?;
    let summary = json!({
        "out": a.out.display().to_string(),
        "attribute": probe.attribute,
        "model": probe.model,
        "layer": probe.layer,
        "train": probe.train,
        "seconds": t0.elapsed().as_secs_f32(),
    });
    println!("{summary}");
    Ok(())
}
