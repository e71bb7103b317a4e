//! The CRL number, kept strictly increasing in a `crlnumber` file, as `openssl ca` keeps
//! it.
//!
//! The file holds the **next** number to use, in hexadecimal, uppercase, an even number
//! of digits, and a newline (`01`, `1A`, `0100`): what `openssl ca -gencrl` reads from
//! its `crlnumber` setting and writes back incremented, keeping the previous file as
//! `crlnumber.old`. The two tools can take turns on one CA directory.
//!
//! [`next_number`] is the file's number, raised above the number of the CRL already at
//! the output path when that is not lower (a file restored from a backup, a CRL written
//! by another tool): a CRL number never goes backwards. [`commit`] writes the number
//! after the one used (write a new file, keep the old one as `.old`, rename into place)
//! before the CRL itself is put in place, so a crash can skip a number but never reuse
//! one.

use std::path::{Path, PathBuf};

use ocsp_proto::crl::{CrlLimits, CrlNumber};

/// Read the `crlnumber` file: `Ok(None)` when it does not exist.
pub fn read(path: &Path) -> Result<Option<CrlNumber>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    parse(text.trim())
        .map(Some)
        .map_err(|why| format!("{}: {why}: it must hold the next CRL number in hexadecimal, as openssl ca writes it (e.g. 01)", path.display()))
}

/// Parse the hexadecimal text of a `crlnumber` file.
pub fn parse(hex: &str) -> Result<CrlNumber, &'static str> {
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("not a hexadecimal number");
    }
    let padded = if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex.to_string()
    };
    let bytes = ::hex::decode(padded).map_err(|_| "not a hexadecimal number")?;
    CrlNumber::from_be_bytes(&bytes).ok_or("out of range (a CRL number is below 2^159)")
}

/// The text `openssl ca` writes for `n`.
pub fn format(n: CrlNumber) -> String {
    let b = n.as_be_bytes();
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len() - 1);
    format!("{}\n", ::hex::encode_upper(&b[start..]))
}

/// The number of the next CRL: the file's (1 when there is none), raised above the CRL
/// at `previous` if that one's is not lower.
pub fn next_number(file: &Path, previous: Option<&Path>) -> Result<CrlNumber, String> {
    let mut n = read(file)?.unwrap_or(CrlNumber::from_u128(1));
    if let Some(prev) = previous.and_then(number_of_crl) {
        if prev >= n {
            n = prev
                .next()
                .ok_or_else(|| format!("the CRL number {prev} cannot be increased"))?;
        }
    }
    Ok(n)
}

/// The cRLNumber of the CRL file at `path`, when it exists and has one.
pub fn number_of_crl(path: &Path) -> Option<CrlNumber> {
    let bytes = std::fs::read(path).ok()?;
    let limits = CrlLimits::default();
    let der = ocsp_proto::crl::decode(&bytes, &limits).ok()?;
    ocsp_proto::crl::parse(&der, &limits).ok()?.crl_number
}

/// Record that `used` was used: the file now holds the number after it (the previous
/// file kept as `<file>.old`).
pub fn commit(file: &Path, used: CrlNumber) -> Result<(), String> {
    let next = used
        .next()
        .ok_or_else(|| format!("the CRL number {used} cannot be increased"))?;
    let new = sibling(file, "new");
    std::fs::write(&new, format(next)).map_err(|e| format!("{}: {e}", new.display()))?;
    if file.exists() {
        let old = sibling(file, "old");
        std::fs::rename(file, &old).map_err(|e| format!("{}: {e}", old.display()))?;
    }
    std::fs::rename(&new, file).map_err(|e| format!("{}: {e}", file.display()))
}

fn sibling(file: &Path, ext: &str) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn openssl_format() {
        for (n, text) in [(1u128, "01\n"), (26, "1A\n"), (256, "0100\n")] {
            assert_eq!(format(CrlNumber::from_u128(n)), text);
            assert_eq!(parse(text.trim()).unwrap(), CrlNumber::from_u128(n));
        }
        assert_eq!(parse("100").unwrap(), CrlNumber::from_u128(256));
        for bad in ["", "xyz", "-1", "1 2"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commit_keeps_old_and_never_goes_back() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("crlnumber");
        assert_eq!(next_number(&f, None).unwrap(), CrlNumber::from_u128(1));
        commit(&f, CrlNumber::from_u128(1)).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "02\n");
        commit(&f, CrlNumber::from_u128(2)).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "03\n");
        assert_eq!(
            std::fs::read_to_string(d.path().join("crlnumber.old")).unwrap(),
            "02\n"
        );
        std::fs::write(&f, "zz").unwrap();
        assert!(read(&f).unwrap_err().contains("hexadecimal"));
    }
}
