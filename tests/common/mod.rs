//! Helpers shared by the `it` and `faults` test binaries, each of which includes this tree with
//! `#[path]`. A module tree rather than a workspace crate: no second package to keep in step with
//! the dev-dependencies, nothing extra to build, and `CARGO_MANIFEST_DIR` stays this package's.

pub mod db;
pub mod fixtures;
pub mod oracle;
pub mod redis;
pub mod wait;

/// A port nobody listens on right now (the OS picks it; the listener is closed again).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}
