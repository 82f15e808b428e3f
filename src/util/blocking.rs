//! Long synchronous work inside a command (a MIGRATE round trip, a Lua
//! script) without stalling the async runtime's worker: the worker's
//! queue is handed to another thread meanwhile.

/// Run `f`, handing this worker's tasks to another thread while it runs
/// (on the multi-threaded runtime; elsewhere `f` just runs).
pub fn off_worker<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
