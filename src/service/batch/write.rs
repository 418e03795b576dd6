//! A streamed batch's answer rows, written into one reused buffer: CSV (the nearest
//! candidate) or NDJSON (the JSON batch's item form, a line each).

use crate::domain::batch::ItemError;
use crate::domain::validation::Invalid;
use crate::index::Answer;
use crate::service::answer::ItemOut;
use std::io::Write;

/// How a streamed batch is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Ndjson => "application/x-ndjson",
        }
    }
}

pub const CSV_HEADER: &[u8] = b"ref,lat,lon,feasible,reason,box_id,distance_m,free_ports,error\n";

pub struct Writer {
    format: Format,
    pub out: Vec<u8>,
}

impl Writer {
    pub fn new(format: Format, capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        if format == Format::Csv {
            out.extend_from_slice(CSV_HEADER);
        }
        Self { format, out }
    }

    /// One row's answer; `lat` and `lon` are the row's cells as sent.
    pub fn row(
        &mut self,
        r#ref: Option<&str>,
        lat: &str,
        lon: &str,
        result: &Result<Answer, ItemError>,
    ) {
        match self.format {
            Format::Ndjson => self.line(r#ref, result),
            Format::Csv => {
                let out = &mut self.out;
                cell(out, r#ref.unwrap_or(""));
                out.push(b',');
                cell(out, lat);
                out.push(b',');
                cell(out, lon);
                out.push(b',');
                match result {
                    Ok(answer) => {
                        match answer.reason {
                            None => out.extend_from_slice(b"true,,"),
                            Some(reason) => {
                                out.extend_from_slice(b"false,");
                                out.extend_from_slice(reason.as_str().as_bytes());
                                out.push(b',');
                            }
                        }
                        match answer.candidates.first() {
                            Some(c) => {
                                cell(out, c.box_id());
                                // Writing into a Vec cannot fail.
                                let _ = write!(out, ",{},{},", c.distance_m, c.free_ports);
                            }
                            None => out.extend_from_slice(b",,,"),
                        }
                    }
                    Err(e) => {
                        out.extend_from_slice(b",,,,,");
                        out.extend_from_slice(e.code.as_bytes());
                    }
                }
                out.push(b'\n');
            }
        }
    }

    /// The last row of an answer cut short (its status went out with the first row).
    pub fn cut_short(&mut self, code: &'static str, why: String) {
        let error = ItemError {
            code,
            errors: Invalid::one("body", why).0,
        };
        match self.format {
            Format::Ndjson => self.line(None, &Err(error)),
            Format::Csv => {
                self.out.extend_from_slice(b",,,,,,,,");
                self.out.extend_from_slice(code.as_bytes());
                self.out.push(b'\n');
            }
        }
    }

    fn line(&mut self, r#ref: Option<&str>, result: &Result<Answer, ItemError>) {
        serde_json::to_writer(&mut self.out, &ItemOut::new(r#ref, result))
            .expect("an answer serialises");
        self.out.push(b'\n');
    }
}

/// A CSV cell, quoted when it holds a separator, a quote or a line break.
fn cell(out: &mut Vec<u8>, text: &str) {
    if !text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.push(b'"');
    for b in text.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_only_when_they_must_be() {
        let mut out = Vec::new();
        cell(&mut out, "lead-1");
        out.push(b' ');
        cell(&mut out, "a, \"b\"");
        assert_eq!(String::from_utf8(out).unwrap(), "lead-1 \"a, \"\"b\"\"\"");
    }

    #[test]
    fn a_refused_row_carries_its_code_in_the_last_column() {
        let mut w = Writer::new(Format::Csv, 0);
        w.row(
            Some("x"),
            "91",
            "0",
            &Err(ItemError::invalid(Invalid::one("lat", "no"))),
        );
        w.cut_short("payload_too_large", "more rows".into());
        let text = String::from_utf8(w.out).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[1], "x,91,0,,,,,,validation_failed");
        assert_eq!(lines[2], ",,,,,,,,payload_too_large");
        for l in lines {
            assert_eq!(l.matches(',').count(), 8, "{l}");
        }
    }
}
