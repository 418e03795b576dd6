//! Batch feasibility: one view of the index and one resolved rule for a whole batch, each
//! item answered or refused on its own. JSON batches are answered whole; CSV batches are
//! read and answered as a stream (`stream`), in CSV or NDJSON (`write`).

mod rows;
mod stream;
mod write;

pub use stream::{StartError, answer_csv};
pub use write::Format;

use super::{App, FeasibilityError, Rule, View};
use crate::domain::Coord;
use crate::domain::batch::{
    BatchOptions, BatchRequest, DEFAULT_BATCH_LIMIT, ItemError, ItemPoint, MAX_JSON_ITEMS, Summary,
    item_from_json, item_ref,
};
use crate::domain::feasibility::{FeasibilityOptions, ProjectScope, Reason};
use crate::domain::settings::Settings;
use crate::domain::validation::Invalid;
use crate::index::Answer;
use crate::service::answer::{BatchOut, ItemOut};
use std::collections::HashMap;

/// Why a whole batch is refused.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A batch-level field is invalid, or the batch-level plan unknown.
    #[error(transparent)]
    Refused(#[from] FeasibilityError),
    #[error("more than {0} items")]
    TooManyItems(usize),
    /// A CSV body whose header row is missing or lacks a required column.
    #[error("the CSV header is invalid")]
    Header(Invalid),
}

/// One batch being answered: the view and rule taken once, the summary so far.
#[derive(Debug)]
pub struct Batch {
    view: View,
    options: FeasibilityOptions,
    scope: ProjectScope,
    /// The batch's own rule (its `plan_id`, or none).
    rule: Rule,
    /// Rules of the known plans items named in place of the batch's.
    by_plan: HashMap<String, Rule>,
    record_demand: bool,
    /// Where items are counted as demand when `record_demand` (none: not counted, as in
    /// the CLI's offline check).
    demand: Option<std::sync::Arc<crate::service::demand::DemandCounter>>,
    summary: Summary,
}

impl Batch {
    /// Checks the batch-level fields: invalid ones (422) or an unknown plan (404) refuse
    /// the whole batch.
    pub fn new(
        view: View,
        settings: &Settings,
        options: &BatchOptions,
        scope: &ProjectScope,
    ) -> Result<Self, FeasibilityError> {
        let mut invalid = Invalid::default();
        let parsed = options
            .as_sent()
            .parse(DEFAULT_BATCH_LIMIT, settings, &mut invalid);
        if !invalid.is_empty() {
            return Err(invalid.into());
        }
        let rule = view.rule(&parsed, scope)?;
        Ok(Self {
            view,
            options: parsed,
            scope: scope.clone(),
            rule,
            by_plan: HashMap::new(),
            record_demand: options.record_demand,
            demand: None,
            summary: Summary::default(),
        })
    }

    /// Answers one checked item (or passes its refusal on), counting it in the summary.
    pub fn answer(&mut self, item: Result<ItemPoint<'_>, ItemError>) -> Result<Answer, ItemError> {
        let result = item.and_then(|p| {
            // An item's own plan, when it is not the batch's.
            let own = p
                .plan_id
                .filter(|id| Some(*id) != self.options.plan_id.as_deref());
            if let Some(id) = own {
                self.learn_plan(id)?;
            }
            let rule = own.map_or(&self.rule, |id| &self.by_plan[id]);
            let answer = self.view.answer(rule, p.at);
            let plan_id = p.plan_id.or(self.options.plan_id.as_deref());
            self.count_as_demand(p.at, plan_id, answer.reason);
            Ok(answer)
        });
        self.summary
            .add(result.as_ref().map(|a| a.reason).map_err(|_| ()));
        result
    }

    /// Where batch answers meet demand counting: they are counted only when the caller
    /// asked (`record_demand`), never by default, so a batch never goes through the path
    /// that counts single requests. The demand counter is fed from here.
    fn count_as_demand(&self, at: Coord, plan_id: Option<&str>, reason: Option<Reason>) {
        if let Some(counter) = self.demand.as_ref().filter(|_| self.record_demand) {
            counter.count(at, plan_id, crate::domain::demand::Outcome(reason));
        }
    }

    /// Resolves the rule of a plan an item names in place of the batch's. Only known plans
    /// are kept: unknown ids, however many, cost no memory.
    fn learn_plan(&mut self, id: &str) -> Result<(), ItemError> {
        if !self.by_plan.contains_key(id) {
            let rule = self
                .view
                .rule_with_plan(Some(id), &self.options, &self.scope)
                .map_err(|e| match e {
                    FeasibilityError::UnknownPlan(_) => ItemError::unknown_plan(id),
                    FeasibilityError::Invalid(invalid) => ItemError::invalid(invalid),
                })?;
            self.by_plan.insert(id.to_owned(), rule);
        }
        Ok(())
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }
}

/// A JSON batch's answer: the items as sent (for their `ref`), each one's result.
#[derive(Debug)]
pub struct JsonBatch {
    items: Vec<serde_json::Value>,
    results: Vec<Result<Answer, ItemError>>,
    summary: Summary,
}

impl JsonBatch {
    /// The answer as written: items in input order, then the summary.
    pub fn out(&self) -> BatchOut<'_> {
        BatchOut {
            items: self
                .items
                .iter()
                .zip(&self.results)
                .map(|(item, result)| ItemOut::new(item_ref(item), result))
                .collect(),
            summary: &self.summary,
        }
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }
}

impl App {
    /// Starts a batch for a caller that may see `scope`: the plans and the index as they
    /// are now, for every row.
    pub fn batch(
        &self,
        options: &BatchOptions,
        scope: &ProjectScope,
    ) -> Result<Batch, FeasibilityError> {
        let mut batch = Batch::new(self.view(), &self.settings(), options, scope)?;
        batch.demand = Some(self.demand.clone());
        Ok(batch)
    }

    /// `POST /feasibility/batch` as CSV: the batch-level fields checked, the header row
    /// read, then the answer as a stream of chunks that reads `input` as it is taken.
    pub async fn batch_csv<S, E>(
        &self,
        options: &BatchOptions,
        scope: &ProjectScope,
        input: S,
        format: Format,
        max_items: usize,
    ) -> Result<
        impl futures_util::Stream<Item = Result<actix_web::web::Bytes, E>> + 'static,
        StartError<E>,
    >
    where
        S: futures_util::Stream<Item = Result<actix_web::web::Bytes, E>> + Unpin + 'static,
        E: 'static,
    {
        let batch = self.batch(options, scope).map_err(BatchError::from)?;
        answer_csv(batch, input, format, max_items).await
    }

    /// `POST /feasibility/batch` as JSON: up to [`MAX_JSON_ITEMS`] items, each answered or
    /// refused on its own.
    pub fn batch_json(
        &self,
        req: BatchRequest,
        scope: &ProjectScope,
    ) -> Result<JsonBatch, BatchError> {
        if req.items.len() > MAX_JSON_ITEMS {
            return Err(BatchError::TooManyItems(MAX_JSON_ITEMS));
        }
        let (options, items) = req.into_parts();
        let mut batch = self.batch(&options, scope)?;
        let results = items
            .iter()
            .map(|item| batch.answer(item_from_json(item)))
            .collect();
        Ok(JsonBatch {
            items,
            results,
            summary: batch.summary,
        })
    }
}
