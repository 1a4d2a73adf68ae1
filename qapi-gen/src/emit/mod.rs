//! Backends: model in, formatted text out.
