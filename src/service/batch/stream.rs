//! A CSV batch answered as it is read: rows are pulled from the body only as fast as the
//! answer is taken (the answer stream is polled by the writer of the response), so memory
//! stays that of one chunk in and one chunk out, whatever the number of rows.

use super::rows::{Columns, MAX_ROW_BYTES, Read, Rows};
use super::write::{Format, Writer};
use super::{Batch, BatchError};
use crate::domain::batch::{ItemError, item_from_cells};
use crate::domain::validation::Invalid;
use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};

/// The answer is handed on in chunks of about this many bytes.
const CHUNK_BYTES: usize = 64 * 1024;

struct State<S> {
    input: S,
    chunk: Bytes,
    at: usize,
    ended: bool,
    rows: Rows,
    columns: Columns,
    batch: Batch,
    writer: Writer,
    answered: usize,
    max_items: usize,
    done: bool,
}

/// Reads the header row (a missing or incomplete one refuses the batch), then answers
/// each row in input order, up to `max_items` rows; past them the answer ends with one
/// `payload_too_large` row.
pub async fn answer_csv<S, E>(
    batch: Batch,
    mut input: S,
    format: Format,
    max_items: usize,
) -> Result<impl Stream<Item = Result<Bytes, E>> + 'static, StartError<E>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + 'static,
    E: 'static,
{
    let mut rows = Rows::new();
    let (mut chunk, mut at, mut ended) = (Bytes::new(), 0, false);
    let columns = loop {
        if at == chunk.len() && !ended {
            match input.next().await {
                Some(Ok(c)) => (chunk, at) = (c, 0),
                Some(Err(e)) => return Err(StartError::Input(e)),
                None => (chunk, at, ended) = (Bytes::new(), 0, true),
            }
            continue;
        }
        let (read, used) = rows.read(&chunk[at..]);
        at += used;
        match read {
            Read::Row => break Columns::of_header(&rows).map_err(BatchError::Header)?,
            Read::NeedInput => {}
            Read::End => {
                return Err(BatchError::Header(Invalid::one(
                    "body",
                    "has no header row (ref,lat,lon and optionally plan_id)",
                ))
                .into());
            }
            Read::TooLong => {
                return Err(BatchError::Header(Invalid::one(
                    "body",
                    format!("the header row is longer than {MAX_ROW_BYTES} bytes"),
                ))
                .into());
            }
        }
    };
    let state = State {
        input,
        chunk,
        at,
        ended,
        rows,
        columns,
        batch,
        writer: Writer::new(format, CHUNK_BYTES + MAX_ROW_BYTES),
        answered: 0,
        max_items,
        done: false,
    };
    Ok(futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        while !st.done && st.writer.out.len() < CHUNK_BYTES {
            if st.at == st.chunk.len() && !st.ended {
                // What is answered goes out before waiting for more of the body.
                if !st.writer.out.is_empty() {
                    break;
                }
                match st.input.next().await {
                    Some(Ok(c)) => (st.chunk, st.at) = (c, 0),
                    Some(Err(e)) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                    None => (st.chunk, st.at, st.ended) = (Bytes::new(), 0, true),
                }
                continue;
            }
            let (read, used) = st.rows.read(&st.chunk[st.at..]);
            st.at += used;
            match read {
                Read::Row if st.answered == st.max_items => {
                    st.writer.cut_short(
                        ItemError::TOO_LARGE,
                        format!(
                            "more than batch_max_items ({}) rows: the rows after it were not answered",
                            st.max_items
                        ),
                    );
                    st.done = true;
                }
                Read::Row => {
                    st.answered += 1;
                    st.answer_row();
                }
                Read::NeedInput => {}
                Read::End => st.done = true,
                Read::TooLong => {
                    st.writer.cut_short(
                        ItemError::TOO_LARGE,
                        format!(
                            "row {} is longer than {MAX_ROW_BYTES} bytes: the rows from it on were not answered",
                            st.answered + 1
                        ),
                    );
                    st.done = true;
                }
            }
        }
        if st.done {
            tracing::info!(
                rows = st.batch.summary().total,
                feasible = st.batch.summary().feasible,
                errors = st.batch.summary().errors,
                "csv batch answered"
            );
        }
        let out = Bytes::copy_from_slice(&st.writer.out);
        st.writer.out.clear();
        Some((Ok(out), st))
    }))
}

impl<S> State<S> {
    fn answer_row(&mut self) {
        let (rows, columns) = (&self.rows, &self.columns);
        let mut not_text = Invalid::default();
        let mut text = |name: &str, column: Option<usize>| {
            let bytes = rows.field(column?)?;
            std::str::from_utf8(bytes)
                .inspect_err(|_| not_text.add(name, "must be UTF-8 text"))
                .ok()
        };
        let r#ref = text("ref", Some(columns.r#ref)).filter(|r| !r.is_empty());
        let lat = text("lat", Some(columns.lat));
        let lon = text("lon", Some(columns.lon));
        let plan_id = text("plan_id", columns.plan_id);
        let item = if not_text.is_empty() {
            item_from_cells(r#ref, lat, lon, plan_id)
        } else {
            Err(ItemError::invalid(not_text))
        };
        let result = self.batch.answer(item);
        self.writer.row(
            r#ref,
            lat.unwrap_or_default(),
            lon.unwrap_or_default(),
            &result,
        );
    }
}

/// Why a CSV batch did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError<E> {
    #[error(transparent)]
    Refused(#[from] BatchError),
    /// The body could not be read.
    #[error("the body could not be read")]
    Input(E),
}
