//! `obelysk export-verifier DIR`.

use std::path::Path;

use anyhow::Context;

/// `obelysk export-verifier DIR`: the `/verify` page and its assets, as a static site that
/// verifies proofs in the browser from any host (files dropped on it, or fetched from a node).
pub fn export_verifier(dir: &Path) -> anyhow::Result<i32> {
    use crate::server::web;
    if !web::has_verifier() {
        anyhow::bail!(
            "this obelysk binary was built without the browser verifier: run `make \
             web-verifier`, then rebuild obelysk"
        );
    }
    let assets = dir.join("assets");
    std::fs::create_dir_all(&assets).with_context(|| format!("creating {}", assets.display()))?;
    let mut total = 0;
    for name in web::VERIFIER_BUNDLE {
        let asset = web::asset(name).expect("the bundle lists embedded assets");
        let path = if *name == "verify.html" {
            dir.join("index.html")
        } else {
            assets.join(name)
        };
        std::fs::write(&path, asset.bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        total += asset.bytes.len();
    }
    println!(
        "wrote the browser verifier to {} ({} files, {} KB): serve the folder from any static \
         host (browsers do not run it from file://)",
        dir.display(),
        web::VERIFIER_BUNDLE.len(),
        total / 1024
    );
    Ok(0)
}
