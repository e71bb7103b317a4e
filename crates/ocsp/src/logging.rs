//! Log setup shared by the subcommands that log.

use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Install the global subscriber: filter from `RUST_LOG`, else `default_filter`; logs go
/// to stderr so stdout stays for the command's own output.
pub fn init(format: LogFormat, default_filter: &str) {
    if init_with(format, None, default_filter).is_err() {
        // A RUST_LOG that does not parse: fall back to the command's default.
        let _ = init_with(format, Some(default_filter), default_filter);
    }
}

/// Install the global subscriber with the filter from `flag` when given, else `RUST_LOG`
/// when set, else `configured` (`ocsp serve`'s `--log-filter` > `RUST_LOG` > `[log] filter`).
/// A filter that does not parse is an error naming where it came from.
pub fn init_with(format: LogFormat, flag: Option<&str>, configured: &str) -> anyhow::Result<()> {
    let (text, origin) = match (flag, std::env::var("RUST_LOG")) {
        (Some(f), _) => (f.to_string(), "--log-filter"),
        (None, Ok(env)) if !env.trim().is_empty() => (env, "RUST_LOG"),
        _ => (configured.to_string(), "[log] filter"),
    };
    let filter =
        EnvFilter::try_new(&text).map_err(|e| anyhow::anyhow!("{origin} {text:?}: {e}"))?;
    // Colours only on a terminal (never in the journal or a log file), and never with NO_COLOR.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}
