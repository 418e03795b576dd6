//! Reservations: one port held for a prospective customer, and the life of that hold.

use super::feasibility::FeasibilityRequest;
use super::network::check_text;
use super::validation::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a reservation is in its life. `Pending` and `Confirmed` hold a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Confirmed,
    Cancelled,
    Installed,
    Expired,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Self::Pending,
        Self::Confirmed,
        Self::Cancelled,
        Self::Installed,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Installed => "installed",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether a reservation in this status holds its port.
    pub fn holds(self) -> bool {
        matches!(self, Self::Pending | Self::Confirmed)
    }

    /// Whether a reservation in this status occupies its port: a hold, or an install
    /// until the inventory shows the port used.
    pub fn occupies(self, inventory_confirmed: bool) -> bool {
        self.holds() || (self == Self::Installed && !inventory_confirmed)
    }
}

/// What network teams can do to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    Confirm,
    Cancel,
    Complete,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Cancel => "cancel",
            Self::Complete => "complete",
        }
    }

    /// The status after this transition, or `None` when it is not allowed from `from`.
    /// Confirming a confirmed reservation is a no-op.
    pub fn apply(self, from: Status) -> Option<Status> {
        use Status::*;
        match (self, from) {
            (Self::Confirm, Pending | Confirmed) => Some(Confirmed),
            (Self::Cancel, Pending | Confirmed) => Some(Cancelled),
            (Self::Complete, Confirmed) => Some(Installed),
            _ => None,
        }
    }
}

/// The prospective customer. Personal data: `Debug` shows nothing of it, and it is erased
/// when the reservation expires.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Customer {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Customer([personal data])")
    }
}

/// `POST /reservations` as sent.
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationRequest {
    // Options, so that every missing field is reported at once (`holder`, `parse`).
    #[schema(required = true, nullable = false, minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[schema(required = true, nullable = false, minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
    #[schema(min_length = 1, max_length = 200)]
    pub plan_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<crate::domain::feasibility::Text>)]
    pub tags: Vec<String>,
    /// Metres, up to the `max_radius_m` setting; default the `default_radius_m` setting.
    #[schema(exclusive_minimum = 0, maximum = 100000)]
    pub radius_m: Option<f64>,
    #[schema(value_type = Option<Vec<crate::domain::feasibility::Text>>)]
    pub projects: Option<Vec<String>>,
    /// Hold on this box, which must itself be a candidate.
    #[schema(min_length = 1, max_length = 200)]
    pub box_id: Option<String>,
    #[schema(required = true, nullable = false, min_length = 1, max_length = 500)]
    pub address: Option<String>,
    #[schema(required = true, nullable = false)]
    pub customer: Option<CustomerInput>,
    #[schema(min_length = 1, max_length = 200)]
    pub external_ref: Option<String>,
}

impl fmt::Debug for ReservationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReservationRequest")
            .field("box_id", &self.box_id)
            .field("external_ref", &self.external_ref)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    #[schema(required = true, nullable = false, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// E.164, such as +5511987654321.
    #[schema(pattern = r"^\+[1-9][0-9]{1,14}$")]
    pub phone: Option<String>,
    #[schema(format = Email)]
    pub email: Option<String>,
}

/// The checked personal and reference parts of a reservation request.
#[derive(Clone, PartialEq)]
pub struct Holder {
    pub customer: Customer,
    pub address: String,
    pub external_ref: Option<String>,
    pub box_id: Option<String>,
}

impl fmt::Debug for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Holder")
            .field("box_id", &self.box_id)
            .finish_non_exhaustive()
    }
}

/// The longest address accepted.
pub(crate) const MAX_ADDRESS: usize = 500;

impl ReservationRequest {
    /// Where and for what plan: checked as a feasibility request is.
    pub fn location(&self) -> FeasibilityRequest {
        FeasibilityRequest {
            lat: self.lat,
            lon: self.lon,
            plan_id: self.plan_id.clone(),
            tags: self.tags.clone(),
            radius_m: self.radius_m,
            limit: None,
            projects: self.projects.clone(),
        }
    }

    /// Checks the customer, address, reference and box id (the location is checked as a
    /// feasibility request).
    pub fn holder(&self) -> Result<Holder, Invalid> {
        let mut invalid = Invalid::default();
        let empty = CustomerInput::default();
        let c = self.customer.as_ref().unwrap_or_else(|| {
            invalid.add("customer", "is required");
            &empty
        });
        let name = match c.name.as_deref().map(str::trim) {
            Some(n)
                if !n.is_empty()
                    && n.chars().count() <= 200
                    && !n.chars().any(char::is_control) =>
            {
                n.to_owned()
            }
            _ => {
                if self.customer.is_some() {
                    invalid.add("customer.name", "is required: 1 to 200 characters");
                }
                String::new()
            }
        };
        if let Some(p) = &c.phone
            && !is_e164(p)
        {
            invalid.add(
                "customer.phone",
                "must be an E.164 number such as +5511987654321",
            );
        }
        if let Some(e) = &c.email
            && !is_email(e)
        {
            invalid.add("customer.email", "must be an e-mail address");
        }
        let address = match self.address.as_deref().map(str::trim) {
            Some(a)
                if !a.is_empty()
                    && a.chars().count() <= MAX_ADDRESS
                    && !a.chars().any(char::is_control) =>
            {
                a.to_owned()
            }
            _ => {
                invalid.add("address", "is required: 1 to 500 characters");
                String::new()
            }
        };
        if let Some(r) = &self.external_ref
            && let Err(m) = check_text(r)
        {
            invalid.add("external_ref", m);
        }
        if let Some(b) = &self.box_id
            && let Err(m) = check_text(b)
        {
            invalid.add("box_id", m);
        }
        invalid.or_ok(Holder {
            customer: Customer {
                name,
                phone: c.phone.clone(),
                email: c.email.clone(),
            },
            address,
            external_ref: self.external_ref.clone(),
            box_id: self.box_id.clone(),
        })
    }
}

/// `+` then 2 to 15 digits, the first not 0.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A pragmatic address check: `local@domain.tld`, no spaces, at most 254 characters.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
}

/// Letters and digits without the look-alikes 0, O, 1 and I.
pub const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A new reservation code: `R-` and 8 characters of [`CODE_ALPHABET`].
pub fn new_code(rng: &mut impl rand::Rng) -> String {
    use rand::RngExt;
    let mut code = String::with_capacity(10);
    code.push_str("R-");
    for _ in 0..8 {
        code.push(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char);
    }
    code
}

/// Whether a string has the shape of a reservation code (case matters).
pub fn looks_like_code(s: &str) -> bool {
    s.len() == 10 && s.starts_with("R-") && s.bytes().skip(2).all(|b| CODE_ALPHABET.contains(&b))
}

/// The lowest free port of a splitter: not occupied, not held, within 1..=ports.
pub fn lowest_free_port(ports: u32, used: &[u32], held: &[u32]) -> Option<u32> {
    (1..=ports).find(|p| !used.contains(p) && !held.contains(p))
}

/// Which `Idempotency-Key` values are accepted: 1 to 255 visible ASCII characters.
pub fn valid_idempotency_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_contract_transitions_are_allowed() {
        use Status::*;
        use Transition::*;
        assert_eq!(Confirm.apply(Pending), Some(Confirmed));
        assert_eq!(Confirm.apply(Confirmed), Some(Confirmed));
        assert_eq!(Cancel.apply(Pending), Some(Cancelled));
        assert_eq!(Cancel.apply(Confirmed), Some(Cancelled));
        assert_eq!(Complete.apply(Confirmed), Some(Installed));
        assert_eq!(Complete.apply(Pending), None);
        for t in [Confirm, Cancel, Complete] {
            for s in [Cancelled, Installed, Expired] {
                assert_eq!(t.apply(s), None, "{t:?} from {s:?}");
            }
        }
    }

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        let mut rng = rand::rng();
        for _ in 0..200 {
            let code = new_code(&mut rng);
            assert!(looks_like_code(&code), "{code}");
            assert!(!code[2..].contains(['0', 'O', '1', 'I']));
        }
        assert!(!looks_like_code("r-7K3F9QXM"));
        assert!(!looks_like_code("R-7K3F9QX0"));
    }

    #[test]
    fn the_lowest_free_port_skips_used_and_held_ones() {
        assert_eq!(lowest_free_port(8, &[1, 2, 3], &[4]), Some(5));
        assert_eq!(lowest_free_port(2, &[1], &[2]), None);
        assert_eq!(lowest_free_port(4, &[], &[]), Some(1));
    }

    #[test]
    fn phones_are_e164_and_emails_plausible() {
        assert!(is_e164("+5511987654321"));
        assert!(
            !is_e164("5511987654321")
                && !is_e164("+0123")
                && !is_e164("+55 11 9")
                && !is_e164("+1234567890123456")
        );
        assert!(is_email("maria@example.com"));
        assert!(
            !is_email("maria@")
                && !is_email("maria example.com")
                && !is_email("@x.com")
                && !is_email("a@b")
                && !is_email("a@.com")
        );
    }

    #[test]
    fn every_bad_holder_field_is_reported() {
        let req: ReservationRequest = serde_json::from_value(json!({
            "lat": 0, "lon": 0, "address": " ",
            "customer": {"name": "", "phone": "12", "email": "x"}, "external_ref": ""
        }))
        .unwrap();
        let fields: Vec<_> = req
            .holder()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "customer.name",
                "customer.phone",
                "customer.email",
                "address",
                "external_ref"
            ]
        );
    }

    #[test]
    fn personal_data_never_shows_in_debug_output() {
        let req: ReservationRequest = serde_json::from_value(json!({
            "lat": 0, "lon": 0, "address": "Rua Exemplo 100",
            "customer": {"name": "Maria Silva", "phone": "+5511987654321", "email": "maria@example.com"}
        }))
        .unwrap();
        let shown = format!("{req:?} {:?}", req.holder().unwrap());
        for secret in ["Maria", "+5511", "maria@", "Exemplo"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(valid_idempotency_key("abc-123_XYZ"));
        assert!(
            !valid_idempotency_key("")
                && !valid_idempotency_key("has space")
                && !valid_idempotency_key("é")
        );
        assert!(!valid_idempotency_key(&"k".repeat(256)));
    }
}

/// A reservation as stored and as shown (`Serialize` gives the contract's JSON).
#[derive(Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Reservation {
    pub id: String,
    pub code: String,
    pub status: Status,
    pub project: String,
    pub box_id: String,
    pub splitter_id: String,
    #[schema(minimum = 1)]
    pub port: u32,
    pub distance_m: f64,
    pub plan_id: Option<String>,
    pub tags: Vec<String>,
    pub location: Location,
    pub address: Option<String>,
    pub customer: Option<Customer>,
    pub external_ref: Option<String>,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub confirmed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Each move of the hold an import caused, oldest first.
    pub port_moves: Vec<super::ports::PortMove>,
    /// When an import first showed the installed port used (until then the reservation
    /// itself keeps the port occupied).
    pub inventory_confirmed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Its last change (the latest of the times above): webhooks, whose order is not
    /// guaranteed, carry it so a receiver can keep the newest state.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Reservation {
    /// The latest of its times (what `updated_at` shows).
    pub fn last_change(&self) -> chrono::DateTime<chrono::Utc> {
        [
            Some(self.created_at),
            self.confirmed_at,
            self.closed_at,
            self.inventory_confirmed_at,
            self.port_moves.last().map(|m| m.at),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(self.created_at)
    }
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("id", &self.id)
            .field("code", &self.code)
            .field("status", &self.status)
            .field("splitter_id", &self.splitter_id)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}
