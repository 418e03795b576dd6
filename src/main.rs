//! `feasibility`: parse the command line, load the configuration, run the command.

use clap::Parser;
use ftth_feasibility::cli::{Cli, run};
use ftth_feasibility::config::Config;
use ftth_feasibility::telemetry;
use std::process::ExitCode;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format);
    for name in
        Config::unknown_env_vars(std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()))
    {
        tracing::warn!(
            variable = name,
            "ignoring an environment variable that names no setting"
        );
    }
    match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
