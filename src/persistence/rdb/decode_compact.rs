//! Values saved in an embedded compact encoding (RDB types 9–19): the
//! ziplist/listpack/intset/zipmap blobs Redis writes for small
//! collections, and the quicklists it writes for lists. Redis 7.0 writes
//! types 11, 16, 17 and 18; the others come from older versions and are
//! still loaded, as Redis 7.0 loads them.

use super::build;
use super::compact;
use super::decode::Reader;
use super::{rtype, RdbError};
use crate::types::Value;

/// Quicklist-2 node containers.
const NODE_PLAIN: u64 = 1;
const NODE_PACKED: u64 = 2;

pub fn read_compact(r: &mut Reader, t: u8) -> Result<Value, RdbError> {
    let lim = r.limits();
    match t {
        rtype::HASH_ZIPMAP => build::hash(compact::zipmap(&r.string()?)?, &lim),
        rtype::LIST_ZIPLIST => build::list(compact::ziplist(&r.string()?)?),
        rtype::SET_INTSET => build::intset(compact::intset(&r.string()?)?, &lim),
        rtype::ZSET_ZIPLIST => build::zset_flat(compact::ziplist(&r.string()?)?, &lim),
        rtype::HASH_ZIPLIST => build::hash_flat(compact::ziplist(&r.string()?)?, &lim),
        rtype::HASH_LISTPACK => build::hash_flat(compact::listpack(&r.string()?)?, &lim),
        rtype::ZSET_LISTPACK => build::zset_flat(compact::listpack(&r.string()?)?, &lim),
        rtype::LIST_QUICKLIST => quicklist(r),
        rtype::LIST_QUICKLIST_2 => quicklist2(r),
        rtype::MODULE | rtype::MODULE_2 => Err(RdbError::Unsupported("module")),
        rtype::STREAM_LISTPACKS | rtype::STREAM_LISTPACKS_2 => Err(RdbError::Unsupported("stream")),
        other => Err(RdbError::UnknownType(other)),
    }
}

/// Type 14: a count of nodes, each a ziplist. Empty nodes are skipped.
fn quicklist(r: &mut Reader) -> Result<Value, RdbError> {
    let nodes = r.length()?;
    let mut items = Vec::new();
    for _ in 0..nodes {
        items.extend(compact::ziplist(&r.string()?)?);
    }
    build::list(items)
}

/// Type 18: nodes of (container, blob); PLAIN holds one large element,
/// PACKED a listpack.
fn quicklist2(r: &mut Reader) -> Result<Value, RdbError> {
    let nodes = r.length()?;
    let mut items = Vec::new();
    for _ in 0..nodes {
        match r.length()? {
            NODE_PLAIN => items.push(r.string()?),
            NODE_PACKED => items.extend(compact::listpack(&r.string()?)?),
            _ => return Err(RdbError::Corrupt("Quicklist integrity check failed")),
        }
    }
    build::list(items)
}
