//! Where the status database's URL comes from, in one order for every command: the value
//! given (`--db`, or `[database] url` of a configuration), else the environment variable
//! `OCSP_DATABASE_URL`, else the first line of a file (`[database] url_file`: the place
//! for a password). Only the text is found here; `postgres::url::DatabaseUrl` parses it
//! (feature `postgres`), so the responder's configuration can name a database in a build
//! without the database client.

use std::path::{Path, PathBuf};

/// The environment variable holding the database URL.
pub const ENV_VAR: &str = "OCSP_DATABASE_URL";

/// Where a URL was found, for messages about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlOrigin {
    /// Given directly (`--db`, `[database] url`).
    Given,
    /// `OCSP_DATABASE_URL`.
    Env,
    /// A URL file.
    File(PathBuf),
}

/// The URL text from the first source that gives one, and where it came from;
/// `Ok(None)` when none does. A URL file that cannot be read or holds no URL is the
/// error, naming the file and the fix.
pub fn find(
    given: Option<&str>,
    url_file: Option<&Path>,
) -> Result<Option<(String, UrlOrigin)>, String> {
    if let Some(u) = given {
        return Ok(Some((u.to_string(), UrlOrigin::Given)));
    }
    if let Ok(u) = std::env::var(ENV_VAR) {
        if !u.trim().is_empty() {
            return Ok(Some((u.trim().to_string(), UrlOrigin::Env)));
        }
    }
    let Some(path) = url_file else {
        return Ok(None);
    };
    read_file(path).map(|text| Some((text, UrlOrigin::File(path.to_path_buf()))))
}

/// The URL on the first line of `path` that is neither empty nor a `#` comment.
pub fn read_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the URL file {}: {e} (it holds postgres://USER:PASSWORD@HOST/DATABASE on one line; make it readable by this user only)",
            path.display()
        )
    })?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "the URL file {} is empty (write postgres://USER:PASSWORD@HOST/DATABASE into it)",
                path.display()
            )
        })
}
