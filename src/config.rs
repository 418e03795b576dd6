//! Configuration: defaults, then `feasibility.toml` (or `--config`), then `FEASIBILITY_*`
//! environment variables.

use crate::domain::settings::Settings;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

const ENV_PREFIX: &str = "FEASIBILITY_";

/// A secret that never appears when the configuration is printed.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Everything the service reads at start-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: String,
    /// `sqlite://path` (created on first run) or `postgres://...`.
    pub database_url: String,
    /// HS256 secret for tokens; required except in demo mode.
    pub jwt_secret: Option<Secret>,
    /// Six-field cron (with seconds) for the reservation expiry job.
    pub expiry_cron: String,
    /// First value of the `default_radius_m` setting (the database keeps the one in force).
    pub default_radius_m: f64,
    /// First value of the `max_radius_m` setting.
    pub max_radius_m: f64,
    /// First value of the `reservation_ttl_s` setting.
    pub reservation_ttl_s: i64,
    /// Largest JSON body of ordinary requests, bytes.
    pub json_body_limit_bytes: usize,
    /// Largest inventory import body, bytes.
    pub import_body_limit_bytes: usize,
    /// Rows one CSV batch answers at most (`POST /feasibility/batch`).
    pub batch_max_items: usize,
    /// Database connections per replica.
    pub max_connections: u32,
    /// Seconds a request waits for a database connection before answering 503.
    pub db_acquire_timeout_s: u64,
    pub log_format: LogFormat,
    /// Networks (CIDR) allowed to call the API; empty allows everyone. `/healthz` and
    /// `/readyz` stay open to all.
    pub allowed_ips: Vec<ipnet::IpNet>,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed when finding
    /// a client's address (`http::client_address`); empty: the peer is the client.
    #[serde(deserialize_with = "addresses_or_ranges")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The `aud` a token must carry; without it, tokens that carry an `aud` are refused.
    pub jwt_audience: Option<String>,
    /// Lets webhooks use plain `http` URLs (tests, closed networks); otherwise `https` only.
    pub webhook_allow_http: bool,
    /// Lets webhooks point at loopback, private and other internal addresses; otherwise
    /// refused, so a partner cannot make the service call into the provider's network.
    pub webhook_allow_private: bool,
    /// Seconds a webhook has to answer an attempt.
    pub webhook_timeout_s: u64,
    /// Seconds before each retry of a failed webhook attempt.
    pub webhook_retry_delays_s: Vec<u64>,
    /// Seconds of nothing but failed attempts after which a webhook is disabled.
    pub webhook_disable_after_s: u64,
    /// `smtp://` or `smtps://` relay for alert e-mails, user and password in the URL;
    /// without it alerts are logged. A secret: it holds the password.
    pub smtp_url: Option<Secret>,
    /// The `From` of alert e-mails (required with `smtp_url`).
    pub alert_from: Option<String>,
    /// Seconds of nothing but failed attempts after which a webhook's contacts are told.
    pub alert_failing_after_s: u64,
    /// Seconds between writes of the demand counts gathered in memory (a crash loses at
    /// most that interval's).
    pub demand_flush_s: u64,
    /// Counts every feasibility answer as demand; off only to measure what counting costs.
    pub demand_counting: bool,
    /// Seconds after registration at which an interest's contact data is erased.
    pub interest_ttl_s: u64,
    /// An XYZ tile URL template (`https://tiles.example/{z}/{x}/{y}.png`) drawn under the
    /// console's map; without it the console draws no base map and loads nothing from
    /// elsewhere.
    pub console_basemap_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        let s = Settings::default();
        Self {
            listen: "0.0.0.0:9994".into(),
            database_url: "sqlite://data/feasibility.db".into(),
            jwt_secret: None,
            expiry_cron: "0 * * * * *".into(),
            default_radius_m: s.default_radius_m,
            max_radius_m: s.max_radius_m,
            reservation_ttl_s: s.reservation_ttl_s,
            json_body_limit_bytes: 64 * 1024,
            import_body_limit_bytes: 256 * 1024 * 1024,
            batch_max_items: 1_000_000,
            max_connections: 16,
            db_acquire_timeout_s: 3,
            log_format: LogFormat::Human,
            allowed_ips: Vec::new(),
            trusted_proxies: Vec::new(),
            jwt_audience: None,
            webhook_allow_http: false,
            webhook_allow_private: false,
            webhook_timeout_s: 10,
            webhook_retry_delays_s: vec![5, 300, 1800, 7200, 18000, 36000, 36000],
            webhook_disable_after_s: 432_000,
            smtp_url: None,
            alert_from: None,
            alert_failing_after_s: 3600,
            demand_flush_s: 10,
            demand_counting: true,
            interest_ttl_s: 15_552_000,
            console_basemap_url: None,
        }
    }
}

/// A configuration problem, named so the operator can fix it in one go.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads defaults ← file ← environment. `file` is `--config`; without it
    /// `feasibility.toml` is read when present.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::figment(file)?
            .extract::<Config>()
            .map_err(|e| ConfigError(first_error(e)))
            .and_then(Config::validated)
    }

    fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => fig = fig.merge(Toml::file_exact(path)),
            None if Path::new("feasibility.toml").exists() => {
                fig = fig.merge(Toml::file_exact("feasibility.toml"))
            }
            None => {}
        }
        // Only the variables that name a setting: the platform sets others with this
        // prefix (Kubernetes' `FEASIBILITY_PORT` for a Service of that name).
        let known = Self::keys();
        Ok(fig.merge(
            Env::prefixed(ENV_PREFIX).filter(move |key| known.iter().any(|k| key == k.as_str())),
        ))
    }

    /// The settings' names, as the file and the environment (upper-cased) spell them.
    fn keys() -> Vec<String> {
        match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
            _ => unreachable!("the configuration serialises as a map"),
        }
    }

    /// The `FEASIBILITY_*` variables among `vars` that name no setting: ignored, and worth
    /// a warning (a misspelt one would otherwise pass unseen).
    pub fn unknown_env_vars(names: impl IntoIterator<Item = String>) -> Vec<String> {
        let known = Self::keys();
        let mut unknown: Vec<String> = names
            .into_iter()
            .filter_map(|name| {
                let key = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
                (!known.contains(&key)).then_some(name)
            })
            .collect();
        unknown.sort();
        unknown
    }

    /// Checks values that deserialising alone cannot.
    pub fn validated(self) -> Result<Self, ConfigError> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError(format!(
                "listen: {:?} is not an address:port",
                self.listen
            )));
        }
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres"))
        {
            return Err(ConfigError(
                "database_url: must start with sqlite: or postgres://".into(),
            ));
        }
        if let Some(s) = &self.jwt_secret
            && s.expose().len() < 16
        {
            return Err(ConfigError(
                "jwt_secret: must be at least 16 characters".into(),
            ));
        }
        crate::jobs::parse_cron(&self.expiry_cron)
            .map_err(|e| ConfigError(format!("expiry_cron: {e}")))?;
        self.first_settings().map_err(|e| {
            let first = &e.0[0];
            ConfigError(format!("{}: {}", first.field, first.message))
        })?;
        if self.webhook_timeout_s == 0 {
            return Err(ConfigError("webhook_timeout_s: must be at least 1".into()));
        }
        if self.demand_flush_s == 0 {
            return Err(ConfigError("demand_flush_s: must be at least 1".into()));
        }
        if self.max_connections == 0 {
            return Err(ConfigError("max_connections: must be at least 1".into()));
        }
        self.check_alerts()?;
        if let Some(url) = &self.console_basemap_url {
            crate::http::console::tile_origin(url)
                .map_err(|e| ConfigError(format!("console_basemap_url: {e}")))?;
        }
        Ok(self)
    }

    /// The SMTP URL and sender, checked without ever echoing the URL (it holds a password).
    fn check_alerts(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.smtp_url {
            let ok = url::Url::parse(url.expose()).is_ok_and(|u| {
                matches!(u.scheme(), "smtp" | "smtps")
                    && u.host_str().is_some_and(|h| !h.is_empty())
            });
            if !ok {
                return Err(ConfigError(
                    "smtp_url: must be smtp://[user:password@]host[:port] or smtps://...".into(),
                ));
            }
            if self.alert_from.is_none() {
                return Err(ConfigError("alert_from: required with smtp_url".into()));
            }
        }
        if let Some(from) = &self.alert_from
            && from.parse::<lettre::message::Mailbox>().is_err()
        {
            return Err(ConfigError(format!(
                "alert_from: {from:?} is not an e-mail address"
            )));
        }
        Ok(())
    }

    /// How alert e-mails are sent.
    pub fn alerts(&self) -> crate::service::alerts::AlertConfig {
        crate::service::alerts::AlertConfig {
            smtp_url: self.smtp_url.clone(),
            from: self.alert_from.clone(),
            failing_after: std::time::Duration::from_secs(self.alert_failing_after_s),
            disable_after: std::time::Duration::from_secs(self.webhook_disable_after_s),
        }
    }

    /// How webhooks are delivered.
    pub fn delivery(&self) -> crate::service::delivery::DeliveryConfig {
        let seconds = std::time::Duration::from_secs;
        crate::service::delivery::DeliveryConfig {
            timeout: seconds(self.webhook_timeout_s),
            retry_delays: self
                .webhook_retry_delays_s
                .iter()
                .copied()
                .map(seconds)
                .collect(),
            disable_after: seconds(self.webhook_disable_after_s),
            allow_http: self.webhook_allow_http,
            allow_private: self.webhook_allow_private,
        }
    }

    /// The settings stored on first start.
    pub fn first_settings(&self) -> Result<Settings, crate::domain::validation::Invalid> {
        Settings::new(
            self.default_radius_m,
            self.max_radius_m,
            self.reservation_ttl_s,
        )
    }

    /// The secret, or a clear error naming it.
    pub fn require_secret(&self) -> Result<&Secret, ConfigError> {
        self.jwt_secret
            .as_ref()
            .ok_or_else(|| ConfigError("jwt_secret: required (set FEASIBILITY_JWT_SECRET)".into()))
    }
}

/// A list of CIDR ranges in which a bare address stands for itself alone (`10.0.0.7` is
/// `10.0.0.7/32`): the contract lets an operator write either.
fn addresses_or_ranges<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let items = Vec::<String>::deserialize(d)?;
    items
        .iter()
        .map(|item| {
            let item = item.trim();
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{item:?} is neither an IP address nor a CIDR range"
                    ))
                })
        })
        .collect()
}

fn first_error(e: figment::Error) -> String {
    let path = e.path.join(".");
    let kind = e.kind.to_string();
    if path.is_empty() {
        kind
    } else {
        format!("{path}: {kind}")
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return its Error as it is
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_redacted_when_printed() {
        let c = Config {
            jwt_secret: Some(Secret::new("super-secret-value-123")),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("super-secret"));
    }

    #[test]
    fn unknown_environment_variables_are_named_and_not_read() {
        let vars = [
            "FEASIBILITY_PORT",
            "FEASIBILITY_JWT_SECRET",
            "FEASIBILITY_LISTEN",
            "FEASIBILITY_MAX_RADIUS",
            "PATH",
        ]
        .map(str::to_owned);
        assert_eq!(
            Config::unknown_env_vars(vars),
            ["FEASIBILITY_MAX_RADIUS", "FEASIBILITY_PORT"]
        );
        figment::Jail::expect_with(|jail| {
            jail.set_env("FEASIBILITY_PORT", "tcp://10.96.0.12:9994");
            jail.set_env("FEASIBILITY_SERVICE_HOST", "10.96.0.12");
            jail.set_env("FEASIBILITY_LISTEN", "127.0.0.1:7000");
            let c = Config::load(None).map_err(|e| e.0)?;
            assert_eq!(c.listen, "127.0.0.1:7000");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_in_the_file_stops_start_up_naming_it() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("f.toml", "listen = \"127.0.0.1:1\"\nmax_radius = 3\n")?;
            let e = Config::load(Some(Path::new("f.toml"))).unwrap_err().0;
            assert!(e.contains("max_radius"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_are_read_as_addresses_or_ranges() {
        assert!(Config::default().trusted_proxies.is_empty());
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "FEASIBILITY_TRUSTED_PROXIES",
                "[\"10.0.0.0/8\", \"192.0.2.7/32\"]",
            );
            let c = Config::load(None).map_err(|e| e.0)?;
            assert_eq!(c.trusted_proxies.len(), 2);
            assert!(
                c.trusted_proxies[0].contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap())
            );
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_is_named() {
        let c = Config {
            default_radius_m: 5000.0,
            ..Config::default()
        };
        assert!(c.validated().unwrap_err().0.starts_with("default_radius_m"));
        let c = Config {
            listen: "nowhere".into(),
            ..Config::default()
        };
        assert!(c.validated().unwrap_err().0.starts_with("listen"));
        let c = Config {
            expiry_cron: "every minute".into(),
            ..Config::default()
        };
        assert!(c.validated().unwrap_err().0.starts_with("expiry_cron"));
    }

    #[test]
    fn a_bad_smtp_url_or_sender_is_named_without_the_password() {
        let with = |url: &str, from: Option<&str>| Config {
            smtp_url: Some(Secret::new(url)),
            alert_from: from.map(str::to_owned),
            ..Config::default()
        };
        let e = with("http://u:hunter2@mail.example", Some("a@b.example"))
            .validated()
            .unwrap_err()
            .0;
        assert!(e.starts_with("smtp_url"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = with("smtp://mail.example:25", None)
            .validated()
            .unwrap_err()
            .0;
        assert!(e.starts_with("alert_from"), "{e}");
        let e = with("smtp://mail.example:25", Some("not an address"))
            .validated()
            .unwrap_err()
            .0;
        assert!(e.starts_with("alert_from"), "{e}");
        assert!(
            with(
                "smtps://u:p@mail.example:465",
                Some("Alerts <alerts@ftth.example>")
            )
            .validated()
            .is_ok()
        );
        assert!(!format!("{:?}", with("smtps://u:hunter2@m.example", None)).contains("hunter2"));
    }
}
