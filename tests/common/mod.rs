//! Helpers shared by the `it` and `faults` test binaries, each of which includes this tree with
//! `#[path]`. A module tree rather than a workspace crate: no second package to keep in step with
//! the dev-dependencies, nothing extra to build, and `CARGO_MANIFEST_DIR` stays this package's.

pub mod db;
pub mod fixtures;
pub mod oracle;
pub mod redis;
pub mod wait;

/// A port for a child process (a private PostgreSQL or Redis, a `roompulse` process) to
/// listen on, or to find nobody on. Children bind it themselves, so no listener can be handed
/// over; instead the port comes from below the kernel's ephemeral range
/// (`ip_local_port_range`), which neither port-0 binds nor outgoing connections of any process
/// are given, and from a counter of this process (started at an offset of its pid), so no
/// two calls hand out the same port. A port something already listens on is skipped.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768)
        .clamp(12_000, 65_535);
    // A range of 10,000 ports just below the ephemeral ones.
    let (base, span) = (low - 10_000, 10_000);
    let next = NEXT.get_or_init(|| AtomicU32::new(std::process::id().wrapping_mul(7919) % span));
    for _ in 0..span {
        let port = (base + next.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {base}..{}", base + span)
}
