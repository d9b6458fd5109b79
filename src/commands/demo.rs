//! `roster demo`: the whole loop with nothing but the binary. The emulator starts in-process
//! with the bundled demo world; roster then plans, applies, plans again, watches Entra change,
//! plans and applies once more — on the same run context a real run has, so through the same
//! reader, planner, checks (refused plans, the deactivation threshold) and apply with its audit
//! log. Only the endpoints differ (loopback), and the secrets come from files in a temporary
//! directory instead of the environment.

use std::path::PathBuf;
use std::sync::Arc;

use anstyle::Style;
use serde_json::{Value, json};

use super::context::{Context, Desired, check, check_names};
use super::signals::Signals;
use crate::apply::Options;
use crate::cli::DemoArgs;
use crate::emulator::{self, State, WorldFile};
use crate::error::{Error, Outcome};
use crate::plan::Plan;
use crate::render;

const WORLD: &str = include_str!("../../examples/demo/world.yaml");
const CONFIG: &str = include_str!("../../examples/demo/roster.yaml");

/// Writes the demo config with `{env: NAME}` secrets turned into `{file: secrets/NAME}`, and
/// the world's secrets into those files, in a private (0700), unpredictably named temporary
/// directory that is removed when the returned value is dropped — on success, on error and on
/// Ctrl-C or SIGTERM alike (see `run`).
fn prepare(world: &WorldFile) -> Result<tempfile::TempDir, Error> {
    let failed = |source: std::io::Error| Error::File {
        action: "write the demo's files in",
        path: std::env::temp_dir(),
        source,
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix("roster-demo-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let scratch = builder.tempdir().map_err(failed)?;
    let dir = scratch.path();
    std::fs::create_dir(dir.join("secrets")).map_err(failed)?;
    let mut config = CONFIG.to_owned();
    for (name, value) in super::emulate::exports(world) {
        crate::files::write_private(&dir.join("secrets").join(name), value.as_bytes())
            .map_err(failed)?;
        config = config.replace(
            &format!("{{env: {name}}}"),
            &format!("{{file: secrets/{name}}}"),
        );
    }
    std::fs::write(dir.join("roster.yaml"), config).map_err(failed)?;
    Ok(scratch)
}

pub(crate) fn run(ctx: Context, args: &DemoArgs) -> Result<Outcome, Error> {
    // Before the secrets are written: a signal from here on removes them.
    let signals = {
        let _context = ctx.runtime()?.enter();
        Signals::register()
    };
    let world =
        WorldFile::from_yaml(WORLD).map_err(|e| Error::Demo(format!("the bundled world: {e}")))?;
    let scratch = prepare(&world)?;
    let state =
        State::from_world(world).map_err(|e| Error::Demo(format!("the bundled world: {e}")))?;
    let running = ctx
        .block_on(emulator::start(state, "127.0.0.1:0"))?
        .map_err(|source| Error::Listen {
            addr: "127.0.0.1:0".to_owned(),
            source,
        })?;
    running.shared.set_latency(args.latency_ms);
    let base_url = running.base_url();
    // The same context a real run has, pointed at the emulator and the demo's config.
    let ctx = ctx.with(
        scratch.path().join("roster.yaml"),
        Arc::new(endpoint_env(&base_url)),
    );
    let result = ctx.block_on(async {
        let demo = Demo {
            ctx: &ctx,
            base_url: base_url.clone(),
            audit_log: scratch.path().join("roster-audit.jsonl"),
            step: 0,
        };
        let result = tokio::select! {
            result = Box::pin(demo.run()) => result,
            Some(why) = signals.next() => Err(Error::Interrupted { why }),
        };
        running.shutdown().await;
        result
    })?;
    drop(scratch);
    result
}

struct Demo<'a> {
    ctx: &'a Context,
    base_url: String,
    /// In the demo's own directory, removed with it.
    audit_log: PathBuf,
    step: usize,
}

impl Demo<'_> {
    fn heading(&mut self, command: &str, what: &str) -> Result<(), Error> {
        self.step += 1;
        let (bold, unbold) = render::text::codes(self.ctx.color, Style::new().bold());
        super::print(&format!(
            "\n{bold}━━ {}. {command}{unbold} — {what}\n\n",
            self.step
        ))
    }

    async fn run(mut self) -> Result<Outcome, Error> {
        super::print(&format!(
            "roster demo: Entra ID and a Salesforce sandbox, emulated on {} (nothing leaves \
             this machine).\nThe config is examples/demo/roster.yaml; the world is \
             examples/demo/world.yaml.\n",
            self.base_url
        ))?;
        let desired = self.ctx.load()?;
        self.heading(
            "roster plan",
            "read Entra and Salesforce, show what would change",
        )?;
        let plan = self.plan(&desired).await?;
        self.heading("roster apply", "carry the plan out in Salesforce")?;
        self.apply(&desired, &plan).await?;
        self.heading("roster plan", "again: nothing is left to do")?;
        self.plan(&desired).await?;
        self.heading(
            "meanwhile, in Entra",
            "someone changes the tenant, not roster.yaml",
        )?;
        self.change_entra().await?;
        self.heading("roster plan", "the plan shows exactly those changes")?;
        let plan = self.plan(&desired).await?;
        self.heading(
            "roster apply",
            "and Salesforce follows, but refuses one deactivation",
        )?;
        self.apply(&desired, &plan).await?;
        self.heading(
            "meanwhile, in Salesforce",
            "an admin clears what blocked the deactivation",
        )?;
        self.admin(
            "DELETE",
            "salesforce/users/liam.chen@contoso.com.dev1/deactivation_blocker",
            Value::Null,
            "another user became the Web-to-Lead default creator",
        )
        .await?;
        self.heading(
            "roster plan, roster apply",
            "the frozen user is deactivated at last",
        )?;
        let plan = self.plan(&desired).await?;
        self.apply(&desired, &plan).await?;
        super::print(
            "\nThat is the loop: in CI, `roster plan` comments on every pull request and \
             `roster apply` runs on merge.\nTry it on your tenant: edit a copy of \
             examples/demo/roster.yaml, then `roster validate` and `roster plan`.\n",
        )?;
        Ok(Outcome::Success)
    }

    /// `roster plan`: read, plan, show; a refused plan stops the demo as it would stop a run.
    async fn plan(&self, desired: &Desired) -> Result<Plan, Error> {
        let plan = self.ctx.plan(desired, &[]).await?.plan;
        super::print(&render::render(
            &plan,
            render::Format::Text,
            self.ctx.color,
            false,
        ))?;
        check_names(desired, &plan)?;
        check(&plan, None, true)?;
        Ok(plan)
    }

    /// `roster apply --auto-approve`: the same checks, the same audit log a real run writes.
    async fn apply(&self, desired: &Desired, plan: &Plan) -> Result<(), Error> {
        check(plan, None, true)?;
        let (report, logged) = self
            .ctx
            .carry_out(
                desired,
                plan,
                None,
                Options {
                    when_refused: desired.loaded.config.deprovision.when_refused,
                    ..Options::default()
                },
                &self.audit_log,
            )
            .await?;
        super::print(&render::report::text(plan, &report, self.ctx.color))?;
        logged?;
        let lines = std::fs::read_to_string(&self.audit_log).map_or(0, |text| text.lines().count());
        super::print(&format!(
            "The audit log holds {lines} line(s), one per change applied so far.\n"
        ))?;
        if report.stopped.is_some() {
            return Err(Error::Demo("its apply stopped early; see above".to_owned()));
        }
        Ok(())
    }

    /// Three everyday changes, made through the emulator's admin API as an Entra admin would
    /// in the portal.
    async fn change_entra(&self) -> Result<(), Error> {
        let changes: [(&str, &str, Value, &str); 3] = [
            (
                "POST",
                "entra/groups/SF Sales/members",
                json!({"remove": ["liam.chen@contoso.com"]}),
                "Liam Chen left the group SF Sales (his only way into the app)",
            ),
            (
                "PATCH",
                "entra/users/noah.okafor@contoso.com",
                json!({"jobTitle": "Senior Account Executive"}),
                "Noah Okafor's job title became Senior Account Executive",
            ),
            (
                "POST",
                "entra/assignments",
                json!({"application": "Salesforce Sandbox", "user": "jacob.novak@contoso.com", "role": "Sales_Rep"}),
                "new hire Jacob Novak was assigned to Salesforce Sandbox as Sales Rep",
            ),
        ];
        for (method, path, body, what) in changes {
            self.admin(method, path, body, what).await?;
        }
        Ok(())
    }

    /// One change through the emulator's admin API, said as a bullet.
    async fn admin(&self, method: &str, path: &str, body: Value, what: &str) -> Result<(), Error> {
        let url = format!("{}/_emulator/{path}", self.base_url);
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| Error::Demo(e.to_string()))?;
        let response = reqwest::Client::new()
            .request(method, &url)
            .json(&body)
            .send()
            .await
            .map_err(|e| Error::Demo(format!("its emulator: {e}")))?;
        if !response.status().is_success() {
            return Err(Error::Demo(format!(
                "its emulator refused {path}: HTTP {}",
                response.status()
            )));
        }
        super::print(&format!("  • {what}\n"))
    }
}

/// The endpoint overrides that point the config at the emulator.
fn endpoint_env(base_url: &str) -> impl Fn(&str) -> Option<String> + Send + Sync + use<> {
    let base_url = base_url.to_owned();
    move |name: &str| {
        matches!(
            name,
            "ROSTER_ENTRA_LOGIN_URL" | "ROSTER_GRAPH_URL" | "ROSTER_SALESFORCE_LOGIN_URL"
        )
        .then(|| base_url.clone())
    }
}
