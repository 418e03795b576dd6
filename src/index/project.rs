//! The index of one project: an R-tree of its boxes with what a query needs of each.

use super::arena::{StrArena, StrRef};
use super::tree::Tree;
use crate::domain::Coord;
use crate::domain::feasibility::Stage;
use crate::domain::geodesy::{round_cm, within_radius, within_radius_cm};
use crate::domain::network::BoxStatus;
use smallvec::SmallVec;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

mod coverage;

/// A box as the index keeps it.
#[derive(Debug, Clone, Copy)]
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

/// One candidate box found by a query. It points into the project's index (no strings are
/// copied to answer a query) and keeps the free ports as they were when it was found.
#[derive(Clone)]
pub struct Candidate {
    index: Arc<ProjectIndex>,
    /// Position in `index.boxes`.
    at: u32,
    /// Rounded to the centimetre.
    pub distance_m: f64,
    pub free_ports: u32,
    /// Attendance splitters with free ports, in id order: (position in `index.splitters`,
    /// free ports).
    splitters: SmallVec<[(u32, u32); 4]>,
}

impl Candidate {
    fn entry(&self) -> &BoxEntry {
        &self.index.boxes[self.at as usize]
    }

    pub fn box_id(&self) -> &str {
        self.index.strings.get(self.entry().id)
    }

    pub fn project(&self) -> &str {
        &self.index.project
    }

    pub fn name(&self) -> &str {
        self.index.strings.get(self.entry().name)
    }

    pub fn lat(&self) -> f64 {
        self.entry().coord.lat()
    }

    pub fn lon(&self) -> f64 {
        self.entry().coord.lon()
    }

    /// Ids of all the box's attendance splitters, full ones included, in id order.
    pub fn attendance_splitter_ids(&self) -> impl Iterator<Item = &str> {
        self.index
            .box_splitters(self.entry())
            .map(|s| self.index.strings.get(s.id))
    }

    /// Attendance splitters with free ports, in id order: (splitter id, free ports).
    pub fn splitters(&self) -> impl ExactSizeIterator<Item = (&str, u32)> {
        self.splitters.iter().map(|&(s, free)| {
            let id = self.index.splitters[s as usize].id;
            (self.index.strings.get(id), free)
        })
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.project() == other.project()
            && self.box_id() == other.box_id()
            && self.distance_m == other.distance_m
            && self.free_ports == other.free_ports
            && self.splitters().eq(other.splitters())
    }
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidate")
            .field("project", &self.project())
            .field("box_id", &self.box_id())
            .field("distance_m", &self.distance_m)
            .field("free_ports", &self.free_ports)
            .field("splitters", &self.splitters().collect::<Vec<_>>())
            .finish()
    }
}

/// A box as a map draws it.
#[derive(Debug, Clone, Copy)]
pub struct MapBox<'a> {
    pub id: &'a str,
    pub lat: f64,
    pub lon: f64,
    pub status: BoxStatus,
    /// Free ports of its attendance splitters.
    pub free_ports: u32,
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
    tree: Tree,
    /// In tree order; `points[i]` is `boxes[i]`'s earth-centred position.
    boxes: Vec<BoxEntry>,
    points: Vec<[f64; 3]>,
    /// Positions in `boxes`, sorted by box id.
    by_id: Vec<u32>,
    /// In box order, each box's attendance splitters together.
    splitters: Vec<SplitterEntry>,
    tagsets: Vec<Box<[u32]>>,
    tag_ids: HashMap<Box<str>, u32>,
    /// `tag_names[id]` is the tag of that id.
    tag_names: Vec<Box<str>>,
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

    pub fn build(self) -> ProjectIndex {
        let coords: Vec<Coord> = self.boxes.iter().map(|b| b.coord).collect();
        let built = Tree::build(&coords);
        let mut boxes = Vec::with_capacity(self.boxes.len());
        let mut splitters = Vec::with_capacity(self.splitters.len());
        // Box ids came in ascending order: position in the builder is rank by id.
        let mut by_id = vec![0u32; self.boxes.len()];
        // Strings are laid out again in tree order: a box's id, name and splitter ids share a
        // cache line or two, which a query reads right after the box.
        let mut strings = StrArena::with_capacity(self.strings.len());
        for &old in &built.order {
            let mut b = self.boxes[old as usize];
            let first = b.first_splitter as usize;
            b.first_splitter = splitters.len() as u32;
            b.id = strings.push(self.strings.get(b.id));
            b.name = strings.push(self.strings.get(b.name));
            for s in &self.splitters[first..first + b.splitter_count as usize] {
                splitters.push(SplitterEntry {
                    id: strings.push(self.strings.get(s.id)),
                    free: AtomicU32::new(s.free.load(Ordering::Relaxed)),
                });
            }
            by_id[old as usize] = boxes.len() as u32;
            boxes.push(b);
        }
        let mut tag_names: Vec<Box<str>> = vec![Box::from(""); self.tag_ids.len()];
        for (name, &id) in &self.tag_ids {
            tag_names[id as usize] = name.clone();
        }
        ProjectIndex {
            project: self.project,
            tree: built.tree,
            boxes,
            points: built.points,
            by_id,
            splitters,
            tagsets: self.tagsets,
            tag_ids: self.tag_ids,
            tag_names,
            strings,
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

    /// Bytes held by this index: vectors by capacity, hash maps approximately.
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.tree.memory_bytes()
            + self.boxes.capacity() * size_of::<BoxEntry>()
            + self.points.capacity() * size_of::<[f64; 3]>()
            + self.by_id.capacity() * size_of::<u32>()
            + self.splitters.capacity() * size_of::<SplitterEntry>()
            + self.tagsets.iter().map(|t| t.len() * 4 + 16).sum::<usize>()
            + self.tag_ids.keys().map(|k| k.len() + 32).sum::<usize>()
            + self.tag_names.iter().map(|k| k.len() + 16).sum::<usize>()
            + self.strings.bytes()
    }

    fn box_index(&self, box_id: &str) -> Option<usize> {
        self.by_id
            .binary_search_by(|&i| self.strings.get(self.boxes[i as usize].id).cmp(box_id))
            .ok()
            .map(|i| self.by_id[i] as usize)
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
    fn tag_filter(&self, tags: &[String]) -> Option<SmallVec<[u32; 4]>> {
        if tags.is_empty() {
            return None;
        }
        let mut ids: SmallVec<[u32; 4]> = tags
            .iter()
            .filter_map(|t| self.tag_ids.get(t.as_str()).copied())
            .collect();
        ids.sort_unstable();
        Some(ids)
    }

    /// The feasibility query in this project: walks boxes nearest first and stops at the
    /// radius, or as soon as no further box could enter the best `limit`.
    pub fn query(
        self: &Arc<Self>,
        at: Coord,
        radius_m: f64,
        tags: &[String],
        limit: usize,
    ) -> ProjectHits {
        let mut hits = ProjectHits::default();
        let q = at.ecef();
        // Chords never exceed geodesics: cutting the chord at the radius loses nothing.
        let cut = radius_m + crate::domain::geodesy::RADIUS_TOLERANCE_M;
        let cut2 = cut * cut;
        if self.tree.is_empty() {
            return hits;
        }
        let filter = self.tag_filter(tags);
        let sure_margin = chord_shortfall_bound(radius_m);
        let mut kept: SmallVec<[(f64, u32); 8]> = SmallVec::with_capacity(limit + 1);
        let cut2 = Cell::new(cut2);
        for (index, chord2) in self.tree.nearest(&self.points, q, &cut2) {
            if kept.len() == limit {
                // A later box is at least its chord away; once the chord passes the worst kept
                // distance (as rounded, plus half a centimetre), it cannot rank before it.
                let bound = kept[limit - 1].0 + 0.006;
                if chord2 > bound * bound {
                    break;
                }
                cut2.set(cut2.get().min(bound * bound));
            }
            let b = &self.boxes[index as usize];
            let stage = self.stage(b, filter.as_deref());
            let chord = chord2.sqrt();
            if stage == Stage::Candidate {
                if let Some(distance) = within_radius_cm(at, b.coord, chord, radius_m) {
                    hits.furthest = Some(Stage::Candidate);
                    self.keep(&mut kept, index, distance, limit);
                }
            } else if hits.furthest < Some(stage) {
                // This box can only tell how far the search got; its exact distance matters
                // only near the edge of the radius.
                let inside = chord + sure_margin <= radius_m
                    || within_radius_cm(at, b.coord, chord, radius_m).is_some();
                if inside {
                    hits.furthest = Some(stage);
                }
            }
        }
        hits.candidates = kept
            .into_iter()
            .map(|(d, i)| self.candidate(i, d))
            .collect();
        hits
    }

    /// The feasibility rule for one box: the candidate, or the stage it stopped at
    /// (`None`: outside the radius). `None` overall when the project has no such box.
    pub fn evaluate(
        self: &Arc<Self>,
        box_id: &str,
        at: Coord,
        radius_m: f64,
        tags: &[String],
    ) -> Option<Result<Candidate, Option<Stage>>> {
        let at_box = self.box_index(box_id)?;
        let b = &self.boxes[at_box];
        let distance = at.distance_m(b.coord);
        if !within_radius(distance, radius_m) {
            return Some(Err(None));
        }
        let filter = self.tag_filter(tags);
        match self.stage(b, filter.as_deref()) {
            Stage::Candidate => Some(Ok(self.candidate(at_box as u32, round_cm(distance)))),
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

    /// Hands `f` the boxes whose position lies in `bbox` (`[min_lon, min_lat, max_lon,
    /// max_lat]`; `min_lon > max_lon` crosses the antimeridian), in no particular order,
    /// until it returns false; returns false when it stopped early. A scan: a map's window
    /// holds a large share of a project's boxes, and it is a few milliseconds a million.
    pub fn each_in_bbox(&self, bbox: [f64; 4], f: &mut dyn FnMut(MapBox<'_>) -> bool) -> bool {
        let [min_lon, min_lat, max_lon, max_lat] = bbox;
        for b in &self.boxes {
            let (lat, lon) = (b.coord.lat(), b.coord.lon());
            let lon_in = if min_lon <= max_lon {
                (min_lon..=max_lon).contains(&lon)
            } else {
                lon >= min_lon || lon <= max_lon
            };
            if !lon_in || !(min_lat..=max_lat).contains(&lat) {
                continue;
            }
            let free_ports = self
                .box_splitters(b)
                .map(|s| s.free.load(Ordering::Acquire))
                .sum();
            let point = MapBox {
                id: self.strings.get(b.id),
                lat,
                lon,
                status: b.status,
                free_ports,
            };
            if !f(point) {
                return false;
            }
        }
        true
    }

    fn box_splitters(&self, b: &BoxEntry) -> impl Iterator<Item = &SplitterEntry> {
        let start = b.first_splitter as usize;
        self.splitters[start..start + b.splitter_count as usize].iter()
    }

    /// Inserts a candidate (distance, box index) in (distance, box id) order, keeping at
    /// most `limit`. Candidates are only materialised once the walk is over.
    fn keep(
        &self,
        kept: &mut SmallVec<[(f64, u32); 8]>,
        index: u32,
        distance_m: f64,
        limit: usize,
    ) {
        // Ids (a read from the string arena, often a cache miss) only break ties.
        let id = |i: u32| self.strings.get(self.boxes[i as usize].id);
        let pos = kept
            .partition_point(|&(d, i)| d < distance_m || (d == distance_m && id(i) < id(index)));
        if pos < limit {
            kept.insert(pos, (distance_m, index));
            kept.truncate(limit);
        }
    }

    /// A box as a candidate of an answer, with its attendance splitters that have free ports.
    fn candidate(self: &Arc<Self>, at: u32, distance_m: f64) -> Candidate {
        let b = &self.boxes[at as usize];
        let start = b.first_splitter;
        let splitters: SmallVec<[(u32, u32); 4]> = self
            .box_splitters(b)
            .zip(start..)
            .map(|(s, i)| (i, s.free.load(Ordering::Acquire)))
            .filter(|&(_, free)| free > 0)
            .collect();
        Candidate {
            index: Arc::clone(self),
            at,
            distance_m,
            free_ports: splitters.iter().map(|&(_, free)| free).sum(),
            splitters,
        }
    }
}
