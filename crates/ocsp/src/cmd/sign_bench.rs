//! `ocsp sign-bench` (hidden): the signing rate of a responder key, for `bench/run.sh`.
//!
//! Two figures for the first configured CA's responder, each over `--seconds`:
//!
//! - **direct**: `--threads` threads (default: one per core) each building and signing
//!   nonce answers back to back, as a signing job does, with nothing else running: the
//!   key's limit on these cores with our code, the reference a nonce load is held to
//!   (beside `openssl speed -multi N`).
//! - **pool**: the same answers through the signing pool (`[signing]` settings), many
//!   in flight from async tasks, as the HTTP edge submits them: what the hand-offs cost
//!   without any HTTP.
//!
//! Prints one line per figure: `direct signatures/s: N (T threads)`, `direct CPU µs per
//! signature: C` (what the threads got of the cores does not move it: the figure to hold a
//! server's CPU per nonce answer to on a machine shared with other work), `pool
//! signatures/s: N`.

use crate::cmd::ca_flags::CaFlags;
use anyhow::Context;
use ocsp_proto::{CertStatus, HashAlg, Serial};
use ocsp_responder::config::Config;
use ocsp_responder::setup::{self, BuildOptions};
use ocsp_responder::source::live::{Item, LiveSource};
use ocsp_responder::source::signing::Priority;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Flags of `ocsp sign-bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CA and responder (the same flags as `ocsp serve`).
    #[command(flatten)]
    pub ca: CaFlags,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Threads of the direct measurement (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Only the direct measurement.
    #[arg(long)]
    pub direct_only: bool,
}

/// Run `ocsp sign-bench`.
pub fn run(args: Args) -> ExitCode {
    match bench(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ocsp sign-bench: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// One good answer with a fresh 16-octet nonce for serial `n`.
fn job(live: &LiveSource, n: u64) -> anyhow::Result<(Vec<Item>, Vec<u8>)> {
    let issuer = live
        .issuers()
        .iter()
        .next()
        .context("no CA: give --ca CAFILE --index index.txt --rsigner CERT --rkey KEY")?
        .clone();
    let serial = Serial::from_der_content(&(n | 1 << 62).to_be_bytes());
    let cert_id = ocsp_proto::cert_id::cert_id(&issuer.cert, &serial, HashAlg::Sha1)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let nonce = [n.to_be_bytes(), (!n).to_be_bytes()].concat();
    Ok((
        vec![Item {
            cert_id,
            issuer,
            record: Some(CertStatus::Good),
            period: None,
        }],
        nonce,
    ))
}

fn bench(args: &Args) -> anyhow::Result<()> {
    let mut cfg = Config::default();
    if let Some(issuer) = args.ca.issuer()? {
        cfg.issuers.push(issuer);
    }
    let rt = crate::runtime::runtime_with(0)?;
    let _guard = rt.enter();
    let prompt = crate::passphrase::prompt_passin;
    let built = setup::build(&cfg, &BuildOptions::new(&prompt))?;
    let live = built.live.clone();
    let secs = Duration::from_secs_f64(args.seconds.max(0.1));

    // Direct: the threads sign and nothing else runs.
    let threads = if args.threads == 0 {
        ocsp_responder::source::signing::default_threads()
    } else {
        args.threads
    };
    job(&live, 0)?;
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = process_cpu_secs();
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (live, done, stop) = (live.clone(), done.clone(), stop.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut n = (t as u64) << 40;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let (items, nonce) = job(&live, n)?;
                    live.sign_here(items, Some(nonce))
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(secs);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("a signing thread panicked"))??;
    }
    let n = done.load(Ordering::Relaxed);
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("direct signatures/s: {rate:.0} ({threads} threads)");
    // CPU time per signature: what the threads got of the cores does not change it.
    if let Some(cpu) = process_cpu_secs() {
        let per = (cpu - cpu_before.unwrap_or(0.0)) / n.max(1) as f64;
        println!("direct CPU µs per signature: {:.1}", per * 1e6);
    }
    if args.direct_only {
        return Ok(());
    }

    // Through the pool, from async tasks (as the edge submits nonce answers).
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + secs;
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..64u64 {
            let (live, done) = (live.clone(), done.clone());
            tasks.spawn(async move {
                let mut n = (t + 64) << 40;
                while tokio::time::Instant::now() < deadline {
                    n += 1;
                    let (items, nonce) = job(&live, n)?;
                    match live.sign_items(items, Some(nonce), Priority::Live).await {
                        Ok(_) => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(ocsp_responder::source::SourceError::Overloaded) => {
                            tokio::task::yield_now().await
                        }
                        Err(e) => anyhow::bail!("{e}"),
                    }
                }
                Ok(())
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.map_err(|e| anyhow::anyhow!("{e}"))??;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("pool signatures/s: {rate:.0}");
    Ok(())
}

/// The process's user + system CPU seconds, from `/proc/self/stat` (in USER_HZ, 100 a
/// second on Linux), or `None` elsewhere.
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
