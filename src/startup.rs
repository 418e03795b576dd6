//! Builds the service: store, application state, HTTP server. Production and tests start it
//! the same way.

use crate::auth::TokenKeys;
use crate::config::Config;
use crate::http::extract::BodyLimit;
use crate::http::{self, ApiError};
use crate::service::App;
use crate::store::{PoolOptions, Store};
use actix_web::dev::{Server, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpServer, web};
use anyhow::Context;
use std::net::TcpListener;
use std::time::Duration;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A bound, ready-to-run service.
pub struct Application {
    port: u16,
    server: Server,
    app: web::Data<App>,
    scheduler: tokio_cron_scheduler::JobScheduler,
}

impl Application {
    /// Connects to the database (migrating it), loads the index and binds the listener.
    pub async fn build(config: &Config, keys: TokenKeys) -> anyhow::Result<Self> {
        let store = Store::connect(
            &config.database_url,
            PoolOptions {
                max_connections: config.max_connections,
                acquire_timeout: Duration::from_secs(config.db_acquire_timeout_s),
            },
        )
        .await
        .context("cannot open the database")?;
        let first = config
            .first_settings()
            .map_err(|e| anyhow::anyhow!("settings: {:?}", e.0))?;
        let app = web::Data::new(
            App::start(store, keys, &first)
                .await
                .context("cannot load the service state")?,
        );
        // Catch up on what fell due while the service was down, then keep to the schedule.
        if let Err(e) = app.expire_overdue().await {
            tracing::warn!(error = %e, "start-up expiry run failed; the schedule retries");
        }
        let scheduler = crate::jobs::start(app.clone(), &config.expiry_cron)
            .await
            .context("cannot start the expiry job")?;
        Self::serve(config, app, scheduler)
    }

    /// Binds the listener for an already started application.
    fn serve(
        config: &Config,
        app: web::Data<App>,
        scheduler: tokio_cron_scheduler::JobScheduler,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let port = listener.local_addr()?.port();
        let keys = web::Data::new(app.keys.clone());
        let body_limit = BodyLimit(config.json_body_limit_bytes);
        let import_limit = http::inventory_limit(config.import_body_limit_bytes);
        let state = app.clone();
        let server = HttpServer::new(move || {
            actix_web::App::new()
                .wrap_fn(|req, srv| {
                    let id = request_id(req.headers().get(&REQUEST_ID));
                    let fut = srv.call(req);
                    async move {
                        let mut res = fut.await?;
                        let headers = res.headers_mut();
                        headers.insert(REQUEST_ID, id);
                        headers.insert(
                            HeaderName::from_static("x-content-type-options"),
                            HeaderValue::from_static("nosniff"),
                        );
                        headers.insert(
                            HeaderName::from_static("cache-control"),
                            HeaderValue::from_static("no-store"),
                        );
                        Ok(res)
                    }
                })
                .app_data(state.clone())
                .app_data(keys.clone())
                .app_data(body_limit)
                .app_data(import_limit)
                .configure(http::routes)
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(ApiError::NotFound("this path".into()))
                }))
        })
        .listen(listener)?
        .shutdown_timeout(30)
        .run();
        Ok(Self {
            port,
            server,
            app,
            scheduler,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server (tests restart it on the same database).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn app(&self) -> web::Data<App> {
        self.app.clone()
    }

    /// Serves until SIGTERM / SIGINT (in-flight requests finish) or the server stops.
    pub async fn run_until_stopped(mut self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "scheduler did not stop cleanly");
        }
        self.app.store.close().await;
        result
    }
}

/// The caller's request id when it is a sane header value, else a new one.
fn request_id(given: Option<&HeaderValue>) -> HeaderValue {
    given
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.to_str().is_ok())
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .expect("a uuid is a header value")
        })
}
