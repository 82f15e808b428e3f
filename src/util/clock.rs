//! Wall-clock helpers. Redis expiry is absolute unix time in milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the unix epoch, derived from the monotonic clock
/// plus the wall-clock offset read once (one vDSO call instead of two on
/// the command path). Wall-clock steps after start are not followed, as
/// with Redis's monotonic `ustime` use for expiry deltas.
pub fn now_ms() -> u64 {
    ms_at(std::time::Instant::now())
}

/// `now_ms` for an instant already read (saves a clock read when the
/// caller needs both).
pub fn ms_at(at: std::time::Instant) -> u64 {
    use std::sync::OnceLock;
    static BASE: OnceLock<(std::time::Instant, u64)> = OnceLock::new();
    let (inst, wall) = BASE.get_or_init(|| (std::time::Instant::now(), wall_ms()));
    wall + at.saturating_duration_since(*inst).as_millis() as u64
}

/// Milliseconds since the unix epoch from the wall clock.
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
