//! `fork()` for copy-on-write snapshots (BGSAVE), the one place that needs
//! unsafe code besides the allocator.

#![allow(unsafe_code)]

/// Successful forks so far (INFO stats total_forks).
pub static TOTAL_FORKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Fork; the child runs `child` and exits with its return code without
/// running destructors or touching the parent's runtime. Returns the child's
/// pid in the parent.
pub fn fork_child(child: impl FnOnce() -> i32) -> std::io::Result<i32> {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: after fork only the calling thread exists in the child. The
    // child runs `child` (which reads memory frozen at fork time and writes
    // a file; jemalloc stays usable thanks to its atfork handlers) and then
    // leaves through `_exit`, so no destructor, lock or runtime of the
    // parent is ever used in the child.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid > 0 {
        TOTAL_FORKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if pid == 0 {
        PARENT.store(parent, std::sync::atomic::Ordering::Relaxed);
        exit_if_orphaned();
        let code = child();
        // SAFETY: `_exit` never returns and runs no atexit handlers.
        unsafe { libc::_exit(code) };
    }
    Ok(pid)
}

/// The pid of the process that forked us (set in the child only).
static PARENT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// In a forked child: leave at once when the server that forked it is
/// gone. A snapshot child outliving a killed server only burns CPU and
/// disk, and test harnesses that kill a server by PID expect nothing of
/// it to stay behind. (PR_SET_PDEATHSIG is no help: it fires when the
/// forking *thread* exits, and blocking-pool threads come and go.)
pub fn exit_if_orphaned() {
    let parent = PARENT.load(std::sync::atomic::Ordering::Relaxed);
    // SAFETY: getppid and _exit take no pointers; _exit never returns.
    if parent != 0 && unsafe { libc::getppid() } != parent {
        unsafe { libc::_exit(1) };
    }
}

/// Wait for a child; true when it exited with status 0.
pub fn wait_child(pid: i32) -> bool {
    let mut status: libc::c_int = 0;
    // SAFETY: plain waitpid on a pid we created; `status` is a valid pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

/// Ask a child we forked to stop (Redis uses SIGUSR1 so the child exits
/// without being reported as an error by the signal itself).
pub fn kill_child(pid: i32) {
    // SAFETY: plain kill(2) on a pid we created.
    unsafe {
        libc::kill(pid, libc::SIGUSR1);
    }
}
