//! Port accounting between the inventory and reservations: where each reservation that
//! occupies a port of a box goes when an import changes that box.
//!
//! A port is free, used (the inventory says so), held (a pending or confirmed
//! reservation) or installed (completed here, not yet shown used by the inventory). An
//! import may take a held port away: the hold then moves to the box's lowest free port.
//! It may never take an installed one away; an installed port it shows used is confirmed
//! and from then on follows the inventory.

use serde::{Deserialize, Serialize};

/// One port of one splitter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PortRef {
    pub splitter_id: String,
    #[schema(minimum = 1)]
    pub port: u32,
}

/// A move of a reservation's hold, as its `port_moves` records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PortMove {
    pub from: PortRef,
    pub to: PortRef,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A splitter of the box as the import leaves it.
#[derive(Debug, Clone, Copy)]
pub struct SplitterAfter<'a> {
    pub id: &'a str,
    pub attendance: bool,
    pub ports: u32,
    /// The ports the inventory shows used.
    pub used: &'a [u32],
}

impl SplitterAfter<'_> {
    /// Whether `port` still exists as a customer port of this splitter.
    fn serves(&self, port: u32) -> bool {
        self.attendance && (1..=self.ports).contains(&port)
    }
}

/// A reservation occupying a port of the box before the import.
#[derive(Debug, Clone, Copy)]
pub struct Occupant<'a> {
    pub splitter_id: &'a str,
    pub port: u32,
    /// Installed (rather than held).
    pub installed: bool,
}

/// What becomes of each occupant (by its index in the list given).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Holds moved to another port.
    pub moves: Vec<(usize, PortRef)>,
    /// Installs the inventory now shows used: they stop occupying the port themselves.
    pub confirmed: Vec<usize>,
    /// Occupants the import would leave without a port: the import must be refused.
    pub blocked: Vec<usize>,
}

/// Reconciles a box's occupants with its splitters after an import.
///
/// `splitters` in id order; `occupants` in the order displaced holds move (oldest
/// first). A box the import deletes has no splitters.
pub fn reconcile(splitters: &[SplitterAfter<'_>], occupants: &[Occupant<'_>]) -> Reconciliation {
    let after = |id: &str| splitters.iter().find(|s| s.id == id);
    let mut out = Reconciliation::default();
    let mut taken: Vec<(&str, u32)> = Vec::new();
    let mut displaced: Vec<usize> = Vec::new();
    for (i, o) in occupants.iter().enumerate() {
        let splitter = after(o.splitter_id).filter(|s| s.serves(o.port));
        match (splitter, o.installed) {
            (None, true) => out.blocked.push(i),
            (Some(s), true) if s.used.contains(&o.port) => out.confirmed.push(i),
            (Some(s), false) if s.used.contains(&o.port) => displaced.push(i),
            (None, false) => displaced.push(i),
            (Some(_), _) => taken.push((o.splitter_id, o.port)),
        }
    }
    for i in displaced {
        let free = splitters.iter().filter(|s| s.attendance).find_map(|s| {
            (1..=s.ports)
                .find(|p| !s.used.contains(p) && !taken.contains(&(s.id, *p)))
                .map(|p| (s.id, p))
        });
        match free {
            Some((splitter_id, port)) => {
                taken.push((splitter_id, port));
                let to = PortRef {
                    splitter_id: splitter_id.to_owned(),
                    port,
                };
                out.moves.push((i, to));
            }
            None => out.blocked.push(i),
        }
    }
    out.blocked.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn att<'a>(id: &'a str, ports: u32, used: &'a [u32]) -> SplitterAfter<'a> {
        SplitterAfter {
            id,
            attendance: true,
            ports,
            used,
        }
    }

    fn hold(splitter_id: &str, port: u32) -> Occupant<'_> {
        Occupant {
            splitter_id,
            port,
            installed: false,
        }
    }

    fn installed(splitter_id: &str, port: u32) -> Occupant<'_> {
        Occupant {
            splitter_id,
            port,
            installed: true,
        }
    }

    fn to(splitter_id: &str, port: u32) -> PortRef {
        PortRef {
            splitter_id: splitter_id.into(),
            port,
        }
    }

    #[test]
    fn a_hold_on_a_port_the_import_marks_used_moves_to_the_lowest_free_port() {
        let r = reconcile(&[att("S1", 8, &[1, 2])], &[hold("S1", 1)]);
        assert_eq!(r.moves, vec![(0, to("S1", 3))]);
        assert!(r.blocked.is_empty() && r.confirmed.is_empty());
    }

    #[test]
    fn holds_the_import_leaves_alone_stay_and_their_ports_are_not_targets() {
        let r = reconcile(
            &[att("S1", 4, &[1])],
            &[hold("S1", 2), hold("S1", 1), hold("S1", 3)],
        );
        assert_eq!(r.moves, vec![(1, to("S1", 4))]);
    }

    #[test]
    fn displaced_holds_move_in_the_order_given_and_across_splitters_in_id_order() {
        let r = reconcile(
            &[att("S1", 2, &[1]), att("S2", 2, &[])],
            &[hold("S1", 5), hold("S1", 1), hold("S9", 1)],
        );
        assert_eq!(
            r.moves,
            vec![(0, to("S1", 2)), (1, to("S2", 1)), (2, to("S2", 2))]
        );
    }

    #[test]
    fn a_hold_on_a_splitter_made_connection_moves_to_an_attendance_one() {
        let connection = SplitterAfter {
            id: "S1",
            attendance: false,
            ports: 8,
            used: &[],
        };
        let r = reconcile(&[connection, att("S2", 8, &[])], &[hold("S1", 1)]);
        assert_eq!(r.moves, vec![(0, to("S2", 1))]);
    }

    #[test]
    fn holds_that_find_no_free_port_block_the_import() {
        let r = reconcile(&[att("S1", 2, &[1])], &[hold("S1", 1), hold("S1", 2)]);
        assert_eq!(r.moves, vec![]);
        assert_eq!(r.blocked, vec![0]);
        let deleted = reconcile(&[], &[hold("S1", 1), installed("S1", 2)]);
        assert_eq!(deleted.blocked, vec![0, 1]);
    }

    #[test]
    fn an_install_stays_until_the_inventory_shows_it_used() {
        // A lagging export: the port is not yet used in the file, and stays occupied.
        let lagging = reconcile(&[att("S1", 4, &[])], &[installed("S1", 4), hold("S1", 1)]);
        assert_eq!(lagging, Reconciliation::default());
        let caught_up = reconcile(&[att("S1", 4, &[4])], &[installed("S1", 4)]);
        assert_eq!(caught_up.confirmed, vec![0]);
        assert!(caught_up.moves.is_empty() && caught_up.blocked.is_empty());
    }

    #[test]
    fn an_import_that_removes_an_installed_port_is_blocked_even_with_free_ports() {
        for after in [
            vec![att("S1", 3, &[]), att("S2", 8, &[])],
            vec![att("S2", 8, &[])],
        ] {
            let r = reconcile(&after, &[installed("S1", 4)]);
            assert_eq!(r.blocked, vec![0]);
            assert!(r.moves.is_empty());
        }
    }

    #[test]
    fn a_displaced_hold_never_takes_a_port_an_install_occupies() {
        let r = reconcile(&[att("S1", 3, &[1])], &[installed("S1", 2), hold("S1", 1)]);
        assert_eq!(r.moves, vec![(1, to("S1", 3))]);
    }
}
