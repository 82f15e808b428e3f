//! Shoal clusters made of Docker containers, for fault tests that need what
//! processes on 127.0.0.1 cannot give: nodes with their own addresses that
//! can be killed, paused, cut off the network and restarted.
//!
//! Everything a test creates is named `shoaltest-<pid>-<n>-…` (containers,
//! their data volumes, the network) and removed by name when the
//! [`DockerCluster`] guard drops, also on panic. Resources left by a test
//! process that died are swept at the next start (label `shoaltest.pid`).
//! The image is built once per test binary from the shoal-server under test
//! with `docker/stage-rootfs.sh` (the same recipe as `make docker`).

pub mod cluster;
pub mod writer;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

pub use cluster::DockerCluster;
pub use writer::{verify, Summary, Writer};

/// Tag of the image built for these tests (rebuilt when the binary changes).
pub const IMAGE: &str = "shoaltest-image:latest";

/// Run `docker` with `args`; the output whatever the exit status.
pub fn docker(args: &[&str]) -> Output {
    match Command::new("docker").args(args).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run docker {args:?}: {e}"),
    }
}

/// Run `docker` and return stdout, or stderr as the error.
pub fn docker_ok(args: &[&str]) -> Result<String, String> {
    let out = docker(args);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Why Docker tests cannot run here, or None when they can: the engine
/// must answer, and redis-cli must exist on the host (the image copies it).
pub fn unavailable() -> Option<String> {
    if std::env::var("SHOAL_DOCKER_TESTS").as_deref() == Ok("0") {
        return Some("SHOAL_DOCKER_TESTS=0".into());
    }
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
    {
        Err(e) => return Some(format!("no docker client ({e})")),
        Ok(o) if !o.status.success() => {
            return Some(format!(
                "no Docker engine reachable ({})",
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
        Ok(_) => {}
    }
    let cli = Command::new("redis-cli").arg("--version").output();
    if !cli.map(|o| o.status.success()).unwrap_or(false) {
        return Some("redis-cli is not installed on the host (the image copies it)".into());
    }
    None
}

/// Serialises the tests of one binary: each runs a 6-container cluster, and
/// the machine has two cores; parallel clusters would miss node timeouts.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The shoal-server binary put into the image: `$SHOAL_DOCKER_BIN`, else
/// the one the other cluster tests use.
pub fn shoal_bin() -> PathBuf {
    std::env::var_os("SHOAL_DOCKER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(crate::shoal_bin)
}

/// Build [`IMAGE`] once per test binary. A previous image with the same tag
/// that no container uses any more is removed (by id) afterwards.
pub fn image() -> Result<&'static str, String> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            sweep_dead_runs();
            let ctx = tempfile::tempdir().map_err(|e| e.to_string())?;
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker/stage-rootfs.sh");
            let bin = shoal_bin();
            let out = Command::new(script)
                .arg(&bin)
                .arg(ctx.path().join("ctx"))
                .output()
                .map_err(|e| format!("{script}: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "stage-rootfs failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let old = docker_ok(&["image", "inspect", "-f", "{{.Id}}", IMAGE]).ok();
            let ctx_dir = ctx.path().join("ctx");
            let ctx_s = ctx_dir.to_string_lossy().into_owned();
            docker_ok(&["build", "-q", "-t", IMAGE, &ctx_s])?;
            let new = docker_ok(&["image", "inspect", "-f", "{{.Id}}", IMAGE]).ok();
            if let Some(old) = old.filter(|o| Some(o) != new.as_ref()) {
                let _ = docker(&["rmi", &old]);
            }
            Ok(())
        })
        .clone()
        .map(|()| IMAGE)
}

/// Remove containers, networks and volumes of earlier test processes that
/// died without cleaning up (their pid label names a process that is gone).
fn sweep_dead_runs() {
    for kind in ["container", "network", "volume"] {
        let (all, format) = match kind {
            "container" => ("-a", "{{.Names}} {{.Label \"shoaltest.pid\"}}"),
            _ => ("", "{{.Name}} {{.Label \"shoaltest.pid\"}}"),
        };
        let mut args = vec![
            kind,
            "ls",
            "--filter",
            "label=shoaltest.pid",
            "--format",
            format,
        ];
        if !all.is_empty() {
            args.push(all);
        }
        let Ok(list) = docker_ok(&args) else {
            continue;
        };
        for line in list.lines() {
            let mut it = line.split_whitespace();
            let (Some(name), Some(pid)) = (it.next(), it.next()) else {
                continue;
            };
            if !name.starts_with("shoaltest-")
                || std::path::Path::new(&format!("/proc/{pid}")).exists()
            {
                continue;
            }
            let _ = match kind {
                "container" => docker(&["rm", "-f", "-v", name]),
                _ => docker(&[kind, "rm", name]),
            };
        }
    }
}

/// Poll `f` until it returns Some or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
