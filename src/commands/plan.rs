//! `roster plan`, `roster show` and `roster explain`: read the live world, compute the plan,
//! render it; render a saved plan again; tell how the planner sees one user.

use std::fmt::Write as _;
use std::path::Path;

use super::context::{Context, check, check_names};
use crate::cli::{ExplainArgs, ExplainFormat, Format, PlanArgs, ShowArgs};
use crate::diagnostic::display_path;
use crate::error::{Error, Outcome};
use crate::plan::{PLAN_FORMAT, Plan};
use crate::render;

impl From<Format> for render::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Text => render::Format::Text,
            Format::Markdown => render::Format::Markdown,
            Format::Json => render::Format::Json,
        }
    }
}

/// `roster plan`. A plan refused as a whole, or over the deactivation threshold, is still
/// rendered (and saved, and put in the job summary) — a reviewer must see why — and then
/// exits 1.
pub(crate) fn run(ctx: &Context, args: &PlanArgs) -> Result<Outcome, Error> {
    let desired = ctx.load()?;
    if let Some(path) = &args.out {
        desired.not_written_over(path, "--out")?;
    }
    let baseline = match &args.baseline_config {
        Some(path) => Some(ctx.load_baseline(path)?),
        None => None,
    };
    // Nor over the baseline config or the snapshot the plan is made from.
    if let Some(path) = &args.out {
        if let Some(baseline) = &baseline {
            baseline.not_written_over(path, "--out")?;
        }
        if let Some(dir) = &args.snapshot {
            super::context::not_written_over_snapshot(path, dir)?;
        }
    }
    let planned = match &args.snapshot {
        Some(dir) => super::context::plan_offline(&desired, &args.targets, dir, baseline.as_ref())?,
        None => ctx.block_on(ctx.plan_against(&desired, &args.targets, baseline.as_ref()))??,
    };
    let plan = planned.plan;
    drop(planned.target);
    if let Some(path) = &args.out {
        save(&plan, path)?;
    }
    show_plan(&plan, Some(args.format), ctx.color, args.mask)?;
    // What the whole plan cost, rendering and the job summary included (`-v`; the benchmarks
    // read it).
    crate::usage::log_peak();
    check_names(&desired, &plan)?;
    check(&plan, None, false)?;
    if let Some(path) = &args.out
        && args.format == Format::Text
        && !ctx.quiet
    {
        super::print(&format!(
            "\nSaved the plan to {}. To carry out exactly these changes, run:\n    roster apply {}\n",
            display_path(path),
            display_path(path)
        ))?;
    }
    // Users that need attention are never "nothing to do": exit 2 raises them too.
    let something = plan.summary.changes() + plan.summary.needing_attention() > 0;
    // The process ends next: freeing a large plan change by change (millions of small values
    // for 100,000 users, some 60 ms) would only delay the exit the OS makes in one step.
    std::mem::forget(plan);
    Ok(if args.detailed_exitcode && something {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}

fn save(plan: &Plan, path: &Path) -> Result<(), Error> {
    crate::files::replace_private(path, |file| {
        render::write(file, plan, render::Format::Json, false, false)
    })
    .map_err(|source| Error::File {
        action: "write the plan to",
        path: path.to_owned(),
        source,
    })
}

/// The plan file at `path` refused where JSON parsing stopped: `file:line:col`, and serde's
/// message without its own " at line L column C".
fn not_a_plan_at(path: &Path, text: &[u8], e: &serde_json::Error) -> Error {
    Error::NotAPlan {
        path: path.to_owned(),
        at: (e.line() > 0).then(|| crate::json::place(text, e)),
        reason: crate::json::reason(e),
    }
}

/// Reads a saved plan, refusing other format versions.
pub(crate) fn open(path: &Path) -> Result<Plan, Error> {
    Ok(open_hashed(path)?.0)
}

/// `open`, also returning the SHA-256 of the file (which the audit log records).
pub(crate) fn open_hashed(path: &Path) -> Result<(Plan, String), Error> {
    /// Only the version, so another format is named before its fields are read.
    #[derive(serde::Deserialize)]
    struct Version {
        format_version: Option<u64>,
    }
    let text = crate::files::read_regular_string(path).map_err(|source| Error::File {
        action: "read the plan",
        path: path.to_owned(),
        source,
    })?;
    let not_a_plan = |reason: String| Error::NotAPlan {
        path: path.to_owned(),
        at: None,
        reason,
    };
    if text.starts_with('\u{feff}') {
        return Err(Error::NotAPlan {
            path: path.to_owned(),
            at: Some((1, 1)),
            reason: "it starts with a byte-order mark, which roster never writes (an editor \
                     added it): save it as UTF-8 without one"
                .to_owned(),
        });
    }
    if !text.trim_start().starts_with('{') {
        return Err(not_a_plan(
            "a plan is a JSON object, as `roster plan --out` writes it".to_owned(),
        ));
    }
    let version = serde_json::from_str::<Version>(&text)
        .map_err(|e| not_a_plan_at(path, text.as_bytes(), &e))?
        .format_version;
    if version != Some(u64::from(PLAN_FORMAT)) {
        return Err(not_a_plan(format!(
            "it has format_version {}, this roster reads {PLAN_FORMAT}",
            version.map_or_else(|| "none".to_owned(), |v| v.to_string())
        )));
    }
    let plan = serde_json::from_str(&text).map_err(|e| not_a_plan_at(path, text.as_bytes(), &e))?;
    Ok((plan, crate::digest::sha256_hex(text.as_bytes())))
}

/// Compares the saved plan at `path` with a plan made now change by change as the file's bytes
/// are parsed: each change is read, offered to `comparison` and let go, so the two plans are
/// never held side by side (100,000 users: some 190 MiB each, the file 140 MB). Only if the
/// file is still the one whose SHA-256 is `sha256` — what `open_hashed` read and checked whole,
/// and the audit log records — are the reasons returned; a file changed in between is stale.
pub(crate) fn compare_saved(
    path: &Path,
    sha256: &str,
    mut comparison: crate::apply::Comparison<'_>,
) -> Result<Vec<String>, Error> {
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

    /// The saved plan's fields the comparison reads; the rest was checked by `open_hashed`.
    struct Fields<'c, 'f> {
        comparison: &'c mut crate::apply::Comparison<'f>,
        org_id: String,
        app_roles: Vec<crate::plan::AppRoleChange>,
    }
    impl<'de> Visitor<'de> for &mut Fields<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a roster plan")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "target" => {
                        self.org_id = map.next_value::<crate::plan::TargetInfo>()?.org_id;
                    }
                    "app_roles" => self.app_roles = map.next_value()?,
                    "changes" => map.next_value_seed(Changes(&mut *self.comparison))?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(())
        }
    }
    /// The `changes` array, each change offered as it is read.
    struct Changes<'c, 'f>(&'c mut crate::apply::Comparison<'f>);
    impl<'de> DeserializeSeed<'de> for Changes<'_, '_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Changes<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of changes")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(change) = seq.next_element::<crate::plan::Change>()? {
                self.0.offer(&change);
            }
            Ok(())
        }
    }

    // The file's bytes (140 MB for 100,000 users) rather than its parsed plan: parsed from a
    // slice, it streams fast; parsed from the file, serde reads it a byte at a time.
    let bytes = crate::files::read_regular(path).map_err(|source| Error::File {
        action: "read the plan",
        path: path.to_owned(),
        source,
    })?;
    let now = crate::digest::sha256_hex(&bytes);
    if now != sha256 {
        return Err(Error::StalePlan {
            path: path.to_owned(),
            reasons: vec![format!(
                "the plan file changed while roster read the world (SHA-256 {} then, {} now)",
                crate::digest::short(sha256),
                crate::digest::short(&now)
            )],
        });
    }
    let mut fields = Fields {
        comparison: &mut comparison,
        org_id: String::new(),
        app_roles: Vec::new(),
    };
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    serde::Deserializer::deserialize_map(&mut deserializer, &mut fields)
        .and_then(|()| deserializer.end())
        .map_err(|e| not_a_plan_at(path, &bytes, &e))?;
    let (org_id, app_roles) = (fields.org_id, fields.app_roles);
    drop(bytes);
    Ok(comparison.finish(&org_id, &app_roles))
}

pub(crate) fn show(ctx: &Context, args: &ShowArgs) -> Result<Outcome, Error> {
    let mut plan = open(&args.plan)?;
    recount_saved(&mut plan, &args.plan, "shown as its changes count");
    print_plan(&plan, args.format, ctx.color, args.mask)?;
    Ok(Outcome::Success)
}

/// Counts the saved plan `plan` (read from `path`) again from its changes — its summary,
/// headline and deactivation count — with a warning, ending in `then`, when the file's own did
/// not match them: someone edited it.
pub(super) fn recount_saved(plan: &mut Plan, path: &Path, then: &str) {
    if plan.recount() {
        super::warn(&format!(
            "{}'s summary, headline or deactivation count does not match its changes (was it \
             edited?): {then}",
            display_path(path)
        ));
    }
}

/// Writes a plan to stdout. JSON never holds colour, so it skips anstream's scan for escape
/// codes, which matters for a 100 MB plan; text and markdown without colour skip it until
/// something needs stripping (`render::Plain`).
pub(super) fn print_plan(
    plan: &Plan,
    format: Format,
    color: bool,
    mask: bool,
) -> Result<(), Error> {
    widen_stdout_pipe();
    let written = if format == Format::Json {
        render::write(
            &mut std::io::stdout().lock(),
            plan,
            format.into(),
            false,
            mask,
        )
    } else {
        to_stdout(color, &mut |out| {
            render::write(out, plan, format.into(), color, mask)
        })
    };
    crate::error::output(written)
}

/// Stdout's pipe, when it is one smaller than 1 MiB, grown to 1 MiB (Linux's `F_SETPIPE_SZ`;
/// the most an unprivileged process may ask, `/proc/sys/fs/pipe-max-size`). A 100,000-user
/// plan is some 140 MB: through the default 64 KiB pipe the writer and the reader (`jq`, a CI
/// step) take turns 2,000 times, and the transfer took 0.25 s; through 1 MiB, 0.16 s (larger
/// pipes were slower again). Best effort: stdout that is a file or a terminal, a pipe already
/// as large, or a refusal (the user's pipe quota, `/proc/sys/fs/pipe-user-pages-soft`) leaves
/// it as it is. Source: pipe(7), fcntl(2).
fn widen_stdout_pipe() {
    #[cfg(target_os = "linux")]
    {
        const SIZE: usize = 1 << 20;
        let stdout = std::io::stdout();
        if rustix::pipe::fcntl_getpipe_size(&stdout).is_ok_and(|size| size < SIZE)
            && let Err(error) = rustix::pipe::fcntl_setpipe_size(&stdout, SIZE)
        {
            tracing::debug!("stdout's pipe kept its size: {error}");
        }
    }
}

/// Gives `write` stdout for text that may hold colour: `anstream`'s with colour, else
/// `render::Plain`.
fn to_stdout(
    color: bool,
    write: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if color {
        write(&mut anstream::stdout())
    } else {
        write(&mut render::Plain::new(std::io::stdout().lock()))
    }
}

/// Prints the plan in `format` (nothing for `None`) and appends the pull-request comment to the
/// GitHub Actions job summary (`GITHUB_STEP_SUMMARY`, when set): with `--format markdown` the
/// comment printed is the one appended, made once (for 100,000 users, 0.5 s each).
pub(super) fn show_plan(
    plan: &Plan,
    format: Option<Format>,
    color: bool,
    mask: bool,
) -> Result<(), Error> {
    let markdown = || render::render(plan, render::Format::Markdown, false, mask);
    let comment = (format == Some(Format::Markdown)).then(markdown);
    match (&comment, format) {
        (Some(comment), _) => print_rendered(comment, color)?,
        (None, Some(format)) => print_plan(plan, format, color, mask)?,
        (None, None) => {}
    }
    super::step_summary(|| comment.unwrap_or_else(markdown));
    Ok(())
}

/// Writes rendered text (markdown) to stdout as `print_plan` does.
fn print_rendered(text: &str, color: bool) -> Result<(), Error> {
    widen_stdout_pipe();
    crate::error::output(to_stdout(color, &mut |out| out.write_all(text.as_bytes())))
}

pub(crate) fn explain(ctx: &Context, args: &ExplainArgs) -> Result<Outcome, Error> {
    let user = args.user.as_str();
    let desired = ctx.load()?;
    let (source, target) = match &args.snapshot {
        Some(dir) => super::context::read_snapshots(dir, &desired, None)?,
        None => ctx.block_on(ctx.read(&desired))??,
    };
    let config = &desired.loaded.config;
    if let Some(explanation) = crate::plan::explain(
        config,
        &source,
        &target,
        &super::context::inputs(&desired, &[]),
        user,
    ) {
        match args.format {
            ExplainFormat::Text => {
                super::print(&render::visible_lines(&render::explain::text(&explanation)))
            }
            ExplainFormat::Json => print_json(&explanation),
        }?;
        // A plan refused for the config's names lists them, as `plan` does, and fails.
        super::context::names_resolve(&desired, &explanation.config_problems)?;
        return Ok(Outcome::Success);
    }
    // Live, Entra is asked whether a Username is also a tenant user's name.
    let live = args.snapshot.is_none().then_some(ctx);
    if let Some(outcome) =
        explain_salesforce_user(&desired, &source, &target, user, live, args.format)?
    {
        return Ok(outcome);
    }
    let id = crate::graph::object_id_form(user.trim());
    // The account carrying the name, for a refusal to point to (as `plan --target` does).
    let carried_by = || {
        crate::plan::account_carrying(user, &target)
            .map(|(username, field)| (username.to_owned(), field))
    };
    if let Some(deleted) = source
        .deleted_users
        .iter()
        .find(|d| d.id.eq_ignore_ascii_case(&id))
    {
        let gone = Gone {
            id: &deleted.id,
            display_name: deleted.name(),
            deleted_in_entra: true,
            why: "assigned to the application, but deleted in Entra",
        };
        return explain_gone(&desired, &source, &target, &gone, args.format);
    }
    // Someone the read does not give, whom a Salesforce user's anchor names: a leaver.
    let anchored = |why| {
        let gone = Gone {
            id: &id,
            display_name: None,
            deleted_in_entra: args.snapshot.is_none(),
            why,
        };
        let anchored = anchored_to(&desired, &target, &id).next().is_some();
        anchored.then(|| explain_gone(&desired, &source, &target, &gone, args.format))
    };
    if args.snapshot.is_some() {
        if let Some(gone) = looked_up_leaver(&source, user, &id) {
            return explain_gone(&desired, &source, &target, &gone, args.format);
        }
        if let Some(outcome) = anchored("not among the users the snapshot holds") {
            return outcome;
        }
        return Err(Error::UnknownUser {
            user: user.to_owned(),
            read: source.users.len(),
            carried_by: carried_by(),
        });
    }
    // Not read: ask Entra who this is, and why the application's assignments miss them.
    let graph = ctx.graph(&desired)?;
    let Some(found) = ctx
        .block_on(crate::graph::look_up(&graph, config, user))?
        .map_err(Error::from)?
    else {
        return anchored(
            "Entra has no user with this object id (deleted, or never this tenant's), and no \
             assignment names it",
        )
        .unwrap_or_else(|| {
            Err(Error::NoEntraUser {
                user: user.to_owned(),
                carried_by: carried_by(),
            })
        });
    };
    let not_read = crate::plan::not_read(
        config,
        &source,
        &target,
        &super::context::inputs(&desired, &[]),
        &found,
    );
    match args.format {
        ExplainFormat::Text => super::print(&render::visible_lines(&render::explain::not_read(
            &not_read,
        ))),
        ExplainFormat::Json => print_json(&not_read),
    }?;
    // A config whose names the org lacks: listed at their places, and a failure (helper-78).
    names_checked(&desired, &source, &target)
}

/// The leaver the read looked up by their account's anchor (`unassigned_users`) whom `user`
/// names, by object id (`id`, in Graph's form) or userPrincipalName, as `explain` shows them.
fn looked_up_leaver<'s>(
    source: &'s crate::model::SourceSnapshot,
    user: &str,
    id: &str,
) -> Option<Gone<'s>> {
    let leaver = source
        .unassigned(id)
        .or_else(|| source.unassigned_named(user))?;
    Some(Gone {
        id: &leaver.id,
        display_name: leaver
            .user_principal_name
            .as_deref()
            .or(leaver.display_name.as_deref()),
        deleted_in_entra: false,
        why: "in the tenant, but not among the application's users (unassigned, or assigned \
              only through a nested group): the read looked them up by their account's anchor",
    })
}

/// `roster explain` of a Salesforce user (`user`, a Username or id) in `format`: the plan's
/// change for it, e.g. an orphan's deactivation. `None` when no Salesforce user has that name
/// or id. `live`: Entra may be asked who else has the name (`named_in_entra`).
fn explain_salesforce_user(
    desired: &super::context::Desired,
    source: &crate::model::SourceSnapshot,
    target: &crate::model::TargetSnapshot,
    user: &str,
    live: Option<&Context>,
    format: ExplainFormat,
) -> Result<Option<Outcome>, Error> {
    // A Username that is also the userPrincipalName of a tenant user roster did not read (nor
    // looked up as a leaver): Entra is asked, live, so the explanation names them (helper-92).
    let named = live.and_then(|ctx| named_in_entra(ctx, desired, source, target, user));
    let Some((json, text, problems)) = salesforce_user_explained(
        desired,
        source,
        target,
        user,
        EntraNote::With(named.as_ref()),
    ) else {
        return Ok(None);
    };
    match format {
        ExplainFormat::Json => print_json(&json),
        ExplainFormat::Text => super::print(&text),
    }?;
    // A plan refused for the config's names lists them, as `plan` does, and fails.
    super::context::names_resolve(desired, &problems)?;
    Ok(Some(Outcome::Success))
}

/// The Entra user, not among those the read gave or looked up, whose userPrincipalName is the
/// Username of the Salesforce user `user` names (by Username or id): asked of Graph (one
/// request). `None` when no one has it, or when the question fails — the explanation stands
/// without the note, and the failure is a warning on stderr.
fn named_in_entra(
    ctx: &Context,
    desired: &super::context::Desired,
    source: &crate::model::SourceSnapshot,
    target: &crate::model::TargetSnapshot,
    user: &str,
) -> Option<crate::model::UnassignedUser> {
    // Named by Username or by id (helper-93: by id, no one was asked).
    let name = target
        .users
        .iter()
        .find(|u| {
            u.username.eq_ignore_ascii_case(user.trim()) || crate::salesforce::same_id(&u.id, user)
        })?
        .username
        .as_str();
    if !name.contains('@') || source.unassigned_named(name).is_some() {
        return None;
    }
    let asked = ctx.graph(desired).and_then(|graph| {
        ctx.block_on(crate::graph::user_named(&graph, name))?
            .map_err(Error::from)
    });
    match asked {
        Ok(found) => found,
        Err(e) => {
            // Something not read: said under --quiet too (helper-93).
            super::warn(&format!(
                "could not ask Entra whether {} is also a userPrincipalName: {}",
                render::visible(name),
                crate::error::with_causes(&e)
            ));
            None
        }
    }
}

/// The plan's change for the Salesforce user `user` (a Username or id), or why there is none,
/// as `explain --format json` gives it and as text, with the plan's problems with the config's
/// names; `None` when no Salesforce user has that name or id.
fn salesforce_user_explained(
    desired: &super::context::Desired,
    source: &crate::model::SourceSnapshot,
    target: &crate::model::TargetSnapshot,
    user: &str,
    note: EntraNote<'_>,
) -> Option<(serde_json::Value, String, Vec<crate::plan::ConfigProblem>)> {
    let id15 = crate::salesforce::id15;
    let sf = target.users.iter().find(|u| {
        u.username.eq_ignore_ascii_case(user) || crate::salesforce::same_id(&u.id, user)
    })?;
    let (plan, why_not) = crate::plan::plan_and_why_not(
        &desired.loaded.config,
        source,
        target,
        &super::context::inputs(desired, &[]),
        &sf.id,
    );
    let change = plan.changes.iter().find(|c| {
        c.target_id
            .as_deref()
            .is_some_and(|t| id15(t) == id15(&sf.id))
    });
    // Why the plan has no change for the user, when it has none and is not refused: the same
    // words in text and JSON (helper-77: the JSON said nothing).
    let no_change = match (&plan.refused, change) {
        (Some(_), _) | (None, Some(_)) => None,
        (None, None) => Some(
            match crate::plan::protection(&desired.loaded.config, target, sf) {
                Some(why) => format!(
                    "it is protected ({why}), so roster never changes, deactivates or freezes it"
                ),
                None => why_not.unwrap_or_else(|| "the plan leaves it as it is".to_owned()),
            },
        ),
    };
    // The name is also a leaver's userPrincipalName (a Username kept as the UPN, as production
    // orgs do): the Entra side is one command away, and said (helper-91).
    let leaver = match note {
        EntraNote::With(named) => named.or_else(|| source.unassigned_named(&sf.username)),
        EntraNote::Without => None,
    };
    let json = serde_json::json!({
        "salesforce_user": {"id": sf.id, "username": sf.username, "is_active": sf.is_active},
        "change": change,
        "no_change_because": no_change,
        "plan_refused": plan.refused,
        "entra_user": leaver.map(|l| serde_json::json!({
            "id": l.id,
            "user_principal_name": l.user_principal_name,
        })),
    });
    let mut text = format!(
        "Salesforce user {} ({}){}\n\n",
        sf.username,
        sf.id,
        if sf.is_active { "" } else { ", inactive" }
    );
    match (&plan.refused, change) {
        (Some(refused), _) => {
            let _ = writeln!(text, "Plan refused, so no user is changed: {refused}");
        }
        (None, Some(change)) => {
            text.push_str("Plan:\n");
            render::text::change(&mut text, change, false);
        }
        (None, None) => {
            let why = no_change.as_deref().unwrap_or_default();
            let _ = writeln!(text, "Plan: no change for this user: {why}.");
        }
    }
    if let Some(leaver) = leaver {
        let _ = writeln!(
            text,
            "\n{} is also the userPrincipalName of the Entra user {}, who is in the tenant but \
             not among the application's users (unassigned, or assigned only through a nested \
             group): `roster explain {}` shows why.",
            render::visible(&sf.username),
            leaver.id,
            leaver.id
        );
    }
    Some((json, text, plan.config_problems))
}

/// Whether `salesforce_user_explained` names the Entra user whose userPrincipalName the
/// account's Username also is.
#[derive(Clone, Copy)]
enum EntraNote<'a> {
    /// The one Entra was asked about (`named_in_entra`), or else a leaver the read looked up.
    With(Option<&'a crate::model::UnassignedUser>),
    /// None: the account is listed under its Entra user already (`explain_gone`).
    Without,
}

/// An Entra user `explain` names whom the read does not give, and why.
struct Gone<'a> {
    /// The object id, in Graph's form.
    id: &'a str,
    /// The assignment's `principalDisplayName`, when one names them.
    display_name: Option<&'a str>,
    /// Whether Entra is known to have deleted them (an assignment names them, or Graph has no
    /// user with the id); not from a snapshot, which holds only whom it read.
    deleted_in_entra: bool,
    /// Why roster does not read them, after "Entra user ID (NAME): ".
    why: &'a str,
}

/// The Salesforce users whose object-id anchor holds `id` (in any form
/// `graph::object_id_form` reads): none without such an anchor.
fn anchored_to<'t>(
    desired: &super::context::Desired,
    target: &'t crate::model::TargetSnapshot,
    id: &'t str,
) -> impl Iterator<Item = &'t crate::model::TargetUser> {
    let config = &desired.loaded.config;
    let anchor =
        crate::config::object_id_anchor(&config.matching, &config.mappings).map(str::to_owned);
    target.users.iter().filter(move |u| {
        anchor
            .as_deref()
            .and_then(|field| u.text(field))
            .is_some_and(|held| crate::graph::object_id_form(held.trim()).eq_ignore_ascii_case(id))
    })
}

/// `roster explain` of an Entra user the read does not give (`gone`): one the application's
/// assignments name whom Entra has deleted, or one only a Salesforce user's anchor still names.
/// Treated as out of scope; each Salesforce user whose object-id anchor holds their id, with the
/// plan's change for it.
fn explain_gone(
    desired: &super::context::Desired,
    source: &crate::model::SourceSnapshot,
    target: &crate::model::TargetSnapshot,
    gone: &Gone<'_>,
    format: ExplainFormat,
) -> Result<Outcome, Error> {
    let config = &desired.loaded.config;
    let anchor = crate::config::object_id_anchor(&config.matching, &config.mappings);
    let accounts: Vec<(serde_json::Value, String)> = anchored_to(desired, target, gone.id)
        .filter_map(|u| {
            salesforce_user_explained(desired, source, target, &u.id, EntraNote::Without)
        })
        .map(|(json, text, _)| (json, text))
        .collect();
    if format == ExplainFormat::Json {
        let (accounts, _): (Vec<_>, Vec<_>) = accounts.into_iter().unzip();
        print_json(&serde_json::json!({
            "entra_user": {
                "id": gone.id,
                "display_name": gone.display_name,
                "deleted_in_entra": gone.deleted_in_entra,
            },
            "anchored_salesforce_users": accounts,
        }))?;
        return names_checked(desired, source, target);
    }
    let mut text = format!(
        "Entra user {}{}: {}: roster treats them as out of scope.\n\n",
        gone.id,
        // Entra's text, shown: it never acts on the terminal.
        gone.display_name
            .map(|name| format!(" ({})", crate::render::visible(name)))
            .unwrap_or_default(),
        gone.why
    );
    match anchor {
        None => text.push_str(
            "roster keeps no object-id anchor (a matching rule `[objectId]` whose field a \
             mapping writes), so no Salesforce user is known to be theirs.\n",
        ),
        Some(field) if accounts.is_empty() => {
            let _ = writeln!(
                text,
                "No Salesforce user holds their object id in {field}, so none is known to be \
                 theirs."
            );
        }
        Some(_) => {
            for (n, (_, account)) in accounts.iter().enumerate() {
                if n > 0 {
                    text.push('\n');
                }
                text.push_str(account);
            }
        }
    }
    super::print(&text)?;
    names_checked(desired, source, target)
}

/// Success, unless the config names what the org, the application or Entra lacks: then those
/// names at their places in the file, and a failure, as `plan` says.
fn names_checked(
    desired: &super::context::Desired,
    source: &crate::model::SourceSnapshot,
    target: &crate::model::TargetSnapshot,
) -> Result<Outcome, Error> {
    let problems = crate::plan::config_problems(&desired.loaded.config, source, target);
    super::context::names_resolve(desired, &problems)?;
    Ok(Outcome::Success)
}

/// `value` as pretty JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    super::print(&text)
}

#[cfg(test)]
mod tests {
    use crate::apply::Comparison;
    use crate::model::TargetSnapshot;
    use crate::plan::{Action, Change, Plan, Situation};

    fn plan(keys: &[&str]) -> Plan {
        let mut plan = Plan {
            format_version: super::PLAN_FORMAT,
            ..Plan::default()
        };
        plan.target.org_id = "00D000000000001AAA".to_owned();
        plan.changes = keys
            .iter()
            .map(|k| Change::new(Action::Create, (*k).to_owned(), Situation::Unmatched))
            .collect();
        plan
    }

    /// The saved plan streams from its file into the comparison: the same plan has no
    /// differences, another one has them, and a file other than the one reviewed is stale.
    #[test]
    fn a_saved_plan_is_compared_as_it_streams_and_only_if_it_is_the_file_reviewed() {
        let dir = std::env::temp_dir().join(format!("roster-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plan.json");
        let saved = plan(&["ada@x.com", "bo@x.com"]);
        super::save(&saved, &path).unwrap();
        let (_, sha) = super::open_hashed(&path).unwrap();
        let target = TargetSnapshot::default();

        let same = plan(&["ada@x.com", "bo@x.com"]);
        let reasons = super::compare_saved(&path, &sha, Comparison::new(&same, &target)).unwrap();
        assert!(reasons.is_empty(), "{reasons:?}");

        let fewer = plan(&["ada@x.com"]);
        let reasons = super::compare_saved(&path, &sha, Comparison::new(&fewer, &target)).unwrap();
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(
            reasons[0].starts_with(
                "bo@x.com: the saved plan would create this user; a plan made now would not: "
            ),
            "{reasons:?}"
        );

        let stale = super::compare_saved(&path, &"0".repeat(64), Comparison::new(&same, &target));
        let Err(crate::error::Error::StalePlan { reasons, .. }) = stale else {
            panic!("{stale:?}");
        };
        assert!(
            reasons[0].starts_with("the plan file changed while roster read the world"),
            "{reasons:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
