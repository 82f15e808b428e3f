//! Progress of a dataset load (INFO persistence `loading_*`), as Redis
//! reports it while `loading:1`: bytes read of the files being loaded,
//! percentage and an ETA extrapolated from the rate so far.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::util::clock;

#[derive(Debug, Default)]
pub struct LoadProgress {
    start_secs: AtomicU64,
    total_bytes: AtomicU64,
    /// Bytes of the files already loaded completely.
    done_files: AtomicU64,
    /// Offset reached in the file being loaded.
    offset: AtomicU64,
}

impl LoadProgress {
    /// A load of `total` bytes starts now.
    pub fn begin(&self, total: u64) {
        self.start_secs
            .store(clock::now_ms() / 1000, Ordering::Relaxed);
        self.total_bytes.store(total, Ordering::Relaxed);
        self.done_files.store(0, Ordering::Relaxed);
        self.offset.store(0, Ordering::Relaxed);
    }

    /// The current file has been read up to `offset`.
    pub fn at(&self, offset: usize) {
        self.offset.store(offset as u64, Ordering::Relaxed);
    }

    /// The current file (of `len` bytes) is done; the next starts at 0.
    pub fn file_done(&self, len: u64) {
        self.done_files.fetch_add(len, Ordering::Relaxed);
        self.offset.store(0, Ordering::Relaxed);
    }

    fn loaded(&self) -> u64 {
        self.done_files.load(Ordering::Relaxed) + self.offset.load(Ordering::Relaxed)
    }

    /// The `loading_*` lines of INFO persistence.
    pub fn info(&self, out: &mut String) {
        let start = self.start_secs.load(Ordering::Relaxed);
        let total = self.total_bytes.load(Ordering::Relaxed);
        let loaded = self.loaded().min(total);
        let perc = if total > 0 {
            loaded as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let remaining = total.saturating_sub(loaded).max(1);
        let elapsed = (clock::now_ms() / 1000).saturating_sub(start);
        // Redis prints 1 before a second has passed (no rate known yet).
        let eta = if elapsed == 0 {
            1
        } else {
            elapsed * remaining / (loaded + 1)
        };
        let _ = write!(
            out,
            "loading_start_time:{start}\r\nloading_total_bytes:{total}\r\n\
             loading_rdb_used_mem:0\r\nloading_loaded_bytes:{loaded}\r\n\
             loading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_bytes_across_files() {
        let p = LoadProgress::default();
        p.begin(1000);
        p.at(300);
        p.file_done(400);
        p.at(100);
        let mut s = String::new();
        p.info(&mut s);
        assert!(s.contains("loading_total_bytes:1000\r\n"), "{s}");
        assert!(s.contains("loading_loaded_bytes:500\r\n"), "{s}");
        assert!(s.contains("loading_loaded_perc:50.00\r\n"), "{s}");
    }
}
