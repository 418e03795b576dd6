//! Builds the service: store, application state, scheduler, HTTP server. Production and
//! tests start it the same way.

use crate::auth::TokenKeys;
use crate::config::Config;
use crate::http::client_address::TrustedProxies;
use crate::http::extract::BodyLimit;
use crate::http::middleware::AllowedIps;
use crate::http::{self, ApiError};
use crate::service::App;
use crate::store::{PoolOptions, Store};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{HttpServer, middleware::from_fn, web};
use anyhow::Context;
use std::net::TcpListener;
use std::time::Duration;
use tokio_cron_scheduler::JobScheduler;

/// How long in-flight requests may run on after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A bound, ready-to-run service.
pub struct Application {
    port: u16,
    server: Server,
    app: web::Data<App>,
    scheduler: JobScheduler,
}

impl Application {
    /// Connects to the database (migrating it), loads the index, catches up on expiries,
    /// starts the scheduler and binds the listener.
    pub async fn build(config: &Config, keys: TokenKeys) -> anyhow::Result<Self> {
        // The recorder first, so that nothing recorded during start-up is lost.
        crate::metrics::handle();
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
        app.set_interest_ttl(config.interest_ttl_s);
        // Catch up on what fell due while the service was down, then keep to the schedule.
        if let Err(e) = app.expire_overdue().await {
            tracing::warn!(error = %e, "start-up expiry run failed; the schedule retries");
        }
        let scheduler = crate::jobs::start(app.clone(), &config.expiry_cron)
            .await
            .context("cannot start the expiry job")?;
        app.set_demand_counting(config.demand_counting);
        let rechecker = app.clone();
        tokio::spawn(async move { rechecker.recheck_forever().await });
        let demand = app.clone();
        let every = Duration::from_secs(config.demand_flush_s);
        tokio::spawn(async move { demand.flush_demand_forever(every).await });
        let follower = app.clone();
        tokio::spawn(async move { follower.follow_forever().await });
        let deliverer = app.clone();
        let delivery = config.delivery();
        tokio::spawn(async move { deliverer.deliver_forever(delivery).await });
        let alerter = crate::service::alerts::Alerter::new(app.store.clone(), config.alerts())
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        tokio::spawn(alerter.run_forever());
        // `last_used_at` is kept to the minute and visible within one: written in batches.
        let flusher = app.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                if let Err(e) = flusher.flush_key_uses().await {
                    tracing::warn!(error = %e, "cannot record when keys were last used; retrying");
                }
            }
        });
        Self::serve(config, app, scheduler)
    }

    fn serve(
        config: &Config,
        app: web::Data<App>,
        scheduler: JobScheduler,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let port = listener.local_addr()?.port();
        let keys = web::Data::new(app.keys.clone());
        let allowed = web::Data::new(AllowedIps(config.allowed_ips.clone()));
        let trusted = web::Data::new(TrustedProxies(config.trusted_proxies.clone()));
        let metrics = web::Data::new(crate::metrics::handle());
        let body_limit = BodyLimit(config.json_body_limit_bytes);
        let import_limit = http::inventory_limit(config.import_body_limit_bytes);
        let batch_limit = http::batch_limit(config.batch_max_items);
        let webhook_urls = web::Data::new(crate::service::webhooks::UrlPolicy {
            allow_http: config.webhook_allow_http,
            allow_private: config.webhook_allow_private,
        });
        let console = web::Data::new(http::console::Console::new(
            config.console_basemap_url.clone(),
        ));
        let state = app.clone();
        let server = HttpServer::new(move || {
            actix_web::App::new()
                .wrap(from_fn(http::middleware::around))
                .app_data(state.clone())
                .app_data(keys.clone())
                .app_data(allowed.clone())
                .app_data(trusted.clone())
                .app_data(metrics.clone())
                .app_data(body_limit)
                .app_data(import_limit)
                .app_data(batch_limit)
                .app_data(webhook_urls.clone())
                .app_data(console.clone())
                .configure(http::routes)
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(ApiError::NotFound("this path".into()))
                }))
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
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
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn app(&self) -> web::Data<App> {
        self.app.clone()
    }

    /// Serves until the server is stopped through its handle.
    pub async fn run_until_stopped(mut self) -> std::io::Result<()> {
        let result = (&mut self.server).await;
        self.shut_down().await;
        result
    }

    /// Serves until SIGTERM or SIGINT: readiness turns false, the listener closes, requests
    /// in flight finish (up to 30 s), the scheduler stops, then this returns.
    pub async fn run_until_signalled(mut self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let app = self.app.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
            app.begin_shutdown();
            handle.stop(true).await;
        });
        let result = (&mut self.server).await;
        self.shut_down().await;
        result
    }

    async fn shut_down(&mut self) {
        self.app.begin_shutdown();
        // What was counted since the last flush is not lost with the process.
        if let Err(e) = self.app.flush_demand().await {
            tracing::warn!(error = %e, "cannot write the last demand counts");
        }
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "scheduler did not stop cleanly");
        }
        self.app.store.close().await;
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
