//! The network plant: boxes (CTOs), their splitters and ports, regions and plans.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The longest id, name or tag the service stores.
pub const MAX_TEXT_LEN: usize = 200;
/// The longest project id.
pub const MAX_PROJECT_ID_LEN: usize = 64;
/// The largest splitter the service accepts (ports per splitter).
pub const MAX_PORTS: u32 = 1024;

/// Where a box is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoxStatus {
    Deployed,
    InProject,
    OutOfService,
}

impl BoxStatus {
    pub const ALL: [BoxStatus; 3] = [Self::Deployed, Self::InProject, Self::OutOfService];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployed => "deployed",
            Self::InProject => "in_project",
            Self::OutOfService => "out_of_service",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// What a splitter's ports are for: only `attendance` ports serve customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SplitterKind {
    Attendance,
    Connection,
}

impl SplitterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attendance => "attendance",
            Self::Connection => "connection",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "attendance" => Some(Self::Attendance),
            "connection" => Some(Self::Connection),
            _ => None,
        }
    }
}

/// The ports of one splitter and which of them installed customers occupy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports {
    total: u32,
    /// Occupied port numbers, 1-based, ascending, distinct.
    used: Vec<u32>,
}

/// Why a splitter's port description is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortsError {
    #[error("must be between 1 and {MAX_PORTS}")]
    Total,
    #[error("must not exceed ports")]
    UsedAboveTotal,
    #[error("port {0} is outside 1..ports")]
    PortOutOfRange(u32),
    #[error("port {0} is listed twice")]
    Duplicate(u32),
}

impl Ports {
    /// Ports 1..=used occupied.
    pub fn with_used_count(total: u32, used: u32) -> Result<Self, PortsError> {
        Self::check_total(total)?;
        if used > total {
            return Err(PortsError::UsedAboveTotal);
        }
        Ok(Self {
            total,
            used: (1..=used).collect(),
        })
    }

    /// Exactly the listed port numbers occupied.
    pub fn with_used_ports(total: u32, ports: &[u32]) -> Result<Self, PortsError> {
        Self::check_total(total)?;
        let mut seen = BTreeSet::new();
        for &p in ports {
            if p == 0 || p > total {
                return Err(PortsError::PortOutOfRange(p));
            }
            if !seen.insert(p) {
                return Err(PortsError::Duplicate(p));
            }
        }
        Ok(Self {
            total,
            used: seen.into_iter().collect(),
        })
    }

    fn check_total(total: u32) -> Result<(), PortsError> {
        if total == 0 || total > MAX_PORTS {
            return Err(PortsError::Total);
        }
        Ok(())
    }

    pub fn total(&self) -> u32 {
        self.total
    }

    pub fn used(&self) -> &[u32] {
        &self.used
    }

    /// The stored form of the occupied ports: comma-separated numbers.
    pub fn used_to_text(&self) -> String {
        let parts: Vec<String> = self.used.iter().map(u32::to_string).collect();
        parts.join(",")
    }

    /// Reads the stored form back; the store only holds values this type wrote.
    pub fn from_text(total: u32, used: &str) -> Result<Self, PortsError> {
        let ports: Vec<u32> = used
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| PortsError::PortOutOfRange(0)))
            .collect::<Result<_, _>>()?;
        Self::with_used_ports(total, &ports)
    }
}

/// Free ports of a splitter: `ports - used - holds`, never below zero.
pub fn free_ports(total: u32, used: u32, holds: u32) -> u32 {
    total.saturating_sub(used).saturating_sub(holds)
}

/// A splitter as imported.
#[derive(Debug, Clone, PartialEq)]
pub struct Splitter {
    pub id: String,
    pub kind: SplitterKind,
    pub ports: Ports,
}

/// A box (CTO) as imported.
#[derive(Debug, Clone, PartialEq)]
pub struct NetBox {
    pub id: String,
    pub name: String,
    pub status: BoxStatus,
    pub location: super::Coord,
    pub splitters: Vec<Splitter>,
}

/// A commercial region as imported: a (multi)polygon in lon/lat with tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub area: geo::MultiPolygon<f64>,
}

impl Region {
    /// Whether a position lies inside the region or on its edge.
    pub fn covers(&self, at: super::Coord) -> bool {
        use geo::Intersects;
        self.area.intersects(&geo::Point::new(at.lon(), at.lat()))
    }
}

/// The sorted, distinct tags of all regions that cover a position.
pub fn region_tags_at<'a>(
    regions: impl IntoIterator<Item = &'a Region>,
    at: super::Coord,
) -> Vec<String> {
    let tags: BTreeSet<&str> = regions
        .into_iter()
        .filter(|r| r.covers(at))
        .flat_map(|r| r.tags.iter().map(String::as_str))
        .collect();
    tags.into_iter().map(str::to_owned).collect()
}

/// A commercial plan: its tags restrict feasibility to regions bearing one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Plan {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
}

/// Checks an identifier, name or tag: non-empty, at most [`MAX_TEXT_LEN`] characters, no
/// control characters.
pub fn check_text(s: &str) -> Result<(), &'static str> {
    if s.trim().is_empty() {
        return Err("must not be empty");
    }
    if s.chars().count() > MAX_TEXT_LEN {
        return Err("must be at most 200 characters");
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(())
}

/// Checks a project id: 1 to [`MAX_PROJECT_ID_LEN`] ASCII letters, digits, `.`, `_` and
/// `-`, starting with a letter or digit (so never the wildcard `*` of a token's projects).
pub fn check_project_id(s: &str) -> Result<(), &'static str> {
    if s == "*" {
        return Err("must name one project: \"*\" (every project) is only for tokens");
    }
    if s.is_empty() {
        return Err("must not be empty: give 1 to 64 letters, digits, '.', '_' or '-'");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("may contain only ASCII letters, digits, '.', '_' and '-'");
    }
    if s.len() > MAX_PROJECT_ID_LEN {
        return Err("must be at most 64 characters");
    }
    if !s.as_bytes()[0].is_ascii_alphanumeric() {
        return Err("must start with a letter or digit");
    }
    Ok(())
}

/// Sorted, distinct tags.
pub fn normalise_tags<I: IntoIterator<Item = S>, S: Into<String>>(tags: I) -> Vec<String> {
    let set: BTreeSet<String> = tags.into_iter().map(Into::into).collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_never_go_below_zero() {
        assert_eq!(free_ports(8, 3, 2), 3);
        assert_eq!(free_ports(8, 8, 1), 0);
        assert_eq!(free_ports(8, 7, 5), 0);
    }

    #[test]
    fn a_used_count_occupies_the_first_ports() {
        let p = Ports::with_used_count(8, 3).unwrap();
        assert_eq!(p.used(), &[1, 2, 3]);
        assert_eq!(
            Ports::with_used_count(8, 9),
            Err(PortsError::UsedAboveTotal)
        );
    }

    #[test]
    fn used_ports_must_lie_on_the_splitter() {
        assert_eq!(
            Ports::with_used_ports(8, &[0]),
            Err(PortsError::PortOutOfRange(0))
        );
        assert_eq!(
            Ports::with_used_ports(8, &[9]),
            Err(PortsError::PortOutOfRange(9))
        );
        assert_eq!(
            Ports::with_used_ports(8, &[2, 2]),
            Err(PortsError::Duplicate(2))
        );
        let p = Ports::with_used_ports(8, &[5, 2]).unwrap();
        assert_eq!(Ports::from_text(8, &p.used_to_text()).unwrap(), p);
    }

    #[test]
    fn a_project_id_is_letters_digits_dots_underscores_and_hyphens() {
        for good in ["p1", "sp-centro.v2_1", "0", "A", &"a".repeat(64)] {
            assert_eq!(check_project_id(good), Ok(()), "{good}");
        }
        for bad in [
            "*",
            "",
            "a b",
            "a*",
            "-p",
            ".p",
            "_p",
            "são-paulo",
            "p\0",
            &"a".repeat(65),
        ] {
            assert!(check_project_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_project_id("-p"),
            Err("must start with a letter or digit")
        );
    }

    #[test]
    fn a_splitter_needs_at_least_one_port() {
        assert_eq!(Ports::with_used_count(0, 0), Err(PortsError::Total));
    }
}
