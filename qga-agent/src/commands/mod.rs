//! The command implementations for Linux, one module per area, and what
//! several of them share: [`error`] (the error every command returns),
//! [`helper`] (running helper programs: power, clock, password, fsfreeze),
//! [`mounts`] (the mount table: fsinfo, fsfreeze, fstrim) and [`udev`] (what
//! libudev knows of a block device: fsinfo, disks).

pub mod clock;
pub mod cpu;
pub mod cpustats;
pub mod disks;
pub mod diskstats;
pub mod error;
pub mod exec;
pub mod file;
pub mod fsfreeze;
pub mod fsinfo;
pub mod fstrim;
pub mod helper;
pub mod load;
pub mod memory;
pub mod mounts;
pub mod network;
pub mod nvme;
pub mod password;
pub mod power;
pub mod routes;
pub mod ssh_keys;
pub mod system;
pub mod udev;
