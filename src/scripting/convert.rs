//! Values crossing the Lua boundary, with Redis's conversion rules (RESP2
//! view, as scripts see it by default):
//!
//! - reply → Lua: integer → number, bulk → string, nil → false, array →
//!   table, status → `{ok=...}`, error → `{err=...}`;
//! - Lua → reply: number → integer (truncated), string → bulk, true → 1,
//!   false and nil → nil, `{ok=...}` → status, `{err=...}` → error, other
//!   tables → array up to the first nil.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::error::RedisError;
use crate::protocol::Reply;
use crate::util::numfmt::fmt_double_reply;

/// A command's reply as the script sees it.
pub fn reply_to_lua(lua: &Lua, reply: &Reply) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Status(s) => single(lua, "ok", s.as_bytes())?,
        Reply::StatusOwned(s) => single(lua, "ok", s.as_bytes())?,
        Reply::Error(e) => single(lua, "err", e.to_string().as_bytes())?,
        Reply::Int(n) => Value::Integer(*n),
        Reply::Bulk(b) | Reply::Verbatim(b) | Reply::Raw(b) => Value::String(lua.create_string(b)?),
        Reply::Nil | Reply::NilArray => Value::Boolean(false),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) | Reply::Multi(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, reply_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        Reply::Map(pairs) => {
            let t = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
            for (i, (k, v)) in pairs.iter().enumerate() {
                t.raw_set(2 * i + 1, reply_to_lua(lua, k)?)?;
                t.raw_set(2 * i + 2, reply_to_lua(lua, v)?)?;
            }
            Value::Table(t)
        }
        Reply::Double(d) => Value::String(lua.create_string(fmt_double_reply(*d))?),
        Reply::Bool(b) => Value::Integer(i64::from(*b)),
    })
}

/// `{field = text}`: how statuses and errors look in Lua.
pub fn single(lua: &Lua, field: &str, text: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(field, lua.create_string(text)?)?;
    Ok(Value::Table(t))
}

/// Nesting deeper than this (a table that contains itself) ends in an
/// error instead of exhausting the stack.
const MAX_DEPTH: usize = 256;

/// What a script returned, as the client's reply.
pub fn lua_to_reply(value: &Value) -> Reply {
    nested_to_reply(value, 0)
}

fn nested_to_reply(value: &Value, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::Error(RedisError::err("reached lua stack limit"));
    }
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Integer(n) => Reply::Int(*n),
        Value::Number(n) => Reply::Int(truncate(*n)),
        Value::Boolean(true) => Reply::Int(1),
        Value::Table(t) => table_to_reply(t, depth),
        _ => Reply::Nil,
    }
}

/// A Lua number as Redis casts it to `long long`.
fn truncate(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}

fn table_to_reply(t: &Table, depth: usize) -> Reply {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        return Reply::Error(error_from_text(&e.to_string_lossy()));
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        return Reply::StatusOwned(status_text(&s.to_string_lossy()));
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(nested_to_reply(&v, depth + 1)),
        }
    }
    Reply::Array(items)
}

/// Status replies cannot carry line breaks (Redis replaces them).
fn status_text(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// An error returned by a script: its text is sent as it is (its first
/// word is the code), minus a leading `-` and any line breaks.
pub fn error_from_text(text: &str) -> RedisError {
    let text = text.strip_prefix('-').unwrap_or(text);
    RedisError::raw(text.replace(['\r', '\n'], " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(lua: &Lua, code: &str) -> Reply {
        let v: Value = lua.load(code).eval().unwrap();
        lua_to_reply(&v)
    }

    #[test]
    fn lua_values_become_redis_replies() {
        let lua = Lua::new();
        assert_eq!(roundtrip(&lua, "return 3.99"), Reply::Int(3));
        assert_eq!(roundtrip(&lua, "return -3.99"), Reply::Int(-3));
        assert_eq!(roundtrip(&lua, "return true"), Reply::Int(1));
        assert_eq!(roundtrip(&lua, "return false"), Reply::Nil);
        assert_eq!(roundtrip(&lua, "return nil"), Reply::Nil);
        assert_eq!(
            roundtrip(&lua, "return {1, 'a', {2}, nil, 4}"),
            Reply::Array(vec![
                Reply::Int(1),
                Reply::Bulk(Bytes::from_static(b"a")),
                Reply::Array(vec![Reply::Int(2)]),
            ])
        );
        assert_eq!(
            roundtrip(&lua, "return {ok='fine'}"),
            Reply::StatusOwned("fine".into())
        );
        assert_eq!(
            roundtrip(&lua, "return {err='MY bad'}"),
            Reply::Error(RedisError::raw("MY bad"))
        );
    }

    #[test]
    fn a_table_that_contains_itself_ends_in_an_error() {
        let lua = Lua::new();
        let mut r = roundtrip(&lua, "local a = {} local b = {a} a[1] = b return a");
        let mut depth = 0;
        while let Reply::Array(mut items) = r {
            assert_eq!(items.len(), 1);
            r = items.remove(0);
            depth += 1;
        }
        assert_eq!(r, Reply::Error(RedisError::err("reached lua stack limit")));
        assert!(depth > 100);
    }

    #[test]
    fn replies_become_lua_values() {
        let lua = Lua::new();
        let reply = Reply::Array(vec![
            Reply::Int(7),
            Reply::Nil,
            Reply::Status("OK"),
            Reply::Double(1.5),
        ]);
        let v = reply_to_lua(&lua, &reply).unwrap();
        lua.globals().set("r", v).unwrap();
        let check: bool = lua
            .load("return r[1] == 7 and r[2] == false and r[3].ok == 'OK' and r[4] == '1.5'")
            .eval()
            .unwrap();
        assert!(check);
    }
}
