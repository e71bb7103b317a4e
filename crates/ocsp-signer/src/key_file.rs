//! Key files: from the bytes of a file to one private key in plain DER.
//!
//! Every private key form openssl writes is read:
//!
//! | PEM label | written by |
//! |---|---|
//! | `PRIVATE KEY` (PKCS#8) | `openssl genpkey`, `openssl pkcs8 -topk8 -nocrypt` |
//! | `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2) | `openssl genpkey -aes256`, `openssl pkcs8 -topk8` |
//! | `RSA PRIVATE KEY` (PKCS#1) | `openssl genrsa -traditional`, `openssl rsa -traditional` |
//! | `EC PRIVATE KEY` (SEC1) | `openssl ecparam -genkey`, `openssl ec` |
//! | the two above with `Proc-Type: 4,ENCRYPTED` | `openssl rsa -aes128 -traditional`, `openssl ec -aes256` |
//!
//! Other PEM blocks in the file (a certificate, `EC PARAMETERS`) are skipped, so a key and its
//! certificate may share one file (`--rkey` defaults to the `--rsigner` file). Exactly one
//! private key must be there: two are refused rather than one picked. A file with no PEM block
//! at all is tried as DER (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1).
//!
//! Encrypted PKCS#8 is PBES2 (PBKDF2 with HMAC-SHA-2, or scrypt; AES-CBC). The legacy
//! `Proc-Type`/`DEK-Info` encryption is `EVP_BytesToKey` with MD5 and AES-128/192/256-CBC,
//! DES-EDE3-CBC or DES-CBC. The passphrase is asked for only when the key is encrypted, at
//! most once. A wrong passphrase is told apart from a damaged key by the padding *and* by the
//! decrypted key parsing (the padding alone passes one wrong passphrase in 256).
//!
//! Key material read or decrypted here (the file's bytes, derived keys, the plain DER) is
//! overwritten before it is freed. This module knows nothing of key types: which keys sign,
//! and how, is [`crate::software`]'s.

use std::io::Read;
use std::path::Path;

use der::Decode;

use crate::error::KeyErrorKind;
use crate::passin::Secret;

/// Asks for the passphrase of an encrypted key; called at most once, and only when needed.
pub(crate) type Passphrase<'a> = &'a mut dyn FnMut() -> Result<Secret, KeyErrorKind>;

/// Key files larger than this are refused before reading (a key is a few KiB).
pub const MAX_KEY_FILE: u64 = 1 << 20;

/// Read the key file at `path` (at most [`MAX_KEY_FILE`] bytes), wiping the bytes afterwards.
pub(crate) fn read_key_file(
    path: &Path,
    passphrase: Passphrase<'_>,
) -> Result<PlainKey, KeyErrorKind> {
    let file = std::fs::File::open(path).map_err(KeyErrorKind::Read)?;
    // Sized up front so that reading does not reallocate and leave unwiped copies behind.
    let size = file.metadata().map_or(0, |m| m.len()).min(MAX_KEY_FILE) + 1;
    let mut data = KeyDer(Vec::with_capacity(usize::try_from(size).unwrap_or(0)));
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut data.0)
        .map_err(KeyErrorKind::Read)?;
    if data.0.len() as u64 > MAX_KEY_FILE {
        return Err(KeyErrorKind::TooLarge { max: MAX_KEY_FILE });
    }
    read_key(&data.0, passphrase)
}

/// Overwrite key material before freeing it (best effort: without `unsafe` or a zeroize
/// dependency, `black_box` is what keeps the writes from being optimised away).
fn wipe(buf: &mut Vec<u8>) {
    buf.fill(0);
    std::hint::black_box(&mut *buf);
}

/// Key material that is wiped when dropped.
pub(crate) struct KeyDer(pub(crate) Vec<u8>);

impl Drop for KeyDer {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// A private key in one of the DER encodings, before it is handed to aws-lc-rs.
pub(crate) enum PlainKey {
    /// PKCS#8 `PrivateKeyInfo`.
    Pkcs8(KeyDer),
    /// PKCS#1 `RSAPrivateKey`.
    Pkcs1(KeyDer),
    /// SEC1 `ECPrivateKey`.
    Sec1(KeyDer),
}

// PEM labels.
const PKCS8: &str = "PRIVATE KEY";
const PKCS8_ENCRYPTED: &str = "ENCRYPTED PRIVATE KEY";
const PKCS1: &str = "RSA PRIVATE KEY";
const SEC1: &str = "EC PRIVATE KEY";

/// Find the one private key in `data` (the bytes of a key file) and decrypt it if needed.
pub(crate) fn read_key(data: &[u8], passphrase: Passphrase<'_>) -> Result<PlainKey, KeyErrorKind> {
    let has_pem = data.windows(11).any(|w| w == b"-----BEGIN ");
    if !has_pem {
        return read_der_key(data, passphrase);
    }
    let mut blocks =
        pem::parse_many(data).map_err(|e| KeyErrorKind::MalformedPem(e.to_string()))?;
    let mut keys = Vec::new();
    let mut others: Vec<String> = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        match block.tag() {
            PKCS8 | PKCS8_ENCRYPTED | PKCS1 | SEC1 => keys.push(i),
            "DSA PRIVATE KEY" => {
                return Err(KeyErrorKind::UnsupportedKeyType { kind: "DSA".into() })
            }
            "OPENSSH PRIVATE KEY" => return Err(KeyErrorKind::OpenSsh),
            tag if tag.ends_with("PRIVATE KEY") => {
                return Err(KeyErrorKind::UnsupportedFormat { label: tag.into() })
            }
            tag => {
                if !others.iter().any(|o| o == tag) {
                    others.push(tag.to_string())
                }
            }
        }
    }
    let index = match keys.as_slice() {
        [one] => *one,
        [] => return Err(KeyErrorKind::NoKey { found: others }),
        many => {
            let labels = many
                .iter()
                .filter_map(|&i| blocks.get(i).map(|b| b.tag().to_string()))
                .collect();
            return Err(KeyErrorKind::SeveralKeys { labels });
        }
    };
    let block = blocks.swap_remove(index);
    drop(blocks);
    let tag = block.tag().to_string();
    let proc_type = block.headers().get("Proc-Type").map(str::to_string);
    let dek_info = block.headers().get("DEK-Info").map(str::to_string);
    // Owned, so that it is wiped when dropped.
    let der = KeyDer(block.into_contents());
    match (tag.as_str(), proc_type) {
        (PKCS8_ENCRYPTED, _) => decrypt_pkcs8(&der.0, passphrase),
        (tag, Some(proc_type)) => {
            if !proc_type
                .replace(' ', "")
                .eq_ignore_ascii_case("4,ENCRYPTED")
            {
                return Err(KeyErrorKind::ProcType(proc_type));
            }
            let dek_info = dek_info.ok_or(KeyErrorKind::NoDekInfo)?;
            decrypt_legacy(tag, &dek_info, &der.0, passphrase)
        }
        (tag, None) => parse_plain(tag, der),
    }
}

/// A file without PEM: try the DER forms openssl writes with `-outform DER`.
fn read_der_key(data: &[u8], passphrase: Passphrase<'_>) -> Result<PlainKey, KeyErrorKind> {
    if pkcs8::PrivateKeyInfo::from_der(data).is_ok() {
        return Ok(PlainKey::Pkcs8(KeyDer(data.to_vec())));
    }
    if pkcs8::EncryptedPrivateKeyInfo::from_der(data).is_ok() {
        return decrypt_pkcs8(data, passphrase);
    }
    if pkcs1::RsaPrivateKey::from_der(data).is_ok() {
        return Ok(PlainKey::Pkcs1(KeyDer(data.to_vec())));
    }
    if sec1::EcPrivateKey::from_der(data).is_ok() {
        return Ok(PlainKey::Sec1(KeyDer(data.to_vec())));
    }
    Err(KeyErrorKind::NotAKey)
}

/// Check that `der` is what its PEM label says.
fn parse_plain(tag: &str, der: KeyDer) -> Result<PlainKey, KeyErrorKind> {
    let malformed = |what: &'static str| {
        move |e: der::Error| KeyErrorKind::Malformed {
            what,
            detail: e.to_string(),
        }
    };
    match tag {
        PKCS8 => {
            pkcs8::PrivateKeyInfo::from_der(&der.0).map_err(malformed(PKCS8))?;
            Ok(PlainKey::Pkcs8(der))
        }
        PKCS1 => {
            pkcs1::RsaPrivateKey::from_der(&der.0).map_err(malformed(PKCS1))?;
            Ok(PlainKey::Pkcs1(der))
        }
        SEC1 => {
            sec1::EcPrivateKey::from_der(&der.0).map_err(malformed(SEC1))?;
            Ok(PlainKey::Sec1(der))
        }
        other => Err(KeyErrorKind::UnsupportedFormat {
            label: other.into(),
        }),
    }
}

fn decrypt_pkcs8(der: &[u8], passphrase: Passphrase<'_>) -> Result<PlainKey, KeyErrorKind> {
    let info = pkcs8::EncryptedPrivateKeyInfo::from_der(der).map_err(|e| {
        KeyErrorKind::UnsupportedEncryption {
            detail: format!(
                "encrypted PKCS#8 key in a form not supported ({e}); supported: PBES2 with \
                 PBKDF2-HMAC-SHA-2 or scrypt and AES-CBC"
            ),
        }
    })?;
    let pass = passphrase()?;
    let doc = info.decrypt(pass.expose()).map_err(|e| match e {
        // pkcs5 0.7 reports a bad padding after decryption as `EncryptFailed`.
        pkcs8::Error::EncryptedPrivateKey(
            pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
        ) => KeyErrorKind::WrongPassphrase,
        pkcs8::Error::EncryptedPrivateKey(e) => KeyErrorKind::UnsupportedEncryption {
            detail: format!("encrypted PKCS#8 key: {e}"),
        },
        // Decrypted, padding fine, but not DER: a wrong passphrase that got past the padding.
        _ => KeyErrorKind::WrongPassphrase,
    })?;
    parse_plain(PKCS8, KeyDer(doc.as_bytes().to_vec())).map_err(|_| KeyErrorKind::WrongPassphrase)
}

/// The ciphers (all in CBC mode) openssl's legacy `DEK-Info:` PEM encryption uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegacyCipher {
    Aes128,
    Aes192,
    Aes256,
    DesEde3,
    Des,
}

impl LegacyCipher {
    fn from_name(name: &str) -> Option<LegacyCipher> {
        Some(match name.to_ascii_uppercase().as_str() {
            "AES-128-CBC" => LegacyCipher::Aes128,
            "AES-192-CBC" => LegacyCipher::Aes192,
            "AES-256-CBC" => LegacyCipher::Aes256,
            "DES-EDE3-CBC" => LegacyCipher::DesEde3,
            "DES-CBC" => LegacyCipher::Des,
            _ => return None,
        })
    }

    fn key_len(self) -> usize {
        match self {
            LegacyCipher::Aes128 => 16,
            LegacyCipher::Aes192 | LegacyCipher::DesEde3 => 24,
            LegacyCipher::Aes256 => 32,
            LegacyCipher::Des => 8,
        }
    }

    fn iv_len(self) -> usize {
        match self {
            LegacyCipher::Aes128 | LegacyCipher::Aes192 | LegacyCipher::Aes256 => 16,
            LegacyCipher::DesEde3 | LegacyCipher::Des => 8,
        }
    }

    /// CBC-decrypt and strip the PKCS#7 padding; `None` when the padding is wrong.
    fn decrypt(self, key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
        fn run<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>>
        where
            cbc::Decryptor<C>: KeyIvInit + BlockDecryptMut,
            C: cbc::cipher::BlockDecryptMut + cbc::cipher::BlockCipher,
        {
            let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
            dec.decrypt_padded_vec_mut::<Pkcs7>(data).ok()
        }
        match self {
            LegacyCipher::Aes128 => run::<aes::Aes128>(key, iv, data),
            LegacyCipher::Aes192 => run::<aes::Aes192>(key, iv, data),
            LegacyCipher::Aes256 => run::<aes::Aes256>(key, iv, data),
            LegacyCipher::DesEde3 => run::<des::TdesEde3>(key, iv, data),
            LegacyCipher::Des => run::<des::Des>(key, iv, data),
        }
    }
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one iteration, as legacy PEM encryption uses it:
/// `D_1 = MD5(pass || salt)`, `D_i = MD5(D_{i-1} || pass || salt)`, key = first `len` octets.
fn evp_bytes_to_key_md5(pass: &[u8], salt: &[u8], len: usize) -> KeyDer {
    use md5::{Digest, Md5};
    let mut out = KeyDer(Vec::with_capacity(len + 16));
    let mut prev: Option<[u8; 16]> = None;
    while out.0.len() < len {
        let mut h = Md5::new();
        if let Some(p) = prev {
            h.update(p);
        }
        h.update(pass);
        h.update(salt);
        let d: [u8; 16] = h.finalize().into();
        out.0.extend_from_slice(&d);
        prev = Some(d);
    }
    out.0.truncate(len);
    out
}

fn decrypt_legacy(
    tag: &str,
    dek_info: &str,
    data: &[u8],
    passphrase: Passphrase<'_>,
) -> Result<PlainKey, KeyErrorKind> {
    let malformed = |detail: String| KeyErrorKind::Malformed {
        what: "DEK-Info header",
        detail,
    };
    let (cipher_name, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| malformed(format!("`{dek_info}` has no IV")))?;
    let cipher = LegacyCipher::from_name(cipher_name.trim()).ok_or_else(|| {
        KeyErrorKind::UnsupportedEncryption {
            detail: format!(
                "legacy PEM encryption with {} is not supported (AES-128/192/256-CBC, \
                 DES-EDE3-CBC and DES-CBC are)",
                cipher_name.trim()
            ),
        }
    })?;
    let iv = hex::decode(iv_hex.trim())
        .ok()
        .filter(|iv| iv.len() == cipher.iv_len())
        .ok_or_else(|| malformed(format!("IV `{}`", iv_hex.trim())))?;
    let pass = passphrase()?;
    let key = evp_bytes_to_key_md5(pass.expose(), &iv[..8], cipher.key_len());
    let plain = KeyDer(
        cipher
            .decrypt(&key.0, &iv, data)
            .ok_or(KeyErrorKind::WrongPassphrase)?,
    );
    // The padding check passes 1 time in 256 with a wrong passphrase: the key must parse too.
    parse_plain(tag, plain).map_err(|_| KeyErrorKind::WrongPassphrase)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -md md5 -pass pass:secret -S 0102030405060708 -P`
        let key = evp_bytes_to_key_md5(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        assert_eq!(
            hex::encode_upper(&key.0),
            "C9E5A1BD216DBE1317E230CEF48F38EE7F0E17AD64022144BCCEC4A1AA2879AB"
        );
        let key = evp_bytes_to_key_md5(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 24);
        assert_eq!(
            hex::encode_upper(&key.0),
            "C9E5A1BD216DBE1317E230CEF48F38EE7F0E17AD64022144"
        );
    }

    #[test]
    fn legacy_cipher_names() {
        assert_eq!(
            LegacyCipher::from_name("aes-128-cbc"),
            Some(LegacyCipher::Aes128)
        );
        assert_eq!(
            LegacyCipher::from_name("DES-EDE3-CBC"),
            Some(LegacyCipher::DesEde3)
        );
        assert_eq!(LegacyCipher::from_name("CAMELLIA-256-CBC"), None);
    }
}
