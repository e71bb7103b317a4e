//! The listener flags `serve` and `check-config` share, so a configuration meant to take
//! its listeners from flags is checked with the same flags it is served with.

use ocsp_responder::config::Config;

/// `--port`, `--listen`, `--tls-listen`: where to serve, over the configuration's own
/// `[server] port`, `[server] listen` and `[tls] listen`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ListenFlags {
    /// Listen on this port on all interfaces, IPv4 and IPv6 (0: any free port).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Listen on ADDR:PORT (repeatable), e.g. 127.0.0.1:2560 or [::1]:2560.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Vec<String>,
    /// Serve OCSP over HTTPS on ADDR:PORT (repeatable), next to the plain listeners.
    #[arg(long, value_name = "ADDR:PORT")]
    pub tls_listen: Vec<String>,
}

impl ListenFlags {
    /// Put the flags given into `cfg` (a flag replaces the file's value).
    pub fn apply(&self, cfg: &mut Config) {
        if let Some(p) = self.port {
            cfg.server.port = Some(p);
        }
        if !self.listen.is_empty() {
            cfg.server.listen = self.listen.clone();
        }
        if !self.tls_listen.is_empty() {
            cfg.tls.listen = self.tls_listen.clone();
        }
    }
}

/// Whether `cfg` has anywhere to listen.
pub fn has_listener(cfg: &Config) -> bool {
    cfg.server.port.is_some() || !cfg.server.listen.is_empty() || !cfg.tls.listen.is_empty()
}
