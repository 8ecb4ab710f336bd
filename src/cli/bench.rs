//! `logitscope bench`: prefill and decode speed of the model.

use clap::Args;

use super::args::ModelArgs;
use super::CliError;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(_a: BenchArgs) -> Result<(), CliError> {
    Err(CliError::usage("bench: not yet implemented"))
}
