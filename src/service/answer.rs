//! Answers as the API writes them, shared by `POST /feasibility`, the JSON batch and the
//! streamed NDJSON batch (the service writes those itself, for the CLI as for HTTP).

use crate::domain::batch::{ItemError, Summary};
use crate::domain::feasibility::Reason;
use crate::domain::validation::FieldError;
use crate::index::{Answer, Candidate};
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct SplitterOut<'a> {
    id: &'a str,
    free_ports: u32,
}

/// One candidate as answered. Serialised straight from the index's candidate: an answer
/// is written into one buffer without building a copy of it first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CandidateOut<'a> {
    box_id: &'a str,
    project: &'a str,
    name: &'a str,
    lat: f64,
    lon: f64,
    distance_m: f64,
    free_ports: u32,
    #[schema(value_type = Vec<SplitterOut>)]
    splitters: SplittersOut<'a>,
}

/// A candidate's splitters with free ports, serialised as a list of [`SplitterOut`].
pub struct SplittersOut<'a>(pub &'a Candidate);

impl Serialize for SplittersOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.0
                .splitters()
                .map(|(id, free_ports)| SplitterOut { id, free_ports }),
        )
    }
}

/// The candidates, serialised as a list of [`CandidateOut`].
pub struct CandidatesOut<'a>(pub &'a [Candidate]);

impl Serialize for CandidatesOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|c| CandidateOut {
            box_id: c.box_id(),
            project: c.project(),
            name: c.name(),
            lat: c.lat(),
            lon: c.lon(),
            distance_m: c.distance_m,
            free_ports: c.free_ports,
            splitters: SplittersOut(c),
        }))
    }
}

/// One batch item as answered: its candidates and reason, or why it was refused.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ItemOut<'a> {
    Answered {
        /// The item's `ref` (null when it gave none).
        r#ref: Option<&'a str>,
        feasible: bool,
        reason: Option<Reason>,
        #[schema(value_type = Vec<CandidateOut>)]
        candidates: CandidatesOut<'a>,
    },
    Refused {
        r#ref: Option<&'a str>,
        error: ItemErrorOut<'a>,
    },
}

/// Why an item was refused: the code `POST /feasibility` would answer, and the fields.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemErrorOut<'a> {
    code: &'a str,
    errors: &'a [FieldError],
}

impl<'a> ItemOut<'a> {
    pub fn new(r#ref: Option<&'a str>, result: &'a Result<Answer, ItemError>) -> Self {
        match result {
            Ok(answer) => Self::Answered {
                r#ref,
                feasible: answer.reason.is_none(),
                reason: answer.reason,
                candidates: CandidatesOut(&answer.candidates),
            },
            Err(e) => Self::Refused {
                r#ref,
                error: ItemErrorOut {
                    code: e.code,
                    errors: &e.errors,
                },
            },
        }
    }
}

/// A JSON batch's answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchOut<'a> {
    /// In the order of the request's items.
    pub items: Vec<ItemOut<'a>>,
    pub summary: &'a Summary,
}
