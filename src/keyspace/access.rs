//! Access metadata kept in each entry for eviction: Redis's 24-bit LRU
//! clock (seconds) or, under an LFU policy, 16-bit minutes + 8-bit
//! logarithmic counter.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crate::util::clock::now_ms;

/// 24 bits of clock, as Redis's LRU_BITS.
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
/// Initial LFU counter of a new key (LFU_INIT_VAL).
pub const LFU_INIT_VAL: u32 = 5;

static LFU_MODE: AtomicBool = AtomicBool::new(false);
static LFU_LOG_FACTOR: AtomicI64 = AtomicI64::new(10);
static LFU_DECAY_TIME: AtomicI64 = AtomicI64::new(1);

/// Apply lfu-log-factor and lfu-decay-time (set from the config).
pub fn set_lfu_params(log_factor: i64, decay_time: i64) {
    LFU_LOG_FACTOR.store(log_factor, Ordering::Relaxed);
    LFU_DECAY_TIME.store(decay_time, Ordering::Relaxed);
}

/// Switch between LRU and LFU metadata (set from maxmemory-policy).
pub fn set_lfu_mode(on: bool) {
    LFU_MODE.store(on, Ordering::Relaxed);
}

pub fn lfu_mode() -> bool {
    LFU_MODE.load(Ordering::Relaxed)
}

/// Cached clock in seconds, refreshed by the server cron (Redis's
/// `server.lruclock`): access tracking must not read the time per lookup.
static CLOCK_SECS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Refresh the cached clock (called from the cron, ten times a second).
pub fn refresh_clock() {
    CLOCK_SECS.store(now_ms() / 1000, Ordering::Relaxed);
}

fn cached_secs() -> u64 {
    match CLOCK_SECS.load(Ordering::Relaxed) {
        0 => {
            refresh_clock();
            CLOCK_SECS.load(Ordering::Relaxed)
        }
        s => s,
    }
}

/// Current LRU clock (seconds, 24 bits).
pub fn lru_clock() -> u32 {
    (cached_secs() as u32) & LRU_CLOCK_MAX
}

/// Metadata for a newly created key.
pub fn initial() -> u32 {
    if lfu_mode() {
        (lfu_minutes() << 8) | LFU_INIT_VAL
    } else {
        lru_clock()
    }
}

fn lfu_minutes() -> u32 {
    ((cached_secs() / 60) as u32) & 0xFFFF
}

/// Update metadata on access: the LRU clock, or under LFU the counter
/// decayed for the time since the last access and then incremented with
/// probability 1/((counter - LFU_INIT_VAL) * lfu-log-factor + 1), as
/// Redis's updateLFU.
pub fn touch(meta: &mut u32) {
    if lfu_mode() {
        let decay = LFU_DECAY_TIME.load(Ordering::Relaxed);
        let counter = lfu_log_incr(lfu_decayed(*meta, decay));
        *meta = (lfu_minutes() << 8) | counter;
    } else {
        *meta = lru_clock();
    }
}

/// LFULogIncr: the logarithmic counter, saturating at 255.
fn lfu_log_incr(counter: u32) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let factor = LFU_LOG_FACTOR.load(Ordering::Relaxed) as f64;
    let p = 1.0 / (base * factor + 1.0);
    if rand::random::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

/// Seconds since last access (OBJECT IDLETIME), LRU mode only.
pub fn idle_secs(meta: u32) -> u64 {
    let now = lru_clock();
    let idle = if now >= meta {
        now - meta
    } else {
        LRU_CLOCK_MAX - meta + now
    };
    u64::from(idle)
}

/// Minutes elapsed since the LFU timestamp `ldt` (16-bit wrap-around).
fn lfu_elapsed_minutes(ldt: u32) -> u32 {
    let now = lfu_minutes();
    if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    }
}

/// The LFU counter after decay (OBJECT FREQ): one point per
/// `decay_minutes` elapsed since the last access, as Redis's LFUDecrAndReturn.
pub fn lfu_decayed(meta: u32, decay_minutes: i64) -> u32 {
    let counter = meta & 0xFF;
    let periods = match u32::try_from(decay_minutes) {
        Ok(d) if d > 0 => lfu_elapsed_minutes(meta >> 8) / d,
        _ => 0,
    };
    counter.saturating_sub(periods)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_counter_grows_slowly() {
        // With the default factor 10, ~1M hits are needed to reach 255;
        // 1000 hits land near 18 (Redis's table in redis.conf).
        let mut c = LFU_INIT_VAL;
        for _ in 0..1000 {
            c = lfu_log_incr(c);
        }
        assert!((10..30).contains(&c), "counter {c}");
        assert_eq!(lfu_log_incr(255), 255);
    }

    #[test]
    fn decay_subtracts_elapsed_periods() {
        let now = lfu_minutes();
        let meta = (now.wrapping_sub(3) & 0xFFFF) << 8 | 10;
        assert_eq!(lfu_decayed(meta, 1), 7);
        assert_eq!(lfu_decayed(meta, 0), 10);
        assert_eq!(lfu_decayed((now << 8) | 2, 1), 2);
    }
}
