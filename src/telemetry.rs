//! Logs: human or JSON lines on stderr, filtered by `RUST_LOG` (default `info`).

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The default filter. actix-http's connection dispatcher logs a client's malformed request
/// (a bad header, a broken chunk) at ERROR; a client's mistake is not the service's error,
/// so that target is off unless `RUST_LOG` asks for it.
const DEFAULT_FILTER: &str = "info,sqlx=warn,actix_http::h1::dispatcher=off";

/// Installs the global subscriber; later calls (tests) are no-ops.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: in a file or a log collector they are noise.
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
