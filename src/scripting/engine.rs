//! The Lua interpreter: its sandbox, the `redis` library, the script cache
//! (compiled functions by SHA1) and running one script.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mlua::{
    chunk::ChunkMode, Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value,
    VmState,
};

use super::convert::lua_to_reply;
use super::shebang::{self, ScriptFlags};
use crate::error::RedisError;
use crate::protocol::Reply;

/// Lua source of the library parts that are easiest to say in Lua: the
/// reply helpers, `pcall`, and the read-only global environment scripts
/// run in. `redis.call` and `redis.pcall` are Rust functions (a Lua
/// wrapper would vanish from the stack on `return redis.call(...)`, a
/// tail call, and errors would lose their script line).
const PRELUDE: &str = r#"
local hooks, env = ...
local error, type, rawget, tostring, setmetatable = error, type, rawget, tostring, setmetatable
local base_pcall, error_text = pcall, hooks.error_text
local redis = rawget(env, 'redis')
redis.error_reply = function(msg)
  if type(msg) ~= 'string' then error('wrong number or type of arguments', 2) end
  return {err = msg}
end
redis.status_reply = function(msg)
  if type(msg) ~= 'string' then error('wrong number or type of arguments', 2) end
  return {ok = msg}
end
-- A script's own pcall sees the text of an error reply, not the error
-- object (as Redis 7.0 arranges for compatibility).
local function caught(ok, ...)
  if ok then return ok, ... end
  local text = error_text((...))
  if text ~= nil then return false, text end
  return false, ...
end
env.pcall = function(f, ...) return caught(base_pcall(f, ...)) end
return setmetatable({}, {
  __index = function(_, name)
    local v = rawget(env, name)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    return v
  end,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = false,
})
"#;

/// A compiled script.
struct Compiled {
    func: Function,
    flags: ScriptFlags,
}

pub struct Engine {
    lua: Lua,
    scripts: HashMap<String, Compiled>,
    /// The environment every script function runs in (read-only proxy).
    sandbox: Table,
    /// Where the per-run dispatcher is put (`hooks.call`).
    hooks: Table,
    /// `xpcall(f, handler)`, so errors come back with their script line.
    runner: Function,
    handler: Function,
    /// Bytes of the bodies in the cache (INFO used_memory_scripts_eval).
    bodies: usize,
}

/// What running a script needs from the caller: the `redis.call`
/// dispatcher, returning the reply as a Lua value and whether it failed.
pub type Dispatch<'a> = dyn FnMut(&Lua, MultiValue) -> mlua::Result<(Value, bool)> + 'a;

impl Engine {
    /// A fresh interpreter. `kill` is SCRIPT KILL's flag, polled every
    /// 100k instructions (Redis's LUA_MASK_COUNT hook).
    pub fn new(kill: Arc<AtomicBool>) -> mlua::Result<Engine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(100_000),
            move |_, _| {
                if kill.load(Ordering::Relaxed) {
                    Err(mlua::Error::runtime(
                        "Script killed by user with SCRIPT KILL...",
                    ))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )?;
        let env = lua.globals();
        for name in ["dofile", "loadfile", "load", "loadstring"] {
            env.raw_set(name, Value::Nil)?;
        }
        env.raw_set("redis", super::lib::redis_table(&lua)?)?;
        env.raw_set("cjson", super::lib::cjson_table(&lua)?)?;
        env.raw_set("bit", super::lib::bit_table(&lua)?)?;
        let hooks = lua.create_table()?;
        hooks.raw_set("error_text", lua.create_function(error_text)?)?;
        let redis: Table = env.raw_get("redis")?;
        redis.raw_set("call", call_fn(&lua, &hooks, true)?)?;
        redis.raw_set("pcall", call_fn(&lua, &hooks, false)?)?;
        let sandbox: Table = lua
            .load(PRELUDE)
            .set_name("=shoal_prelude")
            .call((hooks.clone(), env.clone()))?;
        let runner = lua
            .load("local f, h = ... return xpcall(f, h)")
            .set_name("=shoal_runner")
            .into_function()?;
        let handler = lua.create_function(error_handler)?;
        Ok(Engine {
            lua,
            scripts: HashMap::new(),
            sandbox,
            hooks,
            runner,
            handler,
            bodies: 0,
        })
    }

    /// Compile `body` (if not cached) and return its SHA1 and flags.
    pub fn load(&mut self, body: &[u8]) -> Result<(String, ScriptFlags), RedisError> {
        let sha = crate::scripting::sha1_hex(body);
        if let Some(c) = self.scripts.get(&sha) {
            return Ok((sha, c.flags));
        }
        let (flags, skip) = shebang::parse(body).map_err(RedisError::err)?;
        let func = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| {
                RedisError::err(format!(
                    "Error compiling script (new function): {}",
                    compile_message(&e)
                ))
            })?;
        func.set_environment(self.sandbox.clone())
            .map_err(|e| RedisError::err(e.to_string()))?;
        self.bodies += body.len();
        self.scripts.insert(sha.clone(), Compiled { func, flags });
        Ok((sha, flags))
    }

    /// Flags of a cached script (`sha` lower-case).
    pub fn flags(&self, sha: &str) -> Option<ScriptFlags> {
        self.scripts.get(sha).map(|c| c.flags)
    }

    pub fn exists(&self, sha: &str) -> bool {
        self.scripts.contains_key(sha)
    }

    pub fn cached(&self) -> usize {
        self.scripts.len()
    }

    pub fn body_bytes(&self) -> usize {
        self.bodies
    }

    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Run the cached script `sha` with KEYS and ARGV; `dispatch` serves
    /// its `redis.call`/`redis.pcall`.
    pub fn run(&self, sha: &str, keys: &[Bytes], args: &[Bytes], dispatch: &mut Dispatch) -> Reply {
        let Some(script) = self.scripts.get(sha) else {
            return Reply::Error(RedisError::raw(
                "NOSCRIPT No matching script. Please use EVAL.",
            ));
        };
        let outcome = self.lua.scope(|scope| {
            let call = scope.create_function_mut(|lua, args: MultiValue| dispatch(lua, args))?;
            self.hooks.raw_set("call", call)?;
            let env = self.lua.globals();
            env.raw_set("KEYS", self.strings(keys)?)?;
            env.raw_set("ARGV", self.strings(args)?)?;
            let (ok, value): (bool, Value) = self
                .runner
                .call((script.func.clone(), self.handler.clone()))?;
            self.hooks.raw_set("call", Value::Nil)?;
            Ok(if ok {
                lua_to_reply(&value)
            } else {
                Reply::Error(script_error(&value, sha))
            })
        });
        outcome.unwrap_or_else(|e| Reply::Error(RedisError::err(e.to_string())))
    }

    fn strings(&self, items: &[Bytes]) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_set(i + 1, self.lua.create_string(item)?)?;
        }
        Ok(t)
    }
}

/// xpcall's handler: make every error a `{err=...}` table and note the
/// script line it was raised on.
fn error_handler(lua: &Lua, e: Value) -> mlua::Result<Table> {
    let t = match e {
        Value::Table(t) => t,
        other => {
            let text = match &other {
                Value::Error(err) => {
                    raised_reply(err).unwrap_or_else(|| format!("ERR {}", runtime_message(err)))
                }
                v => format!("ERR {}", v.to_string().unwrap_or_default()),
            };
            let t = lua.create_table()?;
            t.raw_set("err", text)?;
            t
        }
    };
    for level in 0..200 {
        let frame = lua.inspect_stack(level, |d| {
            let source = d.source().source.map(|s| s.into_owned());
            (source, d.current_line())
        });
        match frame {
            None => break,
            Some((Some(source), Some(line))) if source == "@user_script" => {
                t.raw_set("source", source)?;
                t.raw_set("line", line)?;
                break;
            }
            _ => {}
        }
    }
    Ok(t)
}

/// An error reply raised by `redis.call`, carried through Lua as an mlua
/// error (Rust functions cannot raise a table).
#[derive(Debug)]
struct RaisedReply(String);

impl std::fmt::Display for RaisedReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RaisedReply {}

/// The reply text if `e` is (or wraps) a raised error reply.
fn raised_reply(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::CallbackError { cause, .. } => raised_reply(cause),
        mlua::Error::ExternalError(inner) => {
            inner.downcast_ref::<RaisedReply>().map(|r| r.0.clone())
        }
        _ => None,
    }
}

/// `hooks.error_text(e)`: what a script's pcall shows for an error object.
fn error_text(_: &Lua, e: Value) -> mlua::Result<Option<String>> {
    Ok(match e {
        Value::Error(err) => raised_reply(&err),
        Value::Table(t) => match t.raw_get::<Value>("err")? {
            Value::String(s) => Some(s.to_string_lossy()),
            _ => None,
        },
        _ => None,
    })
}

/// `redis.call` (`raise`: an error reply becomes a Lua error) or
/// `redis.pcall` (it is returned as `{err=...}`), over this run's
/// dispatcher in `hooks.call`.
fn call_fn(lua: &Lua, hooks: &Table, raise: bool) -> mlua::Result<Function> {
    let hooks = hooks.clone();
    lua.create_function(move |_, args: MultiValue| {
        let dispatch: Function = hooks.raw_get("call")?;
        let (reply, failed): (Value, bool) = dispatch.call(args)?;
        if raise && failed {
            if let Value::Table(t) = &reply {
                let text = match t.raw_get::<Value>("err")? {
                    Value::String(s) => s.to_string_lossy(),
                    _ => String::new(),
                };
                return Err(mlua::Error::external(RaisedReply(text)));
            }
        }
        Ok(reply)
    })
}

/// The text of an error raised from Rust (a hook or a library function).
fn runtime_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => runtime_message(cause),
        other => other.to_string(),
    }
}

/// A compile error's message without mlua's decorations.
fn compile_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The reply for an error that ended a script: its text, then where it
/// happened, as Redis 7.0 words it.
fn script_error(value: &Value, sha: &str) -> RedisError {
    let Value::Table(t) = value else {
        return RedisError::err(format!("Error running script {sha}"));
    };
    let text = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => "ERR unknown error".to_string(),
    };
    let place = (
        t.raw_get::<Option<String>>("source"),
        t.raw_get::<Option<i64>>("line"),
    );
    let text = match place {
        (Ok(Some(source)), Ok(Some(line))) => format!("{text} script: {sha}, on {source}:{line}."),
        _ => format!("{text} script: {sha}"),
    };
    super::convert::error_from_text(&text)
}
