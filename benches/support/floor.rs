//! The network floor of a plan: the requests one `roster plan` sent, read from its `-vv` log
//! (`request GET <url>` lines), sent again by a client that does nothing else — every request
//! as soon as what it depends on has answered, every page chain at once, no planning. What it
//! takes is the least time any client could read the same world in; `roster plan` is measured
//! against it.
//!
//! Dependencies it keeps: Graph's enterprise-application lookup before the application's
//! assignments, the assignments before the group reads that follow them, each page after the
//! one whose `@odata.nextLink` / `nextRecordsUrl` names it, and each API after its token.

use std::time::{Duration, Instant};

use serde_json::Value;

/// The first page of each chain roster read, in the order roster asked.
pub(crate) struct Requests {
    /// Graph's lookup of the enterprise application.
    application: Vec<String>,
    /// `appRoleAssignedTo`.
    assignments: Vec<String>,
    /// Every other Graph read (group members, users), each the first page of a chain.
    graph: Vec<String>,
    /// Salesforce reads (describe, each query's first page).
    salesforce: Vec<String>,
}

impl Requests {
    /// The first pages in roster's `-vv` stderr. Tokens are left out (the floor asks its own);
    /// continuation pages too (the floor follows each chain itself). Panics on a request the
    /// floor cannot send (a write, a `$batch`): the plan benchmark's world has none.
    pub(crate) fn from_log(stderr: &str) -> Requests {
        let mut requests = Requests {
            application: Vec::new(),
            assignments: Vec::new(),
            graph: Vec::new(),
            salesforce: Vec::new(),
        };
        for line in stderr.lines() {
            let Some(rest) = line.split("request ").nth(1) else {
                continue;
            };
            let Some((method, url)) = rest.trim().split_once(' ') else {
                continue;
            };
            if url.ends_with("/token") {
                continue;
            }
            assert_eq!(method, "GET", "the floor sends reads only: {rest}");
            let continuation = url.contains("skiptoken") || url.contains("/query/");
            if continuation {
                continue;
            }
            let url = url.to_owned();
            if url.contains("/services/data/") {
                requests.salesforce.push(url);
            } else if url.contains("/appRoleAssignedTo") {
                requests.assignments.push(url);
            } else if url.contains("/servicePrincipals") {
                requests.application.push(url);
            } else {
                requests.graph.push(url);
            }
        }
        requests
    }
}

/// A client to the emulator at `base` with the synthetic world's credentials.
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    entra_secret: String,
    salesforce_secret: String,
}

impl Client {
    pub(crate) fn new(base: &str, entra_secret: &str, salesforce_secret: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            entra_secret: entra_secret.to_owned(),
            salesforce_secret: salesforce_secret.to_owned(),
        }
    }

    async fn token(&self, url: String, form: &[(&str, &str)]) -> String {
        let answer: Value = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap().to_owned()
    }

    /// A Graph token for the synthetic world's application.
    pub(crate) async fn entra_token(&self) -> String {
        self.token(
            format!(
                "{}/11111111-2222-4333-8444-555555555555/oauth2/v2.0/token",
                self.base
            ),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "22222222-3333-4444-8555-666666666666"),
                ("client_secret", &self.entra_secret),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await
    }

    /// One chain: the page at `url` and every page after it. Returns the requests sent.
    async fn chain(&self, mut url: String, token: &str) -> usize {
        let mut sent = 0;
        loop {
            let body = self
                .http
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            sent += 1;
            let page: Value = serde_json::from_slice(&body).unwrap();
            let next = page
                .get("@odata.nextLink")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    page.get("nextRecordsUrl")
                        .and_then(Value::as_str)
                        .map(|path| format!("{}{path}", self.base))
                });
            match next {
                Some(next) => url = next,
                None => return sent,
            }
        }
    }

    /// Chains side by side, each its own task; the requests sent.
    async fn chains(&self, urls: &[String], token: &str) -> usize {
        let mut tasks = tokio::task::JoinSet::new();
        for url in urls {
            let (client, url, token) = (self.clone(), url.clone(), token.to_owned());
            tasks.spawn(async move { client.chain(url, &token).await });
        }
        tasks.join_all().await.into_iter().sum()
    }

    /// Sends `requests` as fast as their dependencies allow; the wall time and the requests
    /// sent (tokens included).
    pub(crate) async fn run(&self, requests: &Requests) -> (Duration, usize) {
        let started = Instant::now();
        let entra = async {
            let token = self.entra_token().await;
            1 + self.chains(&requests.application, &token).await
                + self.chains(&requests.assignments, &token).await
                + self.chains(&requests.graph, &token).await
        };
        let salesforce = async {
            let token = self
                .token(
                    format!("{}/services/oauth2/token", self.base),
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", "3MVG9synthetic.roster"),
                        ("client_secret", &self.salesforce_secret),
                    ],
                )
                .await;
            1 + self.chains(&requests.salesforce, &token).await
        };
        let (graph, org) = tokio::join!(entra, salesforce);
        (started.elapsed(), graph + org)
    }
}
