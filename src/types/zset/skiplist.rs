//! The large sorted-set encoding (`skiplist` in OBJECT ENCODING): an
//! index-based skiplist with spans (order statistics: rank ↔ element in
//! O(log n)) plus a member → node hash index (ZSCORE in O(1)).
//!
//! Nodes live in one arena `Vec`; links are `u32` indexes, so there is no
//! unsafe code and no per-node pointer pair. The hash index stores only the
//! node index and hashes the member it points to, so each member's bytes are
//! stored once. Freed slots are recycled through a free list; a live node
//! never moves, which makes the arena index a stable ZSCAN cursor.

use hashbrown::HashTable;

use crate::util::hasher::hash_one;

const NIL: u32 = u32::MAX;
const FREE: u32 = u32::MAX - 1;
const HEAD: u32 = 0;
const MAX_LEVEL: usize = 32;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Link {
    next: u32,
    /// Number of rank steps this link jumps over.
    span: u32,
}

#[derive(Clone, Debug)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    /// Previous node (NIL for the first); FREE marks a recycled slot.
    back: u32,
    /// Level-0 successor. Its span is always 1, so it is not stored.
    next0: u32,
    /// Levels 1.. (three nodes in four have none: no allocation).
    upper: Option<Box<[Link]>>,
}

impl Node {
    fn is_free(&self) -> bool {
        self.back == FREE
    }
}

/// Does (s1, m1) sort before (s2, m2)? Scores first, then member bytes.
fn less(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> bool {
    s1 < s2 || (s1 == s2 && m1 < m2)
}

/// The skiplist + hash index.
#[derive(Clone)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    index: HashTable<u32>,
    level: usize,
    len: usize,
    tail: u32,
    rng: u64,
}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter_range(0, self.len, false))
            .finish()
    }
}

impl PartialEq for SkipList {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && self
                .iter_range(0, self.len, false)
                .eq(other.iter_range(0, other.len, false))
    }
}

impl Default for SkipList {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl SkipList {
    pub fn with_capacity(n: usize) -> SkipList {
        let mut nodes = Vec::with_capacity(n + 1);
        nodes.push(Node {
            member: Box::default(),
            score: 0.0,
            back: NIL,
            next0: NIL,
            upper: Some(vec![Link { next: NIL, span: 0 }; MAX_LEVEL - 1].into_boxed_slice()),
        });
        SkipList {
            nodes,
            free: Vec::new(),
            index: HashTable::with_capacity(n),
            level: 1,
            len: 0,
            tail: NIL,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn hash(&self, m: &[u8]) -> u64 {
        hash_one(m)
    }

    fn find(&self, m: &[u8]) -> Option<u32> {
        let nodes = &self.nodes;
        self.index
            .find(self.hash(m), |&i| &*nodes[i as usize].member == m)
            .copied()
    }

    /// The score of `m` in O(1).
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.find(m).map(|i| self.nodes[i as usize].score)
    }

    /// Geometric level with p = 1/4, as Redis's skiplists.
    fn random_level(&mut self) -> usize {
        let mut lvl = 1;
        loop {
            // xorshift64: cheap and good enough for level choice.
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            if lvl >= MAX_LEVEL || (self.rng & 0xFFFF) >= 0x4000 {
                return lvl;
            }
            lvl += 1;
        }
    }

    fn link(&self, x: u32, i: usize) -> Link {
        let n = &self.nodes[x as usize];
        match (i, &n.upper) {
            (0, _) => Link {
                next: n.next0,
                span: 1,
            },
            (_, Some(u)) => u[i - 1],
            (_, None) => unreachable!("level {i} above the node's height"),
        }
    }

    fn set_link(&mut self, x: u32, i: usize, l: Link) {
        let n = &mut self.nodes[x as usize];
        match (i, &mut n.upper) {
            (0, _) => n.next0 = l.next,
            (_, Some(u)) => u[i - 1] = l,
            (_, None) => unreachable!("level {i} above the node's height"),
        }
    }

    /// Adjust the span of link `i` of `x` (level 0 spans are implicit).
    fn add_span(&mut self, x: u32, i: usize, delta: i32) {
        if i > 0 {
            let l = self.link(x, i);
            self.set_link(
                x,
                i,
                Link {
                    next: l.next,
                    span: l.span.wrapping_add_signed(delta),
                },
            );
        }
    }

    /// Is node `x` strictly before (score, member)?
    fn node_before(&self, x: u32, score: f64, m: &[u8]) -> bool {
        let n = &self.nodes[x as usize];
        less(n.score, &n.member, score, m)
    }

    /// Per level, the last node before (score, m) and its 1-based rank.
    fn path(&self, score: f64, m: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            loop {
                let l = self.link(x, i);
                if l.next != NIL && self.node_before(l.next, score, m) {
                    rank[i] += l.span;
                    x = l.next;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        (update, rank)
    }

    fn alloc(&mut self, member: Box<[u8]>, score: f64, lvl: usize) -> u32 {
        let node = Node {
            member,
            score,
            back: NIL,
            next0: NIL,
            upper: (lvl > 1).then(|| vec![Link::default(); lvl - 1].into_boxed_slice()),
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Link a new node into the list (not into the hash index).
    fn insert_node(&mut self, member: Box<[u8]>, score: f64) -> u32 {
        let (mut update, mut rank) = self.path(score, &member);
        let lvl = self.random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.set_link(
                    HEAD,
                    i,
                    Link {
                        next: NIL,
                        span: self.len as u32,
                    },
                );
            }
            self.level = lvl;
        }
        let x = self.alloc(member, score, lvl);
        for i in 0..lvl {
            let u = self.link(update[i], i);
            let before = rank[0] - rank[i];
            self.set_link(
                x,
                i,
                Link {
                    next: u.next,
                    span: u.span - before,
                },
            );
            self.set_link(
                update[i],
                i,
                Link {
                    next: x,
                    span: before + 1,
                },
            );
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.add_span(u, i, 1);
        }
        self.nodes[x as usize].back = if update[0] == HEAD { NIL } else { update[0] };
        match self.link(x, 0).next {
            NIL => self.tail = x,
            n => self.nodes[n as usize].back = x,
        }
        self.len += 1;
        x
    }

    /// Unlink node `x` (found at (score, m)) from the list; the slot stays
    /// allocated until `release`.
    fn unlink(&mut self, x: u32) {
        let n = &self.nodes[x as usize];
        let (update, _) = self.path(n.score, &n.member);
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.link(u, i);
            if ul.next == x {
                let xl = self.link(x, i);
                self.set_link(
                    u,
                    i,
                    Link {
                        next: xl.next,
                        span: ul.span + xl.span - 1,
                    },
                );
            } else {
                self.add_span(u, i, -1);
            }
        }
        let back = self.nodes[x as usize].back;
        match self.link(x, 0).next {
            NIL => self.tail = back,
            n => self.nodes[n as usize].back = back,
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).next == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    /// Free an unlinked slot, returning its member.
    fn release(&mut self, x: u32) -> Box<[u8]> {
        let n = &mut self.nodes[x as usize];
        n.upper = None;
        n.back = FREE;
        self.free.push(x);
        std::mem::take(&mut n.member)
    }

    /// Insert a member that is not present.
    pub fn insert_new(&mut self, member: Box<[u8]>, score: f64) {
        let h = self.hash(&member);
        let x = self.insert_node(member, score);
        let nodes = &self.nodes;
        self.index
            .insert_unique(h, x, |&i| hash_one(&*nodes[i as usize].member));
    }

    /// Change the score of a present member; returns false if absent.
    pub fn set_score(&mut self, m: &[u8], score: f64) -> bool {
        let Some(x) = self.find(m) else {
            return false;
        };
        let n = &self.nodes[x as usize];
        let back_ok = n.back == NIL || self.node_before(n.back, score, m);
        let next = n.next0;
        let next_ok = next == NIL || {
            let nn = &self.nodes[next as usize];
            less(score, m, nn.score, &nn.member)
        };
        if back_ok && next_ok {
            // Same position: update in place, as Redis does.
            self.nodes[x as usize].score = score;
            return true;
        }
        self.unlink(x);
        let member = self.release(x);
        let y = self.insert_node(member, score);
        if let Some(slot) = self.index.find_mut(hash_one(m), |&i| i == x) {
            *slot = y;
        }
        true
    }

    /// Remove a member; returns its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let h = self.hash(m);
        let x = self.find(m)?;
        let score = self.nodes[x as usize].score;
        self.unlink(x);
        if let Ok(e) = self.index.find_entry(h, |&i| i == x) {
            e.remove();
        }
        self.release(x);
        if self.free.len() > 64 && self.free.len() > 4 * self.len {
            self.compact();
        }
        Some(score)
    }

    /// 0-based rank of a member.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        let score = self.score(m)?;
        let mut x = HEAD;
        let mut rank = 0u32;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL
                    && !less(score, m, self.nodes[l.next as usize].score, {
                        &self.nodes[l.next as usize].member
                    })
                {
                    rank += l.span;
                    x = l.next;
                } else {
                    break;
                }
            }
            if x != HEAD && &*self.nodes[x as usize].member == m {
                return Some(rank as usize - 1);
            }
        }
        None
    }

    /// How many elements (a prefix of the order) satisfy `pred`.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0u32;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL {
                    break;
                }
                let n = &self.nodes[l.next as usize];
                if !pred(n.score, &n.member) {
                    break;
                }
                rank += l.span;
                x = l.next;
            }
        }
        rank as usize
    }

    /// Node at 0-based rank `r` (NIL when out of range).
    fn node_at(&self, r: usize) -> u32 {
        if r >= self.len {
            return NIL;
        }
        let target = r as u32 + 1;
        let mut x = HEAD;
        let mut traversed = 0u32;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL && traversed + l.span <= target {
                    traversed += l.span;
                    x = l.next;
                } else {
                    break;
                }
            }
            if traversed == target {
                return x;
            }
        }
        NIL
    }

    /// Elements with rank in `start..end`, ascending, or descending from
    /// `end - 1` when `rev`.
    pub fn iter_range(&self, start: usize, end: usize, rev: bool) -> Iter<'_> {
        let end = end.min(self.len);
        let remaining = end.saturating_sub(start);
        let cur = match (remaining, rev) {
            (0, _) => NIL,
            (_, false) => self.node_at(start),
            (_, true) => self.node_at(end - 1),
        };
        Iter {
            sl: self,
            cur,
            remaining,
            rev,
        }
    }

    /// ZSCAN: visit live nodes with arena index >= `cursor`, at most
    /// `count` of them; returns the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        let mut i = (cursor as usize).max(1);
        let mut seen = 0;
        while i < self.nodes.len() {
            let n = &self.nodes[i];
            i += 1;
            if !n.is_free() {
                f(&n.member, n.score);
                seen += 1;
                if seen >= count {
                    break;
                }
            }
        }
        if i >= self.nodes.len() {
            0
        } else {
            i as u64
        }
    }

    /// Rebuild the arena without holes once many slots are free.
    fn compact(&mut self) {
        let mut fresh = SkipList::with_capacity(self.len);
        fresh.rng = self.rng;
        for x in std::mem::take(&mut self.nodes).into_iter().skip(1) {
            if !x.is_free() {
                fresh.insert_new(x.member, x.score);
            }
        }
        *self = fresh;
    }
}

/// Iterator over a rank range.
pub struct Iter<'a> {
    sl: &'a SkipList,
    cur: u32,
    remaining: usize,
    rev: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 || self.cur == NIL {
            return None;
        }
        let n = &self.sl.nodes[self.cur as usize];
        self.remaining -= 1;
        self.cur = if self.rev { n.back } else { n.next0 };
        Some((&n.member, n.score))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}
