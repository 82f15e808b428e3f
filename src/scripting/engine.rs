//! The Lua interpreter: its sandbox, the `redis` library, the script cache
//! (compiled functions by SHA1) and running one script.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
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
local error, type, rawget, tostring = error, type, rawget, tostring
local base_setmetatable, base_rawset, base_pcall = setmetatable, rawset, pcall
local error_text = hooks.error_text
local redis = rawget(env, 'redis')
redis.error_reply = function(msg)
  if type(msg) ~= 'string' then error('wrong number or type of arguments', 2) end
  return {err = msg}
end
redis.status_reply = function(msg)
  if type(msg) ~= 'string' then error('wrong number or type of arguments', 2) end
  return {ok = msg}
end

-- Read-only tables: scripts share one interpreter, so none may change
-- what the next script sees. A protected table is an empty proxy.
local protected = base_setmetatable({}, {__mode = 'k'})
local function readonly() error('Attempt to modify a readonly table', 3) end
local locked = base_setmetatable({}, {
  __newindex = function() readonly() end, __metatable = false })
protected[locked] = true
local function protect(t, index)
  local p = base_setmetatable({}, {
    __index = index or t,
    __newindex = function() readonly() end,
    __metatable = locked,
  })
  protected[p] = true
  return p
end

-- What scripts can see: Lua's safe base functions and libraries (read
-- only), redis, cjson and bit, KEYS and ARGV (set for each run).
local visible = {}
for _, name in ipairs({'assert', 'error', 'ipairs', 'next', 'pairs', 'rawequal',
    'rawget', 'select', 'getmetatable', 'tonumber', 'tostring', 'type', 'unpack',
    'xpcall', '_VERSION', 'gcinfo'}) do
  visible[name] = rawget(env, name)
end
for _, name in ipairs({'string', 'table', 'math', 'coroutine', 'redis', 'cjson', 'bit'}) do
  local lib = rawget(env, name)
  if lib ~= nil then visible[name] = protect(lib) end
end
visible.loadstring = hooks.loadstring
visible.setmetatable = function(t, mt)
  if protected[t] then readonly() end
  return base_setmetatable(t, mt)
end
visible.rawset = function(t, k, v)
  if protected[t] then readonly() end
  return base_rawset(t, k, v)
end
-- A script's own pcall sees the text of an error reply, not the error
-- object (as Redis 7.0 arranges for compatibility); once SCRIPT KILL has
-- been sent, error_text raises again so pcall cannot swallow the kill.
local function caught(ok, ...)
  if ok then return ok, ... end
  local text = error_text((...))
  if text ~= nil then return false, text end
  return false, ...
end
visible.pcall = function(f, ...) return caught(base_pcall(f, ...)) end

local sandbox = base_setmetatable({}, {
  __index = function(_, name)
    local v = visible[name]
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    return v
  end,
  __newindex = function() readonly() end,
  __metatable = locked,
})
protected[sandbox] = true
visible._G = sandbox
return sandbox, visible
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
    /// What the sandbox shows (KEYS and ARGV are set here for each run).
    visible: Table,
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
    pub fn new(flags: Arc<super::RunFlags>) -> mlua::Result<Engine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        lua.set_app_data(flags.clone());
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(100_000),
            move |_, _| {
                if flags.kill.load(Ordering::Relaxed) {
                    return Err(mlua::Error::runtime(KILLED));
                }
                let deadline = flags.deadline_ms.load(Ordering::Relaxed);
                if deadline != 0
                    && crate::util::clock::now_ms() > deadline
                    && !flags.wrote.load(Ordering::Relaxed)
                {
                    flags.moved.store(true, Ordering::Relaxed);
                    return Err(mlua::Error::runtime(MOVED));
                }
                Ok(VmState::Continue)
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
        hooks.raw_set("loadstring", loadstring_fn(&lua)?)?;
        let (sandbox, visible): (Table, Table) = lua
            .load(PRELUDE)
            .set_name("=shoal_prelude")
            .call((hooks.clone(), env.clone()))?;
        let runner = lua
            .load("local f, h = ... return xpcall(f, h)")
            .set_name("=shoal_runner")
            .into_function()?;
        lua.set_app_data(Sandbox(sandbox.clone()));
        let handler = lua.create_function(error_handler)?;
        Ok(Engine {
            lua,
            scripts: HashMap::new(),
            sandbox,
            visible,
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
            self.visible.raw_set("KEYS", self.strings(keys)?)?;
            self.visible.raw_set("ARGV", self.strings(args)?)?;
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
/// A killed script's errors are raised again.
fn error_text(lua: &Lua, e: Value) -> mlua::Result<Option<String>> {
    if let Some(flags) = lua.app_data_ref::<Arc<super::RunFlags>>() {
        if flags.kill.load(Ordering::Relaxed) {
            return Err(mlua::Error::runtime(KILLED));
        }
        if flags.moved.load(Ordering::Relaxed) {
            return Err(mlua::Error::runtime(MOVED));
        }
    }
    Ok(match e {
        Value::Error(err) => raised_reply(&err),
        Value::Table(t) => match t.raw_get::<Value>("err")? {
            Value::String(s) => Some(s.to_string_lossy()),
            _ => None,
        },
        _ => None,
    })
}

/// `loadstring(code)`: text chunks only (compiled bytecode is refused, as
/// in Redis), running in the script sandbox.
fn loadstring_fn(lua: &Lua) -> mlua::Result<Function> {
    lua.create_function(|lua, (code, name): (mlua::LuaString, Option<String>)| {
        let chunk = lua
            .load(code.as_bytes().to_vec())
            .set_name(name.unwrap_or_else(|| "=(load)".into()))
            .set_mode(ChunkMode::Text);
        let chunk = match lua.app_data_ref::<Sandbox>() {
            Some(sb) => chunk.set_environment(sb.0.clone()),
            None => chunk,
        };
        Ok(match chunk.into_function() {
            Ok(f) => (Value::Function(f), Value::Nil),
            Err(e) => (
                Value::Nil,
                Value::String(lua.create_string(compile_message(&e))?),
            ),
        })
    })
}

/// The sandbox table, for functions loaded at run time.
struct Sandbox(Table);

const KILLED: &str = "Script killed by user with SCRIPT KILL...";
/// A script stopped on the event loop to be run again on the script
/// thread (never seen by clients).
const MOVED: &str = "Script moved to the script thread";

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
