//! Event types, and the patterns a webhook subscribes with (`*`, a type, `reservation.*`).

use crate::domain::validation::Invalid;

/// The most entries one webhook's `events` may have (every type and pattern fits twice).
pub const MAX_EVENT_PATTERNS: usize = 32;

/// What happened, as the `type` of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    ReservationCreated,
    ReservationConfirmed,
    ReservationCancelled,
    ReservationInstalled,
    ReservationExpired,
    ReservationPortMoved,
    ReservationInventoryConfirmed,
    InventoryImported,
    CoverageAvailable,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        Self::ReservationCreated,
        Self::ReservationConfirmed,
        Self::ReservationCancelled,
        Self::ReservationInstalled,
        Self::ReservationExpired,
        Self::ReservationPortMoved,
        Self::ReservationInventoryConfirmed,
        Self::InventoryImported,
        Self::CoverageAvailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReservationCreated => "reservation.created",
            Self::ReservationConfirmed => "reservation.confirmed",
            Self::ReservationCancelled => "reservation.cancelled",
            Self::ReservationInstalled => "reservation.installed",
            Self::ReservationExpired => "reservation.expired",
            Self::ReservationPortMoved => "reservation.port_moved",
            Self::ReservationInventoryConfirmed => "reservation.inventory_confirmed",
            Self::InventoryImported => "inventory.imported",
            Self::CoverageAvailable => "coverage.available",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The part before the dot (`reservation`), which a prefix pattern names.
    pub fn family(self) -> &'static str {
        self.as_str()
            .split_once('.')
            .map_or("", |(family, _)| family)
    }
}

/// Checks one entry of `events`: `*`, a known type, or `<family>.*` for a family that has
/// types (a pattern that can never match is a mistake worth telling).
pub fn check_pattern(p: &str) -> Result<(), String> {
    if p == "*" || EventType::parse(p).is_some() {
        return Ok(());
    }
    if let Some(family) = p.strip_suffix(".*")
        && EventType::ALL.iter().any(|t| t.family() == family)
    {
        return Ok(());
    }
    let families: Vec<String> = {
        let mut f: Vec<&str> = EventType::ALL.iter().map(|t| t.family()).collect();
        f.dedup();
        f.iter().map(|f| format!("{f}.*")).collect()
    };
    Err(format!(
        "must be \"*\", an event type ({}) or a prefix pattern ({})",
        EventType::ALL.map(EventType::as_str).join(", "),
        families.join(", ")
    ))
}

/// Checks a webhook's `events`: one to [`MAX_EVENT_PATTERNS`] valid, distinct entries,
/// each fault named `events[i]`.
pub fn check_events(events: &[String]) -> Result<(), Invalid> {
    let mut invalid = Invalid::default();
    if events.is_empty() {
        invalid.add(
            "events",
            "must list at least one event type or pattern (\"*\" for all)",
        );
    }
    if events.len() > MAX_EVENT_PATTERNS {
        invalid.add(
            "events",
            format!("must have at most {MAX_EVENT_PATTERNS} entries"),
        );
    }
    for (i, p) in events.iter().enumerate() {
        if let Err(m) = check_pattern(p) {
            invalid.add(format!("events[{i}]"), m);
        } else if let Some(j) = events[..i].iter().position(|q| q == p) {
            invalid.add(format!("events[{i}]"), format!("repeats events[{j}]"));
        }
    }
    invalid.or_ok(())
}

/// Whether a webhook subscribed with `patterns` is told of an event of `event_type`.
pub fn matches(patterns: &[String], event_type: &str) -> bool {
    patterns.iter().any(|p| {
        p == "*"
            || p == event_type
            // `reservation.*` covers `reservation.created`, never `reservations.x`.
            || p.strip_suffix('*').is_some_and(|prefix| {
                prefix.ends_with('.') && event_type.starts_with(prefix)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_type_reads_back_as_itself() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("reservation"), None);
        assert_eq!(EventType::parse("Reservation.Created"), None);
        assert_eq!(EventType::ReservationPortMoved.family(), "reservation");
        assert_eq!(EventType::CoverageAvailable.family(), "coverage");
    }

    #[test]
    fn patterns_are_a_star_a_type_or_a_family_prefix() {
        for ok in [
            "*",
            "reservation.*",
            "inventory.*",
            "coverage.*",
            "reservation.expired",
            "inventory.imported",
        ] {
            assert!(check_pattern(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "**",
            "reservation",
            "reservation.",
            "reservation*",
            "reserv.*",
            "reservation.exp*",
            "nothing.*",
            ".*",
            "reservation.created ",
        ] {
            assert!(check_pattern(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bad_entries_are_named_by_their_index() {
        assert!(check_events(&list(&["reservation.*", "coverage.available"])).is_ok());
        let e = check_events(&list(&["*", "reservation.nope", "*"])).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["events[1]", "events[2]"]);
        assert!(e.0[1].message.contains("repeats events[0]"));
        assert_eq!(check_events(&[]).unwrap_err().0[0].field, "events");
        let many = vec!["*".to_string(); MAX_EVENT_PATTERNS + 1];
        assert_eq!(check_events(&many).unwrap_err().0[0].field, "events");
    }

    #[test]
    fn a_pattern_matches_its_types_and_nothing_else() {
        let all = list(&["*"]);
        let reservations = list(&["reservation.*"]);
        let two = list(&["reservation.expired", "inventory.imported"]);
        for t in EventType::ALL {
            assert!(matches(&all, t.as_str()));
            assert_eq!(
                matches(&reservations, t.as_str()),
                t.family() == "reservation"
            );
        }
        assert!(matches(&two, "reservation.expired"));
        assert!(matches(&two, "inventory.imported"));
        assert!(!matches(&two, "reservation.created"));
        assert!(!matches(&reservations, "reservations.created"));
        assert!(!matches(&[], "reservation.created"));
    }
}
