//! Field-level validation errors, collected so a caller learns every problem at once.

use serde::Serialize;

/// One refused field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every refused field of one input.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s)", .0.len())]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl ToString) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.to_string(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was refused.
    pub fn or_ok<T>(self, value: T) -> Result<T, Invalid> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}
