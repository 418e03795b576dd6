//! The spatial part of a project index: a packed R-tree over the boxes' earth-centred
//! positions, walked nearest first.
//!
//! rstar's bulk load (sort-tile-recursive on longitude and latitude, where the boxes lie on a
//! surface it partitions evenly) decides which boxes go together; the tree is then stored as
//! one array of 32-byte nodes, each node's children side by side, with three-dimensional
//! envelopes in `f32` rounded outwards. A query reads a few contiguous cache lines per level
//! instead of chasing a pointer to a vector of 72-byte rstar nodes, which is what made the
//! walk wait on memory (docs/PERFORMANCE.md).

use crate::domain::Coord;
use rstar::primitives::GeomWithData;
use rstar::{RStarInsertionStrategy, RTree, RTreeNode, RTreeParams};
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// How boxes are grouped: rstar's bulk load with nodes of 6 to 16 entries. The lowest nodes
/// become buckets (runs of boxes scanned together), the others the tree above them.
struct GroupingParams;

impl RTreeParams for GroupingParams {
    const MIN_SIZE: usize = 6;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 3;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// Marks a node whose `start..end` are box positions rather than child nodes.
const BUCKET: u32 = 1 << 31;

/// A node: its envelope and what is under it, `start..end` (child nodes, or boxes when
/// `end` carries [`BUCKET`]).
#[derive(Debug, Clone, Copy)]
struct Node {
    min: [f32; 3],
    max: [f32; 3],
    start: u32,
    end: u32,
}

impl Node {
    /// The least squared distance from `q` to anything inside the envelope.
    fn distance2(&self, q: [f64; 3]) -> f64 {
        let mut d2 = 0.0;
        for ((&lo, &hi), &x) in self.min.iter().zip(&self.max).zip(&q) {
            let d = (f64::from(lo) - x).max(x - f64::from(hi)).max(0.0);
            d2 += d * d;
        }
        d2
    }

    fn bucket(&self) -> Option<(u32, u32)> {
        (self.end & BUCKET != 0).then_some((self.start, self.end & !BUCKET))
    }
}

/// An `f32` no greater than `x`.
fn round_down(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x { f.next_down() } else { f }
}

/// An `f32` no less than `x`.
fn round_up(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x { f.next_up() } else { f }
}

/// The squared straight-line distance between two earth-centred points.
fn distance2(a: [f64; 3], b: [f64; 3]) -> f64 {
    let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    dx * dx + dy * dy + dz * dz
}

#[derive(Debug, Default)]
pub struct Tree {
    /// Breadth first from the root, `nodes[0]`.
    nodes: Vec<Node>,
}

/// A built tree with the order it keeps the boxes in.
pub struct Built {
    pub tree: Tree,
    /// Position of each stored box in the input, in storage order.
    pub order: Vec<u32>,
    /// Earth-centred position of each stored box, in storage order.
    pub points: Vec<[f64; 3]>,
}

impl Tree {
    /// Builds the tree over `coords`; boxes are to be stored in the returned order.
    pub fn build(coords: &[Coord]) -> Built {
        let mut built = Built {
            tree: Tree::default(),
            order: Vec::with_capacity(coords.len()),
            points: Vec::with_capacity(coords.len()),
        };
        if coords.is_empty() {
            return built;
        }
        let leaves: Vec<_> = coords
            .iter()
            .enumerate()
            .map(|(i, c)| GeomWithData::new([c.lon(), c.lat()], i as u32))
            .collect();
        let grouping: RTree<_, GroupingParams> = RTree::bulk_load_with_params(leaves);
        let nodes = &mut built.tree.nodes;
        let empty = Node {
            min: [f32::INFINITY; 3],
            max: [f32::NEG_INFINITY; 3],
            start: 0,
            end: 0,
        };
        nodes.push(empty);
        // Breadth first, so that every node's children are allocated side by side.
        let mut queue = VecDeque::from([(0usize, grouping.root())]);
        while let Some((at, parent)) = queue.pop_front() {
            let children = parent.children();
            // Bulk loading puts every leaf at one depth: a node holds leaves only or none.
            if children.iter().any(|c| matches!(c, RTreeNode::Leaf(_))) {
                let start = built.order.len() as u32;
                for child in children {
                    if let RTreeNode::Leaf(leaf) = child {
                        built.order.push(leaf.data);
                        built.points.push(coords[leaf.data as usize].ecef());
                    }
                }
                let end = built.order.len() as u32;
                let node = &mut nodes[at];
                (node.start, node.end) = (start, end | BUCKET);
                for p in &built.points[start as usize..] {
                    for ((lo, hi), &x) in node.min.iter_mut().zip(&mut node.max).zip(p) {
                        *lo = lo.min(round_down(x));
                        *hi = hi.max(round_up(x));
                    }
                }
            } else {
                let start = nodes.len();
                for child in children {
                    if let RTreeNode::Parent(p) = child {
                        queue.push_back((nodes.len(), p));
                        nodes.push(empty);
                    }
                }
                (nodes[at].start, nodes[at].end) = (start as u32, nodes.len() as u32);
            }
        }
        assert!(
            built.order.len() < BUCKET as usize,
            "a project holds fewer than 2^31 boxes"
        );
        // Children come after their parent: envelopes are unions from the last node back.
        for at in (0..nodes.len()).rev() {
            let node = nodes[at];
            if node.bucket().is_none() {
                let (mut min, mut max) = (node.min, node.max);
                for child in &nodes[node.start as usize..node.end as usize] {
                    for axis in 0..3 {
                        min[axis] = min[axis].min(child.min[axis]);
                        max[axis] = max[axis].max(child.max[axis]);
                    }
                }
                (nodes[at].min, nodes[at].max) = (min, max);
            }
        }
        built
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn memory_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
    }

    /// Boxes within `cut2` (squared chord) of `q`, nearest first, as (storage position,
    /// squared chord): a best-first walk that never queues what lies beyond the cut, so its
    /// queue stays a few dozen entries. `points` are the boxes' positions in storage order.
    ///
    /// `cut2` may shrink while the walk goes on (once the best `limit` are found, nothing
    /// farther than the worst of them matters); what lies beyond it is never queued again.
    pub fn nearest<'a>(
        &'a self,
        points: &'a [[f64; 3]],
        q: [f64; 3],
        cut2: &'a Cell<f64>,
    ) -> impl Iterator<Item = (u32, f64)> + 'a {
        let mut queue: BinaryHeap<Step> = BinaryHeap::with_capacity(64);
        if let Some(root) = self.nodes.first() {
            queue.push(Step {
                chord2: root.distance2(q),
                at: 0,
                is_box: false,
            });
        }
        std::iter::from_fn(move || {
            while let Some(step) = queue.pop() {
                let cut2 = cut2.get();
                if step.chord2 > cut2 {
                    // Everything still queued is at least this far.
                    return None;
                }
                if step.is_box {
                    return Some((step.at, step.chord2));
                }
                let node = &self.nodes[step.at as usize];
                match node.bucket() {
                    Some((start, end)) => {
                        for at in start..end {
                            let chord2 = distance2(points[at as usize], q);
                            if chord2 <= cut2 {
                                queue.push(Step {
                                    chord2,
                                    at,
                                    is_box: true,
                                });
                            }
                        }
                    }
                    None => {
                        for at in node.start..node.end {
                            let chord2 = self.nodes[at as usize].distance2(q);
                            if chord2 <= cut2 {
                                queue.push(Step {
                                    chord2,
                                    at,
                                    is_box: false,
                                });
                            }
                        }
                    }
                }
            }
            None
        })
    }
}

/// A step of the walk: a node or a box, with the least squared chord from the query to
/// anything under it.
#[derive(Debug, Clone, Copy)]
struct Step {
    chord2: f64,
    at: u32,
    is_box: bool,
}

impl PartialEq for Step {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Step {}

impl PartialOrd for Step {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Step {
    /// Reversed, so that `BinaryHeap` pops the nearest first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.chord2.total_cmp(&self.chord2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_rounded_outwards() {
        for x in [6_378_137.0, -4_000_000.123_456, 0.1, -0.1, 1e-40] {
            assert!(f64::from(round_down(x)) <= x && f64::from(round_up(x)) >= x);
        }
    }

    #[test]
    fn the_walk_yields_every_box_within_the_cut_nearest_first() {
        // A grid around the antimeridian near the equator, deep enough for several levels.
        let coords: Vec<Coord> = (0..4000)
            .map(|i| {
                let lon = 179.99 + (i % 80) as f64 * 0.0003;
                let lon = if lon > 180.0 { lon - 360.0 } else { lon };
                Coord::parse(-0.01 + (i / 80) as f64 * 0.0004, lon).unwrap()
            })
            .collect();
        let built = Tree::build(&coords);
        assert_eq!(built.order.len(), coords.len());
        let q = Coord::parse(0.0, 180.0).unwrap().ecef();
        let cut = 600.0;
        let mut expected: Vec<f64> = built
            .points
            .iter()
            .map(|&p| distance2(p, q))
            .filter(|&d2| d2 <= cut * cut)
            .collect();
        expected.sort_by(f64::total_cmp);
        let cell = Cell::new(cut * cut);
        let found: Vec<f64> = built
            .tree
            .nearest(&built.points, q, &cell)
            .map(|(_, d2)| d2)
            .collect();
        assert!(expected.len() > 50);
        assert_eq!(found, expected);
    }
}
