//! Running the `roster` binary in a scratch directory.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a run printed and how it exited.
pub(crate) struct Output {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    /// The exit code and both streams, as one snapshot.
    pub(crate) fn transcript(&self) -> String {
        format!(
            "exit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A temporary directory that roster runs in; removed on drop.
pub(crate) struct Scratch {
    pub(crate) dir: PathBuf,
}

impl Scratch {
    /// A new directory, its own even when another test of this process uses the same name
    /// (`cargo test` runs tests as threads of one process: two tests sharing a directory would
    /// write each other's config).
    pub(crate) fn new(name: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("roster-it-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch { dir }
    }

    pub(crate) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path
    }

    /// Runs roster with `args` in this directory, without colours.
    pub(crate) fn roster(&self, args: &[&str]) -> Output {
        run_in(&self.dir, args)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn run_in(dir: &Path, args: &[&str]) -> Output {
    run_with(dir, args, &[])
}

/// The variables a child roster inherits from the test's environment; every other one (proxy
/// settings, `GITHUB_*`, `RUST_LOG`, `ROSTER_*`, a developer's own) is cleared, so a test sees
/// only what it sets.
const INHERITED: &[&str] = &["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "SYSTEMROOT"];

/// A `roster` command started from a cleared environment (see `INHERITED`).
pub(crate) fn roster_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command.env_clear();
    for name in INHERITED {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

/// `run_in` with extra environment variables.
pub(crate) fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let output = roster_command()
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run roster");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Which of a child's output streams is a terminal.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OnTerminal {
    Stdout,
    Stderr,
}

/// Runs `command` with one output stream on a new pseudo-terminal (80×24) and the other a
/// pipe; returns the exit code, what the terminal showed and what the pipe got.
pub(crate) fn run_on_terminal(mut command: Command, which: OnTerminal) -> (i32, String, String) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use std::io::Read as _;
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("open a pty");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let size = rustix::termios::Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(&master, size).expect("set the pty's size");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().expect("a pty path is text"))
        .expect("open the pty");
    match which {
        OnTerminal::Stdout => command
            .stdout(terminal)
            .stderr(std::process::Stdio::piped()),
        OnTerminal::Stderr => command
            .stderr(terminal)
            .stdout(std::process::Stdio::piped()),
    };
    let mut master = std::fs::File::from(master);
    // Read as the child writes, so it never blocks on a full pty; the read ends (EIO on Linux)
    // when the child and `command` have closed their ends.
    let shown = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = master.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let child = command.spawn().expect("run roster");
    drop(command);
    let output = child.wait_with_output().expect("wait for roster");
    let piped = match which {
        OnTerminal::Stdout => output.stderr,
        OnTerminal::Stderr => output.stdout,
    };
    (
        output.status.code().unwrap_or(-1),
        shown.join().expect("the pty reader"),
        String::from_utf8_lossy(&piped).into_owned(),
    )
}

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository as text.
pub(crate) fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).expect("read repository file")
}

/// A `roster emulate` child process serving a world on a free loopback port, with the
/// environment its `export` lines give; killed on drop.
pub(crate) struct Emulator {
    child: std::process::Child,
    pub(crate) base: String,
    pub(crate) env: Vec<(String, String)>,
}

impl Emulator {
    /// Serves `world` (a path relative to the repository).
    pub(crate) fn start(world: &str) -> Emulator {
        Emulator::start_with(&["--world", world], &repo())
    }

    /// Runs `roster emulate ARGS` in `dir` (e.g. `--synthetic N --write-config FILE`).
    pub(crate) fn start_with(args: &[&str], dir: &Path) -> Emulator {
        use std::io::{BufRead, BufReader};
        let mut child = roster_command()
            .arg("emulate")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start roster emulate");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut env = Vec::new();
        loop {
            let line = lines.next().expect("an export line").expect("utf-8");
            if line.starts_with("# ") {
                break;
            }
            if let Some((name, value)) =
                line.strip_prefix("export ").and_then(|l| l.split_once('='))
            {
                // The values are shell-quoted when they need it.
                env.push((name.to_owned(), value.trim_matches('\'').to_owned()));
            }
        }
        // Keep reading stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let base = env[0].1.clone();
        Emulator { child, base, env }
    }

    /// Runs roster in `dir` with the emulator's environment plus `extra`.
    pub(crate) fn roster(&self, dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut command = roster_command();
        command.args(args).current_dir(dir).env("NO_COLOR", "1");
        for (name, value) in &self.env {
            command.env(name, value);
        }
        for (name, value) in extra {
            command.env(name, value);
        }
        let output = command.output().expect("run roster");
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Posts JSON to the emulator's admin API (`/_emulator/...`).
    pub(crate) fn admin(&self, path: &str, body: &serde_json::Value) {
        self.admin_call(reqwest::Method::POST, path, Some(body));
    }

    /// GETs `{base}/v1.0/{path}` as the demo tenant's client and returns the JSON answer,
    /// whatever its status.
    pub(crate) fn graph_get(&self, path: &str) -> serde_json::Value {
        self.graph_send(reqwest::Method::GET, path, &serde_json::Value::Null)
            .1
    }

    /// Sends `{base}/v1.0/{path}` as the demo tenant's client (a client-credentials token from
    /// the emulator's token endpoint), with `body` unless it is null; the status and the JSON
    /// answer (null when there is none).
    pub(crate) fn graph_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let secret = self.var("AZURE_CLIENT_SECRET");
        Self::send_with_token(
            &format!(
                "{}/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token",
                self.base
            ),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "5e1f8a63-0c3b-4d0e-9a57-3f1d2b7c9e11"),
                ("client_secret", secret.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
            method,
            &format!("{}/v1.0/{path}", self.base),
            body,
        )
    }

    /// Sends `{base}/services/data/v62.0/{path}` as the demo org's connected app (a
    /// client-credentials token from the emulator's token endpoint), with `body` unless it is
    /// null: what a person or another tool writes to the org beside roster. The status and the
    /// JSON answer (null when there is none).
    pub(crate) fn salesforce_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.salesforce_send_signed_in(&[("grant_type", "client_credentials")], method, path, body)
    }

    /// As `salesforce_send`, signed in as another API user: `login` is the username and the
    /// password with its security token appended (the username-password flow).
    pub(crate) fn salesforce_send_as(
        &self,
        login: (&str, &str),
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let grant = [
            ("grant_type", "password"),
            ("username", login.0),
            ("password", login.1),
        ];
        self.salesforce_send_signed_in(&grant, method, path, body)
    }

    /// Sends as the demo org's connected app, with the token `grant` (the form's fields beside
    /// the app's id and secret) gives.
    fn salesforce_send_signed_in(
        &self,
        grant: &[(&str, &str)],
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let secret = self.var("SF_CLIENT_SECRET");
        let mut form = vec![
            ("client_id", "3MVG9contoso.roster.dev1"),
            ("client_secret", secret.as_str()),
        ];
        form.extend_from_slice(grant);
        Self::send_with_token(
            &format!("{}/services/oauth2/token", self.base),
            &form,
            method,
            &format!("{}/services/data/v62.0/{path}", self.base),
            body,
        )
    }

    /// The value of the exported variable `name`.
    fn var(&self, name: &str) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map_or_else(|| panic!("the emulator exports {name}"), |(_, v)| v.clone())
    }

    /// Gets a client-credentials token by posting `form` to `token_url`, then sends `method`
    /// to `url` with it, and `body` unless it is null: the status and the JSON answer (null
    /// when there is none).
    fn send_with_token(
        token_url: &str,
        form: &[(&str, &str)],
        method: reqwest::Method,
        url: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let client = reqwest::Client::new();
            let token: serde_json::Value = client
                .post(token_url)
                .form(form)
                .send()
                .await
                .expect("token request")
                .json()
                .await
                .expect("token answer");
            let token = token["access_token"].as_str().expect("a token").to_owned();
            let mut request = client.request(method, url).bearer_auth(token);
            if !body.is_null() {
                request = request.json(body);
            }
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let bytes = response.bytes().await.expect("answer");
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            )
        })
    }

    /// Calls the admin API and returns its JSON answer.
    pub(crate) fn admin_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> serde_json::Value {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut request =
                reqwest::Client::new().request(method, format!("{}/_emulator/{path}", self.base));
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.expect("admin request");
            assert!(
                response.status().is_success(),
                "admin {path}: {}",
                response.status()
            );
            response.json().await.expect("admin answer")
        })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
