//! The OpenSSL CA database (`index.txt`): parse, validate, watch, swap atomically.
//! (Being written: API contract only.)

use super::{Lookup, SourceError, StatusSource};
use async_trait::async_trait;
use ocsp_proto::Serial;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A problem with an index file, located to the line where there is one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct IndexError {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line, when the problem is on one.
    pub line: Option<usize>,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// Status from an index.txt file.
pub struct IndexTxtSource {
    path: PathBuf,
}

impl IndexTxtSource {
    /// Load `path`; fails with `file:line: why` on the first bad line.
    pub fn open(path: &Path) -> Result<Arc<IndexTxtSource>, IndexError> {
        let _ = path;
        todo!("index_txt")
    }
}

#[async_trait]
impl StatusSource for IndexTxtSource {
    async fn status(&self, serial: &Serial) -> Result<Lookup, SourceError> {
        let _ = serial;
        todo!("index_txt")
    }
    async fn generation(&self) -> Result<u64, SourceError> {
        todo!("index_txt")
    }
    fn describe(&self) -> String {
        format!("index {}", self.path.display())
    }
}
