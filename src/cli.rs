//! The `feasibility` command line.

use crate::auth::{Scope, TokenKeys};
use crate::config::{Config, Secret};
use crate::domain::import::{Format, ImportMode, ReadError};
use crate::startup::Application;
use crate::store::{PoolOptions, Store};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "feasibility",
    version,
    about = "FTTH feasibility and port reservations"
)]
pub struct Cli {
    /// Configuration file (default: feasibility.toml when present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve {
        /// Load a synthetic demo network and print a token to try it.
        #[arg(long)]
        demo: bool,
        /// With --demo: instead of the two demo cities, a country-sized network of this
        /// many boxes in project `country` (for load tests).
        #[arg(long, requires = "demo")]
        boxes: Option<usize>,
    },
    /// Same as `serve --demo`.
    Demo {
        /// A country-sized network of this many boxes in project `country` instead.
        #[arg(long)]
        boxes: Option<usize>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (as `GET /openapi.json` serves it) and exit.
    Openapi,
    /// Import a GeoJSON FeatureCollection (or a `.csv` file of boxes) into a project.
    Import {
        file: PathBuf,
        #[arg(long)]
        project: String,
        /// Also delete the project's boxes and regions absent from the file.
        #[arg(long)]
        replace: bool,
    },
    /// Check the points of a CSV file (header `ref,lat,lon`, optionally `plan_id`) against
    /// the database's network, as `POST /feasibility/batch` does; the answer (CSV or NDJSON)
    /// goes to standard output. Reads only.
    Check {
        file: PathBuf,
        /// Every row's plan unless the row has its own.
        #[arg(long)]
        plan_id: Option<String>,
        /// Search radius, metres (default: the `default_radius_m` setting).
        #[arg(long)]
        radius_m: Option<f64>,
        /// Comma-separated projects to search (default: all).
        #[arg(long, value_delimiter = ',')]
        projects: Option<Vec<String>>,
        /// Comma-separated tags in force with the plan's.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// Candidates per row in NDJSON (default 1).
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long, value_enum, default_value = "csv")]
        format: CheckFormat,
    },
    /// Manage integrations (partner systems).
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Manage integrations' keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Mint a token signed with the configured secret.
    Token {
        #[arg(long)]
        sub: String,
        /// Comma-separated project ids, or `*`.
        #[arg(long, value_delimiter = ',', default_value = "*")]
        projects: Vec<String>,
        /// Comma-separated scopes.
        #[arg(long, value_delimiter = ',', default_value = "feasibility")]
        scopes: Vec<String>,
        /// Lifetime, e.g. `3600`, `90m`, `12h`, `30d`.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
}

/// What `check` answers in.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CheckFormat {
    Csv,
    Ndjson,
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Create an integration from a JSON file with the body of `POST /integrations`
    /// (`-` reads standard input).
    Add { file: PathBuf },
    /// List the integrations.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Issue a key to an integration and print it (it is shown only this once).
    Issue {
        /// The integration's id.
        #[arg(long)]
        integration: String,
        #[arg(long, default_value = "default")]
        name: String,
        /// `secret` or `publishable`.
        #[arg(long, default_value = "secret")]
        kind: String,
        /// Comma-separated scopes (default: whatever the integration's modules grant).
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
        /// Origins a publishable key may be used from (repeat, or comma-separated).
        #[arg(long = "origin", value_delimiter = ',')]
        origins: Vec<String>,
        /// Requests a minute (per client address for a publishable key).
        #[arg(long)]
        rate_limit_per_min: Option<u32>,
        /// RFC 3339 time after which the key stops working.
        #[arg(long)]
        expires_at: Option<String>,
    },
}

/// Runs a parsed command with its configuration.
pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { demo: false, .. } => serve(config).await,
        Command::Serve { demo: true, boxes } | Command::Demo { boxes } => demo(config, boxes).await,
        Command::Migrate => {
            let store = connect(&config).await?;
            store.close().await;
            println!("migrations applied ({})", store.engine());
            Ok(())
        }
        Command::Integration(c) => integration_command(config, c).await,
        Command::Key(c) => key_command(config, c).await,
        Command::Openapi => {
            println!("{}", crate::http::openapi::document_json());
            Ok(())
        }
        Command::Import {
            file,
            project,
            replace,
        } => import(config, file, project, replace).await,
        Command::Check {
            file,
            plan_id,
            radius_m,
            projects,
            tags,
            limit,
            format,
        } => {
            let options = crate::domain::batch::BatchOptions {
                plan_id,
                tags,
                radius_m,
                limit,
                projects,
                record_demand: false,
            };
            let format = match format {
                CheckFormat::Csv => crate::service::batch::Format::Csv,
                CheckFormat::Ndjson => crate::service::batch::Format::Ndjson,
            };
            check(config, file, options, format).await
        }
        Command::Token {
            sub,
            projects,
            scopes,
            ttl,
        } => {
            let secret = config.require_secret()?;
            for s in &scopes {
                if Scope::parse(s).is_none() {
                    bail!(
                        "--scopes: unknown scope {s:?} (known: {})",
                        Scope::ALL.map(Scope::as_str).join(", ")
                    );
                }
            }
            let ttl = parse_ttl(&ttl)?;
            println!(
                "{}",
                TokenKeys::hs256(secret.expose().as_bytes())
                    .with_audience(config.jwt_audience.as_deref())
                    .mint(&sub, &projects, &scopes, ttl)
            );
            Ok(())
        }
    }
}

fn parse_ttl(text: &str) -> anyhow::Result<u64> {
    if let Ok(s) = text.parse::<u64>() {
        return Ok(s);
    }
    humantime::parse_duration(text)
        .map(|d| d.as_secs())
        .with_context(|| format!("--ttl: {text:?} is not a duration (3600, 90m, 12h, 30d)"))
}

async fn connect(config: &Config) -> anyhow::Result<Store> {
    let options = PoolOptions {
        max_connections: config.max_connections,
        acquire_timeout: Duration::from_secs(config.db_acquire_timeout_s),
    };
    Store::connect(&config.database_url, options)
        .await
        .context("cannot open the database")
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let keys = TokenKeys::hs256(config.require_secret()?.expose().as_bytes())
        .with_audience(config.jwt_audience.as_deref());
    let app = Application::build(&config, keys).await?;
    tracing::info!(listen = %config.listen, port = app.port(), engine = app.app().store.engine(), "serving");
    app.run_until_signalled().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn import(
    config: Config,
    file: PathBuf,
    project: String,
    replace: bool,
) -> anyhow::Result<()> {
    crate::domain::network::check_project_id(&project)
        .map_err(|m| anyhow::anyhow!("--project: {m}"))?;
    let text = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let is_csv = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let format = if is_csv { Format::Csv } else { Format::GeoJson };
    let batch = match crate::domain::import::read(&text, format) {
        Ok(b) => b,
        Err(ReadError::Invalid(invalid)) => {
            for e in &invalid.0 {
                eprintln!("{}: {}", e.field, e.message);
            }
            bail!(
                "{} refused: {} problem(s), nothing imported",
                file.display(),
                invalid.0.len()
            );
        }
        Err(e) => bail!("{} refused, nothing imported: {e}", file.display()),
    };
    let store = connect(&config).await?;
    let mode = if replace {
        ImportMode::Replace
    } else {
        ImportMode::Upsert
    };
    let outcome = store.import(&project, &batch, mode).await;
    store.close().await;
    let outcome = match outcome {
        Err(crate::store::StoreError::Invalid(invalid)) => {
            for e in &invalid.0 {
                eprintln!("{}: {}", e.field, e.message);
            }
            bail!("refused, nothing imported");
        }
        other => other?,
    };
    // The answer of the HTTP import: the counts, the moved holds and the warnings.
    let mut answer = serde_json::to_value(&outcome)?;
    answer["warnings"] = serde_json::to_value(batch.warnings())?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

/// `check FILE.csv`: the batch of `POST /feasibility/batch` against the network in the
/// database, loaded as `serve` loads it, without a server and without writing anything.
async fn check(
    config: Config,
    file: PathBuf,
    options: crate::domain::batch::BatchOptions,
    format: crate::service::batch::Format,
) -> anyhow::Result<()> {
    use crate::service::batch::{Batch, BatchError, StartError};
    use futures_util::StreamExt;
    use std::io::Write;
    use tokio::io::AsyncReadExt;
    let input = tokio::fs::File::open(&file)
        .await
        .with_context(|| format!("cannot read {}", file.display()))?;
    let store = connect(&config).await?;
    // A database no service has started on yet has the configuration's first settings.
    let settings = match store.settings().await {
        Ok(s) => s,
        Err(_) => config
            .first_settings()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
    };
    let plans = store.plans().await?;
    let index = crate::index::Index::new();
    index.replace_all(store.load_index().await?);
    store.close().await;
    let view = crate::service::View::new(plans, index.snapshot());
    let scope = crate::domain::feasibility::ProjectScope::All;
    let refused = |e: BatchError| match e {
        BatchError::Refused(crate::service::FeasibilityError::UnknownPlan(id)) => {
            anyhow::anyhow!("--plan-id: no plan {id:?}")
        }
        BatchError::Refused(crate::service::FeasibilityError::Invalid(invalid))
        | BatchError::Header(invalid) => {
            for f in &invalid.0 {
                eprintln!("{}: {}", f.field, f.message);
            }
            anyhow::anyhow!("{} refused: nothing checked", file.display())
        }
        BatchError::TooManyItems(n) => anyhow::anyhow!("more than {n} rows"),
    };
    let batch = Batch::new(view, &settings, &options, &scope)
        .map_err(|e| refused(BatchError::Refused(e)))?;
    let chunks = Box::pin(futures_util::stream::unfold(input, |mut f| async move {
        let mut buf = vec![0; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(actix_web::web::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    }));
    let answer = crate::service::batch::answer_csv(batch, chunks, format, config.batch_max_items)
        .await
        .map_err(|e| match e {
            StartError::Refused(e) => refused(e),
            StartError::Input(e) => anyhow::anyhow!("cannot read {}: {e}", file.display()),
        })?;
    let mut answer = std::pin::pin!(answer);
    let mut stdout = std::io::stdout().lock();
    while let Some(chunk) = answer.next().await {
        let chunk = chunk.with_context(|| format!("cannot read {}", file.display()))?;
        stdout.write_all(&chunk)?;
    }
    stdout.flush()?;
    Ok(())
}

/// `serve --demo`: the service on a synthetic network, with a token printed to try it.
async fn demo(mut config: Config, boxes: Option<usize>) -> anyhow::Result<()> {
    if config.database_url == Config::default().database_url {
        config.database_url = "sqlite://data/demo.db".into();
    }
    let generated = config.jwt_secret.is_none();
    let secret = match &config.jwt_secret {
        Some(s) => s.clone(),
        None => {
            use rand::RngExt;
            let bytes: [u8; 24] = rand::rng().random();
            let s = Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
            config.jwt_secret = Some(s.clone());
            s
        }
    };
    let keys =
        TokenKeys::hs256(secret.expose().as_bytes()).with_audience(config.jwt_audience.as_deref());
    let application = Application::build(&config, keys.clone()).await?;
    let app = application.app();
    for plan in crate::demo::plans() {
        if app.plan(&plan.id).is_none() {
            app.put_plan(&plan).await?;
        }
    }
    match boxes {
        Some(n) => {
            if app.index.project("country").is_none() {
                println!("loading {n} boxes into project country...");
                app.import(
                    "country",
                    &crate::demo::clustered_network(n, 42),
                    ImportMode::Upsert,
                )
                .await?;
            }
        }
        None => {
            for (i, city) in crate::demo::CITIES.iter().enumerate() {
                if app.index.project(city.project).is_none() {
                    let batch = crate::demo::network(city, 3000, i as u64 + 1);
                    app.import(city.project, &batch, ImportMode::Upsert).await?;
                }
            }
        }
    }
    let token = keys.mint(
        "demo",
        &["*".into()],
        &Scope::ALL.map(|s| s.as_str().to_owned()),
        24 * 3600,
    );
    let port = application.port();
    let city = &crate::demo::CITIES[0];
    let (secret_key, publishable_key) = crate::demo::partner_keys(&app.store, port).await?;
    app.reload_all().await?;
    println!(
        "\nftth-feasibility demo: {} boxes, database {}\n\
         listening on port {port}\n\n\
         export TOKEN={token}\n\n\
         curl -s -X POST http://127.0.0.1:{port}/feasibility \\\n  -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n  -d '{{\"lat\": {lat}, \"lon\": {lon}, \"plan_id\": \"fibra-600\"}}'\n\n\
         the demo partner's secret key (feasibility and reservations):\n\
         export KEY={secret_key}\n\n\
         curl -s -X POST http://127.0.0.1:{port}/feasibility \\\n  -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' \\\n  -d '{{\"lat\": {lat}, \"lon\": {lon}}}'\n\n\
         its publishable key, for a web page at http://localhost:{port} (POST /check only):\n\
         export PUBLISHABLE_KEY={publishable_key}\n\n\
         curl -s -X POST http://127.0.0.1:{port}/check -H 'Origin: http://localhost:{port}' \\\n  -H \"Authorization: Bearer $PUBLISHABLE_KEY\" -H 'Content-Type: application/json' \\\n  -d '{{\"lat\": {lat}, \"lon\": {lon}}}'\n",
        app.index.len(),
        config.database_url,
        lat = city.lat,
        lon = city.lon,
    );
    if generated {
        println!(
            "(the token is signed with a secret made for this run; set FEASIBILITY_JWT_SECRET to keep one)\n"
        );
    }
    application.run_until_signalled().await?;
    Ok(())
}

async fn integration_command(config: Config, command: IntegrationCommand) -> anyhow::Result<()> {
    let store = connect(&config).await?;
    match command {
        IntegrationCommand::Add { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let new: crate::domain::integration::NewIntegration = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an integration", file.display()))?;
            let created = crate::service::integrations::create(&store, &new)
                .await
                .map_err(integration_error)?;
            println!("{}", serde_json::to_string_pretty(&created)?);
        }
        IntegrationCommand::List => {
            for i in store
                .integrations()
                .await?
                .into_iter()
                .filter(|i| !i.deleted)
            {
                println!("{}", i.doc);
            }
        }
    }
    Ok(())
}

async fn key_command(config: Config, command: KeyCommand) -> anyhow::Result<()> {
    let KeyCommand::Issue {
        integration,
        name,
        kind,
        scopes,
        origins,
        rate_limit_per_min,
        expires_at,
    } = command;
    // The same body `POST /integrations/{id}/keys` takes, checked by the same rules.
    let body = serde_json::json!({
        "name": name, "kind": kind, "scopes": scopes, "allowed_origins": origins,
        "rate_limit_per_min": rate_limit_per_min, "expires_at": expires_at,
    });
    let new: crate::domain::integration::NewKey =
        serde_json::from_value(body).context("--kind, --scopes or --expires-at")?;
    let store = connect(&config).await?;
    let issued = crate::service::integrations::issue_key(&store, &integration, &new)
        .await
        .map_err(integration_error)?;
    println!("{}", issued.key.as_deref().unwrap_or_default());
    eprintln!(
        "key {} ({}, prefix {}) issued to {integration}: it is shown only this once",
        issued.id,
        issued.kind.as_str(),
        issued.prefix
    );
    Ok(())
}

/// An integration's refusal as the CLI says it: each field on a line.
fn integration_error(e: crate::service::integrations::IntegrationError) -> anyhow::Error {
    use crate::service::integrations::IntegrationError as E;
    match e {
        E::Invalid(invalid) => {
            for f in &invalid.0 {
                eprintln!("{}: {}", f.field, f.message);
            }
            anyhow::anyhow!("refused: {} problem(s), nothing changed", invalid.0.len())
        }
        E::ContactsIncomplete(fields) => anyhow::anyhow!(
            "the integration's contacts are incomplete; give first: {}",
            fields.join(", ")
        ),
        E::Store(crate::store::StoreError::AlreadyExists) => {
            anyhow::anyhow!("an integration with this id exists (ids of deleted ones stay taken)")
        }
        E::Store(crate::store::StoreError::NotFound) => anyhow::anyhow!("no such integration"),
        E::Store(e) => e.into(),
    }
}
