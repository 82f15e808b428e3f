//! Number formatting exactly as Redis prints numbers.

/// C's `%.17g`: 17 significant digits, shortest of fixed/scientific,
/// trailing zeros removed. Redis 7.0 uses it for double replies
/// (ZSCORE, RESP3 doubles) and `inf`/`-inf` for infinities.
pub fn fmt_g17(d: f64) -> String {
    fmt_g(d, 17)
}

/// `%.<prec>g` for finite and infinite doubles.
pub fn fmt_g(d: f64, prec: usize) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let prec = prec.max(1);
    // Scientific form with prec significant digits gives the exponent after rounding.
    let sci = format!("{:.*e}", prec - 1, d);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Double as Redis 7.0 replies it (addReplyDouble).
pub fn fmt_double_reply(d: f64) -> String {
    fmt_g17(d)
}

/// Human readable bytes as INFO prints them (`bytesToHuman`).
pub fn bytes_to_human(n: u64) -> String {
    let n = n as f64;
    const UNITS: [(f64, &str); 6] = [
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "E"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "P"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0, "M"),
        (1024.0, "K"),
    ];
    if n < 1024.0 {
        return format!("{}B", n as u64);
    }
    for (scale, unit) in UNITS {
        if n >= scale {
            return format!("{:.2}{unit}", n / scale);
        }
    }
    format!("{}B", n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17() {
        assert_eq!(fmt_g17(1.5), "1.5");
        assert_eq!(fmt_g17(0.1), "0.10000000000000001");
        assert_eq!(fmt_g17(3.0), "3");
        assert_eq!(fmt_g17(1e20), "1e+20");
        assert_eq!(fmt_g17(1e-5), "1.0000000000000001e-05");
        assert_eq!(fmt_g17(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(fmt_g17(f64::INFINITY), "inf");
        assert_eq!(fmt_g17(-2.5), "-2.5");
        assert_eq!(fmt_g(0.0001, 17), "0.0001");
    }

    #[test]
    fn human() {
        assert_eq!(bytes_to_human(100), "100B");
        assert_eq!(bytes_to_human(1024 * 1024), "1.00M");
    }
}
