//! `obelysk run`: one local sandbox run.

use anyhow::Context;
use obelysk_sandbox::{Limits, Sandbox};
use serde_json::json;

use super::RunArgs;

pub async fn run(args: RunArgs) -> anyhow::Result<i32> {
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("reading {}", args.module.display()))?;
    let input = args.input.words()?;
    let mut limits = Limits::default();
    if let Some(fuel) = args.fuel {
        limits.fuel = fuel;
    }
    if let Some(ms) = args.timeout_ms {
        limits.timeout = std::time::Duration::from_millis(ms);
    }
    let result = tokio::task::spawn_blocking(move || {
        let sandbox = Sandbox::new(limits)?;
        let module = sandbox.load(&bytes)?;
        sandbox
            .run(&module, &input)
            .map(|run| (module.info.id, run))
    })
    .await?;
    match result {
        Ok((id, run)) => {
            if args.json {
                println!(
                    "{}",
                    json!({"plugin": id.to_string(), "output": run.output, "fuel_used": run.fuel_used,
                           "elapsed_ms": run.elapsed.as_secs_f64() * 1e3})
                );
            } else {
                println!("output     {:?}", run.output);
                println!("fuel used  {}", run.fuel_used);
                println!("time       {:.3} ms", run.elapsed.as_secs_f64() * 1e3);
            }
            Ok(0)
        }
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    json!({"error": {"code": e.code(), "message": e.to_string()}})
                );
            } else {
                eprintln!("error [{}]: {e}", e.code());
            }
            Ok(1)
        }
    }
}
