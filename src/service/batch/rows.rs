//! CSV rows read incrementally from a body that arrives in chunks (`csv-core`): a row
//! costs no allocation once the buffers have grown to the longest row.

use crate::domain::validation::Invalid;

/// The longest row taken, bytes (a row is a few dozen; this only bounds memory).
pub const MAX_ROW_BYTES: usize = 64 * 1024;

/// What one call to [`Rows::read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// A whole row, now in [`Rows::field`].
    Row,
    /// The input given is used up in the middle of a row (or between rows).
    NeedInput,
    /// The input has ended (it was given as empty) and every row was read.
    End,
    /// A row longer than [`MAX_ROW_BYTES`].
    TooLong,
}

pub struct Rows {
    reader: csv_core::Reader,
    record: Vec<u8>,
    len: usize,
    ends: Vec<usize>,
    fields: usize,
    /// The last call returned a row: the next one starts a new one.
    full: bool,
}

impl Rows {
    pub fn new() -> Self {
        Self {
            reader: csv_core::Reader::new(),
            record: vec![0; 1024],
            len: 0,
            ends: vec![0; 16],
            fields: 0,
            full: false,
        }
    }

    /// Reads from `input` (an empty slice means the end of the body); returns what was
    /// found and the bytes of `input` used.
    pub fn read(&mut self, input: &[u8]) -> (Read, usize) {
        if std::mem::take(&mut self.full) {
            self.len = 0;
            self.fields = 0;
        }
        let mut used = 0;
        loop {
            let (result, nin, nout, nend) = self.reader.read_record(
                &input[used..],
                &mut self.record[self.len..],
                &mut self.ends[self.fields..],
            );
            used += nin;
            self.len += nout;
            self.fields += nend;
            use csv_core::ReadRecordResult as R;
            match result {
                R::InputEmpty => return (Read::NeedInput, used),
                R::OutputFull | R::OutputEndsFull if self.record.len() >= MAX_ROW_BYTES => {
                    return (Read::TooLong, used);
                }
                R::OutputFull => self.record.resize(self.record.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::Record => {
                    self.full = true;
                    return (Read::Row, used);
                }
                R::End => return (Read::End, used),
            }
            if self.ends.len() * 8 > MAX_ROW_BYTES {
                return (Read::TooLong, used);
            }
        }
    }

    /// Field `i` of the row just read.
    pub fn field(&self, i: usize) -> Option<&[u8]> {
        if i >= self.fields {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.record[start..self.ends[i]])
    }

    pub fn fields(&self) -> usize {
        self.fields
    }
}

/// Where the columns are, from the header row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    pub r#ref: usize,
    pub lat: usize,
    pub lon: usize,
    pub plan_id: Option<usize>,
}

impl Columns {
    /// Finds `ref`, `lat`, `lon` and the optional `plan_id` in the header row; other
    /// columns are left alone (an address file keeps its own).
    pub fn of_header(rows: &Rows) -> Result<Self, Invalid> {
        let mut found: [Option<usize>; 4] = [None; 4];
        for i in 0..rows.fields() {
            let name = rows.field(i).unwrap_or_default();
            // A spreadsheet's byte order mark before the first name.
            let name = name.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(name);
            let slot = match name.trim_ascii() {
                b"ref" => 0,
                b"lat" => 1,
                b"lon" => 2,
                b"plan_id" => 3,
                _ => continue,
            };
            found[slot].get_or_insert(i);
        }
        let mut invalid = Invalid::default();
        for (slot, name) in ["ref", "lat", "lon"].into_iter().enumerate() {
            if found[slot].is_none() {
                invalid.add(name, "is a required column of the header row");
            }
        }
        invalid.or_ok(Self {
            r#ref: found[0].unwrap_or_default(),
            lat: found[1].unwrap_or_default(),
            lon: found[2].unwrap_or_default(),
            plan_id: found[3],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of `chunks` fed as they come, as text fields.
    fn read_all(chunks: &[&str]) -> (Vec<Vec<String>>, Read) {
        let mut rows = Rows::new();
        let mut out = Vec::new();
        // An empty slice is the end of the body: the next chunk is given as soon as one is
        // used up, and an empty one never.
        let mut pending = chunks
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| c.as_bytes());
        let mut input: &[u8] = &[];
        loop {
            if input.is_empty() {
                input = pending.next().unwrap_or_default();
            }
            let (read, used) = rows.read(input);
            input = &input[used..];
            match read {
                Read::Row => out.push(
                    (0..rows.fields())
                        .map(|i| String::from_utf8(rows.field(i).unwrap().to_vec()).unwrap())
                        .collect(),
                ),
                Read::NeedInput => {}
                end => return (out, end),
            }
        }
    }

    #[test]
    fn rows_cut_anywhere_between_chunks_are_read_whole() {
        let text = "ref,lat,lon\n\"a, \"\"b\"\"\",1.5,2\n\nc,3,4";
        for cut in 0..text.len() {
            let (rows, end) = read_all(&[&text[..cut], &text[cut..]]);
            assert_eq!(end, Read::End);
            assert_eq!(rows.len(), 3, "cut at {cut}");
            assert_eq!(rows[1], ["a, \"b\"", "1.5", "2"]);
            assert_eq!(rows[2], ["c", "3", "4"]);
        }
    }

    #[test]
    fn a_row_past_the_limit_is_refused() {
        let long = format!("ref,lat\n{},1\n", "x".repeat(MAX_ROW_BYTES + 10));
        assert_eq!(read_all(&[&long]).1, Read::TooLong);
    }

    #[test]
    fn the_header_names_the_columns() {
        let mut rows = Rows::new();
        rows.read(b"\xEF\xBB\xBFref, lat ,name,lon,plan_id\n");
        let c = Columns::of_header(&rows).unwrap();
        assert_eq!((c.r#ref, c.lat, c.lon, c.plan_id), (0, 1, 3, Some(4)));
        let mut rows = Rows::new();
        rows.read(b"id,lat\n");
        let fields: Vec<_> = Columns::of_header(&rows)
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["ref", "lon"]);
    }
}
