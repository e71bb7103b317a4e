//! Readings of a process from `/proc` (CPU time, resident memory, threads, open files),
//! the file-descriptor limit, and percentiles of latency samples.

use std::time::Duration;

/// Make sure this process (and the responder it spawns, which inherits the limit) may
/// open `want` files: raise the soft RLIMIT_NOFILE with `prlimit(1)` when it is lower.
/// Returns the soft limit in force. (No `unsafe` setrlimit in tests: prlimit does it.)
pub fn raise_fd_limit(want: u64) -> u64 {
    let soft = nofile_soft();
    if soft >= want {
        return soft;
    }
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={want}:")])
        .status();
    if nofile_soft() < want {
        // The hard limit may be lower: take what it allows.
        let hard = nofile_hard();
        let _ = std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={}:", hard.min(want))])
            .status();
    }
    nofile_soft()
}

fn nofile(field: usize) -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(field))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

fn nofile_soft() -> u64 {
    nofile(3)
}

fn nofile_hard() -> u64 {
    nofile(4)
}

/// CPU time (user + system) of `pid` in clock ticks (1/100 s on Linux).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after ") ".
    let rest = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    get(11) + get(12)
}

/// The number after `key` (e.g. `VmRSS:`) in `/proc/pid/status`; 0 if absent.
fn status_field(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resident memory of `pid` in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

/// Open file descriptors of `pid`.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The p-th percentile (0..=100) of `samples` (sorted in place).
pub fn percentile(samples: &mut [Duration], pct: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    let rank = ((pct / 100.0) * (samples.len() as f64)).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// Threads of `pid`.
pub fn thread_count(pid: u32) -> u64 {
    status_field(pid, "Threads:")
}
