//! CSV imports: one row per splitter, under a header row naming the columns (in any letter
//! case). The rows of one box repeat its box columns, which must agree. The batch is the
//! one a GeoJSON file of the same boxes gives, read with the same value rules
//! ([`dialect`]); problems are named `rows[N].<column>`, N the 0-based data row.

use super::dialect::{self, PortsField, box_status, count_text, splitter_kind, splitter_ports};
use super::{ImportBatch, Layout, ReadError};
use crate::domain::Coord;
use crate::domain::CoordError;
use crate::domain::network::{BoxStatus, NetBox, Ports, Splitter, SplitterKind, check_text};
use crate::domain::validation::Invalid;
use std::collections::{HashMap, HashSet};

/// The columns the import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    BoxId,
    Lat,
    Lon,
    Name,
    Status,
    SplitterId,
    Kind,
    Ports,
    Used,
    UsedPorts,
}

const COLUMNS: usize = 10;
const REQUIRED: [Column; 4] = [Column::BoxId, Column::Lat, Column::Lon, Column::Status];

impl Column {
    /// The column a header name (lower-cased) stands for.
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "box_id" => Self::BoxId,
            "lat" | "latitude" => Self::Lat,
            "lon" | "lng" | "longitude" => Self::Lon,
            "name" => Self::Name,
            "status" => Self::Status,
            "splitter_id" => Self::SplitterId,
            "kind" => Self::Kind,
            "ports" => Self::Ports,
            "used" => Self::Used,
            "used_ports" => Self::UsedPorts,
            _ => return None,
        })
    }

    fn canonical(self) -> &'static str {
        match self {
            Self::BoxId => "box_id",
            Self::Lat => "lat",
            Self::Lon => "lon",
            Self::Name => "name",
            Self::Status => "status",
            Self::SplitterId => "splitter_id",
            Self::Kind => "kind",
            Self::Ports => "ports",
            Self::Used => "used",
            Self::UsedPorts => "used_ports",
        }
    }
}

/// Where each column is, and the header's own names (errors use them).
struct Header {
    at: [Option<usize>; COLUMNS],
    names: Vec<String>,
}

impl Header {
    fn read(names: Vec<String>, invalid: &mut Invalid) -> Header {
        let mut at = [None; COLUMNS];
        for (k, name) in names.iter().enumerate() {
            if let Some(c) = Column::named(&name.to_ascii_lowercase()) {
                if let Some(first) = at[c as usize] {
                    let message = format!(
                        "names the {} column twice ({:?} and {name:?})",
                        c.canonical(),
                        names[first]
                    );
                    invalid.add("header", message);
                }
                at[c as usize] = Some(k);
            }
        }
        for c in REQUIRED {
            if at[c as usize].is_none() {
                invalid.add("header", format!("must have a {} column", c.canonical()));
            }
        }
        Header { at, names }
    }

    /// The column's name as the header writes it.
    fn name(&self, c: Column) -> &str {
        self.at[c as usize].map_or(c.canonical(), |k| &self.names[k])
    }
}

/// The box columns of a row.
#[derive(Debug, Clone, PartialEq)]
struct BoxCells {
    id: String,
    location: Coord,
    name: Option<String>,
    status: BoxStatus,
}

/// A box with the rows it came from.
struct Group {
    first_row: usize,
    cells: BoxCells,
    splitters: Vec<Splitter>,
    rows: Vec<usize>,
}

/// The checks of one row, naming fields `rows[n].<column>`.
struct RowCheck<'a> {
    n: usize,
    header: &'a Header,
    cells: Vec<&'a str>,
    invalid: &'a mut Invalid,
}

impl<'a> RowCheck<'a> {
    fn fail(&mut self, c: Column, message: impl ToString) {
        let field = format!("rows[{}].{}", self.n, self.header.name(c));
        self.invalid.add(field, message);
    }

    /// The cell of a column, `None` when the column is absent or the cell empty.
    fn cell(&self, c: Column) -> Option<&'a str> {
        let k = self.header.at[c as usize]?;
        self.cells.get(k).copied().filter(|s| !s.is_empty())
    }

    fn required(&mut self, c: Column) -> Option<String> {
        let Some(s) = self.cell(c).map(str::to_owned) else {
            self.fail(c, "is required");
            return None;
        };
        Some(s)
    }

    fn text(&mut self, c: Column, s: String) -> Option<String> {
        check_text(&s).map_err(|m| self.fail(c, m)).ok()?;
        Some(s)
    }

    fn degrees(&mut self, c: Column) -> Option<f64> {
        let s = self.required(c)?;
        s.parse::<f64>()
            .map_err(|_| self.fail(c, "must be a number of decimal degrees"))
            .ok()
    }

    fn box_cells(&mut self) -> Option<BoxCells> {
        let before = self.invalid.0.len();
        let id = self
            .required(Column::BoxId)
            .and_then(|s| self.text(Column::BoxId, s));
        let (lat, lon) = (self.degrees(Column::Lat), self.degrees(Column::Lon));
        let location = match lat.zip(lon).map(|(lat, lon)| Coord::parse(lat, lon)) {
            Some(Ok(at)) => Some(at),
            Some(Err(e @ CoordError::Lat)) => {
                self.fail(Column::Lat, e);
                None
            }
            Some(Err(e @ CoordError::Lon)) => {
                self.fail(Column::Lon, e);
                None
            }
            None => None,
        };
        let name = self.cell(Column::Name).map(str::to_owned);
        let name = name.and_then(|s| self.text(Column::Name, s));
        let status = self.required(Column::Status).and_then(|s| {
            let status = box_status(&s);
            if status.is_none() {
                self.fail(
                    Column::Status,
                    "must be one of deployed, in_project, out_of_service",
                );
            }
            status
        });
        if self.invalid.0.len() > before {
            return None;
        }
        Some(BoxCells {
            id: id?,
            location: location?,
            name,
            status: status?,
        })
    }

    /// The row's splitter; `Ok(None)` when the row gives none (no splitter cells at all).
    fn splitter(&mut self, box_id: &str) -> Result<Option<Splitter>, ()> {
        let splitter_columns = [
            Column::SplitterId,
            Column::Kind,
            Column::Ports,
            Column::Used,
            Column::UsedPorts,
        ];
        if splitter_columns.iter().all(|&c| self.cell(c).is_none()) {
            return Ok(None);
        }
        let before = self.invalid.0.len();
        let id = match self.cell(Column::SplitterId).map(str::to_owned) {
            Some(s) => self.text(Column::SplitterId, s),
            None => Some(dialect::single_splitter_id(box_id)),
        };
        let kind = match self.cell(Column::Kind) {
            None => Some(SplitterKind::Attendance),
            Some(s) => {
                let kind = splitter_kind(s);
                if kind.is_none() {
                    self.fail(Column::Kind, "must be \"attendance\" or \"connection\"");
                }
                kind
            }
        };
        let ports = self.ports();
        if self.invalid.0.len() > before {
            return Err(());
        }
        match (id, kind, ports) {
            (Some(id), Some(kind), Some(ports)) => Ok(Some(Splitter { id, kind, ports })),
            _ => Err(()),
        }
    }

    fn count(&mut self, c: Column) -> Option<u32> {
        let s = self.cell(c)?;
        count_text(s).map_err(|e| self.fail(c, e)).ok()
    }

    fn ports(&mut self) -> Option<Ports> {
        let before = self.invalid.0.len();
        let total = match self.cell(Column::Ports) {
            Some(_) => self.count(Column::Ports),
            None => {
                self.fail(Column::Ports, "is required");
                None
            }
        };
        let used = self.count(Column::Used);
        let used_ports = self.cell(Column::UsedPorts).and_then(|s| {
            s.split(';')
                .map(|p| count_text(p.trim()))
                .collect::<Result<Vec<u32>, _>>()
                .map_err(|_| self.fail(Column::UsedPorts, "must be port numbers separated by ';'"))
                .ok()
        });
        if self.invalid.0.len() > before {
            return None;
        }
        splitter_ports(total?, used, used_ports.as_deref())
            .map_err(|(which, message)| {
                let c = match which {
                    PortsField::Ports => Column::Ports,
                    PortsField::Used => Column::Used,
                    PortsField::UsedPorts => Column::UsedPorts,
                };
                self.fail(c, message);
            })
            .ok()
    }

    /// Checks that a later row of a box repeats its first row's box columns.
    fn agrees(&mut self, first: &Group, cells: &BoxCells) {
        let disagree = |c: Column, this: &mut Self| {
            let message = format!(
                "must agree with rows[{}], the box's first row",
                first.first_row
            );
            this.fail(c, message);
        };
        let f = &first.cells;
        if f.location.lat() != cells.location.lat() {
            disagree(Column::Lat, self);
        }
        if f.location.lon() != cells.location.lon() {
            disagree(Column::Lon, self);
        }
        if f.name != cells.name {
            disagree(Column::Name, self);
        }
        if f.status != cells.status {
            disagree(Column::Status, self);
        }
    }
}

/// Reads a CSV file (after a byte-order mark, if any) into a batch of boxes.
pub fn read_csv(text: &[u8]) -> Result<ImportBatch, ReadError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(dialect::strip_bom(text));
    let mut invalid = Invalid::default();
    let names: Vec<String> = match reader.byte_headers() {
        Ok(h) if !h.is_empty() => h
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect(),
        _ => {
            invalid.add("header", "is required: a first row naming the columns");
            return Err(invalid.into());
        }
    };
    let header = Header::read(names, &mut invalid);
    if !invalid.is_empty() {
        return Err(invalid.into());
    }
    let mut batch = ImportBatch::default();
    let mut groups: Vec<Group> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut splitter_ids: HashSet<String> = HashSet::new();
    let mut record = csv::ByteRecord::new();
    let mut n = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                invalid.add(format!("rows[{n}]"), format!("is not a CSV row ({e})"));
                break;
            }
        }
        let Some(cells) = record
            .iter()
            .map(|c| std::str::from_utf8(c).ok())
            .collect::<Option<Vec<&str>>>()
        else {
            invalid.add(format!("rows[{n}]"), "is not UTF-8 text");
            n += 1;
            continue;
        };
        for (k, cell) in cells.iter().enumerate() {
            let name = header.names.get(k);
            if let Some(name) = name.filter(|h| Column::named(&h.to_ascii_lowercase()).is_none())
                && !cell.is_empty()
            {
                *batch.ignored.entry(name.clone()).or_default() += 1;
            }
        }
        let mut row = RowCheck {
            n,
            header: &header,
            cells,
            invalid: &mut invalid,
        };
        if row.cells.len() != header.names.len() {
            let message = format!(
                "has {} fields where the header has {}",
                row.cells.len(),
                header.names.len()
            );
            row.invalid.add(format!("rows[{n}]"), message);
        } else {
            // The splitter is checked even when the box columns are not, so that every
            // problem of the row is told at once.
            let cells = row.box_cells();
            let splitter = row.splitter(cells.as_ref().map_or("", |c| c.id.as_str()));
            if let Ok(Some(s)) = &splitter
                && !splitter_ids.insert(s.id.clone())
            {
                let message = "is used by another splitter of this file (give each splitter \
                               of a box its own splitter_id)";
                row.fail(Column::SplitterId, message);
            }
            if let Some(cells) = cells {
                let g = match by_id.get(&cells.id) {
                    Some(&g) => {
                        row.agrees(&groups[g], &cells);
                        g
                    }
                    None => {
                        by_id.insert(cells.id.clone(), groups.len());
                        groups.push(Group {
                            first_row: n,
                            cells,
                            splitters: Vec::new(),
                            rows: Vec::new(),
                        });
                        groups.len() - 1
                    }
                };
                if let Ok(Some(s)) = splitter {
                    groups[g].splitters.push(s);
                    groups[g].rows.push(n);
                }
            }
        }
        n += 1;
    }
    let mut rows = Vec::with_capacity(groups.len());
    for g in groups {
        let BoxCells {
            id,
            location,
            name,
            status,
        } = g.cells;
        batch.boxes.push((
            g.first_row,
            NetBox {
                name: name.unwrap_or_else(|| id.clone()),
                id,
                status,
                location,
                splitters: g.splitters,
            },
        ));
        rows.push(g.rows);
    }
    batch.layout = Layout::Rows(rows);
    Ok(invalid.or_ok(batch)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<String> {
        match read_csv(text.as_bytes()) {
            Err(ReadError::Invalid(invalid)) => invalid.0.into_iter().map(|e| e.field).collect(),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn rows_of_one_box_make_one_box_with_a_splitter_each() {
        let text = "\u{feff}Box_ID,Latitude,LNG,name,Status,splitter_id,kind,ports,used_ports,note\n\
                    CTO-1,-23.5507,-46.633,CTO 1,Deployed,S1,attendance,8,1;3,a\n\
                    CTO-1,-23.5507,-46.633,CTO 1,deployed,S2,Connection,4.0,,b\n\
                    CTO-2,-23.5509,-46.6335,,in_project,,,16,,\n";
        let batch = read_csv(text.as_bytes()).unwrap();
        assert_eq!(batch.boxes.len(), 2);
        let (row, b) = &batch.boxes[0];
        assert_eq!(
            (*row, b.id.as_str(), b.name.as_str()),
            (0, "CTO-1", "CTO 1")
        );
        assert_eq!(b.splitters[0].ports.used(), &[1, 3]);
        assert_eq!(b.splitters[1].kind, SplitterKind::Connection);
        assert_eq!(b.splitters[1].ports.total(), 4);
        let (row, b) = &batch.boxes[1];
        assert_eq!(
            (*row, b.name.as_str(), b.status),
            (2, "CTO-2", BoxStatus::InProject)
        );
        assert_eq!(b.splitters[0].id, "CTO-2-S1");
        assert_eq!(b.splitters[0].kind, SplitterKind::Attendance);
        assert_eq!(batch.ignored.get("note"), Some(&2));
        assert_eq!(batch.splitter_id_field(0, 1), "rows[1].splitter_id");
        assert_eq!(batch.box_id_field(1), "rows[2].box_id");
    }

    #[test]
    fn each_bad_cell_is_named_by_row_and_column() {
        let text = "box_id,lat,lon,status,splitter_id,ports,used\n\
                    A,-23.5,-46.6,deployed,A1,8,9\n\
                    A,-23.6,-46.6,deployed,A2,8,1\n\
                    B,x,-46.6,built,B1,8.5,0\n\
                    C,-23.5,-46.6,deployed,A2,8,0\n\
                    D,-23.5\n";
        assert_eq!(
            fields(text),
            [
                "rows[0].used",
                "rows[1].lat",
                "rows[2].lat",
                "rows[2].status",
                "rows[2].ports",
                "rows[3].splitter_id",
                "rows[4]",
            ]
        );
    }

    #[test]
    fn a_header_without_the_box_columns_is_refused() {
        assert_eq!(fields("id,lat,lon,status\nA,0,0,deployed\n"), ["header"]);
        assert_eq!(fields(""), ["header"]);
        assert_eq!(fields("box_id,lat,latitude,lon,status\n"), ["header"]);
    }
}
