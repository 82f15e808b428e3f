//! Differential tests: every case in tests/diff/*.txt is sent to
//! shoal-server and to the reference redis-server 7.0, and the raw reply
//! bytes must be identical.
//!
//! Corpus syntax, one case per line (redis-cli quoting):
//!   `CMD args...`      replies must be byte-identical
//!   `~ CMD args...`    only the reply type (first byte) must match
//!   `!sleep <ms>`      pause before the next case
//!   `# ...`            comment
//! Each file runs on fresh connections after FLUSHALL on both servers.

mod common;

use std::time::Duration;

use common::{Conn, Server};

fn split(line: &str) -> Vec<Vec<u8>> {
    shoal::util::split::split_args(line.as_bytes())
        .unwrap_or_else(|| panic!("bad corpus line: {line}"))
}

struct Outcome {
    cases: usize,
    failures: Vec<String>,
}

fn run_file(path: &std::path::Path, shoal: &Server, redis: &Server) -> Outcome {
    let text = std::fs::read_to_string(path).expect("read corpus");
    let mut a = shoal.conn();
    let mut b = redis.conn();
    for c in [&mut a, &mut b] {
        c.cmd(&["FLUSHALL"]);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = Outcome {
        cases: 0,
        failures: Vec::new(),
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(ms) = line.strip_prefix("!sleep ") {
            std::thread::sleep(Duration::from_millis(ms.trim().parse().unwrap_or(0)));
            continue;
        }
        let (shape_only, cmd) = match line.strip_prefix("~ ") {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let argv = split(cmd);
        if argv.is_empty() {
            continue;
        }
        out.cases += 1;
        let ra = exchange(&mut a, &argv);
        let rb = exchange(&mut b, &argv);
        let same = if shape_only {
            ra.first() == rb.first()
        } else {
            ra == rb
        };
        if !same {
            out.failures.push(format!(
                "{name}:{} `{cmd}`\n    shoal: {}\n    redis: {}",
                i + 1,
                show(&ra),
                show(&rb)
            ));
        }
    }
    out
}

fn exchange(c: &mut Conn, argv: &[Vec<u8>]) -> Vec<u8> {
    c.cmd(argv)
}

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b).replace("\r\n", "\\r\\n");
    if s.len() > 600 {
        format!("{}...", &s[..600])
    } else {
        s
    }
}

#[test]
fn corpus_matches_redis() {
    let Some(redis) = Server::redis(&["--enable-debug-command", "yes"]) else {
        if std::env::var_os("CI").is_some() {
            panic!("redis-server is required in CI for differential tests");
        }
        eprintln!("SKIPPED: redis-server not installed; differential tests not run");
        return;
    };
    let shoal = Server::shoal(&["--enable-debug-command", "yes"]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/diff")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let only = std::env::var("DIFF_ONLY").ok();
    let mut cases = 0;
    let mut failures = Vec::new();
    for f in files {
        if let Some(o) = &only {
            if !f.to_string_lossy().contains(o.as_str()) {
                continue;
            }
        }
        let o = run_file(&f, &shoal, &redis);
        cases += o.cases;
        failures.extend(o.failures);
    }
    eprintln!(
        "differential corpus: {cases} cases, {} mismatches",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
