//! The index of one project: an R-tree of its boxes with what a query needs of each.

use super::arena::{StrArena, StrRef};
use crate::domain::Coord;
use crate::domain::feasibility::Stage;
use crate::domain::geodesy::{round_cm, within_radius};
use crate::domain::network::BoxStatus;
use rstar::primitives::GeomWithData;
use rstar::{AABB, RTree};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

type Leaf = GeomWithData<[f64; 3], u32>;

/// A box as the index keeps it.
#[derive(Debug)]
struct BoxEntry {
    coord: Coord,
    id: StrRef,
    name: StrRef,
    /// Index into `tagsets`.
    tagset: u32,
    /// The box's attendance splitters: `splitters[first..first + count]`, in id order.
    first_splitter: u32,
    splitter_count: u16,
    status: BoxStatus,
}

#[derive(Debug)]
struct SplitterEntry {
    id: StrRef,
    /// `ports - used - holds`, clamped at 0; updated in place when holds change.
    free: AtomicU32,
}

/// One candidate box found by a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub box_id: String,
    pub project: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    /// Rounded to the centimetre.
    pub distance_m: f64,
    pub free_ports: u32,
    /// Attendance splitters with free ports, in id order.
    pub splitters: Vec<(String, u32)>,
}

/// What one project contributes to a query.
#[derive(Debug, Default)]
pub struct ProjectHits {
    pub candidates: Vec<Candidate>,
    pub furthest: Option<Stage>,
}

/// The immutable spatial part of one project, with mutable free-port counts.
#[derive(Debug)]
pub struct ProjectIndex {
    project: String,
    tree: RTree<Leaf>,
    /// Sorted by box id (the store loads them in that order).
    boxes: Vec<BoxEntry>,
    splitters: Vec<SplitterEntry>,
    tagsets: Vec<Box<[u32]>>,
    tag_ids: HashMap<Box<str>, u32>,
    strings: StrArena,
}

/// How much shorter than the geodesic the chord between two points at most `distance_m`
/// apart can be: about d³/24ρ² with ρ ≥ 6 300 km the smallest radius of curvature of WGS84,
/// doubled for safety, plus a centimetre. A box whose chord is shorter than the radius by
/// more than this is inside without computing its geodesic.
fn chord_shortfall_bound(distance_m: f64) -> f64 {
    const RHO_MIN: f64 = 6_300_000.0;
    distance_m.powi(3) / (12.0 * RHO_MIN * RHO_MIN) + 0.01
}

/// Collects one project's boxes (in id order) and builds its index.
#[derive(Debug)]
pub struct ProjectBuilder {
    project: String,
    boxes: Vec<BoxEntry>,
    splitters: Vec<SplitterEntry>,
    tagsets: Vec<Box<[u32]>>,
    tagset_ids: HashMap<Box<[u32]>, u32>,
    tag_ids: HashMap<Box<str>, u32>,
    strings: StrArena,
}

impl ProjectBuilder {
    pub fn new(project: &str) -> Self {
        Self {
            project: project.to_owned(),
            boxes: Vec::new(),
            splitters: Vec::new(),
            tagsets: Vec::new(),
            tagset_ids: HashMap::new(),
            tag_ids: HashMap::new(),
            strings: StrArena::default(),
        }
    }

    /// Adds a box; boxes must come in ascending id order. `region_tags` are the tags of the
    /// project's regions that cover the box.
    pub fn push_box(
        &mut self,
        id: &str,
        name: &str,
        coord: Coord,
        status: BoxStatus,
        region_tags: &[String],
    ) {
        debug_assert!(
            self.boxes
                .last()
                .is_none_or(|b| self.strings.get(b.id) < id),
            "boxes out of order"
        );
        let mut tags: Vec<u32> = region_tags
            .iter()
            .map(|t| {
                let next = self.tag_ids.len() as u32;
                *self.tag_ids.entry(t.as_str().into()).or_insert(next)
            })
            .collect();
        tags.sort_unstable();
        tags.dedup();
        let tags: Box<[u32]> = tags.into();
        let tagset = match self.tagset_ids.get(&tags) {
            Some(&i) => i,
            None => {
                let i = self.tagsets.len() as u32;
                self.tagsets.push(tags.clone());
                self.tagset_ids.insert(tags, i);
                i
            }
        };
        let entry = BoxEntry {
            coord,
            id: self.strings.push(id),
            name: self.strings.push(name),
            tagset,
            first_splitter: self.splitters.len() as u32,
            splitter_count: 0,
            status,
        };
        self.boxes.push(entry);
    }

    /// Adds an attendance splitter to the last box; splitters must come in id order.
    pub fn push_splitter(&mut self, id: &str, free: u32) {
        let b = self.boxes.last_mut().expect("a splitter follows its box");
        b.splitter_count += 1;
        let id = self.strings.push(id);
        self.splitters.push(SplitterEntry {
            id,
            free: AtomicU32::new(free),
        });
    }

    pub fn build(mut self) -> ProjectIndex {
        let leaves: Vec<Leaf> = self
            .boxes
            .iter()
            .enumerate()
            .map(|(i, b)| GeomWithData::new(b.coord.ecef(), i as u32))
            .collect();
        self.boxes.shrink_to_fit();
        self.splitters.shrink_to_fit();
        self.strings.shrink();
        ProjectIndex {
            project: self.project,
            tree: RTree::bulk_load(leaves),
            boxes: self.boxes,
            splitters: self.splitters,
            tagsets: self.tagsets,
            tag_ids: self.tag_ids,
            strings: self.strings,
        }
    }
}

impl ProjectIndex {
    pub fn project(&self) -> &str {
        &self.project
    }

    pub fn len(&self) -> usize {
        self.boxes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }

    /// Bytes held by this index (approximate: vectors by capacity, tree by node count).
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let leaves = self.tree.size() * size_of::<Leaf>();
        // Parent nodes: about one per six leaves at rstar's default fan-out, each an AABB
        // and a vector header.
        let parents = self.tree.size().div_ceil(6) * (size_of::<AABB<[f64; 3]>>() + 24);
        leaves
            + parents
            + self.boxes.capacity() * size_of::<BoxEntry>()
            + self.splitters.capacity() * size_of::<SplitterEntry>()
            + self.tagsets.iter().map(|t| t.len() * 4 + 16).sum::<usize>()
            + self.tag_ids.keys().map(|k| k.len() + 32).sum::<usize>()
            + self.strings.bytes()
    }

    fn box_index(&self, box_id: &str) -> Option<usize> {
        self.boxes
            .binary_search_by(|b| self.strings.get(b.id).cmp(box_id))
            .ok()
    }

    /// Sets the free ports of one splitter (after its holds or inventory changed in the
    /// store). Returns false when the index does not know the splitter.
    pub fn set_free(&self, box_id: &str, splitter_id: &str, free: u32) -> bool {
        let Some(b) = self.box_index(box_id).map(|i| &self.boxes[i]) else {
            return false;
        };
        let range =
            b.first_splitter as usize..b.first_splitter as usize + b.splitter_count as usize;
        match self.splitters[range]
            .iter()
            .find(|s| self.strings.get(s.id) == splitter_id)
        {
            Some(s) => {
                s.free.store(free, Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// Tag ids of this project for the tags in force (unknown tags match nothing here).
    /// `None` means no tag restriction.
    fn tag_filter(&self, tags: &[String]) -> Option<Vec<u32>> {
        if tags.is_empty() {
            return None;
        }
        let mut ids: Vec<u32> = tags
            .iter()
            .filter_map(|t| self.tag_ids.get(t.as_str()).copied())
            .collect();
        ids.sort_unstable();
        Some(ids)
    }

    /// The feasibility query in this project: walks boxes nearest first and stops at the
    /// radius, or as soon as no further box could enter the best `limit`.
    pub fn query(&self, at: Coord, radius_m: f64, tags: &[String], limit: usize) -> ProjectHits {
        let mut hits = ProjectHits::default();
        let q = at.ecef();
        // Chords never exceed geodesics: cutting the chord at the radius loses nothing.
        let cut = radius_m + crate::domain::geodesy::RADIUS_TOLERANCE_M;
        let cut2 = cut * cut;
        if self.tree.size() == 0 || self.tree.root().envelope().distance_2(&q) > cut2 {
            return hits;
        }
        let filter = self.tag_filter(tags);
        let sure_margin = chord_shortfall_bound(radius_m);
        let mut kept: Vec<(f64, u32)> = Vec::with_capacity(limit + 1);
        for (leaf, chord2) in self.tree.nearest_neighbor_iter_with_distance_2(q) {
            if chord2 > cut2 {
                break;
            }
            if kept.len() == limit {
                // A later box is at least its chord away; once the chord passes the worst kept
                // distance (as rounded, plus half a centimetre), it cannot rank before it.
                let worst = kept[limit - 1].0;
                if chord2.sqrt() > worst + 0.006 {
                    break;
                }
            }
            let b = &self.boxes[leaf.data as usize];
            let stage = self.stage(b, filter.as_deref());
            if stage == Stage::Candidate {
                let distance = at.distance_m(b.coord);
                if within_radius(distance, radius_m) {
                    hits.furthest = Some(Stage::Candidate);
                    self.keep(&mut kept, leaf.data, round_cm(distance), limit);
                }
            } else if hits.furthest < Some(stage) {
                // This box can only tell how far the search got; its exact distance matters
                // only near the edge of the radius.
                let inside = chord2.sqrt() + sure_margin <= radius_m
                    || within_radius(at.distance_m(b.coord), radius_m);
                if inside {
                    hits.furthest = Some(stage);
                }
            }
        }
        hits.candidates = kept
            .into_iter()
            .map(|(d, i)| self.candidate(&self.boxes[i as usize], d))
            .collect();
        hits
    }

    /// The feasibility rule for one box: the candidate, or the stage it stopped at
    /// (`None`: outside the radius). `None` overall when the project has no such box.
    pub fn evaluate(
        &self,
        box_id: &str,
        at: Coord,
        radius_m: f64,
        tags: &[String],
    ) -> Option<Result<Candidate, Option<Stage>>> {
        let b = &self.boxes[self.box_index(box_id)?];
        let distance = at.distance_m(b.coord);
        if !within_radius(distance, radius_m) {
            return Some(Err(None));
        }
        let filter = self.tag_filter(tags);
        match self.stage(b, filter.as_deref()) {
            Stage::Candidate => Some(Ok(self.candidate(b, round_cm(distance)))),
            stage => Some(Err(Some(stage))),
        }
    }

    fn stage(&self, b: &BoxEntry, filter: Option<&[u32]>) -> Stage {
        if b.status != BoxStatus::Deployed {
            return Stage::InRadius;
        }
        if let Some(wanted) = filter {
            let have = &self.tagsets[b.tagset as usize];
            if !have.iter().any(|t| wanted.binary_search(t).is_ok()) {
                return Stage::Deployed;
            }
        }
        if self
            .box_splitters(b)
            .all(|s| s.free.load(Ordering::Acquire) == 0)
        {
            return Stage::InPlanRegion;
        }
        Stage::Candidate
    }

    fn box_splitters(&self, b: &BoxEntry) -> impl Iterator<Item = &SplitterEntry> {
        let start = b.first_splitter as usize;
        self.splitters[start..start + b.splitter_count as usize].iter()
    }

    /// Inserts a candidate (distance, box index) in (distance, box id) order, keeping at
    /// most `limit`. Candidates are only materialised once the walk is over.
    fn keep(&self, kept: &mut Vec<(f64, u32)>, index: u32, distance_m: f64, limit: usize) {
        let id = self.strings.get(self.boxes[index as usize].id);
        let pos = kept.partition_point(|&(d, i)| {
            (d, self.strings.get(self.boxes[i as usize].id)) < (distance_m, id)
        });
        if pos < limit {
            kept.insert(pos, (distance_m, index));
            kept.truncate(limit);
        }
    }

    /// A box as a candidate of an answer, with its attendance splitters that have free ports.
    fn candidate(&self, b: &BoxEntry, distance_m: f64) -> Candidate {
        let splitters: Vec<(String, u32)> = self
            .box_splitters(b)
            .map(|s| {
                (
                    self.strings.get(s.id).to_owned(),
                    s.free.load(Ordering::Acquire),
                )
            })
            .filter(|(_, free)| *free > 0)
            .collect();
        Candidate {
            box_id: self.strings.get(b.id).to_owned(),
            project: self.project.clone(),
            name: self.strings.get(b.name).to_owned(),
            lat: b.coord.lat(),
            lon: b.coord.lon(),
            distance_m,
            free_ports: splitters.iter().map(|(_, f)| f).sum(),
            splitters,
        }
    }
}
