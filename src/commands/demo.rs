//! `roster demo`: the whole loop with nothing but the binary. The emulator starts in-process
//! with the bundled demo world; roster then plans, applies, plans again, watches Entra change,
//! plans and applies once more — through the same reader, planner and apply code a real tenant
//! meets. Only the endpoints differ (loopback), and the secrets come from files in a
//! temporary directory instead of the environment.

use std::io::Write;
use std::sync::Arc;

use anstyle::Style;
use serde_json::{Value, json};

use super::plan::{Desired, color, inputs, load_path};
use crate::apply::{self, Options};
use crate::cli::{Cli, DemoArgs};
use crate::emulator::{self, State, WorldFile};
use crate::endpoint::Endpoints;
use crate::error::{Error, Outcome};
use crate::plan::Plan;
use crate::progress::Progress;
use crate::render;
use crate::salesforce::Salesforce;

const WORLD: &str = include_str!("../../examples/demo/world.yaml");
const CONFIG: &str = include_str!("../../examples/demo/roster.yaml");

/// Writes the demo config with `{env: NAME}` secrets turned into `{file: secrets/NAME}`, and
/// the world's secrets into those files, in a private (0700), unpredictably named temporary
/// directory that is removed when the returned value is dropped — on success, on error and on
/// Ctrl-C or SIGTERM alike (see `run`).
fn prepare(world: &WorldFile) -> Result<tempfile::TempDir, Error> {
    let failed = |e: std::io::Error| {
        Error::Input(format!(
            "cannot write the demo's files in {}: {e}",
            std::env::temp_dir().display()
        ))
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

pub(crate) fn run(cli: &Cli, args: &DemoArgs) -> Result<Outcome, Error> {
    let runtime = tokio::runtime::Runtime::new()?;
    // Before the secrets are written: a signal from here on removes them.
    let signals = {
        let _context = runtime.enter();
        super::apply::Signals::register()
    };
    let world = WorldFile::from_yaml(WORLD)
        .map_err(|e| Error::Input(format!("the bundled demo world: {e}")))?;
    let scratch = prepare(&world)?;
    let desired = load_path(&scratch.path().join("roster.yaml"), true)?;
    let state = State::from_world(world)
        .map_err(|e| Error::Input(format!("the bundled demo world: {e}")))?;
    let result = runtime.block_on(async {
        let running = emulator::start(state, "127.0.0.1:0").await?;
        running.shared.set_latency(args.latency_ms);
        let result = tokio::select! {
            result = Box::pin(Demo::new(cli, &desired, running.base_url())?.run()) => result,
            Some(why) = signals.next() => Err(Error::Input(format!(
                "the demo was {why}; its temporary files are removed"
            ))),
        };
        running.shutdown().await;
        result
    });
    drop(scratch);
    result
}

struct Demo<'a> {
    desired: &'a Desired,
    base_url: String,
    salesforce: Arc<Salesforce>,
    progress: Progress,
    color: bool,
    step: usize,
}

impl<'a> Demo<'a> {
    fn new(cli: &Cli, desired: &'a Desired, base_url: String) -> Result<Demo<'a>, Error> {
        let env = endpoint_env(&base_url);
        let endpoints = Endpoints::resolve(&desired.loaded.config, &env).map_err(Error::Input)?;
        let salesforce = Salesforce::connect(&desired.loaded.config, &desired.base, &endpoints)?;
        Ok(Demo {
            desired,
            base_url,
            salesforce: Arc::new(salesforce),
            progress: Progress::new(!cli.global.quiet && cli.global.verbose == 0),
            color: color(),
            step: 0,
        })
    }

    fn heading(&mut self, command: &str, what: &str) -> Result<(), Error> {
        self.step += 1;
        let (bold, unbold) = render::text::codes(self.color, Style::new().bold());
        say(&format!(
            "\n{bold}━━ {}. {command}{unbold} — {what}\n\n",
            self.step
        ))
    }

    async fn run(mut self) -> Result<Outcome, Error> {
        say(&format!(
            "roster demo: Entra ID and a Salesforce sandbox, emulated on {} (nothing leaves \
             this machine).\nThe config is examples/demo/roster.yaml; the world is \
             examples/demo/world.yaml.\n",
            self.base_url
        ))?;
        self.heading(
            "roster plan",
            "read Entra and Salesforce, show what would change",
        )?;
        let plan = self.plan().await?;
        self.heading("roster apply", "carry the plan out in Salesforce")?;
        self.apply(&plan).await?;
        self.heading("roster plan", "again: nothing is left to do")?;
        self.plan().await?;
        self.heading(
            "meanwhile, in Entra",
            "someone changes the tenant, not roster.yaml",
        )?;
        self.change_entra().await?;
        self.heading("roster plan", "the plan shows exactly those changes")?;
        let plan = self.plan().await?;
        self.heading("roster apply", "and Salesforce follows")?;
        self.apply(&plan).await?;
        say(
            "\nThat is the loop: in CI, `roster plan` comments on every pull request and \
             `roster apply` runs on merge.\nTry it on your tenant: edit a copy of \
             examples/demo/roster.yaml, then `roster validate` and `roster plan`.\n",
        )?;
        Ok(Outcome::Success)
    }

    async fn plan(&self) -> Result<Plan, Error> {
        let config = &self.desired.loaded.config;
        let env = endpoint_env(&self.base_url);
        let (source, target) = Box::pin(crate::read::live(
            config,
            &self.desired.base,
            &env,
            &self.progress,
        ))
        .await?;
        let plan = crate::plan::plan(config, &source, &target, &inputs(self.desired, &[]));
        say(&render::render(
            &plan,
            render::Format::Text,
            self.color,
            false,
        ))?;
        Ok(plan)
    }

    async fn apply(&self, plan: &Plan) -> Result<(), Error> {
        let report = apply::apply(
            Arc::clone(&self.salesforce),
            plan,
            Options::default(),
            self.progress.task("Salesforce"),
            apply::Stop::default(),
            &mut |_, _| {},
        )
        .await;
        say(&super::apply_report::render_text(plan, &report, self.color))?;
        if report.stopped.is_some() {
            return Err(Error::Input(
                "the demo's apply stopped early; see above".to_owned(),
            ));
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
        let client = reqwest::Client::new();
        for (method, path, body, what) in changes {
            let url = format!("{}/_emulator/{path}", self.base_url);
            let method = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|e| Error::Input(e.to_string()))?;
            let response = client
                .request(method, &url)
                .json(&body)
                .send()
                .await
                .map_err(|e| Error::Input(format!("the demo's emulator: {e}")))?;
            if !response.status().is_success() {
                return Err(Error::Input(format!(
                    "the demo's emulator refused {path}: HTTP {}",
                    response.status()
                )));
            }
            say(&format!("  • {what}\n"))?;
        }
        Ok(())
    }
}

fn say(text: &str) -> Result<(), Error> {
    anstream::stdout().write_all(text.as_bytes())?;
    Ok(())
}

/// The endpoint overrides that point the config at the emulator.
fn endpoint_env(base_url: &str) -> impl Fn(&str) -> Option<String> + Sync + use<> {
    let base_url = base_url.to_owned();
    move |name: &str| {
        matches!(
            name,
            "ROSTER_ENTRA_LOGIN_URL" | "ROSTER_GRAPH_URL" | "ROSTER_SALESFORCE_LOGIN_URL"
        )
        .then(|| base_url.clone())
    }
}
