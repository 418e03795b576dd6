use crate::domain::validation::Invalid;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The id is taken.
    #[error("already exists")]
    AlreadyExists,
    /// An import would leave these reservations (`{"id", "code"}`) without a port.
    #[error("ports held: {detail}")]
    PortsHeld {
        detail: String,
        reservations: Vec<serde_json::Value>,
    },
    /// Input that only the stored state shows to be wrong (an id owned by another project).
    #[error("invalid input")]
    Invalid(Invalid),
    /// The database cannot be reached or is overloaded; worth retrying.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("bad database configuration: {0}")]
    Config(String),
    #[error("database error")]
    Other(#[source] anyhow::Error),
    /// One failure shared by every request of a batch.
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

impl StoreError {
    /// Whether retrying later may succeed (the database is down or overloaded).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Shared(inner) => inner.is_unavailable(),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match e {
            E::RowNotFound => StoreError::NotFound,
            E::PoolTimedOut
            | E::PoolClosed
            | E::Io(_)
            | E::Tls(_)
            | E::Protocol(_)
            | E::WorkerCrashed => StoreError::Unavailable(e.into()),
            E::Database(ref db) if is_unavailable_code(db.code().as_deref()) => {
                StoreError::Unavailable(e.into())
            }
            E::Configuration(ref c) => StoreError::Config(c.to_string()),
            other => StoreError::Other(other.into()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(inner) => inner.into(),
            other => StoreError::Other(other.into()),
        }
    }
}

/// Database error codes that mean "try again later" rather than "this request is wrong":
/// PostgreSQL admin shutdown / connection failures / too many connections, and SQLite
/// BUSY / LOCKED after the busy timeout.
fn is_unavailable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "57P01"
                | "57P02"
                | "57P03"
                | "53300"
                | "08000"
                | "08003"
                | "08006"
                | "5"
                | "6"
                | "261"
                | "517"
        )
    )
}
