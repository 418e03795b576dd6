//! What every request goes through: the request id (taken or made, echoed in the response
//! and in problem bodies), network access control, security headers, and the request
//! metrics, recorded by route pattern.

use super::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use ipnet::IpNet;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT_REQUEST_ID: String;
}

/// The id of the request being handled (for problem bodies), if any.
pub fn current_request_id() -> Option<String> {
    CURRENT_REQUEST_ID.try_with(Clone::clone).ok()
}

/// Networks allowed to call the API (empty: everyone). Health probes are always open.
#[derive(Debug, Clone, Default)]
pub struct AllowedIps(pub Vec<IpNet>);

impl AllowedIps {
    fn allows(&self, peer: Option<std::net::IpAddr>, path: &str) -> bool {
        if self.0.is_empty() || matches!(path, "/healthz" | "/readyz") {
            return true;
        }
        peer.is_some_and(|ip| self.0.iter().any(|net| net.contains(&ip)))
    }
}

/// The caller's request id when it is a sane header value, else a new one (a UUID v4 from
/// the thread's generator: `Uuid::new_v4` asks the kernel, a system call per request).
fn request_id(given: Option<&HeaderValue>) -> String {
    given
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string()
        })
}

const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
];

/// A NUL in the path (404: no object has such an id) or in a query parameter (422 naming
/// it): text no engine can store is refused here, before it reaches any handler.
fn unstorable_text(req: &ServiceRequest) -> Option<ApiError> {
    if percent_encoding::percent_decode_str(req.path()).any(|b| b == 0) {
        return Some(ApiError::NotFound("the object".into()));
    }
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| ApiError::invalid(&k.replace('\0', ""), "must not contain a NUL character"))
}

/// Request bodies come uncompressed (the contract): any `Content-Encoding` but `identity` is
/// 415, where it would otherwise be read as malformed JSON.
fn encoded_body(req: &ServiceRequest) -> Option<ApiError> {
    req.headers()
        .get_all(actix_web::http::header::CONTENT_ENCODING)
        .any(|v| {
            !v.to_str()
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("identity"))
        })
        .then(|| {
            ApiError::UnsupportedMediaType(
                "request bodies are taken uncompressed: send the body without Content-Encoding"
                    .into(),
            )
        })
}

pub async fn around(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = request_id(req.headers().get(&REQUEST_ID));
    let started = Instant::now();
    let method = req.method().to_string();
    let allowed = req
        .app_data::<web::Data<AllowedIps>>()
        .is_none_or(|a| a.allows(req.peer_addr().map(|a| a.ip()), req.path()));
    // Log lines written while handling the request carry its id (never bodies: they may
    // hold personal data).
    let span =
        tracing::info_span!("request", request_id = %id, method = %method, path = %req.path());
    let refused = unstorable_text(&req).or_else(|| encoded_body(&req));
    let mut res = if let (true, Some(refusal)) = (allowed, refused) {
        let response = CURRENT_REQUEST_ID
            .scope(id.clone(), async { refusal.error_response() })
            .await;
        req.into_response(response)
    } else if allowed {
        CURRENT_REQUEST_ID
            .scope(id.clone(), next.call(req).instrument(span))
            .await?
            .map_into_boxed_body()
    } else {
        let response = CURRENT_REQUEST_ID
            .scope(id.clone(), async {
                ApiError::ForbiddenAddress.error_response()
            })
            .await;
        req.into_response(response)
    };
    // A limited key's allowance, left by the authenticator.
    let allowance = res
        .request()
        .extensions()
        .get::<crate::service::rate_limits::Allowance>()
        .copied();
    let headers = res.headers_mut();
    if let Some(a) = allowance {
        for (name, value) in super::error::rate_limit_headers(&a) {
            let value = HeaderValue::from_str(&value).expect("digits are a header value");
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    headers.insert(
        REQUEST_ID,
        HeaderValue::from_str(&id).expect("checked to be visible ASCII"),
    );
    for (name, value) in SECURITY_HEADERS {
        // The console's files carry a policy of their own (`http::console`).
        if name == "content-security-policy" && headers.contains_key(name) {
            continue;
        }
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    crate::metrics::request(
        &method,
        &route,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_taken_when_sane_and_made_otherwise() {
        let given = HeaderValue::from_static("trace-42");
        assert_eq!(request_id(Some(&given)), "trace-42");
        let spaced = HeaderValue::from_static("two words");
        let made = [request_id(Some(&spaced)), request_id(None)];
        for id in &made {
            let uuid = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(uuid.get_version_num(), 4);
        }
        assert_ne!(made[0], made[1]);
    }
}
