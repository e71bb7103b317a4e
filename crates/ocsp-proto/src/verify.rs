//! Response verification (RFC 6960 §3.2, §4.2.2.2).
