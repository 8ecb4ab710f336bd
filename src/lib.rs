//! logitscope: a terminal microscope for language-model decoding.
