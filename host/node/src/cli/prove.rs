//! `obelysk prove` and `obelysk verify`: local proofs, no node.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use obelysk_air::security::SecurityLevel;
use obelysk_prover::Phase;
use obelysk_sandbox::{Limits, Sandbox};

use stwo::prover::backend::CpuBackend;
use stwo::prover::backend::simd::SimdBackend;

use super::{ProveArgs, VerifyArgs};
use crate::prover::Backend;

/// The preset for `bits`.
pub fn security_level(bits: u32) -> anyhow::Result<SecurityLevel> {
    SecurityLevel::parse_bits(bits).map_err(|e| anyhow::anyhow!("--security {e}"))
}

/// Reads a module: binary `.wasm`, or WebAssembly text.
pub(super) fn read_module(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(wat::parse_bytes(&bytes)
        .with_context(|| {
            format!(
                "{} is neither a Wasm module nor WebAssembly text",
                path.display()
            )
        })?
        .into_owned())
}

pub fn prove(args: ProveArgs) -> anyhow::Result<i32> {
    let module = read_module(&args.module)?;
    let input = args.input.words()?;
    let level = security_level(args.security)?;
    let backend = Backend::parse(&args.backend).map_err(|e| anyhow::anyhow!("--{e}"))?;
    if backend == Backend::Cuda {
        crate::prover::open_cuda_devices(&[0])
            .map_err(|e| anyhow::anyhow!("--backend cuda: {e}"))?;
    }
    let program = obelysk_vm::lower::lower(&module)
        .with_context(|| format!("{} cannot be proven", args.module.display()))?;

    let bar = ProgressBar::new(Phase::ALL.len() as u64).with_style(
        ProgressStyle::with_template("{bar:20} {pos}/{len} {msg}").expect("a valid template"),
    );
    let started = Instant::now();
    let mut last = Instant::now();
    let mut timings: Vec<(Phase, f64)> = Vec::new();
    let mut current: Option<Phase> = None;
    let mut on_phase = |phase: Phase| {
        if let Some(done) = current.replace(phase) {
            timings.push((done, last.elapsed().as_secs_f64()));
            bar.inc(1);
        }
        last = Instant::now();
        bar.set_message(phase.name());
    };
    let (output, file) = match backend {
        Backend::Simd => obelysk_prover::vm::prove_program_on::<SimdBackend>(
            &program,
            &input,
            level,
            args.max_steps,
            &mut on_phase,
        ),
        Backend::Cpu => obelysk_prover::vm::prove_program_on::<CpuBackend>(
            &program,
            &input,
            level,
            args.max_steps,
            &mut on_phase,
        ),
        Backend::Cuda => obelysk_prover::vm::prove_program_on::<obelysk_cuda::CudaBackend>(
            &program,
            &input,
            level,
            args.max_steps,
            &mut on_phase,
        ),
    }?;
    if let Some(done) = current {
        timings.push((done, last.elapsed().as_secs_f64()));
    }
    bar.finish_and_clear();

    // The sandbox must agree with the VM on every proven run.
    let sandbox = Sandbox::new(Limits::default())?;
    let native = sandbox.run(&sandbox.load(&module)?, &input)?;
    if native.output != output {
        anyhow::bail!(
            "divergence: wasmtime wrote {:?}, the Obelysk VM {:?}; no proof written",
            native.output,
            output
        );
    }

    let bytes = file.to_bytes();
    std::fs::write(&args.output, &bytes)
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!("output       {output:?}");
    println!("steps        {}", file.statement.steps);
    println!("security     {} bits", file.security_bits);
    println!(
        "proof        {} ({} bytes)",
        args.output.display(),
        bytes.len()
    );
    println!("attestation  0x{}", hex::encode(file.attestation));
    let phases: Vec<String> = timings
        .iter()
        .map(|(phase, s)| format!("{} {:.0} ms", phase.name(), s * 1e3))
        .collect();
    println!(
        "time         {:.0} ms ({})",
        started.elapsed().as_secs_f64() * 1e3,
        phases.join(", ")
    );
    Ok(0)
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    let module = read_module(&args.module)?;
    let bytes =
        std::fs::read(&args.proof).with_context(|| format!("reading {}", args.proof.display()))?;
    let report = obelysk_air::api::check(&module, &bytes, args.min_security);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    match (&report.proven, &report.error) {
        (Some(proven), _) if !args.json => {
            let soundness = &proven.soundness;
            println!("valid        yes");
            println!("program      {}", proven.program_id);
            println!("input        {:?}", proven.input);
            println!("output       {:?}", proven.output);
            println!("steps        {}", proven.steps);
            println!(
                "security     {} bits (preset); this proof {}: FRI {} conjectured ({} \
                 provable), field {:.1}",
                proven.security_bits,
                soundness.bits,
                soundness.terms.fri_conjectured,
                soundness.terms.fri_provable,
                soundness.terms.field
            );
            println!("attestation  {}", proven.attestation);
        }
        (None, Some(error)) if !args.json => {
            eprintln!("invalid proof [{}]: {}", error.code, error.message)
        }
        _ => {}
    }
    Ok(if report.valid { 0 } else { 1 })
}
