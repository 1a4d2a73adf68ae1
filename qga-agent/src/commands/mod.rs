//! The command implementations for Linux, one module per area.

pub mod clock;
pub mod cpu;
pub mod ctype;
pub mod error;
pub mod exec;
pub mod file;
pub mod fsfreeze;
pub mod fsinfo;
pub mod fstrim;
pub mod host;
pub mod memory;
pub mod network;
pub mod password;
pub mod power;
