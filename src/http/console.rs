//! The console (`GET /console`): a page for operators and network teams, its scripts and
//! the vendored map library, all built into the binary. Each file is answered with a
//! Content-Security-Policy of its own: the page runs its own scripts and loads nothing from
//! another origin but the base map's tiles, when `console_basemap_url` is set.

use super::ApiError;
use actix_web::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue};
use actix_web::{HttpResponse, web};
use rust_embed::RustEmbed;

/// The files under `console/`, read at build time (also in debug builds: `debug-embed`).
#[derive(RustEmbed)]
#[folder = "console/"]
struct Files;

/// What the console's answers need of the configuration.
#[derive(Debug, Clone)]
pub struct Console {
    basemap_url: Option<String>,
    policy: HeaderValue,
}

impl Console {
    /// The console for a configuration already validated (`Config::validated` checks the
    /// base map URL with [`tile_origin`]).
    pub fn new(basemap_url: Option<String>) -> Self {
        let tiles = basemap_url
            .as_deref()
            .and_then(|u| tile_origin(u).ok())
            .map(|origin| format!(" {origin}"))
            .unwrap_or_default();
        // MapLibre draws images from blob: and data: URLs it makes itself; its worker is a
        // module file of this origin.
        let policy = format!(
            "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; \
             img-src 'self' data: blob:{tiles}; connect-src 'self'{tiles}; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        );
        Self {
            basemap_url,
            policy: HeaderValue::from_str(&policy).expect("an origin is a header value"),
        }
    }

    fn answer(&self, content_type: &'static str, body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, content_type))
            .insert_header((CONTENT_SECURITY_POLICY, self.policy.clone()))
            .body(body.into())
    }
}

/// The origin (`https://host[:port]`) of an XYZ tile URL template, the one other origin the
/// console's policy lets the page load from.
pub fn tile_origin(template: &str) -> Result<String, String> {
    if !["{z}", "{x}", "{y}"].iter().all(|p| template.contains(p)) {
        return Err("must be an XYZ tile URL template with {z}, {x} and {y}".into());
    }
    let url = url::Url::parse(template).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http or https URL with a host".into());
    }
    Ok(url.origin().ascii_serialization())
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "text/plain; charset=utf-8",
    }
}

fn file(console: &Console, path: &str) -> Result<HttpResponse, ApiError> {
    let found = Files::get(path).ok_or_else(|| ApiError::NotFound("this path".into()))?;
    Ok(console.answer(content_type(path), found.data.into_owned()))
}

/// `GET /console`: the page.
pub async fn page(console: web::Data<Console>) -> Result<HttpResponse, ApiError> {
    file(&console, "index.html")
}

/// `GET /console/{path}`: the page's scripts, styles, icon and the map library.
pub async fn asset(
    console: web::Data<Console>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // `/console/` is the page too.
    file(&console, if path.is_empty() { "index.html" } else { &path })
}

/// `GET /console/config.json`: what the page needs of the configuration.
pub async fn config(console: web::Data<Console>) -> HttpResponse {
    let body = serde_json::json!({ "basemap_url": console.basemap_url });
    console.answer("application/json", body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_map_origin_is_the_templates() {
        assert_eq!(
            tile_origin("https://tiles.example:8443/{z}/{x}/{y}.png").unwrap(),
            "https://tiles.example:8443"
        );
        assert!(tile_origin("https://tiles.example/tiles.png").is_err());
        assert!(tile_origin("ftp://tiles.example/{z}/{x}/{y}.png").is_err());
        let console = Console::new(Some("https://tiles.example/{z}/{x}/{y}.png".into()));
        let policy = console.policy.to_str().unwrap();
        assert!(policy.contains("connect-src 'self' https://tiles.example;"));
        assert!(
            Console::new(None)
                .policy
                .to_str()
                .unwrap()
                .contains("connect-src 'self';")
        );
    }

    #[test]
    fn the_page_and_its_files_are_built_in() {
        for path in [
            "index.html",
            "app.js",
            "icon.svg",
            "vendor/maplibre-gl/maplibre-gl.mjs",
            "vendor/maplibre-gl/maplibre-gl-worker.mjs",
            "vendor/maplibre-gl/LICENSE.txt",
        ] {
            assert!(Files::get(path).is_some(), "{path} is not built in");
        }
        assert_eq!(content_type("a/b.mjs"), "text/javascript; charset=utf-8");
    }
}
