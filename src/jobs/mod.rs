//! Scheduled jobs. Each job is a plain async function that tests call directly; the
//! scheduler only decides when it runs.

/// Checks a six-field cron expression (`sec min hour day month weekday`).
pub fn parse_cron(expr: &str) -> Result<(), String> {
    tokio_cron_scheduler::Job::new_async(expr, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| format!("{expr:?} is not a six-field cron expression ({e})"))
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
