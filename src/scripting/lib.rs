//! The libraries scripts see besides Lua's own: `redis` (minus `call`,
//! `pcall` and the reply helpers, which the prelude adds), `cjson` and
//! `bit`, with the names and behaviour of Redis 7.0's.

use mlua::{Lua, LuaSerdeExt, MultiValue, Table, Value};

/// Lua's log levels as Redis numbers them.
const LOG_LEVELS: [(&str, i64); 4] = [
    ("LOG_DEBUG", 0),
    ("LOG_VERBOSE", 1),
    ("LOG_NOTICE", 2),
    ("LOG_WARNING", 3),
];

pub fn redis_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            let (1, Some(v)) = (args.len(), args.front()) else {
                return Err(mlua::Error::runtime("wrong number of arguments"));
            };
            let s = lua
                .coerce_string(v.clone())?
                .ok_or_else(|| mlua::Error::runtime("wrong number of arguments"))?;
            Ok(super::sha1_hex(&s.as_bytes()))
        })?,
    )?;
    t.raw_set("log", lua.create_function(log)?)?;
    t.raw_set(
        "setresp",
        lua.create_function(|_, v: i64| match v {
            2 | 3 => Ok(()),
            _ => Err(mlua::Error::runtime("RESP version must be 2 or 3.")),
        })?,
    )?;
    t.raw_set(
        "set_repl",
        lua.create_function(|_, args: MultiValue| match (args.len(), args.front()) {
            (1, Some(Value::Integer(0..=3))) => Ok(()),
            (1, _) => Err(mlua::Error::runtime(
                "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
            )),
            _ => Err(mlua::Error::runtime(
                "redis.set_repl() requires one argument.",
            )),
        })?,
    )?;
    t.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    t.raw_set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    t.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    for (name, level) in LOG_LEVELS {
        t.raw_set(name, level)?;
    }
    for (name, v) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        t.raw_set(name, v)?;
    }
    t.raw_set("REDIS_VERSION", crate::REDIS_VERSION)?;
    t.raw_set("REDIS_VERSION_NUM", version_num(crate::REDIS_VERSION))?;
    Ok(t)
}

/// "7.0.15" → 0x00070f, as Redis exposes REDIS_VERSION_NUM.
fn version_num(v: &str) -> i64 {
    v.split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0))
        .fold(0, |acc, p| (acc << 8) | (p & 0xff))
}

/// redis.log(level, message, ...): the words joined by spaces.
fn log(_: &Lua, args: MultiValue) -> mlua::Result<()> {
    if args.len() < 2 {
        return Err(mlua::Error::runtime(
            "redis.log() requires two arguments or more.",
        ));
    }
    let mut it = args.into_iter();
    let level = match it.next() {
        Some(Value::Integer(n)) => n,
        Some(Value::Number(n)) => n as i64,
        _ => {
            return Err(mlua::Error::runtime(
                "First argument must be a number (log level).",
            ))
        }
    };
    let words: Vec<String> = it.map(|v| v.to_string().unwrap_or_default()).collect();
    let line = words.join(" ");
    match level {
        0 => tracing::debug!("{line}"),
        1 | 2 => tracing::info!("{line}"),
        3 => tracing::warn!("{line}"),
        _ => return Err(mlua::Error::runtime("Invalid debug level.")),
    }
    Ok(())
}

/// cjson.encode / cjson.decode over serde_json.
pub fn cjson_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let encode = lua.create_function(|lua, v: Value| {
        let json: serde_json::Value = lua.from_value(v)?;
        serde_json::to_string(&json).map_err(mlua::Error::external)
    })?;
    t.raw_set("encode", encode.clone())?;
    t.raw_set("encode_keep_buffer", encode)?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let json: serde_json::Value =
                serde_json::from_slice(&s.as_bytes()).map_err(mlua::Error::external)?;
            lua.to_value(&json)
        })?,
    )?;
    t.raw_set("null", Value::NULL)?;
    Ok(t)
}

type BinOp = fn(i32, i32) -> i32;
type ShiftOp = fn(i32, u32) -> i32;

/// The `bit` library (LuaBitOp): 32-bit two's-complement operations.
pub fn bit_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("tobit", lua.create_function(|_, a: f64| Ok(tobit(a)))?)?;
    t.raw_set("bnot", lua.create_function(|_, a: f64| Ok(!tobit(a)))?)?;
    let folds: [(&str, BinOp); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in folds {
        let f = lua.create_function(move |_, args: mlua::Variadic<f64>| {
            Ok(args.iter().map(|a| tobit(*a)).reduce(op).unwrap_or(0))
        })?;
        t.raw_set(name, f)?;
    }
    let shifts: [(&str, ShiftOp); 5] = [
        ("lshift", |a, n| a.wrapping_shl(n)),
        ("rshift", |a, n| ((a as u32).wrapping_shr(n)) as i32),
        ("arshift", |a, n| a.wrapping_shr(n)),
        ("rol", |a, n| a.rotate_left(n)),
        ("ror", |a, n| a.rotate_right(n)),
    ];
    for (name, op) in shifts {
        let f = lua.create_function(move |_, (a, n): (f64, f64)| {
            Ok(op(tobit(a), (tobit(n) & 31) as u32))
        })?;
        t.raw_set(name, f)?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|_, (a, n): (f64, Option<f64>)| {
            let n = n.map(tobit).unwrap_or(8);
            let width = n.unsigned_abs().min(8) as usize;
            let hex = format!("{:08x}", tobit(a) as u32);
            let s = hex[8 - width..].to_string();
            Ok(if n < 0 { s.to_uppercase() } else { s })
        })?,
    )?;
    Ok(t)
}

/// A number as LuaBitOp normalises it: modulo 2^32, as a signed int.
fn tobit(a: f64) -> i32 {
    let r = a.rem_euclid(4294967296.0);
    (r as u64 as u32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_ops_are_32_bit() {
        let lua = Lua::new();
        lua.globals().set("bit", bit_table(&lua).unwrap()).unwrap();
        let r: (i64, i64, i64, String) = lua
            .load("return bit.band(0xff, 0x0f), bit.lshift(1, 31), bit.bnot(0), bit.tohex(255, 4)")
            .eval()
            .unwrap();
        assert_eq!(r, (15, -2147483648, -1, "00ff".to_string()));
    }

    #[test]
    fn version_number_packs_three_bytes() {
        assert_eq!(version_num("7.0.15"), 0x07000f);
    }

    #[test]
    fn cjson_round_trips() {
        let lua = Lua::new();
        lua.globals()
            .set("cjson", cjson_table(&lua).unwrap())
            .unwrap();
        let s: String = lua
            .load("return cjson.encode(cjson.decode('{\"a\":[1,2,\"x\"]}'))")
            .eval()
            .unwrap();
        assert_eq!(s, "{\"a\":[1,2,\"x\"]}");
    }
}
