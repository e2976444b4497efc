//! The resolver's cache of resolved objects, bounded by bytes.

use std::collections::HashMap;
use std::rc::Rc;

use crate::git::object::ObjectKind;

/// Bytes the resolver keeps of resolved objects, for delta chains.
const CACHE_BYTES: usize = 8 << 20;

/// Resolved objects by pack offset, evicted oldest first past a byte
/// budget; the last one resolved is kept whatever its size, so a windowed
/// read stopped between a base and its delta resumes from the base.
#[derive(Default)]
pub(super) struct ResolvedCache {
    map: HashMap<usize, (ObjectKind, Rc<Vec<u8>>)>,
    order: std::collections::VecDeque<usize>,
    bytes: usize,
    last: Option<(usize, ObjectKind, Rc<Vec<u8>>)>,
}

impl ResolvedCache {
    pub(super) fn get(&self, offset: usize) -> Option<(ObjectKind, Rc<Vec<u8>>)> {
        if let Some((at, k, b)) = &self.last {
            if *at == offset {
                return Some((*k, Rc::clone(b)));
            }
        }
        self.map.get(&offset).map(|(k, b)| (*k, Rc::clone(b)))
    }

    /// Drops the hold on the object at `offset` as the last resolved
    /// (what the budget keeps stays).
    pub(super) fn let_go(&mut self, offset: usize) {
        if self.last.as_ref().is_some_and(|(at, ..)| *at == offset) {
            self.last = None;
        }
    }

    pub(super) fn put(&mut self, offset: usize, kind: ObjectKind, body: Rc<Vec<u8>>) {
        self.last = Some((offset, kind, Rc::clone(&body)));
        if body.len() > CACHE_BYTES || self.map.contains_key(&offset) {
            return;
        }
        self.bytes += body.len();
        self.map.insert(offset, (kind, body));
        self.order.push_back(offset);
        while self.bytes > CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, b)) = self.map.remove(&old) {
                self.bytes -= b.len();
            }
        }
    }
}
