//! Any bytes as a GGUF file: parse, validate, build the model and, when it loads, run a
//! forward pass. Every outcome must be `Ok` or a one-line error; a panic is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logitscope::model::{self, Dtype};

fuzz_target!(|data: &[u8]| {
    tch::set_num_threads(1);
    let path = std::env::temp_dir().join(format!("logitscope-fuzz-{}.gguf", std::process::id()));
    std::fs::write(&path, data).expect("temp file");
    match model::load(&path, Dtype::F32, &mut |_, _| {}) {
        Ok(lm) => {
            let mut cache = lm.model.new_cache();
            if let Err(e) = lm.model.next_logits(&[0], &mut cache) {
                assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
    }
});
