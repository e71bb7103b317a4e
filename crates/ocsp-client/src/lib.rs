//! OCSP client (see the `ocsp query` issue).
