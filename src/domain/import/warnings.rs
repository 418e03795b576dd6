//! What an import took but did not fully use, told in its answer (never a refusal).

use super::ImportBatch;
use crate::domain::network::SplitterKind;
use serde::Serialize;

/// One warning of an import's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Warning {
    /// A property (or column) the import does not use, with the features (or rows) that
    /// gave it; a splitter member is named `splitters[].<member>`.
    IgnoredProperty { property: String, count: usize },
    /// Boxes without an attendance splitter: feasibility never finds them.
    NoAttendanceSplitter { count: usize },
}

impl ImportBatch {
    /// The warnings of this batch: ignored properties by name, then boxes that serve no
    /// customer.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut out: Vec<Warning> = self
            .ignored
            .iter()
            .map(|(property, &count)| Warning::IgnoredProperty {
                property: property.clone(),
                count,
            })
            .collect();
        let count = self
            .boxes
            .iter()
            .filter(|(_, b)| {
                !b.splitters
                    .iter()
                    .any(|s| s.kind == SplitterKind::Attendance)
            })
            .count();
        if count > 0 {
            out.push(Warning::NoAttendanceSplitter { count });
        }
        out
    }
}
