//! Operator settings: search radii and the reservation time-to-live.

use super::validation::Invalid;
use serde::{Deserialize, Serialize};

/// The settings in force. Always valid: built only through [`Settings::new`] and
/// [`Settings::patch`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Settings {
    pub default_radius_m: f64,
    pub max_radius_m: f64,
    pub reservation_ttl_s: i64,
}

/// A partial change, as sent to `PATCH /settings`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[schema(exclusive_minimum = 0, maximum = 100000)]
    pub default_radius_m: Option<f64>,
    #[schema(exclusive_minimum = 0, maximum = 100000)]
    pub max_radius_m: Option<f64>,
    #[schema(minimum = 1, maximum = 31622400)]
    pub reservation_ttl_s: Option<i64>,
}

/// The longest reservation time-to-live accepted: one year.
pub(crate) const MAX_TTL_S: i64 = 366 * 86_400;
/// The largest search radius accepted: 100 km.
pub(crate) const MAX_RADIUS_M: f64 = 100_000.0;

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_radius_m: 250.0,
            max_radius_m: 2000.0,
            reservation_ttl_s: 604_800,
        }
    }
}

impl Settings {
    pub fn new(
        default_radius_m: f64,
        max_radius_m: f64,
        reservation_ttl_s: i64,
    ) -> Result<Self, Invalid> {
        let mut invalid = Invalid::default();
        for (field, v) in [
            ("default_radius_m", default_radius_m),
            ("max_radius_m", max_radius_m),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= MAX_RADIUS_M) {
                invalid.add(
                    field,
                    format!("must be greater than 0 and at most {MAX_RADIUS_M}"),
                );
            }
        }
        if invalid.is_empty() && default_radius_m > max_radius_m {
            invalid.add("default_radius_m", "must not be above max_radius_m");
        }
        if !(1..=MAX_TTL_S).contains(&reservation_ttl_s) {
            invalid.add(
                "reservation_ttl_s",
                format!("must be between 1 and {MAX_TTL_S}"),
            );
        }
        invalid.or_ok(Self {
            default_radius_m,
            max_radius_m,
            reservation_ttl_s,
        })
    }

    /// These settings with a patch applied, checked as a whole.
    pub fn patch(&self, p: &SettingsPatch) -> Result<Self, Invalid> {
        Self::new(
            p.default_radius_m.unwrap_or(self.default_radius_m),
            p.max_radius_m.unwrap_or(self.max_radius_m),
            p.reservation_ttl_s.unwrap_or(self.reservation_ttl_s),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_radius_may_not_exceed_the_maximum() {
        let s = Settings::default();
        let err = s
            .patch(&SettingsPatch {
                default_radius_m: Some(3000.0),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.0[0].field, "default_radius_m");
        let err = s
            .patch(&SettingsPatch {
                max_radius_m: Some(100.0),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.0[0].field, "default_radius_m");
    }

    #[test]
    fn radii_must_be_positive_and_ttl_at_least_a_second() {
        assert!(Settings::new(0.0, 10.0, 60).is_err());
        assert!(Settings::new(10.0, f64::NAN, 60).is_err());
        assert!(Settings::new(10.0, 20.0, 0).is_err());
        assert!(Settings::new(10.0, 20.0, 1).is_ok());
    }
}
