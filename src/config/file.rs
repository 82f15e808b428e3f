//! redis.conf syntax and start-up arguments, exactly as redis-server reads
//! them: `shoal-server [config-file] [--directive value ...] [-]`.
//!
//! Command-line options are turned into extra config lines appended after
//! the file (as Redis does), so errors report the same line numbers.

use std::path::{Path, PathBuf};

use super::Config;
use crate::util::split::split_args;

/// A fatal start-up configuration error, printed like Redis prints it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{reason}")]
    Directive {
        line: usize,
        text: String,
        reason: String,
    },
    #[error("Fatal error, can't open config file '{path}': {err}")]
    Open { path: String, err: String },
}

/// Directives that only exist in config files (not in CONFIG GET).
const FILE_ONLY: &[&str] = &[
    "include",
    "rename-command",
    "user",
    "loadmodule",
    "sentinel",
];

/// Directives that take several arguments on one line.
const MULTI_ARG: &[&str] = &[
    "save",
    "client-output-buffer-limit",
    "oom-score-adj-values",
    "bind",
    "shutdown-on-sigint",
    "shutdown-on-sigterm",
    "latency-tracking-info-percentiles",
    "replicaof",
    "notify-keyspace-events",
];

/// What start-up arguments asked for besides configuration.
#[derive(Debug, Default)]
pub struct Startup {
    pub config_file: Option<PathBuf>,
    pub renames: Vec<(String, String)>,
}

/// Build the configuration from `args` (without the program name).
pub fn load_startup_config(args: &[String]) -> Result<(Config, Startup), ConfigError> {
    let mut startup = Startup::default();
    let mut text = String::new();
    let mut rest = args;
    if let Some(first) = args.first() {
        if !first.starts_with("--") && first != "-" {
            let path = PathBuf::from(first);
            text = read_file(&path)?;
            startup.config_file = Some(std::fs::canonicalize(&path).unwrap_or(path));
            rest = &args[1..];
        }
    }
    let (options, read_stdin) = args_to_options(rest);
    if read_stdin {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut s);
        text.push('\n');
        text.push_str(&s);
    }
    text.push('\n');
    text.push_str(&options);
    let cfg = Config {
        file: startup.config_file.clone(),
        ..Config::defaults()
    };
    let base = startup
        .config_file
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    load_text(
        &cfg,
        &text,
        base.as_deref(),
        &mut startup,
        &mut Accum::default(),
    )?;
    if cfg.get("dir").is_empty() {
        let cwd = std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        cfg.store("dir", cwd);
    }
    let cfg = Config {
        renames: startup.renames.clone(),
        ..cfg
    };
    Ok((cfg, startup))
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| ConfigError::Open {
            path: path.display().to_string(),
            err: e.to_string(),
        })
}

/// Turn `--name value ...` arguments into config-file lines, as Redis 7.0
/// does: a `--word` starts a new directive only once the previous one has
/// a value (otherwise it *is* the value, e.g. `--proc-title-template
/// --my--title`); `"--name value"` in one argument is name and value; a
/// bare `--save` followed by another option or at the end means `save ""`.
/// A final `-` reads more configuration from stdin.
fn args_to_options(rest: &[String]) -> (String, bool) {
    let mut options = String::new();
    let mut read_stdin = false;
    let mut has_value = true;
    for (i, a) in rest.iter().enumerate() {
        let last = i + 1 == rest.len();
        if a == "-" && last {
            read_stdin = true;
        } else if let (true, Some(name)) = (has_value, a.strip_prefix("--")) {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(name);
            options.push(' ');
            let words = split_args(a.as_bytes()).map_or(1, |w| w.len());
            has_value = words > 1;
            let next_is_option = rest.get(i + 1).is_some_and(|n| n.starts_with("--"));
            if words == 1 && a.eq_ignore_ascii_case("--save") && (last || next_is_option) {
                options.push_str("\"\"");
                has_value = true;
            }
        } else {
            options.push_str(&quote(a));
            options.push(' ');
            has_value = true;
        }
    }
    (options, read_stdin)
}

/// Quote like sdscatrepr so the argument survives re-splitting.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Directives that accumulate over several lines (`save`, output limits).
#[derive(Default)]
struct Accum {
    save: Option<Vec<String>>,
    obuf: Option<Vec<String>>,
}

fn load_text(
    cfg: &Config,
    text: &str,
    base: Option<&Path>,
    startup: &mut Startup,
    acc: &mut Accum,
) -> Result<(), ConfigError> {
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |reason: &str| ConfigError::Directive {
            line: i + 1,
            text: line.to_string(),
            reason: reason.to_string(),
        };
        let Some(argv) = split_args(line.as_bytes()) else {
            return Err(fail("Unbalanced quotes in configuration line"));
        };
        let argv: Vec<String> = argv
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let Some(name) = argv.first().map(|n| n.to_ascii_lowercase()) else {
            continue;
        };
        let args = &argv[1..];
        if FILE_ONLY.contains(&name.as_str()) {
            file_only(cfg, &name, args, base, startup, acc).map_err(|r| fail(&r))?;
            continue;
        }
        // Multi-argument enums validate an empty list themselves, and a bare
        // `save` line disables snapshots (what the Tcl suite writes).
        let flags = name.starts_with("shutdown-on-") || name == "save";
        if args.is_empty() && !flags {
            return Err(fail("Bad directive or wrong number of arguments"));
        }
        match name.as_str() {
            "save" => accumulate(&mut acc.save, args, cfg, "save").map_err(|r| fail(&r))?,
            "client-output-buffer-limit" => {
                accumulate(&mut acc.obuf, args, cfg, "client-output-buffer-limit")
                    .map_err(|r| fail(&r))?
            }
            _ => {
                let Some(d) = super::find(&name) else {
                    return Err(fail("Bad directive or wrong number of arguments"));
                };
                if args.len() != 1 && !MULTI_ARG.contains(&d.name) {
                    return Err(fail("wrong number of arguments"));
                }
                if d.name == "replicaof" {
                    check_replicaof(args).map_err(fail)?;
                }
                cfg.set(&name, args, true).map_err(|r| fail(&r))?;
            }
        }
    }
    Ok(())
}

/// `replicaof <host> <port>` or `replicaof no one`.
fn check_replicaof(args: &[String]) -> Result<(), &'static str> {
    let [host, port] = args else {
        return Err("wrong number of arguments");
    };
    if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
        return Ok(());
    }
    match port.parse::<i64>() {
        Ok(p) if (0..=65535).contains(&p) => Ok(()),
        _ => Err("Invalid master port"),
    }
}

fn accumulate(
    slot: &mut Option<Vec<String>>,
    args: &[String],
    cfg: &Config,
    name: &'static str,
) -> Result<(), String> {
    let list = slot.get_or_insert_with(Vec::new);
    if name == "save" && (args.is_empty() || (args.len() == 1 && args[0].is_empty())) {
        list.clear();
    } else {
        list.extend(args.iter().cloned());
    }
    let joined = list.clone();
    cfg.set(name, &joined, true)
}

fn file_only(
    cfg: &Config,
    name: &str,
    args: &[String],
    base: Option<&Path>,
    startup: &mut Startup,
    acc: &mut Accum,
) -> Result<(), String> {
    match (name, args) {
        ("include", [path]) => {
            let mut p = PathBuf::from(path);
            if p.is_relative() {
                if let Some(b) = base {
                    if !p.exists() {
                        p = b.join(p);
                    }
                }
            }
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("Can't open included file '{}': {e}", p.display()))?;
            load_text(cfg, &text, p.parent(), startup, acc).map_err(|e| e.to_string())
        }
        ("rename-command", [from, to]) => {
            startup
                .renames
                .push((from.to_ascii_lowercase(), to.clone()));
            Ok(())
        }
        ("loadmodule", _) => Err("Shoal does not support modules".into()),
        ("sentinel", _) => Err("Shoal does not support sentinel mode".into()),
        ("user", _) => Err("ACL users are not supported yet".into()),
        _ => Err("Bad directive or wrong number of arguments".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(args: &[&str]) -> Result<Config, ConfigError> {
        let a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        load_startup_config(&a).map(|(c, _)| c)
    }

    #[test]
    fn args_and_errors() {
        let c = load(&["--port", "7001", "--maxmemory", "1mb", "--save", ""]).unwrap();
        assert_eq!(c.get("port"), "7001");
        assert_eq!(c.get("maxmemory"), "1048576");
        assert_eq!(c.get("save"), "");
        let e = load(&["--port", "7001", "--bogus", "1"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("at line 3\n>>> 'bogus \"1\"'\nBad directive"),
            "{e}"
        );
        let e = load(&["--maxmemory", "xyz"]).unwrap_err().to_string();
        assert!(e.contains("argument must be a memory value"), "{e}");
    }

    #[test]
    fn bare_save_line_disables_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main.conf");
        std::fs::write(&main, "save 900 1\nsave\n").unwrap();
        let c = load(&[main.to_str().unwrap()]).unwrap();
        assert_eq!(c.get("save"), "");
    }

    #[test]
    fn file_with_include_and_multi_save() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.conf");
        std::fs::write(&inc, "maxmemory-policy allkeys-lru\n").unwrap();
        let main = dir.path().join("main.conf");
        let body = format!(
            "# c\nsave 900 1\nsave 300 10\ninclude {}\nport \"7002\"\n",
            inc.display()
        );
        std::fs::write(&main, body).unwrap();
        let c = load(&[main.to_str().unwrap()]).unwrap();
        assert_eq!(c.get("save"), "900 1 300 10");
        assert_eq!(c.get("maxmemory-policy"), "allkeys-lru");
        assert_eq!(c.get("port"), "7002");
    }
}
