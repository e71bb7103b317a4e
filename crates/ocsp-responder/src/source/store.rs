//! The response store: pre-signed answers on disk, written by `ocsp presign` (and
//! [`super::cached::CachedSource::save_store`]) and loaded by `ocsp serve --store` at
//! start, so a restart does not start cold. Format (docs/presign.md):
//!
//! ```text
//! file    = magic record*
//! magic   = "OCSPSTORE1\n"                    11 octets
//! record  = length der                        length: u32, big-endian, 1..=65536
//! der     = one DER OCSPResponse (successful, BasicOCSPResponse, one SingleResponse,
//!           no nonce), byte for byte as served
//! ```
//!
//! The records carry nothing but the responses: everything the loader needs (issuer,
//! CertID, status, times, signer) is in the signed DER, so the file cannot claim more
//! than the signatures do. The loader re-checks every record against the current
//! configuration and statuses and skips the ones that no longer hold.

use std::io::{self, Write};
use std::path::Path;

/// The first octets of a store file (format version 1).
pub const MAGIC: &[u8; 11] = b"OCSPSTORE1\n";

/// Largest record accepted, in octets.
pub const MAX_RECORD: usize = 64 * 1024;

/// A store that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// Not a store, or cut short.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Split a store file's bytes into its records.
pub fn parse<'a>(bytes: &'a [u8], path: &Path) -> Result<Vec<&'a [u8]>, StoreError> {
    let bad = |reason: String| StoreError::Format {
        path: path.display().to_string(),
        reason,
    };
    let mut rest = bytes.strip_prefix(&MAGIC[..]).ok_or_else(|| {
        bad(
            "not an ocsp response store (no OCSPSTORE1 header); make one with `ocsp presign`"
                .into(),
        )
    })?;
    let mut records = Vec::new();
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return Err(bad(format!(
                "record at offset {offset}: cut short in its length"
            )));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if len == 0 || len > MAX_RECORD {
            return Err(bad(format!(
                "record at offset {offset}: length {len} outside 1..={MAX_RECORD}"
            )));
        }
        if tail.len() < len {
            return Err(bad(format!(
                "record at offset {offset}: cut short ({} of {len} octets)",
                tail.len()
            )));
        }
        let (rec, next) = tail.split_at(len);
        records.push(rec);
        rest = next;
    }
    Ok(records)
}

/// Read a store file.
pub fn read(path: &Path) -> Result<Vec<u8>, StoreError> {
    std::fs::read(path).map_err(|source| StoreError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Write `records` to `path` atomically (a temporary file in the same directory, then a
/// rename), so a reader never sees a half-written store.
pub fn write<'a>(
    path: &Path,
    records: impl IntoIterator<Item = &'a [u8]>,
) -> Result<usize, StoreError> {
    let io_err = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> io::Result<usize> {
        let mut out = io::BufWriter::new(std::fs::File::create(&tmp)?);
        out.write_all(MAGIC)?;
        let mut n = 0;
        for r in records {
            let len = u32::try_from(r.len())
                .ok()
                .filter(|l| *l as usize <= MAX_RECORD && *l > 0)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
            out.write_all(&len.to_be_bytes())?;
            out.write_all(r)?;
            n += 1;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.store");
        let recs: Vec<&[u8]> = vec![b"\x30\x03\x0a\x01\x00", b"abc"];
        assert_eq!(write(&p, recs.iter().copied()).unwrap(), 2);
        let bytes = read(&p).unwrap();
        assert_eq!(parse(&bytes, &p).unwrap(), recs);
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        assert!(parse(b"garbage", &p).is_err());
        let mut cut = bytes.clone();
        cut.pop();
        let e = parse(&cut, &p).unwrap_err().to_string();
        assert!(e.contains("cut short"), "{e}");
        let mut zero = MAGIC.to_vec();
        zero.extend_from_slice(&[0, 0, 0, 0]);
        assert!(parse(&zero, &p).is_err());
        assert!(parse(&MAGIC[..], &p).unwrap().is_empty());
        assert!(read(&dir.path().join("missing")).is_err());
    }
}
