//! Live signing (being written).
