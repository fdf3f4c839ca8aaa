//! Mutated modules through the front end, deterministically: the seed corpus (`tests/fixtures/
//! *.wat`, which `host/fuzz` also turns into its libFuzzer corpus) with bytes flipped,
//! truncated, inserted and overwritten. The lowering and the module check never panic, and
//! the front end never accepts a module the sandbox refuses.
//!
//! `OBELYSK_MUTATIONS` sets how many per seed (default 2000).

use obelysk_vm::abi::check_module;
use obelysk_vm::lower::{lower, lower_library};
use obelysk_vm::{Limits, Sandbox};

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

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
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
            let checked = check_module(&module);
            let _ = lower_library(&module);
            if let Ok(program) = lower(&module) {
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
