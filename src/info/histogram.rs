//! Per-command latency histograms behind INFO latencystats.
//!
//! Redis 7.0 keeps an HDR histogram (nanoseconds, 2 significant digits)
//! per command when `latency-tracking` is on and prints the percentiles of
//! `latency-tracking-info-percentiles` in microseconds with three decimals.
//! We use our own log-linear buckets with the same ~1% resolution: 64
//! sub-buckets per power of two, allocated on first use so idle commands
//! cost one pointer. Recording is one relaxed atomic add (it runs for
//! every command); readers add the buckets up for the total.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Enough powers of two for ~2^46 ns (about 19 hours).
const POWERS: usize = 40;

#[derive(Debug, Default)]
pub struct Histogram {
    counts: OnceLock<Box<[AtomicU64]>>,
}

#[derive(Debug)]
struct Buckets {
    counts: Vec<u64>,
    total: u64,
}

/// Bucket index of a value (exact below `SUB`, log-linear above).
fn index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let power = 63 - v.leading_zeros() - SUB_BITS + 1;
    let sub = (v >> (power - 1)) as usize & (SUB - 1);
    (power as usize * SUB + sub).min(POWERS * SUB + SUB - 1)
}

/// Highest value that falls into bucket `i` (what HDR reports).
fn upper(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let power = (i / SUB) as u32;
    let sub = (i % SUB) as u64 | SUB as u64;
    ((sub + 1) << (power - 1)) - 1
}

impl Histogram {
    pub fn record(&self, ns: u64) {
        let counts = self
            .counts
            .get_or_init(|| (0..POWERS * SUB + SUB).map(|_| AtomicU64::new(0)).collect());
        if let Some(c) = counts.get(index(ns)) {
            crate::server::stats::bump(c, 1);
        }
    }

    pub fn reset(&self) {
        if let Some(counts) = self.counts.get() {
            for c in counts.iter() {
                c.store(0, Ordering::Relaxed);
            }
        }
    }

    /// A copy of the buckets; `None` if nothing was recorded.
    fn snapshot(&self) -> Option<Buckets> {
        let counts: Vec<u64> = self
            .counts
            .get()?
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total = counts.iter().sum();
        (total > 0).then_some(Buckets { counts, total })
    }

    /// Value at each percentile (ns); `None` if nothing was recorded.
    pub fn percentiles(&self, ps: &[f64]) -> Option<Vec<u64>> {
        let b = self.snapshot()?;
        Some(
            ps.iter()
                .map(|p| {
                    let want = ((p / 100.0) * b.total as f64).ceil().max(1.0) as u64;
                    let mut seen = 0;
                    for (i, c) in b.counts.iter().enumerate() {
                        seen += c;
                        if seen >= want {
                            return upper(i);
                        }
                    }
                    0
                })
                .collect(),
        )
    }
}

impl Histogram {
    /// LATENCY HISTOGRAM: (total, [(bucket µs, cumulative count)]) over
    /// power-of-two buckets starting at 1024 ns, listing a bucket only
    /// when the cumulative count grew, as Redis does.
    pub fn log_buckets(&self) -> Option<(u64, Vec<(u64, u64)>)> {
        let b = self.snapshot()?;
        let mut out = Vec::new();
        let (mut bound, mut seen, mut last) = (1024u64, 0u64, 0u64);
        let mut counts = b.counts.iter().enumerate().peekable();
        while seen < b.total {
            while let Some((_, c)) = counts.next_if(|(i, _)| upper(*i) < bound) {
                seen += c;
            }
            if seen > last {
                out.push((bound / 1000, seen));
                last = seen;
            }
            bound = bound.saturating_mul(2);
        }
        Some((b.total, out))
    }
}

/// Parse `latency-tracking-info-percentiles` (floats in 0..=100).
pub fn parse_percentiles(s: &str) -> Option<Vec<f64>> {
    s.split_whitespace()
        .map(|p| p.parse::<f64>().ok().filter(|v| (0.0..=100.0).contains(v)))
        .collect()
}

/// `p50`, `p99.9`: Redis prints the percentile with `%f` minus trailing zeros.
pub fn label(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("p{s}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values() {
        for v in [0u64, 1, 63, 64, 65, 127, 128, 1000, 20_095, 1 << 30] {
            let i = index(v);
            assert!(upper(i) >= v, "{v}");
            assert!(i == 0 || upper(i - 1) < v, "{v}");
        }
    }

    #[test]
    fn percentiles_and_labels() {
        let h = Histogram::default();
        assert_eq!(h.percentiles(&[50.0]), None);
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        let p = h.percentiles(&[50.0, 100.0]).unwrap_or_default();
        assert!(p[0] >= 50_000 && p[0] < 51_000);
        assert!(p[1] >= 100_000 && p[1] < 102_000);
        assert_eq!(label(50.0), "p50");
        assert_eq!(label(99.9), "p99.9");
    }
}
