//! `roster import entra` and `roster export entra`: Entra's own provisioning configuration to a
//! `roster.yaml` and back (`entra_sync`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::context::Context;
use crate::cli::{ExportEntraArgs, ImportEntraArgs};
use crate::config::{Application, SecretRef, Source, SourceCredential};
use crate::diagnostic::display_path;
use crate::entra_sync::import::{Connection, Provisioning};
use crate::entra_sync::{Secret, SynchronizationSchema, export, import};
use crate::error::{Error, Outcome};
use crate::graph::{Graph, GraphError, encode};

/// Where `import` reads the client secret of roster's app registration.
const SECRET_VARIABLE: &str = "AZURE_CLIENT_SECRET";

pub(crate) fn import(ctx: &Context, args: &ImportEntraArgs) -> Result<Outcome, Error> {
    // Before anything is read or said: a run that cannot write its file does nothing.
    let out = crate::cli::file_or_stdout(args.out.as_deref());
    not_there(out.into_iter())?;
    let application = args
        .application
        .clone()
        .map(Application::DisplayName)
        .or_else(|| {
            args.service_principal_id
                .clone()
                .map(Application::ServicePrincipalId)
        });
    let job = match &args.from {
        Some(path) => from_files(path, args.secrets.as_deref(), args.app_roles.as_deref())?,
        None => ctx.block_on(from_graph(ctx, args, application.clone()))??,
    };
    let connection = Connection {
        tenant_id: args.tenant_id.clone(),
        client_id: args.client_id.clone(),
        application,
        salesforce_client_id: args.salesforce_client_id.clone(),
    };
    let imported = import::import(&job, &connection).map_err(Error::Import)?;
    let mut summary = String::new();
    if !imported.notes.is_empty() {
        let _ = writeln!(
            summary,
            "{} thing(s) to review (each also a comment in the file):",
            imported.notes.len()
        );
        for note in &imported.notes {
            let _ = writeln!(summary, "  - {note}");
        }
    }
    // The notes first (even with --quiet: they are what was not imported as it is); when the
    // config cannot be written, they often say why.
    if !summary.is_empty() {
        crate::error::output(anstream::stderr().write_all(summary.as_bytes()))?;
    }
    // What is written must be a config roster reads: checked first, and any problem shown at
    // its place in the text that was not written.
    let name = out.map_or_else(|| PathBuf::from("roster.yaml"), Path::to_path_buf);
    let label = PathBuf::from(format!("{} (imported, not written)", display_path(&name)));
    // Placeholders are checked as if filled in: `validate` names each one afterwards.
    crate::config::load_bytes(
        &label,
        imported
            .yaml
            .replace("REPLACE-ME", "placeholder-filled-in")
            .into_bytes(),
    )?;
    match out {
        Some(path) => write_new(&[(path, imported.yaml.as_str())])?,
        None => super::print(&imported.yaml)?,
    }
    if !ctx.quiet {
        let mut summary = String::new();
        if let Some(path) = out {
            let _ = writeln!(summary, "Wrote {}.", display_path(path));
        }
        summary.push_str(
            "Next: `roster validate`, then `roster plan` against the live tenant and org.\n",
        );
        crate::error::output(anstream::stderr().write_all(summary.as_bytes()))?;
    }
    Ok(Outcome::Success)
}

pub(crate) fn export(ctx: &Context, args: &ExportEntraArgs) -> Result<Outcome, Error> {
    // The same file however written (`./a.json`, `a.json`).
    let same = |a: &Path, b: &Path| {
        a == b
            || std::path::absolute(a)
                .ok()
                .zip(std::path::absolute(b).ok())
                .is_some_and(|(a, b)| a == b)
    };
    let out = crate::cli::file_or_stdout(args.out.as_deref());
    let secrets_out = args.secrets_out.as_deref();
    // `--secrets-out -` is stdout, where the schema goes too without a file of its own.
    let secrets_to_stdout = secrets_out.is_some_and(crate::cli::is_stdout);
    if secrets_to_stdout && out.is_none() {
        return Err(Error::Usage(
            "--secrets-out - writes the secrets to stdout, where the schema goes too: name a \
             file for one of them with --out or --secrets-out"
                .to_owned(),
        ));
    }
    let secrets_out = secrets_out.filter(|_| !secrets_to_stdout);
    if let (Some(out), Some(secrets)) = (out, secrets_out)
        && same(out, secrets)
    {
        return Err(Error::Usage(
            "--out and --secrets-out name the same file".to_owned(),
        ));
    }
    not_there(out.into_iter().chain(secrets_out))?;
    let desired = ctx.load()?;
    let base = args.base.as_deref().map(export_base).transpose()?;
    let exported = export::export(&desired.loaded.config, base.as_ref());
    let mut schema = exported
        .schema_json()
        .map_err(|e| Error::Output(std::io::Error::other(e)))?;
    schema.push('\n');
    let mut secrets = serde_json::to_string_pretty(&serde_json::json!({"value": exported.secrets}))
        .map_err(|e| Error::Output(std::io::Error::other(e)))?;
    secrets.push('\n');
    // The schema and its secrets are written both or neither: a secrets file that cannot be
    // written leaves no schema behind to refuse the next run.
    let mut files: Vec<(&Path, &str)> = Vec::new();
    files.extend(out.map(|path| (path, schema.as_str())));
    files.extend(secrets_out.map(|path| (path, secrets.as_str())));
    write_new(&files)?;
    // What goes to stdout: the schema without --out, or the secrets with `--secrets-out -`.
    let printed = if out.is_none() {
        Some(&schema)
    } else if secrets_to_stdout {
        Some(&secrets)
    } else {
        None
    };
    if let Some(text) = printed {
        let mut stdout = anstream::stdout();
        let written = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush());
        // Alone, a reader that leaves early (`| head`) is its own business. Beside a file it is
        // half of a pair lost: the error is reported, and the file written beside it removed,
        // as when a second file cannot be written (both or neither).
        let written = if files.is_empty() {
            crate::error::output(written)
        } else {
            written.map_err(Error::Output)
        };
        if let Err(error) = written {
            for (path, _) in &files {
                let _ = std::fs::remove_file(path);
            }
            return Err(error);
        }
    }
    if !ctx.quiet {
        listed(
            "roster has that Entra cannot express (not in the schema)",
            &exported.notes,
        )?;
        listed(
            "of --base kept as they are (Graph's PUT replaces the whole schema)",
            &exported.kept,
        )?;
    }
    Ok(Outcome::Success)
}

/// A job from files: the schema, and optionally the secrets and the app roles.
fn from_files(
    schema: &Path,
    secrets: Option<&Path>,
    app_roles: Option<&Path>,
) -> Result<Provisioning, Error> {
    let schema =
        read_json(schema, "a synchronization schema").and_then(|value| schema_of(schema, value))?;
    let secrets = match secrets {
        Some(path) => {
            let text = read_text(path)?;
            secrets_of(&parse_json(path, &text, "the job's secrets")?).map_err(|(reason, at)| {
                // The entry given twice, by its place in the file.
                let place = at
                    .and_then(|index| secret_place(&text, index))
                    .map(|(line, column)| format!(":{line}:{column}"))
                    .unwrap_or_default();
                Error::Import(format!("{}{place}: {reason}", display_path(path)))
            })?
        }
        None => Vec::new(),
    };
    let app_roles = match app_roles {
        Some(path) => Some(
            crate::graph::app_roles_of(&read_json(path, "app roles")?)
                .map_err(|reason| Error::Import(format!("{}: {reason}", display_path(path))))?,
        ),
        None => None,
    };
    Ok(Provisioning {
        schema,
        secrets,
        app_roles,
        origin: "a downloaded schema".to_owned(),
    })
}

/// Reads the application's provisioning job, its schema and secrets, and its app roles.
async fn from_graph(
    ctx: &Context,
    args: &ImportEntraArgs,
    application: Option<Application>,
) -> Result<Provisioning, Error> {
    let needed = |value: &Option<String>, flag: &str| {
        value.clone().ok_or_else(|| {
            Error::Usage(format!(
                "reading the job through Microsoft Graph needs {flag} (or import a downloaded \
                 schema with --from SCHEMA.json)"
            ))
        })
    };
    let tenant_id = needed(&args.tenant_id, "--tenant-id")?;
    if !is_tenant(&tenant_id) {
        return Err(Error::Usage(format!(
            "--tenant-id {tenant_id:?} is neither a directory id (a GUID) nor a domain such as \
             contoso.onmicrosoft.com"
        )));
    }
    let source = Source {
        tenant_id,
        client_id: needed(&args.client_id, "--client-id")?,
        credential: SourceCredential::ClientSecret(SecretRef::Env(SECRET_VARIABLE.to_owned())),
        application: application.ok_or_else(|| {
            Error::Usage(
                "name the enterprise application with --application NAME or \
                 --service-principal-id ID"
                    .to_owned(),
            )
        })?,
        login_url: None,
        graph_url: None,
    };
    let endpoints =
        crate::endpoint::EntraEndpoints::of(&source, ctx.env()).map_err(Error::Endpoint)?;
    let graph =
        Graph::connect(&source, Path::new("."), &endpoints, ctx.env()).map_err(|e| match e {
            GraphError::Secret(_) => Error::Usage(format!(
                "set {SECRET_VARIABLE} to a client secret of app registration {}",
                source.client_id
            )),
            other => other.into(),
        })?;
    let sp = crate::graph::service_principal(&graph, &source.application)
        .await
        .map_err(|e| match e {
            // Named here by a flag, not by a config's setting: say so in the flag's words.
            GraphError::Config { message, .. } => Error::Import(format!(
                "{message}; check --application against Entra > Enterprise applications, or \
                 give --service-principal-id"
            )),
            other => other.into(),
        })?;
    let sync = format!("servicePrincipals/{}/synchronization", encode(&sp.id));
    // A 403 here is the one permission import needs beyond what plan reads with.
    let denied = |e: GraphError| {
        let text = crate::error::with_causes(&e);
        if text.contains("403") {
            Error::Import(format!(
                "{text} — reading a provisioning job needs the Microsoft Graph application \
                 permission Synchronization.Read.All (with admin consent); or import a \
                 downloaded schema with --from"
            ))
        } else {
            e.into()
        }
    };
    let jobs = graph
        .get(&graph.url(&format!("{sync}/jobs")))
        .await
        .map_err(denied)?;
    let job = choose_job(&jobs, args.job.as_deref(), &sp.display_name)?;
    let schema = graph
        .get(&graph.url(&format!("{sync}/jobs/{}/schema", encode(&job.0))))
        .await
        .map_err(denied)?;
    let schema: SynchronizationSchema = typed(schema).map_err(|e| {
        Error::Import(format!(
            "the schema of job {} is not a synchronization schema: {e}",
            job.0
        ))
    })?;
    let secrets = graph
        .get(&graph.url(&format!("{sync}/secrets")))
        .await
        .map_err(denied)?;
    let secrets = secrets_of(&secrets)
        .map_err(|(reason, _)| Error::Import(format!("the job's secrets: {reason}")))?;
    Ok(Provisioning {
        schema,
        secrets,
        app_roles: Some(sp.app_roles),
        // Written only into the import's header, which shows it escaped (`render::visible`).
        origin: format!("job {} of {:?}", job.0, sp.display_name),
    })
}

/// A tenant as Entra names it: a GUID, or a domain (what the config's schema allows).
fn is_tenant(text: &str) -> bool {
    let guid = text.len() == 36
        && text.split('-').map(str::len).eq([8, 4, 4, 4, 12])
        && text.chars().all(|c| c == '-' || c.is_ascii_hexdigit());
    let domain = text.contains('.')
        && text.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    guid || domain
}

/// The job to import from Graph's list of the application's jobs: the one asked for, or the only
/// one. `(id, templateId)`.
fn choose_job(
    jobs: &Value,
    wanted: Option<&str>,
    application: &str,
) -> Result<(String, String), Error> {
    let jobs: Vec<(String, String)> = jobs
        .get("value")
        .and_then(Value::as_array)
        .map(|jobs| {
            jobs.iter()
                .filter_map(|j| {
                    Some((
                        j.get("id")?.as_str()?.to_owned(),
                        j.get("templateId")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let listed = || {
        jobs.iter()
            .map(|(id, template)| format!("{id} ({template})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let job = match wanted {
        Some(wanted) => jobs.iter().find(|(id, _)| id == wanted).ok_or_else(|| {
            Error::Import(format!(
                "{application:?} has no provisioning job {wanted} (its jobs: {})",
                listed()
            ))
        })?,
        None => match jobs.as_slice() {
            [one] => one,
            [] => {
                return Err(Error::Import(format!(
                    "{application:?} has no provisioning job: provisioning was never configured \
                     for it"
                )));
            }
            _ => {
                return Err(Error::Import(format!(
                    "{application:?} has {} provisioning jobs; choose one with --job ({})",
                    jobs.len(),
                    listed()
                )));
            }
        },
    }
    .clone();
    Ok(job)
}

/// `N thing(s) {what}:` and a line for each of `items` on stderr; nothing when there are none.
fn listed(what: &str, items: &[String]) -> Result<(), Error> {
    if items.is_empty() {
        return Ok(());
    }
    let mut summary = format!("{} thing(s) {what}:\n", items.len());
    for item in items {
        let _ = writeln!(summary, "  - {item}");
    }
    crate::error::output(anstream::stderr().write_all(summary.as_bytes()))
}

/// The job's schema `export entra --base` keeps the rule id, metadata and directories of: a
/// synchronization schema with a rule to Salesforce (`targetDirectoryName` `salesforce.com`),
/// or a usage error naming the file and why — an empty object, or another application's schema
/// (whose directories would go into the Salesforce job's), is not one.
fn export_base(path: &Path) -> Result<export::Base, Error> {
    let as_base = |e| match e {
        Error::Import(why) => Error::Usage(format!("--base {why}")),
        other => Error::Usage(format!("--base: {}", crate::error::with_causes(&other))),
    };
    let raw = read_json(path, "a synchronization schema").map_err(as_base)?;
    let schema = schema_of(path, raw.clone()).map_err(as_base)?;
    if schema
        .synchronization_rules
        .iter()
        .any(crate::entra_sync::SynchronizationRule::is_salesforce_job)
    {
        return Ok(export::Base { schema, raw });
    }
    let targets: Vec<String> = schema
        .synchronization_rules
        .iter()
        .map(|r| {
            format!(
                "from {} to {}",
                crate::render::quoted(&r.source_directory_name),
                crate::render::quoted(&r.target_directory_name)
            )
        })
        .collect();
    Err(Error::Usage(format!(
        "--base {}: not the schema of a Salesforce provisioning job: {}; give the schema of the \
         job being replaced (GET /servicePrincipals/{{id}}/synchronization/jobs/{{jobId}}/schema, \
         or the portal's download)",
        display_path(path),
        if targets.is_empty() {
            "it has no synchronization rule".to_owned()
        } else {
            format!(
                "no rule goes from {:?} to {:?} (its rules go {})",
                crate::entra_sync::SOURCE_DIRECTORY,
                crate::entra_sync::TARGET_DIRECTORY,
                targets.join(", ")
            )
        }
    )))
}

/// A synchronization schema from JSON: an object (serde would also read a struct from an array).
fn schema_of(path: &Path, value: Value) -> Result<SynchronizationSchema, Error> {
    if !value.is_object() {
        return Err(Error::Import(format!(
            "{}: not a synchronization schema: the file holds a JSON {}, not an object",
            display_path(path),
            match value {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "boolean",
                _ => "null",
            }
        )));
    }
    typed(value).map_err(|e| {
        Error::Import(format!(
            "{}: not a synchronization schema: {e}",
            display_path(path)
        ))
    })
}

/// `value` as a `T`, or where and why not in plain words (`at /synchronizationRules: expected
/// a list, found the number 5`).
fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    typed_in(value, crate::config::in_config_words)
}

/// [`typed`], with serde's message put in `words` (`in_config_words_unshown` for secrets).
fn typed_in<T: serde::de::DeserializeOwned>(
    value: Value,
    words: fn(&str) -> String,
) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        let why = words(&e.into_inner().to_string());
        if at == "." {
            why
        } else {
            format!("at {at}: {why}")
        }
    })
}

/// The secrets of `{"value": [{"key", "value"}]}` (or the bare array). A key given twice is
/// refused (its values unshown: some are credentials): which value the job holds (`SyncAll`
/// "true" or "false": every user in scope, or only those assigned) cannot be told, and the
/// import must not guess.
///
/// # Errors
/// Why not, and the index of the entry that repeats a key (for its place in a file).
fn secrets_of(value: &Value) -> Result<Vec<Secret>, (String, Option<usize>)> {
    let items = value.get("value").unwrap_or(value);
    // A value of the wrong type is named by its kind alone: it may be a credential.
    let secrets: Vec<Secret> = typed_in(items.clone(), crate::config::in_config_words_unshown)
        .map_err(|e| {
            (
                format!("not a list of {{\"key\", \"value\"}} pairs: {e}"),
                None,
            )
        })?;
    for (i, secret) in secrets.iter().enumerate() {
        // The values are not shown: some of a job's secrets are credentials.
        if let Some(again) = secrets[i + 1..]
            .iter()
            .position(|s| s.key.eq_ignore_ascii_case(&secret.key))
        {
            return Err((
                format!(
                    "{}: which value the job holds cannot be told",
                    crate::json::given_twice(&secret.key)
                ),
                Some(i + 1 + again),
            ));
        }
    }
    Ok(secrets)
}

/// The line and column (in characters) where entry `index` of the secrets document `text`
/// (`{"value": [...]}` or the bare array) starts; none when `text` is not such a document.
fn secret_place(text: &str, index: usize) -> Option<(usize, usize)> {
    #[derive(serde::Deserialize)]
    struct Wrapped<'t> {
        #[serde(borrow)]
        value: Vec<&'t serde_json::value::RawValue>,
    }
    let text = text.trim_start_matches('\u{feff}');
    let items = serde_json::from_str::<Wrapped<'_>>(text)
        .map(|w| w.value)
        .or_else(|_| serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text))
        .ok()?;
    // A raw value borrows its text from `text`: its start is its offset there.
    let offset = items.get(index)?.get().as_ptr().addr() - text.as_ptr().addr();
    Some(crate::diagnostic::line_col(text, offset))
}

/// The JSON document at `path`, `what` it should be, for the errors: one whose object names a
/// key twice (a secret with two `value`s, a mapping with two `source`s) is refused with its
/// place, as the import cannot tell which of the two the job holds.
fn read_json(path: &Path, what: &str) -> Result<Value, Error> {
    parse_json(path, &read_text(path)?, what)
}

/// The text of the file at `path`.
fn read_text(path: &Path) -> Result<String, Error> {
    crate::files::read_regular_string(path).map_err(|source| Error::File {
        action: "read",
        path: path.to_owned(),
        source,
    })
}

/// `read_json` of the text read from `path`.
fn parse_json(path: &Path, text: &str, what: &str) -> Result<Value, Error> {
    // The portal's download may start with a byte-order mark.
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(Error::Import(format!(
            "{}: not {what}: the file is empty",
            display_path(path)
        )));
    }
    crate::json::unambiguous(text).map_err(|e| {
        let (line, column) = crate::json::place(text.as_bytes(), &e);
        Error::Import(format!(
            "{}:{line}:{column}: not {what}: {}",
            display_path(path),
            crate::json::reason(&e)
        ))
    })
}

/// Refuses any of `paths` that exists: roster never overwrites a file it imports or exports to.
fn not_there<'p>(mut paths: impl Iterator<Item = &'p Path>) -> Result<(), Error> {
    match paths.find(|path| std::fs::symlink_metadata(path).is_ok()) {
        Some(path) => Err(exists(path)),
        None => Ok(()),
    }
}

fn exists(path: &Path) -> Error {
    Error::Usage(format!(
        "{} exists; roster never overwrites a file it imports or exports to (remove it, or \
         write to another and compare)",
        display_path(path)
    ))
}

/// Writes each `(path, text)` as a new file, all or none: every file is created first (none may
/// exist), then written; on any failure, the files this call created are removed.
fn write_new(files: &[(&Path, &str)]) -> Result<(), Error> {
    let undo = |opened: &[(std::fs::File, &Path, &str)]| {
        for (_, path, _) in opened {
            let _ = std::fs::remove_file(path);
        }
    };
    let mut opened = Vec::new();
    for (path, text) in files {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(file) => opened.push((file, *path, *text)),
            Err(e) => {
                undo(&opened);
                return Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
                    exists(path)
                } else {
                    Error::File {
                        action: "write",
                        path: path.to_path_buf(),
                        source: e,
                    }
                });
            }
        }
    }
    let failed = opened.iter_mut().find_map(|(file, path, text)| {
        file.write_all(text.as_bytes())
            .err()
            .map(|source| (path.to_path_buf(), source))
    });
    match failed {
        Some((path, source)) => {
            undo(&opened);
            Err(Error::File {
                action: "write",
                path,
                source,
            })
        }
        None => Ok(()),
    }
}
