//! `obelysk inspect`: what the node and the Obelysk VM make of a module, without a node.

use anyhow::Context;
use obelysk_sandbox::{Limits, Sandbox};
use obelysk_vm::lower::{LowerError, lower};
use serde_json::json;

use super::InspectArgs;

pub fn inspect(args: InspectArgs) -> anyhow::Result<i32> {
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("reading {}", args.module.display()))?;
    let info = match Sandbox::new(Limits::default())?.load(&bytes) {
        Ok(module) => module.info,
        Err(e) => {
            eprintln!("error [{}]: {e}", e.code());
            return Ok(1);
        }
    };
    let lowered = lower(&bytes);
    if args.json {
        let vm = match &lowered {
            Ok(program) => json!({"supported": true, "program_id": program.id().to_string(),
                                  "instructions": program.code.len()}),
            Err(LowerError::Unsupported(names)) => {
                json!({"supported": false, "unsupported": names})
            }
            Err(e) => json!({"supported": false, "reason": e.to_string()}),
        };
        println!(
            "{}",
            json!({"id": info.id, "size": info.size, "exports": info.exports,
                              "imports": info.imports, "memory_pages": info.memory_pages, "vm": vm})
        );
        return Ok(0);
    }
    println!("module     {}", info.id);
    println!("size       {} bytes", info.size);
    println!("imports    {}", info.imports.join(", "));
    println!("exports    {}", info.exports.join(", "));
    println!("memory     {} pages", info.memory_pages);
    match &lowered {
        Ok(program) => {
            println!(
                "vm         supported: {} instructions, program id {}",
                program.code.len(),
                program.id()
            );
            if args.ir {
                print!("{}", program.listing());
            }
        }
        Err(LowerError::Unsupported(names)) => {
            println!("vm         not supported yet; it needs:");
            for (name, count) in names {
                println!("             {name} (×{count})");
            }
        }
        Err(e) => println!("vm         not supported: {e}"),
    }
    Ok(0)
}
