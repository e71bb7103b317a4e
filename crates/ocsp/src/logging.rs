//! Log setup shared by the subcommands that log.

use ocsp_responder::access_log;
use ocsp_responder::log_writer::{self, Destination, LogWriter};
use std::sync::Arc;
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

/// `tracing_subscriber`'s writer over a [`LogWriter`]: each formatted event arrives as one
/// `write` of a whole line, appended to the writer's buffer (never waiting for a write).
#[derive(Clone, Debug)]
struct MakeLineWriter(Arc<LogWriter>);

/// One event's writer (see [`MakeLineWriter`]).
struct LineWriter<'a>(&'a LogWriter);

impl std::io::Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Lines through tracing are the rare ones (access lines are formatted directly):
        // written at once, by the writer's thread.
        self.0.push_soon(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MakeLineWriter {
    type Writer = LineWriter<'a>;
    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter(&self.0)
    }
}

/// `ocsp serve`'s logging: as [`init_with`], every line through one bounded, non-blocking
/// [`LogWriter`] (to stderr or `[log] file`), and access lines formatted directly
/// (`ocsp_responder::access_log`) unless colours are on. Returns the writer: flush it at
/// shutdown, reopen it on SIGHUP.
pub fn init_serve(
    format: LogFormat,
    flag: Option<&str>,
    log: &ocsp_responder::config::LogConfig,
) -> anyhow::Result<Arc<LogWriter>> {
    let configured = log.filter.as_deref().unwrap_or("info");
    let (text, origin) = match (flag, std::env::var("RUST_LOG")) {
        (Some(f), _) => (f.to_string(), "--log-filter"),
        (None, Ok(env)) if !env.trim().is_empty() => (env, "RUST_LOG"),
        _ => (configured.to_string(), "[log] filter"),
    };
    let filter =
        EnvFilter::try_new(&text).map_err(|e| anyhow::anyhow!("{origin} {text:?}: {e}"))?;
    let dest = match &log.file {
        Some(p) => Destination::File(p.clone()),
        None => Destination::Stderr,
    };
    let writer = Arc::new(
        LogWriter::new(
            dest.clone(),
            log.buffer_kb.saturating_mul(1024),
            std::time::Duration::from_millis(log.flush_ms),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let writer = log_writer::install(writer);
    let ansi = dest == Destination::Stderr
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    access_log::set_sample(log.access_sample);
    if !ansi {
        access_log::install(
            match format {
                LogFormat::Text => access_log::Format::Text,
                LogFormat::Json => access_log::Format::Json,
            },
            writer.clone(),
        );
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(MakeLineWriter(writer.clone()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    access_log::settle_filter();
    Ok(writer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use ocsp_proto::cert_id::{HashAlg, Serial};
    use ocsp_proto::der::asn1::OctetString;
    use ocsp_proto::request::{self, RequestLimits};
    use ocsp_proto::x509_ocsp::CertId;
    use ocsp_responder::http::Outcome;
    use ocsp_responder::source::StatusKind;
    use std::sync::Mutex;

    /// Captures what a `tracing_subscriber` formatter writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn items(serials: &[&str]) -> Vec<ocsp_proto::request::RequestItem> {
        let ids: Vec<CertId> = serials
            .iter()
            .map(|s| CertId {
                hash_algorithm: HashAlg::Sha1.algorithm_identifier(),
                issuer_name_hash: OctetString::new(vec![0xFB; 20]).unwrap(),
                issuer_key_hash: OctetString::new(vec![0xFF; 20]).unwrap(),
                serial_number: Serial::from_hex(s).unwrap().to_serial_number().unwrap(),
            })
            .collect();
        let der = request::build(&ids, None).unwrap();
        request::parse(&der, &RequestLimits::default())
            .unwrap()
            .items
    }

    /// The line `tracing`'s formatter writes for `line`, and ours, timestamps cut off.
    fn both(format: LogFormat, line: &access_log::Line<'_>) -> (String, String) {
        let cap = Capture::default();
        let c2 = cap.clone();
        let builder = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || c2.clone());
        let dispatch: tracing::Dispatch = match format {
            LogFormat::Text => builder.finish().into(),
            LogFormat::Json => builder.json().finish().into(),
        };
        // Nothing installed in this test binary: `record` goes through tracing.
        tracing::dispatcher::with_default(&dispatch, || access_log::record(line));
        let theirs = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
        let mut ours = Vec::new();
        let f = match format {
            LogFormat::Text => access_log::Format::Text,
            LogFormat::Json => access_log::Format::Json,
        };
        access_log::format_line(&mut ours, f, b"2026-12-06T17:51:48.", 42, line);
        let ours = String::from_utf8(ours).unwrap();
        let cut = |s: &str| match format {
            LogFormat::Text => s[s.find('Z').unwrap()..].to_string(),
            LogFormat::Json => {
                let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
                v.as_object_mut().unwrap().remove("timestamp");
                v.to_string()
            }
        };
        assert!(
            ours.starts_with("2026-12-06T17:51:48.000042Z")
                || ours.contains("\"2026-12-06T17:51:48.000042Z\""),
            "{ours}"
        );
        assert!(ours.ends_with('\n') && theirs.ends_with('\n'));
        (cut(&theirs), cut(&ours))
    }

    #[test]
    fn direct_access_lines_are_the_tracing_formatters_lines() {
        let method = access_log::Method::POST;
        let two = items(&["01AF54BECB9047D0925EE3627CA20A5E", "0A"]);
        let lines = [
            access_log::Line {
                client: None,
                method: &method,
                http: 200,
                outcome: Outcome::Successful,
                items: &two,
                statuses: &[StatusKind::Good, StatusKind::Revoked],
                micros: 561,
            },
            access_log::Line {
                client: Some("[::1]:40846".parse().unwrap()),
                method: &access_log::Method::GET,
                http: 200,
                outcome: Outcome::MalformedRequest,
                items: &[],
                statuses: &[],
                micros: 19,
            },
            access_log::Line {
                client: Some("127.0.0.1:9".parse().unwrap()),
                method: &access_log::Method::PUT,
                http: 405,
                outcome: Outcome::MethodNotAllowed,
                items: &[],
                statuses: &[],
                micros: 0,
            },
        ];
        for line in &lines {
            for format in [LogFormat::Text, LogFormat::Json] {
                let (theirs, ours) = both(format, line);
                assert_eq!(ours, theirs, "{format:?}");
            }
        }
        let (_, text) = both(LogFormat::Text, &lines[0]);
        assert_eq!(
            text,
            "Z  INFO ocsp::access: request method=POST http=200 ocsp=\"successful\" \
             serials=01AF54BECB9047D0925EE3627CA20A5E,0A statuses=good,revoked micros=561\n"
        );
    }
}
