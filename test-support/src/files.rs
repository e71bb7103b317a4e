//! Paths and files: where test directories live, writing and replacing files, the clock.

use std::path::{Path, PathBuf};

/// A path as `&str` (every path the tests make is UTF-8).
pub fn p(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Write `text` to `dir/name` and return the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Write `text` to `path` as `openssl ca` does: a new file renamed over the old one.
pub fn replace_file(path: &Path, text: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", tmp.display()));
    std::fs::rename(&tmp, path)
        .unwrap_or_else(|e| panic!("cannot rename onto {}: {e}", path.display()));
}

/// Seconds since the epoch now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The directory for test files: `target/tmp` next to the running test binary
/// (`target/<profile>/deps/…`, what Cargo calls `CARGO_TARGET_TMPDIR`), or the system
/// temporary directory when the binary lives elsewhere.
pub fn tmp_root() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        let profile = deps.parent()?;
        let target = profile.parent()?;
        (deps.file_name()? == "deps").then(|| target.join("tmp"))
    });
    let dir = from_exe.unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create the test directory {}: {e}", dir.display()));
    dir
}
