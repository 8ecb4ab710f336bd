//! Bakes an rpath to libtorch into every binary (and test binary), so that nothing needs
//! `LD_LIBRARY_PATH` at run time.
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
