//! Operations built from several calls: file copies, running a program, freezing.
//!
//! Each module writes its operation once, as an [`Operation`](crate::operation::Operation)
//! without I/O, and gives both clients, [`crate::Client`] and [`crate::AsyncClient`],
//! their entry points to it; the clients differ only in how they wait.
//!
//! Requests are the generated descriptors and argument types of
//! [`qga_types::commands`]. A few replies are read through small private structs that
//! borrow from the response (a file chunk's base64 text is decoded straight into a
//! reused buffer), which the generated types, owning their bytes, do not allow yet.

pub(crate) mod exec;
pub(crate) mod file;
pub(crate) mod freeze;
pub(crate) mod info;
