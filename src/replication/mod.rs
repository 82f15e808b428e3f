//! Replication. This first part is the primary side of a full
//! synchronisation (SYNC / PSYNC answered with +FULLRESYNC): an RDB
//! snapshot taken at an exact point of the write stream, followed by that
//! stream. Partial resync, the backlog and the replica side come with the
//! replication work (issue 6).

pub mod primary;
