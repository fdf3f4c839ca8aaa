//! The `obelysk` binary.

use clap::Parser;
use obelysk_node::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() {
    let missing = obelysk_node::cpu::missing_features();
    if !missing.is_empty() {
        eprintln!(
            "error: this obelysk binary was built for a CPU with {}, which this CPU lacks; \
             build it on this machine, or for a baseline every target has (see \
             .cargo/config.toml)",
            missing.join(", ")
        );
        std::process::exit(1);
    }
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter =
        EnvFilter::try_from_env("OBELYSK_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_json {
        logs.json().init();
    } else {
        logs.init();
    }

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(obelysk_node::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
