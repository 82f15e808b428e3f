//! Logging through `tracing`, printed in Redis's log line format
//! (`pid:M 22 Nov 2026 03:50:00.123 * message`) to stdout or `logfile`,
//! filtered by `loglevel` (debug/verbose/notice/warning).

use std::fmt;
use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::Config;
use crate::util::clock::now_ms;

struct RedisFormat;

impl<S, N> FormatEvent<S, N> for RedisFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let c = match *event.metadata().level() {
            Level::TRACE | Level::DEBUG => '.',
            Level::INFO => '*',
            Level::WARN | Level::ERROR => '#',
        };
        write!(w, "{}:M {} {} ", std::process::id(), timestamp(now_ms()), c)?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// `22 Nov 2026 03:50:00.123` (UTC).
pub fn timestamp(ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms / 1000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{} {} {} {:02}:{:02}:{:02}.{:03}",
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

fn level(cfg: &Config) -> Level {
    match cfg.get("loglevel").as_str() {
        "debug" => Level::TRACE,
        "verbose" => Level::DEBUG,
        "warning" => Level::WARN,
        _ => Level::INFO,
    }
}

/// Install the global subscriber.
pub fn init(cfg: &Config) -> Result<(), String> {
    let logfile = cfg.get("logfile");
    let builder = tracing_subscriber::fmt()
        .event_format(RedisFormat)
        .with_max_level(level(cfg));
    let res = if logfile.is_empty() {
        builder.with_writer(std::io::stdout).try_init()
    } else {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
            .map_err(|e| format!("Can't open the log file: {e}"))?;
        builder.with_writer(Mutex::new(f)).try_init()
    };
    res.map_err(|e| e.to_string())
}

/// Start-up lines. The Tcl test suite waits for ` PID: <pid>` when
/// `always-show-logo` is on, as Redis prints it inside its logo.
pub fn banner(cfg: &Config) {
    let pid = std::process::id();
    tracing::info!("oO0OoO0OoO0Oo Shoal is starting oO0OoO0OoO0Oo");
    tracing::info!(
        "Shoal version={} (Redis {} compatible), bits=64, pid={}, just started",
        crate::SHOAL_VERSION,
        crate::REDIS_VERSION,
        pid
    );
    if cfg.get_bool("always-show-logo") {
        let mode = if cfg.get_bool("cluster-enabled") {
            "cluster"
        } else {
            "standalone"
        };
        tracing::info!(
            "Shoal {} {} mode Port: {} PID: {}",
            crate::SHOAL_VERSION,
            mode,
            cfg.get("port"),
            pid
        );
    }
    tracing::info!("Server initialized");
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_format() {
        assert_eq!(super::timestamp(0), "1 Jan 1970 00:00:00.000");
        assert_eq!(
            super::timestamp(1_795_405_800_123),
            "23 Nov 2026 03:50:00.123"
        );
    }
}
