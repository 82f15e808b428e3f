//! Directive model: one row per redis.conf directive.

/// How a directive's value is parsed and printed.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// Bytes with optional k/kb/m/mb/g/gb suffix; printed as a plain number.
    Memory {
        min: i64,
        max: i64,
    },
    Enum(&'static [&'static str]),
    /// Free-form (possibly multi-argument) value, validated by apply hooks.
    Str,
}

/// One directive.
#[derive(Debug)]
pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub mutable: bool,
}

/// Parse `1gb`, `100k`, `42` like Redis's memtoull.
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    if num.is_empty() {
        return None;
    }
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    num.parse::<i64>().ok()?.checked_mul(mul)
}

impl Directive {
    /// Validate and normalize a value; `Err` is Redis's reason text.
    pub fn normalize(&self, args: &[String]) -> Result<String, String> {
        let joined = args.join(" ");
        match self.kind {
            Kind::Bool => match joined.to_ascii_lowercase().as_str() {
                "yes" => Ok("yes".into()),
                "no" => Ok("no".into()),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Int { min, max } => {
                let v: i64 = joined
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                check_bounds(v, min, max)?;
                Ok(v.to_string())
            }
            Kind::Memory { .. } if self.name == "maxmemory-clients" => percent_or_memory(&joined),
            Kind::Memory { min, max } => {
                let v = if let Some(neg) = joined.strip_prefix('-') {
                    // Redis accepts negative plain integers for memory configs
                    // only to report them out of range.
                    -parse_memory(neg).ok_or("argument must be a memory value")?
                } else {
                    parse_memory(&joined).ok_or("argument must be a memory value")?
                };
                check_bounds(v, min, max)?;
                Ok(v.to_string())
            }
            Kind::Enum(values) if self.name.starts_with("shutdown-on-") => {
                shutdown_flags(&joined, values)
            }
            Kind::Enum(values) => {
                let lower = joined.to_ascii_lowercase();
                if values.contains(&lower.as_str()) {
                    Ok(lower)
                } else {
                    Err(format!(
                        "argument(s) must be one of the following: {}",
                        values.join(", ")
                    ))
                }
            }
            Kind::Str => Ok(joined),
        }
    }
}

/// `maxmemory-clients` takes bytes or a percentage of maxmemory (`N%`).
fn percent_or_memory(v: &str) -> Result<String, String> {
    const BAD: &str = "argument must be a memory or percent value";
    if let Some(p) = v.strip_suffix('%') {
        let n: i64 = p.parse().map_err(|_| BAD.to_string())?;
        if n < 0 {
            return Err(BAD.into());
        }
        if n > 100 {
            return Err("percentage argument must be less or equal to 100".into());
        }
        return Ok(if n == 0 { "0".into() } else { format!("{n}%") });
    }
    parse_memory(v)
        .filter(|n| *n >= 0)
        .map(|n| n.to_string())
        .ok_or_else(|| BAD.to_string())
}

/// `shutdown-on-sigint/sigterm` take a set of flags, printed in a fixed
/// order; `default` alone means none.
fn shutdown_flags(joined: &str, values: &[&str]) -> Result<String, String> {
    let words: Vec<String> = joined
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() || words.iter().any(|w| !values.contains(&w.as_str())) {
        return Err(format!(
            "argument(s) must be one of the following: {}",
            values.join(", ")
        ));
    }
    let has = |f: &str| words.iter().any(|w| w == f);
    if has("save") && has("nosave") {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    let set: Vec<&str> = ["save", "nosave", "now", "force"]
        .into_iter()
        .filter(|f| has(f))
        .collect();
    Ok(if set.is_empty() {
        "default".into()
    } else {
        set.join(" ")
    })
}

fn check_bounds(v: i64, min: i64, max: i64) -> Result<(), String> {
    if v < min || v > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("2GB"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("x"), None);
        assert_eq!(parse_memory("1tb"), None);
    }
}
