//! Redis Cluster support (cluster mode, issue 4): the cluster bus codec and
//! the nodes.conf codec; the state machine, links and commands join later.

pub mod bus;
pub mod nodes_conf;
