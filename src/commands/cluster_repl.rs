//! CLUSTER REPLICATE and CLUSTER FAILOVER: the subcommands that change the
//! replication role of this node inside the cluster. The decisions are made
//! by `cluster::failover` on the locked state; the resulting bus messages,
//! pauses and replication changes are carried out by the bus layer.

use bytes::Bytes;

use super::cluster::cluster;
use super::ctx::Ctx;
use super::table::Handler;
use crate::cluster::bus::link;
use crate::cluster::failover::{self, Mode};
use crate::cluster::state::parse_id;
use crate::command::args;
use crate::error::{CmdResult, RedisError};
use crate::protocol::Reply;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("cluster|replicate", replicate),
    ("cluster|failover", failover_cmd),
];

/// CLUSTER REPLICATE <master-id>: become a replica of that master.
fn replicate(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    let unknown = || RedisError::err(format!("Unknown node {}", args::text(&argv[2])));
    let id = parse_id(&argv[2]).ok_or_else(unknown)?;
    let empty = ctx.ks().db(0).is_empty();
    let actions = cl.with(&ctx.srv.config, |st| {
        let Some(n) = st.nodes.get(&id) else {
            return Err(unknown());
        };
        if id == st.myself {
            return Err(RedisError::err("Can't replicate myself"));
        }
        if n.flags.replica {
            return Err(RedisError::err(
                "I can only replicate a master, not a replica.",
            ));
        }
        let me = st.me();
        if me.is_master() && (me.slots.count() != 0 || !empty) {
            return Err(RedisError::err(
                "To set a master the node must be empty and without assigned slots.",
            ));
        }
        let mut out = Vec::new();
        failover::set_master(st, id, &mut out);
        Ok(out)
    })?;
    link::perform(ctx.srv, actions, None);
    Ok(Reply::OK)
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER]: start a manual failover on a replica.
fn failover_cmd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cl = cluster(ctx)?;
    let mode =
        match argv.get(2) {
            _ if argv.len() > 3 => return Err(RedisError::err(
                "Unknown subcommand or wrong number of arguments for 'failover'. Try CLUSTER HELP.",
            )),
            None => Mode::Default,
            Some(a) if args::is(a, "FORCE") => Mode::Force,
            Some(a) if args::is(a, "TAKEOVER") => Mode::Takeover,
            Some(_) => return Err(RedisError::Syntax),
        };
    let s = link::settings(ctx.srv);
    let now = ctx.now_ms;
    let actions = cl
        .with(&ctx.srv.config, |st| {
            failover::manual_failover(st, &s, mode, now)
        })
        .map_err(RedisError::raw)?;
    link::perform(ctx.srv, actions, None);
    Ok(Reply::OK)
}
