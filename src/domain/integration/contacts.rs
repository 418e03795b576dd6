//! An integration's contacts and support hours: whom to tell when something goes wrong,
//! and when someone answers.

use crate::domain::reservation::{is_e164, is_email};
use crate::domain::validation::Invalid;
use serde::{Deserialize, Deserializer, Serialize};

/// The most entries one contact list takes: enough for a team, few enough to mail.
pub const MAX_CONTACTS: usize = 20;
/// The most support-hours entries an integration takes.
pub const MAX_SUPPORT_HOURS: usize = 20;

/// Who to reach at the partner. Every member may be empty while the integration is
/// onboarding; what is given must be valid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    /// E-mail addresses told of failing webhooks and expiring keys.
    #[serde(default, deserialize_with = "null_as_default")]
    pub alert: Vec<String>,
    /// E-mail addresses or E.164 numbers for incidents.
    #[serde(default, deserialize_with = "null_as_default")]
    pub emergency: Vec<String>,
    /// E-mail addresses of the partner's engineers.
    #[serde(default, deserialize_with = "null_as_default")]
    pub technical: Vec<String>,
    /// E-mail addresses of the partner's operations team.
    #[serde(default, deserialize_with = "null_as_default")]
    pub operational: Vec<String>,
    /// The one address the partner's own customers may be given.
    #[serde(default)]
    #[schema(format = Email)]
    pub operational_public: Option<String>,
}

/// The members of [`Contacts`], as the API names them.
pub const CONTACT_MEMBERS: [&str; 5] = [
    "alert",
    "emergency",
    "technical",
    "operational",
    "operational_public",
];

/// A day of the week, as support hours name it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub const ALL: [Day; 7] = [
        Self::Mon,
        Self::Tue,
        Self::Wed,
        Self::Thu,
        Self::Fri,
        Self::Sat,
        Self::Sun,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mon => "mon",
            Self::Tue => "tue",
            Self::Wed => "wed",
            Self::Thu => "thu",
            Self::Fri => "fri",
            Self::Sat => "sat",
            Self::Sun => "sun",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// One checked support-hours entry: on `days`, from `from` to `to` (`HH:MM`, `to` may be
/// `24:00` for the end of the day) in `time_zone` (IANA).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SupportHours {
    pub days: Vec<Day>,
    #[schema(example = "08:00")]
    pub from: String,
    #[schema(example = "18:00")]
    pub to: String,
    #[schema(example = "America/Sao_Paulo")]
    pub time_zone: String,
}

/// One support-hours entry as sent; [`SupportHoursInput::check`] makes it a
/// [`SupportHours`]. Text rather than enums so every wrong value is named at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportHoursInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<Day>, required = true, nullable = false, min_items = 1)]
    pub days: Option<Vec<String>>,
    /// `HH:MM`, 00:00 to 23:59.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        required = true,
        nullable = false,
        pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        example = "08:00"
    )]
    pub from: Option<String>,
    /// `HH:MM`, later than `from`; `24:00` is the end of the day.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        required = true,
        nullable = false,
        pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
        example = "18:00"
    )]
    pub to: Option<String>,
    /// An IANA time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = true, nullable = false, example = "America/Sao_Paulo")]
    pub time_zone: Option<String>,
}

impl From<&SupportHours> for SupportHoursInput {
    fn from(h: &SupportHours) -> Self {
        Self {
            days: Some(h.days.iter().map(|d| d.as_str().to_owned()).collect()),
            from: Some(h.from.clone()),
            to: Some(h.to.clone()),
            time_zone: Some(h.time_zone.clone()),
        }
    }
}

/// `null` read as the empty value, so `"alert": null` means "none" as leaving it out does.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Contacts {
    /// Adds to `invalid` every member that is given but wrong, named `contacts.alert[1]`.
    pub fn check(&self, invalid: &mut Invalid) {
        let email = "must be an e-mail address";
        check_list(invalid, "alert", &self.alert, is_email, email);
        check_list(
            invalid,
            "emergency",
            &self.emergency,
            |s| is_email(s) || is_e164(s),
            "must be an e-mail address or an E.164 number such as +5511999990000",
        );
        check_list(invalid, "technical", &self.technical, is_email, email);
        check_list(invalid, "operational", &self.operational, is_email, email);
        if let Some(p) = &self.operational_public
            && !is_email(p)
        {
            invalid.add("contacts.operational_public", "must be one e-mail address");
        }
    }
}

fn check_list(
    invalid: &mut Invalid,
    member: &str,
    items: &[String],
    valid: impl Fn(&str) -> bool,
    message: &str,
) {
    if items.len() > MAX_CONTACTS {
        invalid.add(
            format!("contacts.{member}"),
            format!("must have at most {MAX_CONTACTS} entries"),
        );
        return;
    }
    for (i, item) in items.iter().enumerate() {
        let field = format!("contacts.{member}[{i}]");
        if !valid(item) {
            invalid.add(field, message);
        } else if let Some(j) = items[..i].iter().position(|o| o.eq_ignore_ascii_case(item)) {
            // A repeated alert address would be mailed twice.
            invalid.add(field, format!("repeats contacts.{member}[{j}]"));
        }
    }
}

/// Minutes since midnight of `HH:MM`; `24:00` (1440) only when `end_of_day` is allowed.
fn minutes(s: &str, end_of_day: bool) -> Option<u32> {
    if end_of_day && s == "24:00" {
        return Some(24 * 60);
    }
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![b[0], b[1], b[3], b[4]].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let h = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    let m = u32::from(b[3] - b'0') * 10 + u32::from(b[4] - b'0');
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl SupportHoursInput {
    /// The checked entry, or `None` with every fault added to `invalid` under `at`
    /// (`support_hours[0]`).
    pub fn check(&self, at: &str, invalid: &mut Invalid) -> Option<SupportHours> {
        let before = invalid.0.len();
        let day_names = Day::ALL.map(Day::as_str).join(", ");
        let mut days = Vec::new();
        match &self.days {
            None => invalid.add(
                format!("{at}.days"),
                format!("is required: one or more of {day_names}"),
            ),
            Some(d) if d.is_empty() => invalid.add(
                format!("{at}.days"),
                format!("must name at least one of {day_names}"),
            ),
            Some(d) => {
                for (j, name) in d.iter().enumerate() {
                    match Day::parse(name) {
                        None => invalid.add(
                            format!("{at}.days[{j}]"),
                            format!("must be one of {day_names}"),
                        ),
                        Some(day) if days.contains(&day) => {
                            invalid.add(format!("{at}.days[{j}]"), format!("repeats {name}"))
                        }
                        Some(day) => days.push(day),
                    }
                }
            }
        }
        let from = match self.from.as_deref() {
            None => {
                invalid.add(format!("{at}.from"), "is required: a time HH:MM");
                None
            }
            Some(s) => minutes(s, false).or_else(|| {
                invalid.add(
                    format!("{at}.from"),
                    "must be a time HH:MM from 00:00 to 23:59",
                );
                None
            }),
        };
        let to = match self.to.as_deref() {
            None => {
                invalid.add(format!("{at}.to"), "is required: a time HH:MM");
                None
            }
            Some(s) => minutes(s, true).or_else(|| {
                invalid.add(
                    format!("{at}.to"),
                    "must be a time HH:MM from 00:00 to 23:59, or 24:00 for the end of the day",
                );
                None
            }),
        };
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            // One entry is one span within a day; a night shift is two entries.
            invalid.add(
                format!("{at}.to"),
                "must be later than from: a span across midnight is two entries, from-24:00 \
                 and 00:00-to",
            );
        }
        match self.time_zone.as_deref() {
            None => invalid.add(
                format!("{at}.time_zone"),
                "is required: an IANA time zone such as America/Sao_Paulo",
            ),
            Some(tz) if tz.parse::<chrono_tz::Tz>().is_err() => invalid.add(
                format!("{at}.time_zone"),
                "must be an IANA time zone such as America/Sao_Paulo",
            ),
            Some(_) => {}
        }
        (invalid.0.len() == before).then(|| SupportHours {
            days,
            from: self.from.clone().unwrap_or_default(),
            to: self.to.clone().unwrap_or_default(),
            time_zone: self.time_zone.clone().unwrap_or_default(),
        })
    }
}

/// Checks every entry of `support_hours`, naming them `support_hours[i]`.
pub fn check_support_hours(
    entries: &[SupportHoursInput],
    invalid: &mut Invalid,
) -> Vec<SupportHours> {
    if entries.len() > MAX_SUPPORT_HOURS {
        invalid.add(
            "support_hours",
            format!("must have at most {MAX_SUPPORT_HOURS} entries"),
        );
        return Vec::new();
    }
    entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.check(&format!("support_hours[{i}]"), invalid))
        .collect()
}

/// The contact fields still missing, named as the API names them (`contacts.alert`, ...,
/// `support_hours`): empty when the integration may be active and be issued keys.
pub fn missing_contacts(contacts: &Contacts, support_hours: &[SupportHours]) -> Vec<String> {
    let lists = [
        ("alert", contacts.alert.is_empty()),
        ("emergency", contacts.emergency.is_empty()),
        ("technical", contacts.technical.is_empty()),
        ("operational", contacts.operational.is_empty()),
        ("operational_public", contacts.operational_public.is_none()),
    ];
    let mut missing: Vec<String> = lists
        .into_iter()
        .filter(|(_, empty)| *empty)
        .map(|(m, _)| format!("contacts.{m}"))
        .collect();
    if support_hours.is_empty() {
        missing.push("support_hours".to_owned());
    }
    missing
}
