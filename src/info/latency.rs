//! The latency monitor behind LATENCY LATEST/HISTORY/RESET/DOCTOR.
//!
//! As in Redis 7.0, when `latency-monitor-threshold` is above zero every
//! command slower than it (in ms) is recorded under the event `command`
//! (or `fast-command` for commands flagged fast). Each event keeps the
//! last 160 samples, one per second (a second's samples merge into their
//! maximum), plus the all-time maximum.

use std::collections::{BTreeMap, VecDeque};

use parking_lot::Mutex;

/// Samples kept per event (LATENCY_TS_LEN).
const HISTORY: usize = 160;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Unix time in seconds.
    pub time: u64,
    /// Latency in milliseconds.
    pub ms: u64,
}

#[derive(Debug, Default, Clone)]
pub struct Series {
    pub samples: VecDeque<Sample>,
    pub max: u64,
}

#[derive(Default)]
pub struct LatencyMonitor {
    events: Mutex<BTreeMap<String, Series>>,
}

impl LatencyMonitor {
    /// Record `ms` for `event` at unix second `now`.
    pub fn add(&self, event: &str, now: u64, ms: u64) {
        let mut ev = self.events.lock();
        let s = ev.entry(event.to_string()).or_default();
        s.max = s.max.max(ms);
        if let Some(last) = s.samples.back_mut() {
            if last.time == now {
                last.ms = last.ms.max(ms);
                return;
            }
        }
        s.samples.push_back(Sample { time: now, ms });
        if s.samples.len() > HISTORY {
            s.samples.pop_front();
        }
    }

    /// (event, latest sample, all-time max) for every event.
    pub fn latest(&self) -> Vec<(String, Sample, u64)> {
        self.events
            .lock()
            .iter()
            .filter_map(|(k, s)| Some((k.clone(), *s.samples.back()?, s.max)))
            .collect()
    }

    pub fn history(&self, event: &str) -> Vec<Sample> {
        self.events
            .lock()
            .get(event)
            .map(|s| s.samples.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Drop the named events (all when empty); returns how many existed.
    pub fn reset(&self, names: &[String]) -> usize {
        let mut ev = self.events.lock();
        if names.is_empty() {
            let n = ev.len();
            ev.clear();
            return n;
        }
        names
            .iter()
            .filter(|n| ev.remove(n.as_str()).is_some())
            .count()
    }

    pub fn snapshot(&self) -> BTreeMap<String, Series> {
        self.events.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_merge_per_second_and_cap() {
        let m = LatencyMonitor::default();
        m.add("command", 10, 5);
        m.add("command", 10, 3);
        m.add("command", 11, 2);
        assert_eq!(m.history("command").len(), 2);
        let l = m.latest();
        assert_eq!(l[0].1, Sample { time: 11, ms: 2 });
        assert_eq!(l[0].2, 5);
        for t in 0..300 {
            m.add("x", 100 + t, 1);
        }
        assert_eq!(m.history("x").len(), HISTORY);
        assert_eq!(m.reset(&["x".into(), "nope".into()]), 1);
        assert_eq!(m.reset(&[]), 1);
    }
}
