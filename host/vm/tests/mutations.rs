//! Mutated modules through the front end, deterministically: the seed corpus (`tests/fixtures/
//! *.wat`, which `host/fuzz` also turns into its libFuzzer corpus) with bytes flipped,
//! truncated, inserted and overwritten. The lowering and the module check never panic, never
//! make an allocation above [`allocation_bound`], and never accept a module the sandbox
//! refuses.
//!
//! `OBELYSK_MUTATIONS` sets how many per seed (default 2000).

mod support;

use obelysk_sandbox::{Limits, Sandbox};
use obelysk_vm::abi::check_module;
use obelysk_vm::lower::{lower, lower_library};
use support::{Rng, Tracking, largest_allocation};

/// The largest single allocation checking and lowering a module may make: 16 × its size
/// plus 1 MiB (the seeds are under 400 bytes).
fn allocation_bound(module: &[u8]) -> usize {
    16 * module.len() + (1 << 20)
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// The committed seeds: every `.wat` fixture of the end-to-end tests.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "wat"))
        .map(|path| {
            let wasm = wat::parse_file(&path).unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                wasm,
            )
        })
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 5, "the seed corpus is missing");
    seeds
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(out.len());
        match rng.below(4) {
            0 => out[at] ^= 1 << rng.below(8),
            1 => out.truncate(at.max(8)),
            2 => {
                let byte = rng.next() as u8;
                out.insert(at, byte)
            }
            _ => out[at] = [0x00, 0x7f, 0x80, 0xff][rng.below(4)],
        }
        if out.is_empty() {
            break;
        }
    }
    out
}

#[test]
fn mutated_modules_never_panic_the_front_end() {
    let per_seed: usize = std::env::var("OBELYSK_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let (mut lowered, mut tried) = (0, 0);
    for (name, seed) in seeds() {
        for i in 0..per_seed {
            let mut rng = Rng(i as u64 ^ (seed.len() as u64) << 32);
            let module = mutate(&mut rng, &seed);
            tried += 1;
            let ((checked, lowered_module), largest) = largest_allocation(|| {
                let checked = check_module(&module).map(drop);
                let _ = lower_library(&module);
                (checked, lower(&module))
            });
            assert!(
                largest <= allocation_bound(&module),
                "{name} #{i}: an allocation of {largest} bytes for a {}-byte module",
                module.len()
            );
            if let Ok(program) = lowered_module {
                lowered += 1;
                assert!(
                    checked.is_ok(),
                    "{name} #{i}: lowered but the check refuses"
                );
                // What the front end accepts, the sandbox loads (one module check for both).
                if let Err(e) = sandbox.load(&module) {
                    panic!(
                        "{name} #{i}: lowered to {} instructions, sandbox: {e}",
                        program.code.len()
                    );
                }
            }
        }
    }
    eprintln!("{tried} mutated modules, {lowered} still lowered");
    assert!(tried > 0);
}

/// The module `host/fuzz` found: 200 bytes whose import section declares a million imports,
/// for which the validator reserved 72 MB. Refused before validation now.
#[test]
fn declared_counts_cannot_outgrow_the_module() {
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    // Import section: 6 bytes, declaring 1 000 000 imports (varint c0 84 3d).
    module.extend([0x02, 0x06, 0xc0, 0x84, 0x3d, 0x00, 0x00, 0x00]);
    let (verdict, largest) = largest_allocation(|| check_module(&module).map(drop));
    let err = verdict.unwrap_err();
    assert_eq!(err.code(), "invalid_module");
    assert!(err.to_string().contains("declares 1000000 items"), "{err}");
    assert!(largest <= allocation_bound(&module), "{largest} bytes");
    let (lowered, largest) = largest_allocation(|| lower(&module).map(drop));
    assert!(lowered.is_err() && largest <= allocation_bound(&module));
}
