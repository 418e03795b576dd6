//! What one project offers within a radius, for `POST /check`: one walk that every plan's
//! verdict is then taken from.

use super::{ProjectIndex, chord_shortfall_bound};
use crate::domain::Coord;
use crate::domain::check::Coverage;
use crate::domain::geodesy::{RADIUS_TOLERANCE_M, within_radius_cm};
use crate::domain::network::BoxStatus;
use smallvec::SmallVec;
use std::cell::Cell;
use std::sync::atomic::Ordering;

impl ProjectIndex {
    /// The boxes within `radius_m` of `at`, summarised by status, free ports and region
    /// tags. A box that would add nothing new is skipped before its distance is computed.
    pub fn coverage(&self, at: Coord, radius_m: f64) -> Coverage {
        let mut coverage = Coverage::default();
        if self.tree.is_empty() {
            return coverage;
        }
        let cut = radius_m + RADIUS_TOLERANCE_M;
        let cut2 = Cell::new(cut * cut);
        let sure_margin = chord_shortfall_bound(radius_m);
        // Tag sets already taken, as (tag set, has a free port).
        let mut seen: SmallVec<[(u32, bool); 8]> = SmallVec::new();
        for (index, chord2) in self.tree.nearest(&self.points, at.ecef(), &cut2) {
            let b = &self.boxes[index as usize];
            let deployed = b.status == BoxStatus::Deployed;
            let free = deployed
                && self
                    .box_splitters(b)
                    .any(|s| s.free.load(Ordering::Acquire) > 0);
            let new = if deployed {
                !seen.contains(&(b.tagset, free))
            } else {
                !coverage.any_box
            };
            if !new {
                continue;
            }
            let chord = chord2.sqrt();
            let inside = chord + sure_margin <= radius_m
                || within_radius_cm(at, b.coord, chord, radius_m).is_some();
            if !inside {
                continue;
            }
            coverage.any_box = true;
            if deployed {
                seen.push((b.tagset, free));
                let mut tags: Vec<String> = self.tagsets[b.tagset as usize]
                    .iter()
                    .map(|&t| self.tag_names[t as usize].to_string())
                    .collect();
                tags.sort_unstable();
                if free {
                    coverage.free.insert(tags);
                } else {
                    coverage.full.insert(tags);
                }
            }
        }
        coverage
    }
}
