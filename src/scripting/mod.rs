//! Lua scripting: EVAL, EVALSHA, their `_RO` forms and SCRIPT, over one
//! Lua 5.1 interpreter per server, as in Redis 7.0.
//!
//! A script runs with the keyspace gate held exclusively, so it is atomic
//! like a transaction. Its writes are propagated as the commands it ran
//! (effects replication, Redis 7.0's only mode), wrapped in MULTI/EXEC
//! when there are several.
//!
//! - `engine`: the interpreter, its sandbox and the script cache;
//! - `lib`: the `redis`, `cjson` and `bit` libraries;
//! - `convert`: replies to Lua values and back;
//! - `shebang`: `#!lua flags=...`;
//! - `run`: `redis.call` — the checks a command passes inside a script;
//! - `worker`: the thread client scripts run on.

mod convert;
mod engine;
mod lib;
pub mod run;
pub mod shebang;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

pub use engine::Engine;

/// The running script's state, shared with the interpreter's hook.
#[derive(Default)]
pub struct RunFlags {
    /// SCRIPT KILL asked the running script to stop.
    pub kill: AtomicBool,
    /// The running script has written (it can no longer be killed).
    pub wrote: AtomicBool,
    /// A script running on the event loop must give way by this
    /// wall-clock ms if it has not written (0: no limit).
    pub deadline_ms: AtomicU64,
    /// It did: it is run again on the script thread.
    pub moved: AtomicBool,
}

/// The server's scripting state.
#[derive(Default)]
pub struct Scripts {
    /// Created on first use (and again after SCRIPT FLUSH).
    engine: Mutex<Option<Engine>>,
    /// Scripts accepted and not finished (queued or running).
    pending: AtomicUsize,
    /// The executing script started at this wall-clock ms (0: none).
    pub running_since: AtomicU64,
    /// What the interpreter's instruction-count hook watches.
    pub flags: Arc<RunFlags>,
    /// The thread client scripts run on.
    pub worker: worker::Worker,
    /// The longest recent run of each script, in µs (a maximum that
    /// decays by 1/8 per run; saturating at u32::MAX).
    longest: Mutex<std::collections::HashMap<String, u32>>,
    /// Signalled when a script finishes (commands waiting for it).
    idle_lock: Mutex<()>,
    idle: parking_lot::Condvar,
    /// Figures for INFO, readable while a script holds the engine.
    cached: AtomicUsize,
    body_bytes: AtomicUsize,
    lua_memory: AtomicUsize,
}

impl Scripts {
    /// Run `f` with the interpreter, creating it if needed.
    pub fn with_engine<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> Result<R, String> {
        let mut guard = self.engine.lock();
        self.use_engine(&mut guard, f)
    }

    /// `with_engine` for the event loop (SCRIPT LOAD, EXISTS): the script
    /// thread may hold the interpreter, so wait in slices and answer BUSY
    /// once its script has run past the threshold.
    pub fn with_engine_or_busy<R>(
        &self,
        threshold_ms: u64,
        f: impl FnOnce(&mut Engine) -> R,
    ) -> Result<R, crate::error::RedisError> {
        let mut guard = self.lock_or_busy(threshold_ms)?;
        self.use_engine(&mut guard, f)
            .map_err(crate::error::RedisError::err)
    }

    /// The interpreter's lock, taken in 10 ms slices; BUSY once the script
    /// holding it has run past the threshold.
    fn lock_or_busy(
        &self,
        threshold_ms: u64,
    ) -> Result<parking_lot::MutexGuard<'_, Option<Engine>>, crate::error::RedisError> {
        loop {
            let slice = std::time::Duration::from_millis(10);
            if let Some(guard) = self.engine.try_lock_for(slice) {
                return Ok(guard);
            }
            self.check_busy(threshold_ms)?;
        }
    }

    fn use_engine<R>(
        &self,
        guard: &mut Option<Engine>,
        f: impl FnOnce(&mut Engine) -> R,
    ) -> Result<R, String> {
        if guard.is_none() {
            *guard = Some(Engine::new(self.flags.clone()).map_err(|e| e.to_string())?);
        }
        let engine = guard.as_mut().ok_or("no engine")?;
        let r = f(engine);
        self.cached.store(engine.cached(), Ordering::Relaxed);
        self.body_bytes
            .store(engine.body_bytes(), Ordering::Relaxed);
        self.lua_memory
            .store(engine.used_memory(), Ordering::Relaxed);
        Ok(r)
    }

    /// SCRIPT FLUSH: a fresh interpreter with an empty cache.
    pub fn flush(&self, threshold_ms: u64) -> Result<(), crate::error::RedisError> {
        *self.lock_or_busy(threshold_ms)? = None;
        self.longest.lock().clear();
        self.cached.store(0, Ordering::Relaxed);
        self.body_bytes.store(0, Ordering::Relaxed);
        self.lua_memory.store(0, Ordering::Relaxed);
        Ok(())
    }

    pub fn cached(&self) -> usize {
        self.cached.load(Ordering::Relaxed)
    }

    pub fn body_bytes(&self) -> usize {
        self.body_bytes.load(Ordering::Relaxed)
    }

    pub fn lua_memory(&self) -> usize {
        self.lua_memory.load(Ordering::Relaxed)
    }

    /// A script was accepted (queued for the script thread or about to
    /// run in place): from now on other clients' commands wait for it.
    pub fn queued(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
    }

    /// The script starts executing (its busy time counts from here).
    pub fn started(&self) {
        self.flags.kill.store(false, Ordering::Relaxed);
        self.flags.wrote.store(false, Ordering::Relaxed);
        let now = crate::util::clock::now_ms().max(1);
        self.running_since.store(now, Ordering::Release);
    }

    pub fn finished(&self) {
        self.running_since.store(0, Ordering::Release);
        self.pending.fetch_sub(1, Ordering::AcqRel);
        // Taking the lock orders this with a waiter between its check and
        // its wait, so no wake-up is lost.
        drop(self.idle_lock.lock());
        self.idle.notify_all();
    }

    /// Have the recent runs of `sha` been quick (and is there one)?
    pub fn is_quick(&self, sha: &str) -> bool {
        matches!(self.longest.lock().get(sha), Some(&us) if us < QUICK_US)
    }

    pub fn record_time(&self, sha: &str, took: std::time::Duration) {
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        let mut longest = self.longest.lock();
        match longest.get_mut(sha) {
            // A decaying maximum: one run slowed down by a busy machine
            // does not send a script to the thread for good.
            Some(max) => *max = us.max(*max - *max / 8),
            None => {
                // Bounded like the cache it shadows would be after a flush.
                if longest.len() >= 100_000 {
                    longest.clear();
                }
                longest.insert(sha.to_string(), us);
            }
        }
    }

    /// Is the caller's script the only one queued or running?
    pub fn only_one_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 1
    }

    /// Is a script queued or running?
    pub fn is_running(&self) -> bool {
        self.pending.load(Ordering::Acquire) != 0
    }

    /// Another client's command while a script runs: wait for the script
    /// (the gate would make it wait anyway), but once the script has run
    /// longer than busy-reply-threshold answer BUSY, as Redis does, so
    /// that SCRIPT KILL and SHUTDOWN NOSAVE can get through.
    pub fn wait_while_busy(&self, threshold_ms: u64) -> Result<(), crate::error::RedisError> {
        crate::util::blocking::off_worker(|| self.busy_wait(threshold_ms))
    }

    fn busy_wait(&self, threshold_ms: u64) -> Result<(), crate::error::RedisError> {
        let mut guard = self.idle_lock.lock();
        loop {
            if !self.is_running() {
                return Ok(());
            }
            let left = self.check_busy(threshold_ms)?;
            let wait = std::time::Duration::from_millis(left.clamp(1, 100));
            self.idle.wait_for(&mut guard, wait);
        }
    }

    /// BUSY if the executing script has run past the threshold, else the
    /// milliseconds left before it does.
    pub fn check_busy(&self, threshold_ms: u64) -> Result<u64, crate::error::RedisError> {
        let since = self.running_since.load(Ordering::Acquire);
        if since == 0 {
            return Ok(threshold_ms);
        }
        let ran = crate::util::clock::now_ms().saturating_sub(since);
        if ran >= threshold_ms {
            return Err(crate::error::RedisError::raw(
                "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            ));
        }
        Ok(threshold_ms - ran)
    }
}

/// Scripts whose every run took less than this run on the event loop.
const QUICK_US: u32 = 500;

/// A script's name: the SHA1 of its body in lower-case hex.
pub fn sha1_hex(body: &[u8]) -> String {
    crate::util::sha1::sha1_hex(body)
}
