//! List values. Redis 7.0 reports every list as `quicklist`.

use std::collections::VecDeque;

/// A list of byte strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListValue {
    pub items: VecDeque<Box<[u8]>>,
}

impl ListValue {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }
}
