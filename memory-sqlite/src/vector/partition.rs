//! One partition's vectors in memory, the exact top-k scan over them, and
//! the part of a filter a partition leaves to check.

use std::cmp::Ordering;
use std::collections::HashMap;

use memory_core::filter::{Field, Filter};
use memory_core::{Op, VectorPayload};
use uuid::Uuid;

pub(super) type PartKey = (String, String, String);

#[derive(Debug, Default)]
pub(super) struct Partition {
    pub(super) epoch: i64,
    pub(super) dimension: usize,
    pub(super) ids: Vec<Uuid>,
    pub(super) payloads: Vec<VectorPayload>,
    pub(super) data: Vec<f32>,
    pub(super) slots: HashMap<Uuid, usize>,
}

impl Partition {
    pub(super) fn upsert(&mut self, id: Uuid, vector: &[f32], payload: VectorPayload) {
        match self.slots.get(&id) {
            Some(&i) => {
                self.data[i * self.dimension..(i + 1) * self.dimension].copy_from_slice(vector);
                self.payloads[i] = payload;
            }
            None => {
                self.slots.insert(id, self.ids.len());
                self.ids.push(id);
                self.payloads.push(payload);
                self.data.extend_from_slice(vector);
            }
        }
    }

    pub(super) fn remove(&mut self, id: &Uuid) {
        let Some(i) = self.slots.remove(id) else {
            return;
        };
        let last = self.ids.len() - 1;
        if i != last {
            let moved = self.ids[last];
            self.ids.swap(i, last);
            self.payloads.swap(i, last);
            let d = self.dimension;
            self.data.copy_within(last * d..(last + 1) * d, i * d);
            self.slots.insert(moved, i);
        }
        self.ids.pop();
        self.payloads.pop();
        self.data.truncate(last * self.dimension);
    }
}

/// The partition a payload belongs to.
pub(super) fn part_of(p: &VectorPayload) -> String {
    match &p.user_id {
        Some(u) => format!("u:{u}"),
        None => "-".to_owned(),
    }
}

#[derive(PartialEq)]
pub(super) struct Hit(pub(super) f32, pub(super) usize);
impl Eq for Hit {}
impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Hit {
    // Reversed, so the heap's top is the worst kept hit.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0)
    }
}

/// The filter left to evaluate once the partition already pins the user.
pub(super) fn residual(filter: &Filter, pinned: bool) -> Option<Filter> {
    let is_pin = |f: &Filter| matches!(f, Filter::Cond(c) if pinned && c.field == Field::UserId && c.op == Op::Eq);
    match filter {
        Filter::And(v) => {
            let rest: Vec<Filter> = v.iter().filter(|f| !is_pin(f)).cloned().collect();
            (!rest.is_empty()).then_some(Filter::And(rest))
        }
        f if is_pin(f) => None,
        f => Some(f.clone()),
    }
}
