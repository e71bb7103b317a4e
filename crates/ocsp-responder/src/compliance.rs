//! The compliance profile at signing time: the one check every response passes right
//! before its signature (see [`ocsp_proto::profile`] for the rules).

use crate::issuer::Responder;
use crate::source::SourceError;
use ocsp_proto::profile::{Profile, SignerFacts};
use ocsp_proto::response::ResponseParams;

/// Check `params` against `profile` before `responder` signs them. `on_record[i]` says
/// whether the status source held a record of answer `i`'s serial. A violation is counted
/// (`ocsp_profile_refusals_total{rule}`) and becomes `internalError`: nothing
/// non-compliant is ever signed.
pub fn check_before_signing(
    profile: Profile,
    params: &ResponseParams<'_>,
    on_record: &[bool],
    responder: &Responder,
) -> Result<(), SourceError> {
    let alg = responder.signer.algorithm();
    let facts = SignerFacts {
        algorithm: &alg,
        spki_der: responder.signer.public_key_der(),
        not_after: responder.not_after,
    };
    profile
        .check_response(params, on_record, &facts)
        .map_err(|v| {
            crate::metrics::profile_refused(v.rule.id());
            SourceError::Internal(format!("refused to sign: {v}"))
        })
}
