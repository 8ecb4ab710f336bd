//! Writes the tiny llama GGUF that the loader tests mutate (the fuzz target's seed):
//! `cargo run --example tiny_gguf -- PATH`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: tiny_gguf PATH")?;
    logitscope::model::gguf::tiny_llama().write(&path)?;
    Ok(())
}
