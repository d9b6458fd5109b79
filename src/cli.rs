//! The command line as clap sees it. Nothing past `lib::run` sees these types: they are turned
//! into plain options once.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Provision Microsoft Entra ID users into Salesforce, the GitOps way.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// The desired-state file.
    #[arg(
        short,
        long,
        global = true,
        env = "ROSTER_CONFIG",
        default_value = "roster.yaml",
        value_parser = any_path
    )]
    pub(crate) config: PathBuf,
    /// Never colour output (the NO_COLOR environment variable does the same).
    #[arg(long, global = true)]
    pub(crate) no_color: bool,
    /// Log what roster does to stderr; repeat for more (RUST_LOG also works).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Print only errors and the requested output.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
}

/// Any path, the empty one too: clap's own parser refuses an empty `ROSTER_CONFIG` before the
/// command runs, even when `--config` is given or the command reads no config. Loading the
/// config names an empty one (`config::LoadError::NoPath`).
#[allow(
    clippy::unnecessary_wraps,
    reason = "clap's value parsers return a Result"
)]
fn any_path(text: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(PathBuf::from(text))
}

/// A path roster writes to that is never stdout: `-` would otherwise name a file (or directory)
/// called `-`, where most tools read it as stdout and the reader expected the output on the
/// terminal or in a pipe; an empty path names nothing (`snapshot --out ""` wrote into the
/// working directory).
///
/// # Errors
/// `-`, saying where the output goes instead (`why`), and the empty path.
fn not_stdout(text: &str, why: &str) -> Result<PathBuf, String> {
    match text {
        "-" => Err(format!("`-` is not stdout here: {why}")),
        "" => Err("an empty path names no file".to_owned()),
        _ => Ok(PathBuf::from(text)),
    }
}

/// The file `plan --out` saves the plan to (`not_stdout`).
fn saved_file(text: &str) -> Result<PathBuf, String> {
    not_stdout(
        text,
        "the plan goes to stdout without --out (as JSON with --format json), and --out saves \
         it to a file for `roster apply` (./- names a file called -)",
    )
}

/// The directory `snapshot --out` writes its two files to (`not_stdout`).
fn directory(text: &str) -> Result<PathBuf, String> {
    not_stdout(
        text,
        "a snapshot is two files, entra.json and salesforce.json, written to this directory \
         (./- names a directory called -)",
    )
}

/// The file `apply --audit-log` appends to (`not_stdout`).
fn audit_log_file(text: &str) -> Result<PathBuf, String> {
    not_stdout(
        text,
        "the audit log is appended to a file, kept beside the report apply prints on stdout \
         (./- names a file called -)",
    )
}

/// The file `emulate --write-config` writes (`not_stdout`).
fn config_file(text: &str) -> Result<PathBuf, String> {
    not_stdout(
        text,
        "the emulator prints the environment to source on stdout, and --write-config writes \
         the config to a file (./- names a file called -)",
    )
}

/// `-`, where an option writes to FILE instead of stdout: stdout, as most tools read it.
pub(crate) fn is_stdout(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// The file an option that writes to FILE instead of stdout names: none for stdout (the option
/// not given, or `-`).
pub(crate) fn file_or_stdout(option: Option<&std::path::Path>) -> Option<&std::path::Path> {
    option.filter(|path| !is_stdout(path))
}

/// A user as `--target`, `explain` and `log --user` take one: the spaces pasted around it go,
/// and an Entra object id in the braces or parentheses PowerShell and .NET write GUIDs in
/// (`{0000000e-...}`, `(0000000e-...)`, `[guid]::NewGuid().ToString("B")`) is the id.
///
/// # Errors
/// A key that is empty or only spaces.
fn user_key(text: &str) -> Result<String, String> {
    /// Longer than any user's key: a userPrincipalName has at most 113 characters (Microsoft
    /// Entra's limit, 64 before the `@`), a Salesforce Username 80.
    const LONGEST: usize = 256;
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "it is empty: give a userPrincipalName, an object id, or a Salesforce Username or id"
                .to_owned(),
        );
    }
    let length = text.chars().count();
    if length > LONGEST {
        return Err(format!(
            "it is {length} characters long, and no user's key is longer than {LONGEST} (a \
             userPrincipalName has at most 113, a Salesforce Username 80)"
        ));
    }
    Ok(crate::graph::object_id_form(text).into_owned())
}

/// `user_key` as clap's parser, whose refusal names the argument but not the value: a key of
/// megabytes is not echoed back.
#[derive(Clone, Copy)]
struct UserKey;

impl clap::builder::TypedValueParser for UserKey {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let refused = |why: String| {
            let name = arg.map_or_else(|| "the user".to_owned(), ToString::to_string);
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("{name}: {why}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refused("it is not UTF-8 text".to_owned()))?;
        user_key(text).map_err(refused)
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check the config file: YAML, JSON Schema, expressions, references. No network.
    Validate(ValidateArgs),
    /// Test both connections and what roster needs of them, with a fix for each failure.
    Check(CheckArgs),
    /// Read live Entra and Salesforce and show what would change.
    Plan(PlanArgs),
    /// Carry out a plan (a saved one, or a fresh one after confirmation).
    Apply(ApplyArgs),
    /// Render a saved plan again.
    Show(ShowArgs),
    /// Explain how roster sees one source user: scope, matching, fields, role rule.
    Explain(ExplainArgs),
    /// Evaluate an Entra attribute-mapping expression.
    Expr(ExprArgs),
    /// Write what roster reads from Entra and Salesforce as JSON.
    Snapshot(SnapshotArgs),
    /// List the changes audit logs recorded, by user and date.
    Log(LogArgs),
    /// Show what a change to roster.yaml means, setting by setting.
    Diff(DiffArgs),
    /// Print the JSON Schema of the config file (or of saved plans with --plan).
    Schema(SchemaArgs),
    /// Write a roster.yaml from Entra's own provisioning job.
    Import {
        #[command(subcommand)]
        from: ImportFrom,
    },
    /// Write the config as Entra's provisioning schema.
    Export {
        #[command(subcommand)]
        to: ExportTo,
    },
    /// Run the local Entra + Salesforce emulator until interrupted.
    Emulate(EmulateArgs),
    /// Show the whole loop against the built-in emulator: plan, apply, change, plan again.
    Demo(DemoArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// `github` also prints each problem as a workflow annotation
    /// (`::error file=...,line=...,col=...::...`), shown on the pull request's diff. The default
    /// under GitHub Actions (`GITHUB_ACTIONS=true`).
    #[arg(long, value_enum)]
    pub(crate) format: Option<ValidateFormat>,
    /// Also list every setting with the file and line it comes from (`extends`).
    #[arg(long)]
    pub(crate) explain_merge: bool,
}

/// How `validate` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ValidateFormat {
    /// Snippets with the spot underlined.
    Human,
    /// The snippets on stderr and workflow annotations on stdout.
    Github,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// `text` for people (✓/✗ and a fix per failure), `json` for CI.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub(crate) format: CheckFormat,
    /// Check the connections, permissions and the org only, not the names and licences (which
    /// need a whole read: the plan that follows in CI checks those itself).
    #[arg(long)]
    pub(crate) connections_only: bool,
}

/// Output formats of `roster check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckFormat {
    #[default]
    Text,
    Json,
}

/// Output formats of plans and apply reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    #[default]
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Save the plan (JSON) for `roster apply PLAN` (not `-`: the plan goes to stdout
    /// without --out).
    #[arg(long, value_name = "FILE", value_parser = saved_file)]
    pub(crate) out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
    /// Exit 2 when the plan has changes or users that need attention (0: neither, 1: error).
    #[arg(long)]
    pub(crate) detailed_exitcode: bool,
    /// Limit the plan to these users (UPN, object id or Salesforce Username).
    #[arg(long = "target", value_name = "KEY", value_parser = UserKey)]
    pub(crate) targets: Vec<String>,
    /// Replace email local parts with `•••` (for public repositories).
    #[arg(long)]
    pub(crate) mask: bool,
    /// Plan from a directory written by `roster snapshot` instead of reading Entra and
    /// Salesforce (offline: for debugging, audits and benchmarks).
    #[arg(long, value_name = "DIR")]
    pub(crate) snapshot: Option<PathBuf>,
    /// The config before this change (a pull request's base `roster.yaml`): each change is
    /// marked as caused by the change to the config, or pending regardless (Entra changes,
    /// Salesforce drift), by planning both against the same read of the world.
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline_config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// A plan saved with `roster plan --out`.
    pub(crate) plan: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub(crate) auto_approve: bool,
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
    /// Where the audit log is appended (a file, not `-`).
    #[arg(long, value_name = "FILE", default_value = "roster-audit.jsonl", value_parser = audit_log_file)]
    pub(crate) audit_log: PathBuf,
    /// Allow up to N deactivations even above `safety.max_deactivations`.
    #[arg(long, value_name = "N")]
    pub(crate) allow_deactivations: Option<u32>,
    /// Above this many users to create (or to update), write them with one Bulk API 2.0 job
    /// instead of sObject Collections requests of 200.
    #[arg(long, value_name = "N", default_value_t = crate::apply::DEFAULT_BULK_THRESHOLD)]
    pub(crate) bulk_threshold: usize,
    /// Carry out only a plan roster.yaml's `reconcile.auto_apply` allows, without asking (for a
    /// schedule); a plan beyond it is shown, held with the reasons, and nothing is written
    /// (exit 3). Not with `--auto-approve`, which applies any plan.
    #[arg(long, conflicts_with = "auto_approve")]
    pub(crate) policy: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The saved plan.
    pub(crate) plan: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
    /// Replace email local parts with `•••` (for public repositories).
    #[arg(long)]
    pub(crate) mask: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The Entra user (userPrincipalName or object id), or a Salesforce user (Username or id).
    #[arg(value_parser = UserKey)]
    pub(crate) user: String,
    /// `text` for people, `json` for machines.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub(crate) format: ExplainFormat,
    /// Explain from a directory written by `roster snapshot` instead of reading Entra and
    /// Salesforce (offline; a user the snapshot lacks cannot be looked up).
    #[arg(long, value_name = "DIR")]
    pub(crate) snapshot: Option<PathBuf>,
}

/// Output formats of `roster explain`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExplainFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ExprArgs {
    /// The expression, e.g. 'Join(" ", [givenName], [surname])'.
    pub(crate) expression: String,
    /// Set a single-valued attribute; repeat for more.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub(crate) set: Vec<String>,
    /// A JSON object of attribute name to string, array of strings, or null; `-` reads it
    /// from standard input (e.g. `az ad user show --id UPN | roster expr ... --input -`).
    #[arg(long, value_name = "FILE.json")]
    pub(crate) input: Option<PathBuf>,
    /// Print exactly one JSON value: a string, an array of strings, or null.
    #[arg(long)]
    pub(crate) json: bool,
    /// Fix the clock for Now() (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub(crate) now: Option<String>,
    /// A value that already exists in the target field, for SelectUniqueValue; repeat for more.
    #[arg(long, value_name = "VALUE")]
    pub(crate) existing: Vec<String>,
}

/// Where `import` reads from.
#[derive(Debug, Subcommand)]
pub(crate) enum ImportFrom {
    /// The "Salesforce Sandbox" (or "Salesforce") enterprise app's provisioning job: read through
    /// Microsoft Graph (Synchronization.Read.All and Application.Read.All; the client secret in
    /// AZURE_CLIENT_SECRET), or from a downloaded schema with --from.
    Entra(ImportEntraArgs),
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("application_by").multiple(false))]
pub(crate) struct ImportEntraArgs {
    /// A schema JSON downloaded from the portal (Provisioning > Edit attribute mappings > Show
    /// advanced options > Review your schema here > Download), instead of reading Graph.
    #[arg(long, value_name = "SCHEMA.json")]
    pub(crate) from: Option<PathBuf>,
    /// With --from: the job's secrets, as Graph's `GET .../synchronization/secrets` returns
    /// them (`{"value": [{"key": ..., "value": ...}]}`).
    #[arg(long, value_name = "FILE.json", requires = "from")]
    pub(crate) secrets: Option<PathBuf>,
    /// With --from: the app roles (the service principal's JSON, `{"appRoles": [...]}`, or the
    /// array itself), needed when ProfileName is the user's single app role.
    #[arg(long, value_name = "FILE.json", requires = "from")]
    pub(crate) app_roles: Option<PathBuf>,
    /// The Entra tenant (directory) id.
    #[arg(long, value_name = "ID")]
    pub(crate) tenant_id: Option<String>,
    /// The app registration roster reads Graph with (its client secret in AZURE_CLIENT_SECRET).
    #[arg(long, value_name = "ID")]
    pub(crate) client_id: Option<String>,
    /// The enterprise application, by display name.
    #[arg(long, value_name = "NAME", group = "application_by")]
    pub(crate) application: Option<String>,
    /// The enterprise application, by service principal object id.
    #[arg(long, value_name = "ID", group = "application_by")]
    pub(crate) service_principal_id: Option<String>,
    /// The provisioning job's id, when the application has several.
    #[arg(long, value_name = "ID")]
    pub(crate) job: Option<String>,
    /// The Salesforce connected app's consumer key, written to target.auth.
    #[arg(long, value_name = "KEY")]
    pub(crate) salesforce_client_id: Option<String>,
    /// Write the config to FILE instead of stdout (an existing file is never overwritten; `-`
    /// is stdout).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// Where `export` writes to.
#[derive(Debug, Subcommand)]
pub(crate) enum ExportTo {
    /// Entra's synchronization schema (the body of `PUT .../jobs/{id}/schema`) on stdout or
    /// --out, and with --secrets-out the secrets that carry scope, out-of-scope handling and
    /// the deletion threshold.
    Entra(ExportEntraArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ExportEntraArgs {
    /// Write the schema to FILE instead of stdout (`-` is stdout).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Write the secrets (`{"value": [{"key", "value"}]}`) to FILE (`-`: stdout, when the schema
    /// goes to a file).
    #[arg(long, value_name = "FILE")]
    pub(crate) secrets_out: Option<PathBuf>,
    /// The job's current schema: its rule id, metadata and directories are kept.
    #[arg(long, value_name = "SCHEMA.json")]
    pub(crate) base: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The config before (a pull request's base `roster.yaml`).
    pub(crate) base: PathBuf,
    /// The config after.
    pub(crate) head: PathBuf,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub(crate) format: DiffFormat,
    /// Exit 2 when the two differ (0: the same, 1: error).
    #[arg(long)]
    pub(crate) detailed_exitcode: bool,
}

/// Output formats of `roster diff`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiffFormat {
    /// A line per difference: `+`, `-`, `~`.
    #[default]
    Text,
    /// The same in a `diff` block, for a pull-request comment.
    Markdown,
    /// A list of `{path, kind, before, after, added, removed}`.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Audit logs written by `roster apply` (default `roster-audit.jsonl`); several are merged,
    /// oldest change first.
    pub(crate) files: Vec<PathBuf>,
    /// Only the changes to this user: userPrincipalName, Salesforce Username, or either's id.
    #[arg(long, value_name = "KEY", value_parser = UserKey)]
    pub(crate) user: Option<String>,
    /// Only the changes on or after this date (2026-11-01, UTC) or RFC 3339 time
    /// (2026-11-01T09:30:00Z, 2026-11-01T11:30:00+02:00).
    #[arg(long, value_name = "DATE")]
    pub(crate) since: Option<String>,
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) format: LogFormat,
}

/// Output formats of `roster log`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// A line per change, its fields and grants, and where it came from.
    #[default]
    Text,
    /// A table.
    Markdown,
    /// A row per change (RFC 4180), for spreadsheets.
    Csv,
    /// The audit lines themselves, as one JSON array.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct SnapshotArgs {
    /// The directory to write `entra.json` and `salesforce.json` to (not `-`).
    #[arg(long, value_name = "DIR", default_value = "snapshot", value_parser = directory)]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("document").multiple(false))]
#[allow(
    clippy::struct_excessive_bools,
    reason = "flags of one clap group: at most one is given"
)]
pub(crate) struct SchemaArgs {
    /// Print the JSON Schema of saved plans instead.
    #[arg(long, group = "document")]
    pub(crate) plan: bool,
    /// Print the JSON Schema of one audit-log line instead.
    #[arg(long, group = "document")]
    pub(crate) audit_line: bool,
    /// Print the JSON Schema of `roster apply --format json` instead.
    #[arg(long, group = "document")]
    pub(crate) apply_report: bool,
    /// Print the JSON Schema of a config file that extends a base instead (for editors: every
    /// key but `extends` optional).
    #[arg(long, group = "document")]
    pub(crate) extends: bool,
}

#[derive(Debug, Args)]
pub(crate) struct EmulateArgs {
    /// A world file seeding the tenant and the org.
    #[arg(long, conflicts_with = "synthetic")]
    pub(crate) world: Option<PathBuf>,
    /// Generate a consistent world with N users instead.
    #[arg(long, value_name = "N")]
    pub(crate) synthetic: Option<u32>,
    /// Seed of the synthetic world.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub(crate) listen: String,
    /// Latency added to every request.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub(crate) latency_ms: u64,
    /// Write a config for the synthetic world to FILE (not `-`: stdout is the environment).
    #[arg(long, value_name = "FILE", value_parser = config_file)]
    pub(crate) write_config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Latency the emulator adds to every request, to feel a real network (progress lines).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub(crate) latency_ms: u64,
}
