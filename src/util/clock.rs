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
    // The base is kept in microseconds and the sum truncated once: two
    // truncations to milliseconds put `now` up to 2 ms behind the wall
    // clock, so a PXAT of now+10000 read back a PTTL of 10001.
    static BASE: OnceLock<(std::time::Instant, u64)> = OnceLock::new();
    let (inst, wall_us) = BASE.get_or_init(|| (std::time::Instant::now(), now_us()));
    (wall_us + at.saturating_duration_since(*inst).as_micros() as u64) / 1000
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

#[cfg(test)]
mod tests {
    #[test]
    fn monotonic_ms_never_runs_ahead_of_or_far_behind_the_wall_clock() {
        for _ in 0..1000 {
            let before = super::wall_ms();
            let ms = super::now_ms();
            let after = super::wall_ms();
            assert!(ms + 1 >= before && ms <= after + 1, "{before} {ms} {after}");
        }
    }
}
