//! One run context per command, built once from the command line — ripgrep's low-args to
//! high-args step: colour, quietness, progress, the environment, the async runtime (built once,
//! when first needed) and the config path; and the operations every command shares on it: load
//! the config, read the live world, plan, check a plan, carry it out with its audit log. The
//! demo runs on a context too, so it meets exactly the checks a real run meets.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::apply::{self, Options, Report};
use crate::cli::Cli;
use crate::config::Loaded;
use crate::diagnostic::render_all;
use crate::endpoint::{EntraEndpoints, Env};
use crate::error::Error;
use crate::model::{SourceSnapshot, TargetSnapshot};
use crate::plan::{self, Inputs, Plan};
use crate::progress::Progress;
use crate::salesforce::Salesforce;

/// How a run reads its environment.
type Environment = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What every command runs with.
pub(crate) struct Context {
    /// Colours on stdout.
    pub(crate) color: bool,
    pub(crate) quiet: bool,
    pub(crate) progress: Progress,
    config_path: PathBuf,
    env: Environment,
    runtime: OnceLock<tokio::runtime::Runtime>,
}

/// The config, loaded and checked, with its hash and directory.
pub(crate) struct Desired {
    pub(crate) loaded: Loaded,
    pub(crate) sha256: String,
    /// The config's directory: `{file: ...}` secrets are read relative to it.
    pub(crate) base: PathBuf,
}

impl Desired {
    /// Refuses `path` as the file `flag` writes when it is one of the files the config was
    /// read from (the file given or a base it extends): a plan saved over `roster.yaml`, or an
    /// audit log appended to it and made owner-only, would destroy the config roster just read.
    pub(crate) fn not_written_over(&self, path: &Path, flag: &str) -> Result<(), Error> {
        let files = self.loaded.sources.files.iter().map(|f| f.path.as_path());
        match same_file(path, files) {
            Some(file) => Err(Error::Usage(format!(
                "{flag} {} is {} {}: roster would write over the config it reads; name another \
                 file",
                crate::diagnostic::display_path(path),
                // The first file is the config given; the others, the bases it extends.
                if std::ptr::eq(file, self.loaded.sources.files[0].path.as_path()) {
                    "the config file"
                } else {
                    "a base config the config extends,"
                },
                crate::diagnostic::display_path(file)
            ))),
            None => Ok(()),
        }
    }
}

/// Refuses `--out` naming one of the snapshot's files in `dir`: the plan would replace what it
/// was planned from.
pub(crate) fn not_written_over_snapshot(path: &Path, dir: &Path) -> Result<(), Error> {
    let files = ["entra.json", "salesforce.json"].map(|name| dir.join(name));
    match same_file(path, files.iter().map(PathBuf::as_path)) {
        Some(file) => Err(Error::Usage(format!(
            "--out {} is the snapshot file {}: roster would write over what it plans from; \
             name another file",
            crate::diagnostic::display_path(path),
            crate::diagnostic::display_path(file)
        ))),
        None => Ok(()),
    }
}

/// Refuses `--audit-log` naming the saved plan being applied: the audit lines would be
/// appended to the reviewed plan, which no longer reads as one.
pub(crate) fn not_written_over_plan(audit_log: &Path, plan: &Path) -> Result<(), Error> {
    match same_file(audit_log, std::iter::once(plan)) {
        Some(_) => Err(Error::Usage(format!(
            "--audit-log {} is the plan file being applied: roster would append the audit \
             lines to the reviewed plan; name another file",
            crate::diagnostic::display_path(audit_log)
        ))),
        None => Ok(()),
    }
}

/// The one of `files` that is the file at `path` (`file_identity`), if `path` exists and one is.
fn same_file<'f>(path: &Path, mut files: impl Iterator<Item = &'f Path>) -> Option<&'f Path> {
    // Not there yet: none of them.
    let written = file_identity(path)?;
    files.find(|file| file_identity(file) == Some(written))
}

/// Which file `path` is, links followed: its device and inode on Unix, so that a hard link or
/// any spelling of the path is the same file; `None` when there is none.
#[cfg(unix)]
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Which file `path` is: its canonical path elsewhere (hard links are not told apart).
#[cfg(not(unix))]
fn file_identity(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// A plan and the Salesforce state it was made from.
pub(crate) struct Planned {
    pub(crate) plan: Plan,
    pub(crate) target: TargetSnapshot,
}

impl Context {
    /// The context of a command line.
    pub(crate) fn new(cli: &Cli) -> Context {
        Context {
            color: anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never,
            quiet: cli.global.quiet,
            progress: Progress::new(!cli.global.quiet && cli.global.verbose == 0),
            config_path: cli.global.config.clone(),
            env: Arc::new(crate::endpoint::process_env),
            runtime: OnceLock::new(),
        }
    }

    /// The same context for another config and environment (the demo's).
    pub(crate) fn with(self, config_path: PathBuf, env: Environment) -> Context {
        Context {
            config_path,
            env,
            ..self
        }
    }

    /// The config file (`-c`, default `roster.yaml`).
    pub(crate) fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub(crate) fn env(&self) -> Env<'_> {
        self.env.as_ref()
    }

    /// The async runtime, built on first use.
    pub(crate) fn runtime(&self) -> Result<&tokio::runtime::Runtime, Error> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = tokio::runtime::Runtime::new().map_err(Error::Runtime)?;
        Ok(self.runtime.get_or_init(|| runtime))
    }

    /// Runs `future` to its end on the runtime.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> Result<F::Output, Error> {
        Ok(self.runtime()?.block_on(future))
    }

    /// Loads and checks the config, printing its warnings unless quiet.
    pub(crate) fn load(&self) -> Result<Desired, Error> {
        let loaded = crate::config::load(&self.config_path)?;
        if !loaded.warnings.is_empty() && !self.quiet {
            anstream::stderr()
                .write_all(render_all(&loaded.warnings, true).as_bytes())
                .map_err(Error::Output)?;
        }
        let sha256 = loaded.sources.sha256();
        let base = loaded
            .file
            .path
            .parent()
            .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
        Ok(Desired {
            loaded,
            sha256,
            base,
        })
    }

    /// Reads Entra and Salesforce, side by side, after checking every secret the config names
    /// can be read (all unreadable ones are named at once).
    pub(crate) async fn read(
        &self,
        desired: &Desired,
    ) -> Result<(SourceSnapshot, TargetSnapshot), Error> {
        self.read_also(desired, None).await
    }

    /// `read`, selecting too the Entra attributes and User fields `also` reads (the baseline
    /// config a plan is compared with: planned on this read, it would otherwise take what only
    /// it reads for empty).
    async fn read_also(
        &self,
        desired: &Desired,
        also: Option<&Desired>,
    ) -> Result<(SourceSnapshot, TargetSnapshot), Error> {
        let unreadable = crate::config::unreadable_secrets(&desired.loaded.config, &desired.base);
        if !unreadable.is_empty() {
            // At their places in roster.yaml when the file names them there.
            let problems: Vec<(String, String, Option<String>)> = unreadable
                .iter()
                .map(|e| {
                    let text = e.to_string();
                    let detail = text
                        .split_once("`: ")
                        .map_or(text.as_str(), |(_, d)| d)
                        .to_owned();
                    (
                        e.pointer().to_owned(),
                        format!("the secret cannot be read: {detail}"),
                        None,
                    )
                })
                .collect();
            if problems.iter().all(|(p, _, _)| p.starts_with('/')) {
                return Err(Error::Diagnostics(crate::config::placed_with(
                    &desired.loaded,
                    &problems,
                    Some("this secret"),
                )));
            }
            return Err(Error::Secrets(unreadable));
        }
        let started = std::time::Instant::now();
        let read = crate::read::live(
            &desired.loaded.config,
            also.map(|a| &a.loaded.config),
            &desired.base,
            self.env(),
            &self.progress,
        )
        .await
        .map_err(|e| undefined_field(desired, e))
        .map_err(|e| undefined_attribute(desired, e))
        .map_err(|e| unresolved_in_tenant(desired, e))?;
        // What the network cost, beside the planner's line (`-v`; the benchmarks read both).
        tracing::info!(
            target: "roster::read",
            "read Entra and Salesforce in {} ms",
            started.elapsed().as_millis()
        );
        Ok(read)
    }

    /// Reads the live world and plans, limited to `targets` when given.
    pub(crate) async fn plan(
        &self,
        desired: &Desired,
        targets: &[String],
    ) -> Result<Planned, Error> {
        self.plan_against(desired, targets, None).await
    }

    /// `plan`, each change marked against `baseline` (the config before a change), planned on
    /// the same read of the world.
    pub(crate) async fn plan_against(
        &self,
        desired: &Desired,
        targets: &[String],
        baseline: Option<&Desired>,
    ) -> Result<Planned, Error> {
        let (source, target) = match Box::pin(self.read_also(desired, baseline)).await {
            Ok(read) => read,
            // What only the baseline reads may be gone from the org or the tenant (the change
            // under review removes its mapping): read what this config reads, and say so.
            Err(error) if baseline.is_some() => {
                let (mut source, target) = Box::pin(self.read(desired)).await?;
                source.warnings.push(format!(
                    "what only the baseline config reads could not be read ({}), so roster \
                     read what this config reads: the baseline's plan takes the rest as empty, \
                     and a change may be labelled as caused by this change when it is not",
                    crate::render::visible(&crate::error::with_causes(&error))
                ));
                (source, target)
            }
            Err(error) => return Err(error),
        };
        plan_from(desired, targets, source, target, baseline)
    }

    /// Loads the baseline config at `path`: checked like any config, its warnings not repeated.
    pub(crate) fn load_baseline(&self, path: &Path) -> Result<Desired, Error> {
        Context {
            quiet: true,
            config_path: path.to_owned(),
            env: Arc::clone(&self.env),
            runtime: OnceLock::new(),
            progress: self.progress.clone(),
            color: self.color,
        }
        .load()
    }

    /// A Microsoft Graph client for the config's tenant; nothing is sent yet.
    pub(crate) fn graph(&self, desired: &Desired) -> Result<crate::graph::Graph, Error> {
        let endpoints = EntraEndpoints::of(&desired.loaded.config.source, self.env())
            .map_err(Error::Endpoint)?;
        Ok(crate::graph::Graph::connect(
            &desired.loaded.config.source,
            &desired.base,
            &endpoints,
            self.env(),
        )?)
    }

    /// A Salesforce client for the config, nothing sent yet.
    pub(crate) fn salesforce(&self, desired: &Desired) -> Result<Arc<Salesforce>, Error> {
        let login_url = crate::endpoint::salesforce_login(&desired.loaded.config, self.env())
            .map_err(Error::Endpoint)?;
        Ok(Arc::new(Salesforce::connect(
            &desired.loaded.config,
            &desired.base,
            &login_url,
        )?))
    }

    /// Carries `plan` out, appending a line per change to the audit log at `audit_path` as
    /// changes settle. SIGINT, SIGTERM and SIGHUP stop it cleanly: in-flight requests finish,
    /// nothing more is sent, and the report and the audit lines are still written. `reviewed`
    /// is the SHA-256 of the saved plan file applied, if one was.
    ///
    /// A failed audit write (a full disk) stops the apply the same way — the requests in flight
    /// finish, nothing more is sent — and takes the part of the line written back out, so the
    /// log holds whole lines only. The report then comes with `Err(Error::AuditLog)` beside it,
    /// naming the changes that have no line: it is printed, and the command fails.
    pub(crate) async fn carry_out(
        &self,
        desired: &Desired,
        plan: &Plan,
        reviewed: Option<&str>,
        options: Options,
        audit_path: &Path,
    ) -> Result<(Report, Result<(), Error>), Error> {
        // Registered before the first write, so no signal finds the default handler.
        let signals = super::signals::Signals::register();
        let salesforce = self.salesforce(desired)?;
        // Opened before anything is written, so an unwritable log stops the apply, not the
        // record. Owner-only: it names people.
        let mut audit =
            crate::files::open_append_private(audit_path, true).map_err(|source| Error::File {
                action: "open the audit log",
                path: audit_path.to_owned(),
                source,
            })?;
        let log = apply::AuditLog::new(plan, reviewed, self.env());
        let mut failed: Option<std::io::Error> = None;
        let stop = apply::Stop::default();
        let mut whole = audit.metadata().map_or(0, |m| m.len());
        let stop_writing = stop.clone();
        let mut append = |text: &str, failed: &mut Option<std::io::Error>| {
            if failed.is_some() {
                return;
            }
            match audit.write_all(text.as_bytes()) {
                Ok(()) => whole += text.len() as u64,
                Err(e) => {
                    // Whole lines only: what part of the line went in comes back out.
                    let _ = audit.set_len(whole);
                    stop_writing.stop(format!(
                        "writing the audit log {} failed ({e}): nothing more was sent",
                        crate::diagnostic::display_path(audit_path)
                    ));
                    *failed = Some(e);
                }
            }
        };
        // Each change's line is written, in one write, as soon as the change is settled.
        // The changes whose line the log could not take: the one that failed, and those that
        // settled after it (requests in flight when the apply stopped).
        let mut unrecorded: Vec<&str> = Vec::new();
        let mut record = |i: usize, result: &apply::ChangeResult| {
            append(&log.line(&plan.changes[i], result), &mut failed);
            if failed.is_some() && result.status != apply::Status::NotAttempted {
                unrecorded.push(&plan.changes[i].key);
            }
        };
        let interrupt = {
            let stop = stop.clone();
            tokio::spawn(async move {
                if let Some(why) = signals.next().await {
                    stop.stop(format!(
                        "{why}: the requests in flight finished, nothing more was sent"
                    ));
                }
            })
        };
        let report = apply::apply(
            salesforce,
            plan,
            options,
            self.progress.task("Salesforce"),
            stop,
            &mut record,
        )
        .await;
        interrupt.abort();
        let mut report = report;
        if !plan.app_roles.is_empty() {
            let outcome = self.write_app_roles(desired, plan, &report).await;
            append(&log.app_role_lines(&outcome), &mut failed);
            report.app_roles = Some(outcome);
        }
        let logged = match failed {
            Some(source) => Err(Error::AuditLog {
                path: audit_path.to_owned(),
                source,
                unrecorded: unrecorded.iter().map(|k| (*k).to_owned()).collect(),
            }),
            None => Ok(()),
        };
        Ok((report, logged))
    }
}

impl Context {
    /// Writes the plan's app-role changes through Microsoft Graph, unless the apply stopped.
    async fn write_app_roles(
        &self,
        desired: &Desired,
        plan: &Plan,
        report: &apply::Report,
    ) -> apply::AppRolesOutcome {
        use apply::{AppRolesOutcome, Status};
        if report.stopped.is_some() {
            return AppRolesOutcome {
                status: Status::NotAttempted,
                error: None,
            };
        }
        let written = match self.graph(desired) {
            Ok(graph) => {
                apply::app_roles::write(
                    &graph,
                    &desired.loaded.config.source.application,
                    &plan.app_roles,
                )
                .await
            }
            Err(e) => Err(e.to_string()),
        };
        match written {
            Ok(()) => AppRolesOutcome {
                status: Status::Applied,
                error: None,
            },
            Err(error) => AppRolesOutcome {
                status: Status::Failed,
                error: Some(error),
            },
        }
    }
}

/// The two snapshots `roster snapshot` wrote to `dir`, taken for `desired`: of its tenant,
/// application and scope, and read for every attribute and User field it reads. What only the
/// `baseline` config reads, when the snapshot lacks it, is a warning of the plan (its labels
/// may be wrong), not a refusal: `roster snapshot` reads for one config.
///
/// # Errors
/// A file that is no snapshot (`Error::NotASnapshot`), or a snapshot taken for another config
/// — tenant, application, scope, API version, or what it reads (`Error::SnapshotLacks`).
pub(crate) fn read_snapshots(
    dir: &Path,
    desired: &Desired,
    baseline: Option<&Desired>,
) -> Result<(SourceSnapshot, TargetSnapshot), Error> {
    let (mut source, target) = read_snapshot_files(dir)?;
    let config = &desired.loaded.config;
    let mut mismatches = other_world(config, &source);
    // The org's describe of User, and the fields a plan may write, are the API version's.
    if config.target.api_version != target.api_version {
        mismatches.push(format!(
            "the config reads Salesforce's API version {}, the snapshot was read with {}",
            crate::render::quoted(&config.target.api_version),
            crate::render::quoted(&target.api_version)
        ));
    }
    mismatches.extend(lacks(config, &source, &target).map(|what| {
        format!("the config reads {what}, which it does not hold (each would be planned as empty)")
    }));
    if !mismatches.is_empty() {
        return Err(Error::SnapshotLacks {
            dir: dir.to_owned(),
            config: desired.loaded.file.path.clone(),
            what: mismatches.join("; "),
        });
    }
    if source.unassigned_users.is_none() {
        let configs = std::iter::once(config).chain(baseline.map(|b| &b.loaded.config));
        let unread = crate::read::unread_anchors(configs, &source, &target);
        if !unread.is_empty() {
            source.warnings.push(format!(
                "{} active Salesforce user(s) hold in {} the object id of an Entra user this \
                 snapshot neither read nor looked up (it was taken before roster looked such \
                 ids up in Graph): a leaver's, or another tenant's, roster cannot tell, so an \
                 account a person's conflict names is held by it rather than deactivated as a \
                 leaver's; take the snapshot again (`roster snapshot`) to tell them apart",
                unread.len(),
                crate::config::object_id_anchor(&config.matching, &config.mappings)
                    .unwrap_or("the object-id anchor")
            ));
        }
    }
    if let Some(what) = baseline.and_then(|b| lacks(&b.loaded.config, &source, &target)) {
        source.warnings.push(format!(
            "the snapshot in {} was not read for what only the baseline config reads ({what}): \
             the baseline's plan takes each as empty, so a change may be labelled as caused by \
             this change when it is not; plan live for exact labels",
            crate::diagnostic::display_path(dir)
        ));
    }
    Ok((source, target))
}

/// How the snapshot's world is not `config`'s: another tenant, application or scope.
fn other_world(config: &crate::config::Config, source: &SourceSnapshot) -> Vec<String> {
    use crate::config::{Application, Assignment};
    let mut out = Vec::new();
    let shown = crate::render::quoted;
    if !config
        .source
        .tenant_id
        .eq_ignore_ascii_case(&source.tenant_id)
    {
        out.push(format!(
            "the config is of tenant {}, the snapshot of tenant {}",
            shown(&config.source.tenant_id),
            shown(&source.tenant_id)
        ));
    }
    let app = &source.application;
    let same_app = match &config.source.application {
        // Graph's `eq` on displayName, which found the application, ignores case.
        Application::DisplayName(name) => name.to_lowercase() == app.display_name.to_lowercase(),
        Application::ServicePrincipalId(id) => id.eq_ignore_ascii_case(&app.id),
        Application::AppId(id) => id.eq_ignore_ascii_case(&app.app_id),
    };
    if !same_app {
        out.push(format!(
            "the snapshot is of the application {} (service principal {})",
            shown(&app.display_name),
            shown(&app.id)
        ));
    }
    let reads_all = config.scope.assignment == Assignment::All;
    if reads_all != (source.assignment == "all") {
        out.push(if reads_all {
            "the config reads every user of the tenant (`scope.assignment: all`), the snapshot \
             only those assigned to the application"
                .to_owned()
        } else {
            "the config reads the users assigned to the application, the snapshot every user \
             of the tenant"
                .to_owned()
        });
    }
    out
}

/// What `config` reads that the snapshots were not read for — "the Entra attribute(s)
/// employeeId and the Salesforce User field(s) Title", the groups its role rules name, the
/// access objects it grants and their holders — or `None`. Names compare without case, as
/// expressions, SOQL and Graph's `eq` read them; `id` is `objectId`.
fn lacks(
    config: &crate::config::Config,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
) -> Option<String> {
    let same = |a: &str, b: &str| {
        let object_id = |n: &str| n == "id" || n.eq_ignore_ascii_case("objectId");
        a.eq_ignore_ascii_case(b) || (object_id(a) && object_id(b))
    };
    let held = |read: &[String], name: &str| read.iter().any(|r| same(r, name));
    let attributes: Vec<String> = crate::graph::attributes::source_attributes(config)
        .iter()
        .map(ToString::to_string)
        .filter(|name| !held(&source.attributes, name))
        .collect();
    let fields: Vec<String> = crate::salesforce::user_fields(config)
        .into_iter()
        .filter(|name| !held(&target.fields, name))
        .collect();
    // A rule's group is held when the read looked it up by that name or id, or read it anyway
    // (an assigned group, or one another rule named another way).
    let groups: Vec<String> = crate::graph::role_groups(config, None)
        .into_iter()
        .filter(|group| {
            let named = |text: &str| text.to_lowercase() == group.to_lowercase();
            !source.role_groups.iter().any(|read| named(read))
                && !source
                    .groups
                    .iter()
                    .any(|g| named(&g.id) || named(&g.display_name))
        })
        .map(|group| format!("{group:?}"))
        .collect();
    let list = |what: &str, names: &[String]| {
        (!names.is_empty()).then(|| {
            let names: Vec<String> = names
                .iter()
                .map(|n| crate::render::visible(n).into_owned())
                .collect();
            format!("{what} {}", names.join(", "))
        })
    };
    let parts: Vec<String> = [
        list("the Entra attribute(s)", &attributes),
        list("the Salesforce User field(s)", &fields),
        list("the members of the group(s) role rules name:", &groups),
    ]
    .into_iter()
    .flatten()
    .chain(access_lacks(config, target))
    .collect();
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// The access objects `config` grants whose records or holders `target` was not read for:
/// "the queue records", "the holders of the permission set \"Sales_Ops\"", "the feature
/// licences' seats".
fn access_lacks(config: &crate::config::Config, target: &TargetSnapshot) -> Vec<String> {
    use crate::salesforce::access;
    let read = &target.access_read;
    let mut out: Vec<String> = access::kinds_read(&[config])
        .into_iter()
        .filter(|kind| !read.kinds.contains(kind))
        .map(|kind| format!("the {} records", kind.spec().noun))
        .collect();
    for (kind, ids) in access::named_ids(&[config], &target.access_objects) {
        for id in ids {
            if !read.assignments_of.contains(&id) {
                let name = target
                    .access_objects
                    .iter()
                    .find(|o| o.kind == kind && o.id == id)
                    .map_or(id.as_str(), |o| o.name.as_str());
                out.push(format!(
                    "the holders of the {} {}",
                    kind.spec().noun,
                    crate::render::quoted(name)
                ));
            }
        }
    }
    if access::reads_feature_seats(&[config]) && !read.feature_license_seats {
        out.push("the feature licences' seats (ActiveFeatureLicenseMetric)".to_owned());
    }
    out
}

/// The two files of a snapshot, each checked for what a live read accepts.
fn read_snapshot_files(dir: &Path) -> Result<(SourceSnapshot, TargetSnapshot), Error> {
    let path = dir.join("entra.json");
    let mut source: SourceSnapshot = read_snapshot(&path)?;
    let refused = |path: &Path, reason: String| Error::NotASnapshot {
        path: path.to_owned(),
        at: None,
        reason,
    };
    if !matches!(source.assignment.as_str(), "assigned" | "all") {
        return Err(refused(
            &path,
            format!(
                "its assignment is \"{}\": a snapshot's is \"assigned\" or \"all\"",
                crate::render::visible(&source.assignment)
            ),
        ));
    }
    // A live read lists each user once (a user read twice is kept once, with a warning): one
    // listed twice here was edited in, and would be planned as two.
    if let Some((i, j, _)) = crate::model::listed_twice(
        source
            .users
            .iter()
            .map(|u| crate::plan::compare::lowercase(&u.id))
            .enumerate(),
    ) {
        return Err(refused(&path, twice(i, j, &source.users[j].id)));
    }
    // Held to what a live read accepts: a hand-edited `accountEnabled: "false"` would otherwise
    // be read as enabled, and a number would become a userPrincipalName.
    let mut types = crate::graph::attributes::AttributeTypes::default();
    for (i, user) in source.users.iter().enumerate() {
        if let Some(problem) = user
            .attributes
            .iter()
            .find_map(|(name, value)| types.problem(name, value))
        {
            return Err(Error::NotASnapshot {
                path,
                at: None,
                reason: format!(
                    "users[{i}] ({}) has {problem}: Graph never sends that type there",
                    crate::render::visible(&user.id)
                ),
            });
        }
    }
    // Each looked-up id in Graph's form, in id order, once: as a live read writes them, which
    // the plan searches them as (an edit out of order hid a leaver; helper-89).
    if let Some(users) = source.unassigned_users.as_mut() {
        for (i, user) in users.iter_mut().enumerate() {
            match crate::graph::anchored_guid(&user.id) {
                Some(id) => user.id = id.into_owned(),
                None => {
                    return Err(refused(
                        &path,
                        format!(
                            "unassigned_users[{i}] is {}, which is no object id: a read lists \
                             there the object ids Graph found",
                            crate::render::quoted(&user.id)
                        ),
                    ));
                }
            }
        }
        crate::model::UnassignedUser::in_id_order(users);
    }
    let path = dir.join("salesforce.json");
    let mut target: TargetSnapshot = read_snapshot(&path)?;
    // Held to what a live read accepts: every id an id of its object, in the form ids join by.
    target.canonical_ids().map_err(|why| refused(&path, why))?;
    let ids = target.users.iter().map(|u| crate::salesforce::id15(&u.id));
    if let Some((i, j, _)) = crate::model::listed_twice(ids.enumerate()) {
        return Err(refused(&path, twice(i, j, &target.users[j].id)));
    }
    Ok((source, target))
}

/// Why a snapshot whose users `i` and `j` are one user, `id`, is refused.
fn twice(i: usize, j: usize, id: &str) -> String {
    format!(
        "users[{i}] and users[{j}] are both {}: a snapshot lists each user once",
        crate::render::visible(id)
    )
}

pub(crate) fn plan_offline(
    desired: &Desired,
    targets: &[String],
    dir: &Path,
    baseline: Option<&Desired>,
) -> Result<Planned, Error> {
    let (source, target) = read_snapshots(dir, desired, baseline)?;
    plan_from(desired, targets, source, target, baseline)
}

/// The planner over two snapshots, its CPU time logged at `-v`. A `--target` that names no user
/// read is an error, with the closest name.
fn plan_from(
    desired: &Desired,
    targets: &[String],
    source: SourceSnapshot,
    target: TargetSnapshot,
    baseline: Option<&Desired>,
) -> Result<Planned, Error> {
    let config = &desired.loaded.config;
    let anchor = crate::config::object_id_anchor(&config.matching, &config.mappings);
    if let Some((unknown, hint)) = plan::unknown_targets(&source, &target, anchor, targets)
        .into_iter()
        .next()
    {
        return Err(Error::UnknownTarget {
            target: unknown,
            hint,
        });
    }
    let started = crate::usage::cpu_time();
    let wall = std::time::Instant::now();
    let source_users = source.users.len();
    // A baseline plans the same source again: only then is it kept whole.
    let (plan, source) = if baseline.is_some() {
        let plan = plan::plan(
            &desired.loaded.config,
            &source,
            &target,
            &inputs(desired, targets),
        );
        (plan, Some(source))
    } else {
        let plan = plan::plan_taking(
            &desired.loaded.config,
            source,
            &target,
            &inputs(desired, targets),
        );
        (plan, None)
    };
    if let (Some(before), Some(after)) = (started, crate::usage::cpu_time()) {
        let cpu = after - before;
        tracing::info!(
            target: "roster::plan",
            "planned {} source and {} Salesforce users in {} ms of CPU ({} ms user, {} ms \
             system), {} ms of wall time",
            source_users,
            target.users.len(),
            cpu.user_ms + cpu.system_ms,
            cpu.user_ms,
            cpu.system_ms,
            wall.elapsed().as_millis()
        );
    }
    let mut plan = plan;
    if let (Some(baseline), Some(source)) = (baseline, &source) {
        let before = plan::plan(
            &baseline.loaded.config,
            source,
            &target,
            &inputs(baseline, targets),
        );
        plan::compare_with_baseline(&mut plan, &before, &baseline.sha256);
        if let Some(why) = &before.refused {
            // Its problems are listed here: no diagnostic shows them, the plan being this
            // config's.
            let problems: Vec<String> = before
                .config_problems
                .iter()
                .map(|p| format!("{}: {}", p.pointer, p.message))
                .collect();
            let listed = if problems.is_empty() {
                String::new()
            } else {
                format!(
                    "; in {}: {}",
                    baseline.loaded.file.path.display(),
                    problems.join("; ")
                )
            };
            plan.warnings.push(format!(
                "the baseline config's own plan is refused ({why}{listed}): every change is \
                 shown as caused by this change"
            ));
        }
    }
    crate::usage::log_peak();
    Ok(Planned { plan, target })
}

/// The planner's inputs: the clock now, and a seed from the tenant, so two plans of the same
/// world are the same plan — and an edit of the config elsewhere does not re-roll every
/// `Guid()` and `RandomString()` value (the planner mixes in each user and field).
pub(crate) fn inputs<'a>(desired: &Desired, targets: &'a [String]) -> Inputs<'a> {
    let tenant = crate::digest::sha256_hex(desired.loaded.config.source.tenant_id.as_bytes());
    let seed = u64::from_str_radix(&tenant[..16], 16).unwrap_or(0);
    Inputs {
        config_sha256: desired.sha256.clone(),
        now: crate::clock::now(),
        seed,
        targets,
    }
}

/// A User query Salesforce refused for a field the org does not have (`INVALID_FIELD: No such
/// column 'X' on entity 'User'`) is the config's fault: a diagnostic at each place the config
/// names the field. Any other error stays as it is.
fn undefined_field(desired: &Desired, error: Error) -> Error {
    let text = full_text(&error);
    let Some(field) = text
        .split_once("No such column '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(field, _)| field.to_owned())
    else {
        return error;
    };
    let config = &desired.loaded.config;
    let pointers: Vec<String> = config
        .mappings
        .iter()
        .enumerate()
        .filter(|(_, m)| m.target.eq_ignore_ascii_case(&field))
        .map(|(i, _)| format!("/mappings/{i}/target"))
        .chain(
            config
                .matching
                .iter()
                .enumerate()
                .filter(|(_, m)| m.target.eq_ignore_ascii_case(&field))
                .map(|(i, _)| format!("/matching/{i}/target")),
        )
        .collect();
    if pointers.is_empty() {
        return error;
    }
    let help = if field.ends_with("__c") {
        "create the field (Setup → Object Manager → User → Fields & Relationships) and give \
         roster's integration user access to it, or fix the name"
    } else {
        "fix the name: Salesforce has no such User field"
    };
    let problems: Vec<(String, String, Option<String>)> = pointers
        .into_iter()
        .map(|p| {
            (
                p,
                format!("the org has no User field `{field}` (Salesforce answered INVALID_FIELD)"),
                Some(help.to_owned()),
            )
        })
        .collect();
    Error::Diagnostics(crate::config::placed(&desired.loaded, &problems))
}

/// A config value the tenant does not resolve (the application's name), at its place.
fn unresolved_in_tenant(desired: &Desired, error: Error) -> Error {
    if let Error::Graph(graph) = &error
        && let crate::graph::GraphError::Config {
            pointer,
            message,
            help,
        } = graph.as_ref()
    {
        return Error::Diagnostics(crate::config::placed_with(
            &desired.loaded,
            &[((*pointer).to_owned(), message.clone(), Some(help.clone()))],
            Some("not in the tenant"),
        ));
    }
    error
}

/// An error with its causes, in one text.
fn full_text(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A read Graph refused because `$select` named a property Entra users do not have (a
/// misspelt `source: jobTitel`): the places in `roster.yaml` that read it, as diagnostics with
/// the closest attribute. Any other error is returned unchanged.
fn undefined_attribute(desired: &Desired, error: Error) -> Error {
    use crate::graph::attributes::{USER_PROPERTIES, places, unknown_property};
    let text = full_text(&error);
    let Some(property) = unknown_property(&text) else {
        return error;
    };
    let pointers = places(&desired.loaded.config, property);
    if pointers.is_empty() {
        return error;
    }
    let help = crate::suggest::closest(property, USER_PROPERTIES.iter().copied()).map_or_else(
        || {
            "fix the name: Entra attribute names are Graph's user properties (e.g. `jobTitle`), \
             `extensionAttribute1`..`15`, or a directory extension `extension_<appId>_<name>`"
                .to_owned()
        },
        |best| format!("did you mean `{best}`?"),
    );
    let problems: Vec<(String, String, Option<String>)> = pointers
        .into_iter()
        .map(|p| {
            (
                p,
                format!(
                    "Entra users have no attribute `{property}` (Microsoft Graph refused `$select={property}`)"
                ),
                Some(help.clone()),
            )
        })
        .collect();
    Error::Diagnostics(crate::config::placed_with(
        &desired.loaded,
        &problems,
        Some("not an attribute of Entra users"),
    ))
}

/// The config's names the org does not resolve, as diagnostics at their places in the file.
pub(crate) fn check_names(desired: &Desired, plan: &Plan) -> Result<(), Error> {
    names_resolve(desired, &plan.config_problems)
}

/// `problems` with the config's names (a plan's `config_problems`), as diagnostics at their
/// places in the file; `Ok` when there are none.
pub(crate) fn names_resolve(
    desired: &Desired,
    problems: &[crate::plan::ConfigProblem],
) -> Result<(), Error> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Diagnostics(placed_problems(desired, problems)))
}

/// The plan's problems with the config's names (`plan.config_problems`), each placed in the file
/// it comes from.
pub(crate) fn placed_names(desired: &Desired, plan: &Plan) -> Vec<crate::diagnostic::Diagnostic> {
    placed_problems(desired, &plan.config_problems)
}

/// `problems` with the config's names, each placed in the file it comes from.
fn placed_problems(
    desired: &Desired,
    problems: &[crate::plan::ConfigProblem],
) -> Vec<crate::diagnostic::Diagnostic> {
    let problems: Vec<(String, String, Option<String>)> = problems
        .iter()
        .map(|p| (p.pointer.clone(), p.message.clone(), p.help.clone()))
        .collect();
    crate::config::placed(&desired.loaded, &problems)
}

/// A plan may be carried out: not refused as a whole, and within the deactivation threshold
/// (or `allowed`, which is also a ceiling). `applying` words the refusal for `apply`, which
/// takes `--allow-deactivations`, rather than for `plan`.
pub(crate) fn check(plan: &Plan, allowed: Option<u32>, applying: bool) -> Result<(), Error> {
    if let Some(reason) = &plan.refused {
        return Err(Error::Refused {
            reason: reason.clone(),
        });
    }
    let count = plan.safety.counted();
    let covered = allowed.is_some_and(|n| count <= n as usize);
    let over_ceiling = allowed.is_some_and(|n| count > n as usize);
    if (plan.safety.exceeded && !covered) || over_ceiling {
        return Err(Error::ThresholdExceeded {
            what: plan.safety.what(),
            deactivations: plan.safety.deactivations,
            outside_target: if plan.safety.deactivations > 0 {
                plan.safety.outside_target
            } else {
                0
            },
            allowance: plan.safety.allowance.clone(),
            allowed,
            applying,
        });
    }
    Ok(())
}

/// A snapshot file's text: refused, said why, when it is no regular file, empty, or not UTF-8.
fn snapshot_text(path: &Path) -> Result<String, Error> {
    let not_one = |reason: String| Error::NotASnapshot {
        path: path.to_owned(),
        at: None,
        reason,
    };
    // A link to a device or a pipe would be read without end (or wait forever).
    if crate::files::irregular(path) {
        return Err(not_one(crate::files::NOT_REGULAR.to_owned()));
    }
    let bytes = std::fs::read(path).map_err(|source| Error::File {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    if bytes.is_empty() {
        return Err(not_one(
            "it is empty; take it again with `roster snapshot`".to_owned(),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|e| {
            let e = e.utf8_error();
            not_one(match e.error_len() {
                // The last character begun and not ended: the file stops in the middle of it.
                None => "it ends in the middle of a character: the file was cut short; take it \
                     again with `roster snapshot`"
                    .to_owned(),
                Some(_) => format!("it is not UTF-8 text (at byte {})", e.valid_up_to()),
            })
        })
        // A byte-order mark an editor put first is no part of the JSON: dropped in place, not
        // by a copy of a file of tens of megabytes.
        .map(|mut text| {
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            text
        })
}

/// One snapshot file, refusing other format versions by name.
fn read_snapshot<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    /// Only the version, and the keys that tell the two files apart, so a snapshot of another
    /// format, or the other file in this one's place, is named before its fields are read.
    #[derive(serde::Deserialize)]
    struct Head {
        format_version: Option<serde_json::Value>,
        tenant_id: Option<serde_json::Value>,
        instance_url: Option<serde_json::Value>,
    }
    let entra = path.file_name().is_some_and(|n| n == "entra.json");
    let not_one = |reason: String| Error::NotASnapshot {
        path: path.to_owned(),
        at: None,
        reason,
    };
    let text = snapshot_text(path)?;
    // Where serde_json stopped, and why, in the file's own place (`file:line:col`).
    let not_one_at = |e: &serde_json::Error, why: String| Error::NotASnapshot {
        path: path.to_owned(),
        at: Some(crate::json::place(text.as_bytes(), e)),
        reason: why,
    };
    let version = match serde_json::from_str::<Head>(&text) {
        Ok(version) => {
            let other = if entra {
                version.instance_url.is_some() && version.tenant_id.is_none()
            } else {
                version.tenant_id.is_some() && version.instance_url.is_none()
            };
            if other {
                return Err(not_one(format!(
                    "it is the {} snapshot, not the {} one: the files were swapped or renamed; \
                     take them again with `roster snapshot`",
                    if entra { "Salesforce" } else { "Entra" },
                    if entra { "Entra" } else { "Salesforce" }
                )));
            }
            version.format_version
        }
        // Cut short (a copy or an upload that stopped) or not JSON at all: said as such, with
        // the place, rather than as a missing version.
        Err(e) if e.is_eof() => {
            let (line, column) = crate::json::place(text.as_bytes(), &e);
            return Err(not_one(format!(
                "it ends at line {line}, column {column} before its JSON does: the file was cut \
                 short; take it again with `roster snapshot`"
            )));
        }
        Err(e) if e.is_syntax() => {
            return Err(not_one_at(
                &e,
                format!("it is not JSON: {}", crate::json::reason(&e)),
            ));
        }
        // A key given twice: which one a reader takes cannot be told (RFC 8259, section 4).
        Err(e) if crate::json::reason(&e).contains(" is given twice") => {
            return Err(not_one_at(
                &e,
                format!(
                    "{}: a snapshot gives each key once; take it again with `roster snapshot`",
                    crate::json::reason(&e)
                ),
            ));
        }
        // Not an object at all: its version is missing.
        Err(_) => None,
    };
    let wanted = crate::model::SNAPSHOT_FORMAT;
    if version.as_ref().and_then(serde_json::Value::as_u64) != Some(u64::from(wanted)) {
        let found = match &version {
            None | Some(serde_json::Value::Null) => "no format_version".to_owned(),
            Some(serde_json::Value::Number(n)) => format!("format_version {n}"),
            Some(other) => format!(
                "format_version {} (a number is meant)",
                crate::render::visible(&crate::http::truncate(&other.to_string(), 40))
            ),
        };
        let newer = version
            .as_ref()
            .and_then(serde_json::Value::as_u64)
            .is_some_and(|v| v > u64::from(wanted));
        return Err(not_one(if newer {
            format!(
                "it has {found}, this roster reads {wanted}: a newer roster took it; plan with \
                 that one, or take it again with this one (`roster -c CONFIG snapshot --out DIR`)"
            )
        } else {
            format!(
                "it has {found}, this roster reads {wanted}: take it again with \
                 `roster -c CONFIG snapshot --out DIR`"
            )
        }));
    }
    serde_json::from_str(&text).map_err(|e| not_one_at(&e, crate::json::reason(&e)))
}
