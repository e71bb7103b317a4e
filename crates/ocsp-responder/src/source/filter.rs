//! The filter stage: find the served issuer of every CertID, once per request, and hand
//! the request on with their [`IssuerId`]s (boulder's `filter_source.go` in spirit).
//!
//! | request | outcome |
//! |---|---|
//! | no CertID | `NotFound` → `unauthorized` |
//! | a CertID naming no served issuer (or an unknown hash algorithm) | `NotFound` → `unauthorized` |
//! | CertIDs of issuers with different responders | `NotFound` → `unauthorized`: RFC 6960 §4.2.2.2 lets a response carry one signature, so the request is refused as a whole — the same answer every time, never a response half of whose SingleResponses the signer is not authorised for |
//! | otherwise | the next stage, with one [`IssuerId`] per CertID |
//!
//! A single CertID (the RFC 9919 case, every cacheable request) costs one linear scan
//! of the issuers and no allocation.

use super::{Answer, Resolved, ResolvedSource, ResponseSource, SourceError};
use crate::issuer::{IssuerId, IssuerSet};
use async_trait::async_trait;
use ocsp_proto::request::ParsedRequest;
use std::sync::Arc;

/// Resolves issuers, then asks the next stage.
pub struct Filter {
    issuers: Arc<IssuerSet>,
    next: Arc<dyn ResolvedSource>,
}

impl Filter {
    /// A filter for `issuers` in front of `next`.
    pub fn new(issuers: Arc<IssuerSet>, next: Arc<dyn ResolvedSource>) -> Filter {
        Filter { issuers, next }
    }
}

/// The issuer of every CertID of `req`, all answerable by one responder.
pub fn resolve(issuers: &IssuerSet, req: &ParsedRequest) -> Result<Vec<IssuerId>, SourceError> {
    let mut ids = Vec::with_capacity(req.items.len());
    let mut responder = None;
    for item in &req.items {
        let id = issuers.find(item).ok_or(SourceError::NotFound)?;
        let issuer = issuers.get(id).ok_or(SourceError::NotFound)?;
        match responder {
            None => responder = Some(&issuer.responder),
            Some(r) if Arc::ptr_eq(r, &issuer.responder) => {}
            Some(_) => return Err(SourceError::NotFound),
        }
        ids.push(id);
    }
    if ids.is_empty() {
        return Err(SourceError::NotFound);
    }
    Ok(ids)
}

#[async_trait]
impl ResponseSource for Filter {
    async fn response(&self, req: &ParsedRequest) -> Result<Arc<Answer>, SourceError> {
        if let [item] = req.items.as_slice() {
            let id = self.issuers.find(item).ok_or(SourceError::NotFound)?;
            return self
                .next
                .answer(Resolved {
                    request: req,
                    issuers: &self.issuers,
                    ids: std::slice::from_ref(&id),
                })
                .await;
        }
        let ids = resolve(&self.issuers, req)?;
        self.next
            .answer(Resolved {
                request: req,
                issuers: &self.issuers,
                ids: &ids,
            })
            .await
    }
}
