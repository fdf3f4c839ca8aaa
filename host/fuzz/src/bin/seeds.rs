//! Writes the libFuzzer seed corpus from the committed sources: `corpus/lower_module/` gets
//! every `tests/fixtures/*.wat` as a binary module, `corpus/verify_proof/` an honest proof of
//! [`obelysk_fuzz::MODULE_WAT`] (deterministic: the same bytes on every machine).

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = here.join("corpus/lower_module");
    std::fs::create_dir_all(&modules)?;
    for entry in std::fs::read_dir(here.join("../../tests/fixtures"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wat") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            std::fs::write(modules.join(format!("{name}.wasm")), wat::parse_file(&path)?)?;
        }
    }
    let proofs = here.join("corpus/verify_proof");
    std::fs::create_dir_all(&proofs)?;
    let wasm = wat::parse_str(obelysk_fuzz::MODULE_WAT)?;
    let (_, file) = obelysk_prover::prove(
        &wasm,
        &obelysk_fuzz::SEED_INPUT,
        obelysk_air::security::SecurityLevel::Bits96,
    )?;
    std::fs::write(proofs.join("sum_input.proof"), file.to_bytes())?;
    println!("seed corpus written to {}", here.join("corpus").display());
    Ok(())
}
