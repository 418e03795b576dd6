//! Webhooks: the event types a partner can subscribe to, the URLs it may give, the
//! secrets that sign what is sent, and the Standard Webhooks signature itself.
//!
//! Pure rules only; resolving a URL's host is the service's (`service::webhooks::check_url`).

mod address;
mod events;
mod request;
mod signing;

pub use address::{MAX_URL_LEN, is_internal, parse_url};
pub use events::{EventType, MAX_EVENT_PATTERNS, check_events, check_pattern, matches};
pub use request::{MAX_DESCRIPTION_LEN, NewWebhook, WebhookPatch, check_description};
pub use signing::{SECRET_PREFIX, generate_secret, signature, signature_header};
