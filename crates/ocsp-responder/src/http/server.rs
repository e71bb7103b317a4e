//! Listeners and connections: HTTP/1.1 keep-alive and h2c on every plain listener,
//! HTTPS (HTTP/2 or HTTP/1.1 by ALPN) on TLS listeners, the operations listener
//! (`/metrics`, `/healthz`, `/readyz`), timeouts on every phase (the TLS handshake counts
//! as part of the headers), a cap on open connections, graceful shutdown.
//!
//! No client can delay another: each connection is its own task; header reads, body
//! reads and idle connections are bounded in time on every protocol (hyper's
//! HTTP/1.1 header timeout, the fast path's timer, and for everything else, HTTP/2
//! above all, the progress watchdog of `watchdog.rs`); hyper's HTTP/2 limits are
//! set here, explicitly (the `H2_*` constants); connections beyond the cap wait in the
//! kernel's accept queue rather than in our memory.

use crate::config::Limits;
use crate::health::{handle_ops, Health, Ops};
use crate::http::tls::Tls;
use crate::http::watchdog::{InFlight, Watch, Watched};
use crate::http::{handle_from, Edge};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Parse a `--listen` value: `ADDR:PORT`, `[V6]:PORT`, `localhost:PORT` or `:PORT`
/// (all interfaces).
pub fn parse_listen(s: &str) -> Result<Vec<SocketAddr>, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(vec![a]);
    }
    let (host, port) = s.rsplit_once(':').ok_or_else(|| {
        format!("--listen {s}: expected ADDR:PORT, e.g. 127.0.0.1:2560 or [::1]:2560")
    })?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("--listen {s}: port {port:?} is not a number from 0 to 65535"))?;
    match host {
        "" | "*" => Ok(vec![SocketAddr::new(
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            port,
        )]),
        "localhost" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
        _ => Err(format!(
            "--listen {s}: {host:?} is not an IP address (use 127.0.0.1, [::1], 0.0.0.0 or [::])"
        )),
    }
}

/// Bind `addr` with SO_REUSEADDR; an unspecified IPv6 address also accepts IPv4
/// (dual stack), as `openssl ocsp -port` does. Falls back to 0.0.0.0 where IPv6 is off.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let try_bind = |addr: SocketAddr| -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        if addr.is_ipv6() {
            socket.set_only_v6(!addr.ip().is_unspecified())?;
        }
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        socket.set_nonblocking(true)?;
        TcpListener::from_std(std::net::TcpListener::from(socket))
    };
    match try_bind(addr) {
        Err(e) if addr.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED) => {
            tracing::warn!(error = %e, "IPv6 unavailable; listening on IPv4 only");
            try_bind(SocketAddr::from(([0, 0, 0, 0], addr.port())))
        }
        other => other,
    }
}

/// A stream that first yields `prefix`, bytes already read from `inner` (by the
/// HTTP/1.1 fast path, before it handed the connection to hyper).
struct PrefixIo<T> {
    inner: T,
    prefix: bytes::Bytes,
}

impl<T: AsyncRead + Unpin> AsyncRead for PrefixIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

forward_write!(PrefixIo);

/// What a listener serves.
#[derive(Clone)]
enum Kind {
    /// OCSP over plain HTTP (HTTP/1.1 and h2c).
    Http,
    /// OCSP over TLS (HTTP/2 or HTTP/1.1 by ALPN).
    Https(Arc<Tls>),
    /// `/metrics`, `/healthz`, `/readyz`.
    Ops(Arc<Ops>),
}

impl Kind {
    fn scheme(&self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Https(_) => "https",
            Kind::Ops(_) => "metrics",
        }
    }
}

struct Listener {
    tcp: TcpListener,
    kind: Kind,
}

/// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`: requests in flight on one connection.
pub const H2_MAX_CONCURRENT_STREAMS: u32 = 128;
/// HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`: the largest request head (decoded), bytes.
pub const H2_MAX_HEADER_LIST_SIZE: u32 = 32 * 1024;
/// Streams a client may open and reset before hyper accepts them (rapid reset) before
/// the connection is closed with GOAWAY `ENHANCE_YOUR_CALM`.
pub const H2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// Streams the server may reset for a client's protocol errors before the connection
/// is closed with GOAWAY `ENHANCE_YOUR_CALM`.
pub const H2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 256;
/// Bytes buffered for sending per HTTP/2 stream.
pub const H2_MAX_SEND_BUF_SIZE: usize = 64 * 1024;

/// Most connections open at once on the operations listener (separate from the OCSP
/// listeners' cap, so a flood of OCSP clients cannot hide the metrics).
const MAX_OPS_CONNECTIONS: usize = 64;

/// A bound server, ready to run.
pub struct Server {
    listeners: Vec<Listener>,
    edge: Arc<Edge>,
    health: Option<Arc<Health>>,
}

fn bind_all(addrs: &[SocketAddr], what: &str) -> io::Result<Vec<TcpListener>> {
    addrs
        .iter()
        .map(|a| {
            bind(*a).map_err(|e| {
                let fix = match e.kind() {
                    io::ErrorKind::AddrInUse => {
                        ": stop the other process listening there, or give another address or port"
                    }
                    io::ErrorKind::PermissionDenied => {
                        ": ports below 1024 need root or CAP_NET_BIND_SERVICE (see dist/ocsp.service)"
                    }
                    io::ErrorKind::AddrNotAvailable => ": this host has no such address",
                    _ => "",
                };
                io::Error::new(e.kind(), format!("cannot listen{what} on {a}: {e}{fix}"))
            })
        })
        .collect()
}

impl Server {
    /// Bind every address (plain HTTP).
    pub fn bind(addrs: &[SocketAddr], edge: Arc<Edge>) -> io::Result<Server> {
        let listeners = bind_all(addrs, "")?
            .into_iter()
            .map(|tcp| Listener {
                tcp,
                kind: Kind::Http,
            })
            .collect();
        Ok(Server {
            listeners,
            edge,
            health: None,
        })
    }

    /// Also serve OCSP over TLS on `addrs`.
    pub fn bind_tls(&mut self, addrs: &[SocketAddr], tls: Arc<Tls>) -> io::Result<()> {
        for tcp in bind_all(addrs, " (TLS)")? {
            self.listeners.push(Listener {
                tcp,
                kind: Kind::Https(tls.clone()),
            });
        }
        Ok(())
    }

    /// Also serve `/metrics`, `/healthz` and `/readyz` on `addr`. `/readyz` fails from
    /// the moment shutdown begins.
    pub fn bind_ops(&mut self, addr: SocketAddr, ops: Arc<Ops>) -> io::Result<()> {
        let tcp = bind_all(&[addr], " (metrics)")?.into_iter().next();
        if let Some(tcp) = tcp {
            self.health = Some(ops.health.clone());
            self.listeners.push(Listener {
                tcp,
                kind: Kind::Ops(ops),
            });
        }
        Ok(())
    }

    fn addrs_of(&self, want: fn(&Kind) -> bool) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter(|l| want(&l.kind))
            .filter_map(|l| l.tcp.local_addr().ok())
            .collect()
    }

    /// The plain HTTP addresses actually bound (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.addrs_of(|k| matches!(k, Kind::Http))
    }

    /// The HTTPS addresses actually bound.
    pub fn tls_addrs(&self) -> Vec<SocketAddr> {
        self.addrs_of(|k| matches!(k, Kind::Https(_)))
    }

    /// The operations listener's address, if any.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.addrs_of(|k| matches!(k, Kind::Ops(_)))
            .into_iter()
            .next()
    }

    /// Serve until `shutdown` completes, then stop accepting, let accepted requests finish
    /// within the grace period, and return.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let limits = self.edge.limits().clone();
        let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let ops_slots = Arc::new(Semaphore::new(MAX_OPS_CONNECTIONS));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut accept_tasks = Vec::new();
        for listener in self.listeners {
            let slots = match listener.kind {
                Kind::Ops(_) => ops_slots.clone(),
                _ => slots.clone(),
            };
            accept_tasks.push(tokio::spawn(accept_loop(
                listener,
                self.edge.clone(),
                slots,
                stop_rx.clone(),
            )));
        }
        shutdown.await;
        if let Some(h) = &self.health {
            h.set_draining();
        }
        tracing::info!("shutting down: no new connections; finishing accepted requests");
        let _ = stop_tx.send(true);
        for t in accept_tasks {
            let _ = t.await;
        }
        // Every connection holds a slot until it ends.
        let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
        let grace = Duration::from_secs(limits.shutdown_grace_secs);
        let drained = tokio::time::timeout(grace, slots.acquire_many(all)).await;
        match drained {
            Ok(_) => tracing::info!("all connections closed"),
            Err(_) => tracing::warn!(
                grace_secs = limits.shutdown_grace_secs,
                "grace period over; closing the remaining connections"
            ),
        }
    }
}

async fn accept_loop(
    listener: Listener,
    edge: Arc<Edge>,
    slots: Arc<Semaphore>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Listener { tcp, kind } = listener;
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.changed() => return,
        };
        let (stream, peer) = tokio::select! {
            r = tcp.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let edge = edge.clone();
        let stop = stop.clone();
        let kind = kind.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, kind, edge, stop).await;
            drop(permit);
        });
    }
}

/// The service a connection runs.
#[derive(Clone)]
enum Svc {
    Ocsp(Arc<Edge>),
    Ops(Arc<Ops>),
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    kind: Kind,
    edge: Arc<Edge>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let _open = crate::metrics::connection(kind.scheme());
    let limits: Limits = edge.limits().clone();
    let opened = Instant::now();
    if let Kind::Http = kind {
        // The common HTTP/1.1 requests without hyper; the rest of the connection (from
        // the first request that is not simple) with it.
        let mut stream = stream;
        let mut stop = stop;
        let (prefix, served) =
            match crate::http::h1::serve(&mut stream, &edge, peer, &limits, &mut stop).await {
                crate::http::h1::Next::Done => return,
                crate::http::h1::Next::HandOff { prefix, served } => (prefix, served),
            };
        // A connection that was served gets the idle time from here; one that was not
        // still owes its first request by `opened` + the header timeout.
        let watch = Watch::new(opened, served.then(Instant::now));
        let io = PrefixIo {
            inner: stream,
            prefix,
        };
        drive(io, peer, Svc::Ocsp(edge), &limits, watch, stop).await;
        return;
    }
    let watch = Watch::new(opened, None);
    let io = PrefixIo {
        inner: stream,
        prefix: bytes::Bytes::new(),
    };
    match kind {
        Kind::Http => drive(io, peer, Svc::Ocsp(edge), &limits, watch, stop).await,
        Kind::Ops(ops) => drive(io, peer, Svc::Ops(ops), &limits, watch, stop).await,
        Kind::Https(tls) => {
            match tokio::time::timeout(limits.header_timeout(), tls.acceptor().accept(io)).await {
                Ok(Ok(tls_stream)) => {
                    drive(tls_stream, peer, Svc::Ocsp(edge), &limits, watch, stop).await
                }
                Ok(Err(e)) => {
                    // A client's mistake (wrong name, no common version, a port scan).
                    crate::metrics::tls_handshake_failed();
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                }
                Err(_) => {
                    crate::metrics::tls_handshake_failed();
                    tracing::debug!(%peer, "TLS handshake timed out");
                }
            }
        }
    }
}

/// hyper's HTTP/1.1 and HTTP/2 settings; see `docs/configuration.md`, "Connection
/// limits".
fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout())
        .keep_alive(true)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST_SIZE)
        .max_pending_accept_reset_streams(H2_MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(H2_MAX_LOCAL_ERROR_RESET_STREAMS)
        .max_send_buf_size(H2_MAX_SEND_BUF_SIZE)
        // No pings of ours: the watchdog closes connections that make no progress,
        // whether or not the peer answers pings.
        .keep_alive_interval(None);
    builder
}

async fn drive<T>(
    io: T,
    peer: SocketAddr,
    svc: Svc,
    limits: &Limits,
    watch: Arc<Watch>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let watch = watch.clone();
        service_fn(move |req| {
            let svc = svc.clone();
            let guard = InFlight::new(&watch);
            async move {
                let resp = match &svc {
                    Svc::Ocsp(edge) => handle_from(edge, req, Some(peer)).await,
                    Svc::Ops(ops) => handle_ops(ops, req).await,
                };
                guard.done();
                Ok::<_, std::convert::Infallible>(resp)
            }
        })
    };
    let io = Watched::new(io, watch.clone());
    let builder = builder(limits);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    loop {
        let deadline = tokio::time::Instant::from_std(watch.deadline(limits));
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = tokio::time::sleep_until(deadline) => {
                if Instant::now() < watch.deadline(limits) {
                    continue;
                }
                if watch.shutting() {
                    tracing::debug!(%peer, "closing a connection that did not finish in time");
                    return;
                }
                tracing::debug!(%peer, "closing a connection that made no progress in time");
                watch.shut();
                conn.as_mut().graceful_shutdown();
            }
            _ = watch.wake.notified() => {
                if watch.flooded() && !watch.shutting() {
                    tracing::debug!(%peer, "closing a connection that floods control frames");
                    watch.shut();
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = stop.changed(), if !watch.shutting() => {
                watch.shut();
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        assert_eq!(
            parse_listen("127.0.0.1:2560").unwrap(),
            vec![SocketAddr::from(([127, 0, 0, 1], 2560))]
        );
        assert_eq!(parse_listen("[::1]:0").unwrap()[0].port(), 0);
        assert_eq!(
            parse_listen("localhost:80").unwrap(),
            vec![SocketAddr::from(([127, 0, 0, 1], 80))]
        );
        assert!(parse_listen(":2560").unwrap()[0].ip().is_unspecified());
        assert!(parse_listen("example.com:80").is_err());
        assert!(parse_listen("127.0.0.1:99999").is_err());
        assert!(parse_listen("nonsense").is_err());
    }
}
