//! Scheduled jobs. Each job is a plain async function that tests call directly (here:
//! [`App::expire_overdue`](crate::service::App::expire_overdue)); the scheduler only
//! decides when it runs.

use crate::service::App;
use actix_web::web;
use std::sync::Arc;
use tokio_cron_scheduler::{Job, JobScheduler};

/// Checks a six-field cron expression (`sec min hour day month weekday`).
pub fn parse_cron(expr: &str) -> Result<(), String> {
    Job::new_async(expr, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| format!("{expr:?} is not a six-field cron expression ({e})"))
}

/// Runs the expiry job on `cron`. A run still going when the next is due makes that one
/// skip.
pub async fn start(app: web::Data<App>, cron: &str) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await?;
    let running = Arc::new(tokio::sync::Mutex::new(()));
    let job = Job::new_async(cron, move |_, _| {
        let (app, running) = (app.clone(), running.clone());
        Box::pin(async move {
            let Ok(_guard) = running.try_lock() else {
                return;
            };
            if let Err(e) = app.expire_overdue().await {
                tracing::warn!(error = %e, "expiry run failed; the next run retries");
            }
        })
    })?;
    scheduler.add(job).await?;
    scheduler.start().await?;
    Ok(scheduler)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cron_needs_six_fields_with_seconds() {
        assert!(super::parse_cron("0 * * * * *").is_ok());
        assert!(super::parse_cron("* * * * * *").is_ok());
        assert!(super::parse_cron("* * * * *").is_err());
        assert!(super::parse_cron("soon").is_err());
    }
}
