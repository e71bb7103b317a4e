//! Passphrase sources in openssl's `-passin` forms: `pass:TEXT`, `env:VAR`, `file:PATH`,
//! `fd:N`, `stdin`.
//!
//! As openssl does, `file:`, `fd:` and `stdin` take the first line and drop its `\n`; a `\r`
//! before it is kept (openssl keeps it too, so a key encrypted by openssl with the same
//! `-passin` source still decrypts). An empty source is an error, as in openssl.

use std::io::{BufRead, BufReader};

/// The longest passphrase line read from a file, descriptor or stdin.
pub const MAX_PASSPHRASE: usize = 4096;

/// The valid forms, for error messages.
pub const PASSIN_FORMS: &str = "pass:TEXT, env:VAR, file:PATH, fd:N or stdin";

/// A passphrase; its `Debug` never shows it, and its octets are overwritten when dropped.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wrap octets.
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }
    /// The octets.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Secret {
    fn from(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }
}

impl From<String> for Secret {
    /// Takes the string's buffer as it is (no copy is left behind).
    fn from(text: String) -> Secret {
        Secret(text.into_bytes())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    /// Best effort: without `unsafe` or a zeroize dependency, `black_box` is what keeps the
    /// writes from being optimised away. Copies made by earlier reallocations are not reached.
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&mut self.0);
    }
}

/// Where a passphrase is: a `--passin` argument (`pass:TEXT`, `env:VAR`, `file:PATH`, `fd:N`,
/// `stdin`), kept as written and read only when a key turns out to be encrypted.
///
/// `Debug` and `Display` show it as [`redact`] does (`pass:<redacted>`). Two `Passin`s are
/// equal when they are written the same.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Passin(String);

impl Passin {
    /// The source `spec`, not checked until it is read.
    pub fn new(spec: impl Into<String>) -> Passin {
        Passin(spec.into())
    }

    /// Read the passphrase (see [`read_passin`]).
    pub fn read(&self) -> Result<Secret, PassinError> {
        read_passin(&self.0)
    }
}

impl std::fmt::Debug for Passin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Passin").field(&redact(&self.0)).finish()
    }
}

impl std::fmt::Display for Passin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// A `--passin` argument that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("--passin {spec}: {reason}")]
pub struct PassinError {
    /// The argument, with any inline secret redacted (`pass:<redacted>`).
    pub spec: String,
    /// What went wrong and how to fix it.
    pub reason: String,
}

/// `spec` as it may appear in messages: inline text (`pass:...`, or an unknown form that may
/// be a passphrase typed without a prefix) is redacted.
pub fn redact(spec: &str) -> String {
    match spec.split_once(':') {
        Some(("pass", _)) => "pass:<redacted>".into(),
        // Variable names, paths and descriptor numbers are not secret.
        Some(("env" | "file" | "fd", _)) => spec.to_string(),
        Some((kind, _)) if is_form_name(kind) => format!("{kind}:<redacted>"),
        Some(_) => "<redacted>".into(),
        None if spec == "stdin" => spec.to_string(),
        None => "<redacted>".into(),
    }
}

/// A short, plausible form name (`pas`, `File`), as opposed to text that may be a passphrase.
fn is_form_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Read a passphrase given as `pass:TEXT`, `env:VAR`, `file:PATH`, `fd:N` or `stdin`.
pub fn read_passin(spec: &str) -> Result<Secret, PassinError> {
    let fail = |reason: String| PassinError {
        spec: redact(spec),
        reason,
    };
    if spec == "stdin" {
        let stdin = std::io::stdin();
        let lock = stdin.lock();
        return first_line(lock).map_err(|e| fail(format!("reading standard input: {e}")));
    }
    match spec.split_once(':') {
        Some(("pass", text)) => Ok(Secret(text.as_bytes().to_vec())),
        Some(("env", var)) => {
            if var.is_empty() {
                return Err(fail("env: needs a variable name (env:VAR)".into()));
            }
            match std::env::var_os(var) {
                Some(v) => Ok(Secret(os_bytes(v))),
                None => Err(fail(format!("environment variable {var} is not set"))),
            }
        }
        Some(("file", path)) => {
            if path.is_empty() {
                return Err(fail("file: needs a path (file:PATH)".into()));
            }
            let f = std::fs::File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
            first_line(BufReader::new(f)).map_err(|e| fail(format!("cannot read: {e}")))
        }
        Some(("fd", n)) => {
            let n: u32 = n
                .parse()
                .map_err(|_| fail("fd: needs a file descriptor number (fd:N, e.g. fd:3)".into()))?;
            let f = std::fs::File::open(format!("/proc/self/fd/{n}"))
                .or_else(|_| std::fs::File::open(format!("/dev/fd/{n}")))
                .map_err(|e| fail(format!("cannot open: {e}")))?;
            first_line(BufReader::new(f)).map_err(|e| fail(format!("cannot read: {e}")))
        }
        _ => Err(fail(format!("unknown form; use {PASSIN_FORMS}"))),
    }
}

/// The first line of `r` without its `\n` (at most [`MAX_PASSPHRASE`] octets); an empty
/// source is an error.
fn first_line(r: impl BufRead) -> Result<Secret, String> {
    let mut line = Secret(Vec::new());
    let limit = u64::try_from(MAX_PASSPHRASE + 1).unwrap_or(u64::MAX);
    let n = r
        .take(limit)
        .read_until(b'\n', &mut line.0)
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("empty: no passphrase line".into());
    }
    if line.0.last() == Some(&b'\n') {
        line.0.pop();
    } else if line.0.len() > MAX_PASSPHRASE {
        return Err(format!("first line longer than {MAX_PASSPHRASE} octets"));
    }
    Ok(line)
}

#[cfg(unix)]
fn os_bytes(v: std::ffi::OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    v.into_vec()
}

#[cfg(not(unix))]
fn os_bytes(v: std::ffi::OsString) -> Vec<u8> {
    v.to_string_lossy().into_owned().into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};
    use std::os::fd::AsRawFd;

    fn line(s: &[u8]) -> Result<Vec<u8>, String> {
        first_line(Cursor::new(s.to_vec())).map(|s| s.expose().to_vec())
    }

    #[test]
    fn first_line_rules() {
        assert_eq!(line(b"secret\nsecond\n"), Ok(b"secret".to_vec()));
        assert_eq!(line(b"secret"), Ok(b"secret".to_vec()));
        assert_eq!(
            line(b"secret\r\n"),
            Ok(b"secret\r".to_vec()),
            "openssl keeps the \\r"
        );
        assert_eq!(line(b"\n"), Ok(Vec::new()));
        assert!(line(b"").is_err());
        assert!(line(&vec![b'a'; MAX_PASSPHRASE]).is_ok());
        assert!(line(&vec![b'a'; MAX_PASSPHRASE + 1]).is_err());
        let mut long = vec![b'a'; MAX_PASSPHRASE];
        long.push(b'\n');
        assert_eq!(line(&long).map(|l| l.len()), Ok(MAX_PASSPHRASE));
    }

    #[test]
    fn pass_form() {
        let s = read_passin("pass:hunter2:x").unwrap();
        assert_eq!(s.expose(), b"hunter2:x");
        assert_eq!(read_passin("pass:").unwrap().expose(), b"");
    }

    #[test]
    fn env_form() {
        let var = "OCSP_PASSIN_UNIT_TEST_VAR";
        std::env::set_var(var, "from env");
        assert_eq!(
            read_passin(&format!("env:{var}")).unwrap().expose(),
            b"from env"
        );
        std::env::remove_var(var);
        let e = read_passin(&format!("env:{var}")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("--passin env:{var}: environment variable {var} is not set")
        );
    }

    #[test]
    fn file_form() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pass.txt");
        std::fs::write(&p, "from file\nignored\n").unwrap();
        let spec = format!("file:{}", p.display());
        assert_eq!(read_passin(&spec).unwrap().expose(), b"from file");
        let missing = format!("file:{}", dir.path().join("nope").display());
        let e = read_passin(&missing).unwrap_err();
        assert_eq!(e.spec, missing);
        assert!(e.reason.starts_with("cannot open"), "{e}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        assert!(read_passin(&format!("file:{}", empty.display())).is_err());
    }

    #[test]
    fn fd_form() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"from fd\n").unwrap();
        // The fd is read through /proc/self/fd, which opens the file again at offset 0.
        let spec = format!("fd:{}", f.as_raw_fd());
        assert_eq!(read_passin(&spec).unwrap().expose(), b"from fd");
        assert!(read_passin("fd:x").is_err());
        assert!(read_passin("fd:999999").is_err());
    }

    #[test]
    fn unknown_forms_are_redacted_and_list_the_valid_ones() {
        let e = read_passin("hunter2").unwrap_err();
        assert_eq!(e.spec, "<redacted>");
        assert!(e.reason.contains(PASSIN_FORMS), "{e}");
        assert!(!e.to_string().contains("hunter2"));
        let e = read_passin("pas:hunter2").unwrap_err();
        assert_eq!(e.spec, "pas:<redacted>");
        assert!(!e.to_string().contains("hunter2"));
        let e = read_passin("correct horse: battery").unwrap_err();
        assert!(!e.to_string().contains("horse"), "{e}");
    }

    #[test]
    fn inline_secret_never_in_errors_or_debug() {
        assert_eq!(redact("pass:hunter2"), "pass:<redacted>");
        let p = Passin::new("pass:hunter2");
        assert_eq!(format!("{p:?}"), r#"Passin("pass:<redacted>")"#);
        assert_eq!(p.to_string(), "pass:<redacted>");
        assert_eq!(p.read().unwrap().expose(), b"hunter2");
        assert_eq!(redact("env:X"), "env:X");
        assert_eq!(redact("stdin"), "stdin");
        let s = Secret::new(b"hunter2".to_vec());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }
}
