//! What the fuzz targets run, one function per target, and the program proofs are checked
//! against.

use std::sync::OnceLock;

use obelysk_air::api::verify_body;
use obelysk_air::proof::ProofFile;
use obelysk_vm::ir::Program;

/// The module every fuzzed proof claims to be about (and the seed proof proves).
pub const MODULE_WAT: &str = include_str!("../../../tests/fixtures/sum_input.wat");
/// The seed proof's input.
pub const SEED_INPUT: [u32; 3] = [5, 9, 2];

/// The lowered [`MODULE_WAT`].
pub fn program() -> &'static Program {
    static PROGRAM: OnceLock<Program> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let wasm = wat::parse_str(MODULE_WAT).expect("the fuzz module parses");
        obelysk_vm::lower::lower(&wasm).expect("the fuzz module lowers")
    })
}

/// Decodes and verifies `data` as a proof file (as `obelysk verify` does): any verdict but a
/// panic is fine.
pub fn verify_proof(data: &[u8]) {
    if let Ok((file, body)) = ProofFile::decode(data) {
        let _ = verify_body(program(), &file, body, 96);
    }
}

/// Checks and lowers `data` as a module; when it lowers, the module check accepts it too.
pub fn lower_module(data: &[u8]) {
    let checked = obelysk_vm::abi::check_module(data);
    let _ = obelysk_vm::lower::lower_library(data);
    if obelysk_vm::lower::lower(data).is_ok() {
        assert!(checked.is_ok(), "lowered a module the check refuses");
    }
}
