//! Readable text forms of requests and responses, as openssl's `-text` prints them.
