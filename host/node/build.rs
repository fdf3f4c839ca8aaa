//! Embeds the browser verifier that `make web-verifier` writes to `host/web-verifier/pkg`
//! (wasm-bindgen's JavaScript glue and the wasm32 verifier). Without it the node still builds;
//! its `/verify` page then says how to build the verifier.

use std::path::Path;

const FILES: [&str; 2] = ["obelysk_web_verifier.js", "obelysk_web_verifier_bg.wasm"];

fn main() {
    let pkg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-verifier/pkg");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo::rerun-if-changed={}", pkg.display());
    let mut missing = false;
    for file in FILES {
        let bytes = std::fs::read(pkg.join(file)).unwrap_or_else(|_| {
            missing = true;
            Vec::new()
        });
        std::fs::write(Path::new(&out).join(file), bytes).expect("writing OUT_DIR");
    }
    if missing {
        println!(
            "cargo::warning=no browser verifier in {}: `/verify` will say so; `make \
             web-verifier` builds it",
            pkg.display()
        );
    }
}
