//! The two clients against the emulator on 127.0.0.1:0: every credential (and a wrong one),
//! paging on both sides, group expansion, the user-read strategies, each injected fault, and a
//! failed read that yields no snapshot.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::emulator::{self, Running, State, WorldFile, faults};
use crate::endpoint::Endpoints;
use crate::error::Error;
use crate::model::{SourceSnapshot, TargetSnapshot};
use crate::progress::Progress;

const DEMO_WORLD: &str = include_str!("../../examples/demo/world.yaml");
const DEMO_CONFIG: &str = include_str!("../../examples/demo/roster.yaml");
const ENTRA_SECRET_CREDENTIAL: &str = "    client_secret: {env: AZURE_CLIENT_SECRET}\n";
const SF_CLIENT_CREDENTIALS: &str = "    client_credentials:
      client_id: 3MVG9contoso.roster.dev1
      client_secret: {env: SF_CLIENT_SECRET}
";

/// A scratch directory holding a config and its secret files.
struct Dir(PathBuf);

impl Dir {
    /// Its own directory, even when another test of this process uses the same name.
    fn new(name: &str) -> Dir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("roster-read-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).unwrap();
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(world: WorldFile) -> Running {
    emulator::start(State::from_world(world).unwrap(), "127.0.0.1:0")
        .await
        .unwrap()
}

async fn demo() -> Running {
    start(WorldFile::from_yaml(DEMO_WORLD).unwrap()).await
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// The demo config with secrets from files, and the given credential blocks.
fn demo_dir(name: &str, entra: &str, salesforce: &str) -> Dir {
    let dir = Dir::new(name);
    dir.write("entra.secret", "demo-entra-client-secret\n");
    dir.write("sf.secret", "demo-salesforce-client-secret\n");
    let config = DEMO_CONFIG
        .replace(ENTRA_SECRET_CREDENTIAL, entra)
        .replace(SF_CLIENT_CREDENTIALS, salesforce);
    assert!(config.contains(entra) && config.contains(salesforce));
    dir.write("roster.yaml", &config);
    dir
}

/// A query's rows reach the caller a page at a time, as each page arrives, so that a caller
/// that keeps less than the rows (the User query's, made users) never holds them all; an error
/// the caller returns for a page ends the query with that error.
#[tokio::test]
async fn query_rows_are_given_a_page_at_a_time() {
    // 2,100 synthetic Salesforce users and the integration user: a page of 2,000 and one of 101.
    let (running, dir) = synthetic("query-pages", 21_000).await;
    let loaded = crate::config::load(&dir.0.join("roster.yaml")).unwrap();
    let base = running.base_url();
    let salesforce = crate::salesforce::Salesforce::connect(&loaded.config, &dir.0, &base).unwrap();
    let mut pages = Vec::new();
    salesforce
        .query_pages("SELECT Id FROM User", None, |rows| {
            pages.push(rows.len());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(pages, [2_000, 101]);
    let mut given = 0;
    let error = salesforce
        .query_pages("SELECT Id FROM User", None, |_| {
            given += 1;
            Err(crate::salesforce::SalesforceError::Read(
                "this page is refused".to_owned(),
            ))
        })
        .await
        .unwrap_err();
    assert_eq!(given, 1);
    assert_eq!(error.to_string(), "this page is refused");
    running.shutdown().await;
}

/// Rows of `IN` queries are made what the caller keeps as their pages arrive, in the order of
/// the chunks; a row the caller refuses fails the read with the caller's error.
#[tokio::test]
async fn in_query_rows_are_made_what_the_caller_keeps() {
    let (running, dir) = synthetic("query-in-as", 50).await;
    let loaded = crate::config::load(&dir.0.join("roster.yaml")).unwrap();
    let salesforce = std::sync::Arc::new(
        crate::salesforce::Salesforce::connect(&loaded.config, &dir.0, &running.base_url())
            .unwrap(),
    );
    let ids: Vec<String> = {
        let state = running.shared.state();
        state
            .org
            .records("User")
            .filter_map(|u| u.get("Id").and_then(Value::as_str).map(str::to_owned))
            .take(5)
            .collect()
    };
    assert_eq!(ids.len(), 5);
    let id_of = |row: Value| Ok(row["Id"].as_str().unwrap_or_default().to_owned());
    // Two ids a query: three queries.
    let mut found = crate::salesforce::soql::query_in_as(
        &salesforce,
        "SELECT Id FROM User",
        "Id",
        &ids,
        2,
        id_of,
    )
    .await
    .unwrap();
    found.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(found, expected);
    let refused = ids[3].clone();
    let error = crate::salesforce::soql::query_in_as(
        &salesforce,
        "SELECT Id FROM User",
        "Id",
        &ids,
        2,
        move |row| {
            let id = row["Id"].as_str().unwrap_or_default();
            if id == refused {
                Err(crate::salesforce::SalesforceError::Read(format!(
                    "{id} is refused"
                )))
            } else {
                Ok(())
            }
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error.to_string(), format!("{} is refused", ids[3]));
    running.shutdown().await;
}

const ENTRA_FILE_SECRET: &str = "    client_secret: {file: entra.secret}\n";
const SF_FILE_SECRET: &str = "    client_credentials:
      client_id: 3MVG9contoso.roster.dev1
      client_secret: {file: sf.secret}
";

async fn read_with(
    running: &Running,
    dir: &Dir,
    env: &HashMap<&str, String>,
) -> Result<(SourceSnapshot, TargetSnapshot), Error> {
    let loaded = crate::config::load(&dir.0.join("roster.yaml")).unwrap();
    let base = running.base_url();
    let lookup = |name: &str| -> Option<String> {
        match name {
            "ROSTER_ENTRA_LOGIN_URL" | "ROSTER_GRAPH_URL" | "ROSTER_SALESFORCE_LOGIN_URL" => {
                Some(base.clone())
            }
            other => env.get(other).cloned(),
        }
    };
    let endpoints = Endpoints::resolve(&loaded.config, &lookup).unwrap();
    assert_eq!(endpoints.entra.graph, base);
    crate::read::live(&loaded.config, None, &dir.0, &lookup, &Progress::new(false)).await
}

async fn read(running: &Running, dir: &Dir) -> Result<(SourceSnapshot, TargetSnapshot), Error> {
    read_with(running, dir, &HashMap::new()).await
}

/// The error with its causes, as `report_error` prints it.
fn message(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn fault(running: &Running, route: &str, kind: faults::Kind, count: u32) {
    crate::concurrent::lock(&running.shared.faults).add(faults::Rule {
        route: route.to_owned(),
        kind,
        count,
        body_contains: None,
        query_contains: None,
    });
}

fn counts(running: &Running) -> BTreeMap<String, u64> {
    running.shared.counts()
}

fn count(running: &Running, route: &str) -> u64 {
    counts(running)
        .iter()
        .filter(|(r, _)| r.as_str() == route)
        .map(|(_, n)| n)
        .sum()
}

fn upn(source: &SourceSnapshot, id: &str) -> String {
    source
        .users
        .iter()
        .find(|u| u.id == id)
        .and_then(|u| u.attributes.text("userPrincipalName"))
        .unwrap_or_default()
        .to_owned()
}

/// The Automated Process user is read, and its profile, as in a real org, is not listed (the
/// planner protects it: `plan::target::Org::protection`).
#[tokio::test]
async fn the_automated_process_user_is_read_and_its_profile_is_not_listed() {
    let running = demo().await;
    let dir = demo_dir("autoproc", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    let (_, target) = read(&running, &dir).await.unwrap();
    let autoproc = target
        .users
        .iter()
        .find(|u| u.username.starts_with("autoproc@"))
        .unwrap();
    let listed = |p: &crate::model::Profile| {
        p.name == "Automated Process" || autoproc.profile_id.as_deref() == Some(p.id.as_str())
    };
    assert!(!target.profiles.iter().any(listed));
}

#[tokio::test]
async fn demo_snapshot_has_groups_direct_users_default_access_and_the_org() {
    let running = demo().await;
    let dir = demo_dir("demo", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    let (source, target) = read(&running, &dir).await.unwrap();

    // Only the Salesforce Sandbox's assignments; Contoso Wiki's group is not read.
    assert_eq!(source.application.display_name, "Salesforce Sandbox");
    assert_eq!(source.assignments.len(), 8);
    let names: Vec<&str> = source
        .groups
        .iter()
        .map(|g| g.display_name.as_str())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(!names.contains(&"All Staff"));
    // Default Access: the all-zero role, kept as Entra returns it.
    let report = source
        .groups
        .iter()
        .find(|g| g.display_name == "SF Report Builders")
        .unwrap();
    let default_access = source
        .assignments
        .iter()
        .find(|a| a.principal_id == report.id)
        .unwrap();
    assert_eq!(
        default_access.app_role_id,
        "00000000-0000-0000-0000-000000000000"
    );
    // Group members come with their attributes; direct users are fetched by id.
    let members: Vec<String> = report.members.iter().map(|id| upn(&source, id)).collect();
    assert!(
        members.contains(&"ava.martinez@contoso.com".to_owned()),
        "{members:?}"
    );
    for direct in source
        .assignments
        .iter()
        .filter(|a| a.principal_type == "User")
    {
        let user = source
            .users
            .iter()
            .find(|u| u.id == direct.principal_id)
            .unwrap();
        assert!(user.attributes.contains_key("accountEnabled"));
        assert!(user.attributes.contains_key("department"));
    }
    // Nested groups are noted, not expanded.
    let support = source
        .groups
        .iter()
        .find(|g| g.display_name == "SF Support")
        .unwrap();
    assert_eq!(support.nested_groups, ["SF Support Tier 2"]);
    assert!(
        source
            .warnings
            .iter()
            .any(|w| w.contains("SF Support Tier 2"))
    );
    // Exactly the referenced attributes, under Entra's names.
    assert!(source.attributes.contains(&"employeeType".to_owned()));
    assert!(!source.attributes.contains(&"appRoleAssignments".to_owned()));

    assert!(target.org.is_sandbox);
    assert_eq!(target.users.len(), 10);
    assert!(target.users.iter().all(|u| u.id.starts_with("005")));
    assert!(target.users.iter().all(|u| u.system_modstamp.is_some()));
    // The core fields are typed; the others stay as Salesforce returned them.
    assert!(!target.users[0].fields.contains_key("Username"));
    assert!(target.users[0].fields.contains_key("LastModifiedDate"));
    assert!(!target.users[0].fields.contains_key("attributes"));
    assert!(target.profiles.iter().any(|p| p.name == "Standard User"));
    // Every kind of access object, and the assignments of only those the config names (and
    // the licences the named permission sets are linked to): one query per kind for each.
    let kinds: std::collections::BTreeSet<_> =
        target.access_objects.iter().map(|o| o.kind).collect();
    assert_eq!(kinds.len(), crate::grants::GrantKind::ALL.len());
    let name_of = |id: &str| {
        let object = target.access_objects.iter().find(|o| o.id == id).unwrap();
        object.name.clone()
    };
    let held: std::collections::BTreeSet<String> = target
        .grants
        .iter()
        .map(|g| name_of(&g.object_id))
        .collect();
    assert!(
        held.contains("Sales_Leadership") && held.contains("All_Sales"),
        "{held:?}"
    );
    assert!(
        !held.contains("Legacy_Partners") && !held.contains("Legacy_Import"),
        "{held:?}"
    );
    // Organization, UserLicense, Profile, UserRole, User, UserLogin; six kinds of access
    // objects; six kinds of assignments; the feature licences' seats.
    assert_eq!(
        count(&running, "GET /services/data/{v}/query"),
        6 + 6 + 6 + 1
    );
    assert_eq!(target.feature_license_seats.get("KnowledgeUser"), Some(&10));
    assert!(target.licenses.iter().all(|l| l.total >= l.used));
    assert!(
        target
            .api_usage
            .is_some_and(|u| u.used > 0 && u.max == 15_000)
    );
    running.shutdown().await;
}

/// An assigned group that a role rule names, whose assignment carries no display name (so
/// roster looks it up by name too): it stays an assigned group, its members read with their
/// attributes. Found again by the look-up, it was taken for a group only the rules name, and its
/// members (Avery, in no other assigned group) were not read at all.
#[tokio::test]
async fn an_assigned_group_a_rule_also_names_stays_assigned() {
    let running = demo().await;
    {
        let mut state = running.shared.state();
        let assignment = state
            .entra
            .assignments
            .iter_mut()
            .find(|a| a.principal_display_name == "SF Report Builders")
            .unwrap();
        assignment.principal_display_name = String::new();
    }
    let dir = demo_dir("unnamed-assignment", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    let (source, _) = read(&running, &dir).await.unwrap();
    let report = source
        .groups
        .iter()
        .find(|g| g.display_name == "SF Report Builders")
        .unwrap();
    assert!(report.assigned);
    let read: Vec<String> = source.users.iter().map(|u| upn(&source, &u.id)).collect();
    assert!(
        read.contains(&"avery.mensah@contoso.com".to_owned()),
        "{read:?}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn two_reads_of_the_same_world_are_identical() {
    let running = demo().await;
    let dir = demo_dir("twice", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    let (first, mut first_target) = read(&running, &dir).await.unwrap();
    let (second, mut second_target) = read(&running, &dir).await.unwrap();
    first_target.api_usage = None;
    second_target.api_usage = None;
    assert_eq!(first, second);
    assert_eq!(first_target, second_target);
    running.shutdown().await;
}

#[tokio::test]
async fn every_credential_logs_in() {
    let running = demo().await;
    let key = repo("examples/demo/keys/demo-signing.key");
    let cert = repo("examples/demo/keys/demo-signing.crt");
    let certificate = format!(
        "    certificate: {{private_key: {{file: {key}}}, certificate: {{file: {cert}}}}}\n"
    );
    let jwt = format!(
        "    jwt_bearer: {{client_id: 3MVG9contoso.roster.dev1, username: integration@contoso.com.dev1, private_key: {{file: {key}}}}}\n"
    );
    let password = "    password:
      username: integration@contoso.com.dev1
      password: {file: sf.password}
      security_token: {file: sf.token}
      client_id: 3MVG9contoso.roster.dev1
      client_secret: {file: sf.secret}
";
    let dir = demo_dir("certificate-jwt", &certificate, &jwt);
    let (source, target) = read(&running, &dir).await.unwrap();
    assert_eq!(source.assignments.len(), 8);
    assert_eq!(target.users.len(), 10);
    assert!(target.warnings.is_empty());

    let dir = demo_dir(
        "federated-password",
        "    federated: github_actions\n",
        password,
    );
    dir.write("sf.password", "demo-password");
    dir.write("sf.token", "demoToken123");
    let env = HashMap::from([
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/_github/idtoken?api-version=2.0", running.base_url()),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "demo-actions-request-token".to_owned(),
        ),
    ]);
    let (source, target) = read_with(&running, &dir, &env).await.unwrap();
    assert_eq!(source.assignments.len(), 8);
    assert!(target.warnings[0].contains("discourages the username-password flow"));

    // The token file of a workload-identity runner.
    let token: Value = reqwest::Client::new()
        .get(format!(
            "{}/_github/idtoken?audience=api://AzureADTokenExchange",
            running.base_url()
        ))
        .bearer_auth("demo-actions-request-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    dir.write("federated.jwt", token["value"].as_str().unwrap());
    let env = HashMap::from([(
        "AZURE_FEDERATED_TOKEN_FILE",
        dir.0.join("federated.jwt").display().to_string(),
    )]);
    let (source, _) = read_with(&running, &dir, &env).await.unwrap();
    assert_eq!(source.assignments.len(), 8);
    running.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_name_the_login_and_the_reason() {
    let running = demo().await;
    let dir = demo_dir("wrong", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    dir.write("entra.secret", "not-the-secret");
    let err = message(&read(&running, &dir).await.unwrap_err());
    assert!(err.starts_with("reading Microsoft Entra failed: cannot get a Microsoft Graph token for client 5e1f8a63-0c3b-4d0e-9a57-3f1d2b7c9e11 in tenant 72f988bf-86f1-41af-91ab-2d7cd011db47: Microsoft Graph POST /72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token: HTTP 401 invalid_client: AADSTS7000215"), "{err}");
    assert!(!err.contains("not-the-secret"));

    dir.write("entra.secret", "demo-entra-client-secret");
    dir.write("sf.secret", "wrong-sf-secret");
    let err = message(&read(&running, &dir).await.unwrap_err());
    assert!(
        err.contains("reading Salesforce failed: cannot log in to Salesforce at http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("(client credentials flow): Salesforce POST /services/oauth2/token: HTTP 400 invalid_client: invalid client credentials"), "{err}");
    assert!(!err.contains("wrong-sf-secret"));

    let dir = demo_dir(
        "wrong-federated",
        "    federated: github_actions\n",
        SF_FILE_SECRET,
    );
    let env = HashMap::from([
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/_github/idtoken", running.base_url()),
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "stolen".to_owned()),
    ]);
    let err = message(&read_with(&running, &dir, &env).await.unwrap_err());
    assert!(err.contains("cannot get the GitHub Actions OIDC token: Microsoft Graph GET /_github/idtoken: HTTP 401: Bad credentials"), "{err}");
    let err = message(
        &read_with(&running, &dir, &HashMap::new())
            .await
            .unwrap_err(),
    );
    assert!(err.contains("permissions: id-token: write"), "{err}");

    let key = repo("examples/demo/keys/demo-signing.key");
    let jwt = format!(
        "    jwt_bearer: {{client_id: 3MVG9contoso.roster.dev1, username: nobody@contoso.com.dev1, private_key: {{file: {key}}}}}\n"
    );
    let dir = demo_dir("wrong-jwt", ENTRA_FILE_SECRET, &jwt);
    let err = message(&read(&running, &dir).await.unwrap_err());
    assert!(
        err.contains("(JWT bearer flow)") && err.contains("invalid_grant"),
        "{err}"
    );
    running.shutdown().await;
}

/// A synthetic world with `n` users and its config, secrets in files.
async fn synthetic(name: &str, n: u32) -> (Running, Dir) {
    let running = start(emulator::synthetic_world(n, 7)).await;
    let dir = Dir::new(name);
    dir.write("entra.secret", emulator::synthetic::ENTRA_SECRET);
    dir.write("sf.secret", emulator::synthetic::SALESFORCE_SECRET);
    let config = emulator::synthetic_config()
        .replace("{env: AZURE_CLIENT_SECRET}", "{file: entra.secret}")
        .replace("{env: SF_CLIENT_SECRET}", "{file: sf.secret}");
    dir.write("roster.yaml", &config);
    (running, dir)
}

#[tokio::test]
async fn paging_follows_every_page_on_both_sides() {
    let (running, dir) = synthetic("paging", 25_000).await;
    let (source, target) = read(&running, &dir).await.unwrap();
    assert_eq!(source.users.len(), 25_000);
    // 2,500 synthetic users and the integration user.
    assert_eq!(target.users.len(), 2_501);
    // 4 groups of 6,250 members at 999 a page; Salesforce's users at 2,000 a page.
    assert_eq!(count(&running, "GET /v1.0/groups/{id}/members"), 4 * 7);
    assert_eq!(count(&running, "GET /services/data/{v}/query/{id}"), 1);
    // Group members carry their attributes: no user is read twice.
    assert_eq!(count(&running, "GET /v1.0/users"), 0);
    assert_eq!(count(&running, "POST /v1.0/$batch"), 0);
    running.shutdown().await;
}

/// A chain of pages asks for each next page before it reads this page's items: the items of
/// every page but the last are handed over only once the emulator has the request for the page
/// after it (before, the next request went out after the items were read, so a chain waited
/// for each page's reading). Two workers: one reads while the other serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_page_is_asked_for_while_a_page_is_read() {
    let (running, dir) = synthetic("prefetch", 8_000).await;
    let loaded = crate::config::load(&dir.0.join("roster.yaml")).unwrap();
    let base = running.base_url();
    let lookup = |name: &str| -> Option<String> {
        matches!(
            name,
            "ROSTER_ENTRA_LOGIN_URL" | "ROSTER_GRAPH_URL" | "ROSTER_SALESFORCE_LOGIN_URL"
        )
        .then(|| base.clone())
    };
    let endpoints = Endpoints::resolve(&loaded.config, &lookup).unwrap();
    let graph =
        crate::graph::Graph::connect(&loaded.config.source, &dir.0, &endpoints.entra, &lookup)
            .unwrap();
    let (group_id, members) = {
        let state = running.shared.state();
        let group = &state.entra.groups[0];
        (group.id.clone(), group.members.len())
    };
    // 2,000 members at 999 a page: three pages.
    assert_eq!(members, 2_000);
    let route = "GET /v1.0/groups/{id}/members";
    let mut pages = 0u64;
    let mut asked_before_read = Vec::new();
    graph
        .pages(
            &graph.url(&format!("groups/{group_id}/members?$top=999")),
            |_: Vec<crate::graph::Item>| {
                pages += 1;
                // The request for the next page, if it went out first, reaches the emulator
                // soon; waited for, never assumed (the last page has none to wait for).
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                while pages < 3
                    && count(&running, route) <= pages
                    && std::time::Instant::now() < deadline
                {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                asked_before_read.push(count(&running, route) > pages);
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(pages, 3);
    // The last page has no next one.
    assert_eq!(asked_before_read, [true, true, false]);
    assert_eq!(count(&running, route), 3);
    running.shutdown().await;
}

/// Moves every synthetic user from group assignments to direct assignments of `n` of them. The
/// accounts of the rest are inactive, as an apply leaves a leaver's: the read looks up no
/// anchor (`read::live`), and these tests count the read's own requests.
fn assign_directly(running: &Running, n: usize) {
    let mut state = running.shared.state();
    let template = state.entra.assignments[0].clone();
    let users: Vec<(String, String)> = state
        .entra
        .users
        .iter()
        .take(n)
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_owned(),
                u["displayName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let assigned: std::collections::HashSet<&str> =
        users.iter().map(|(id, _)| id.as_str()).collect();
    for account in state.org.objects.get_mut("User").unwrap().values_mut() {
        let anchor = account.get("Entra_Object_Id__c").and_then(|v| v.as_str());
        if anchor.is_some_and(|id| !assigned.contains(id)) {
            account.insert("IsActive".into(), false.into());
        }
    }
    state.entra.assignments = users
        .into_iter()
        .enumerate()
        .map(|(i, (id, name))| emulator::AssignmentState {
            id: format!("direct-{i}"),
            principal_id: id,
            principal_type: "User",
            principal_display_name: name,
            ..template.clone()
        })
        .collect();
}

#[tokio::test]
async fn direct_assignments_are_read_by_batched_filters_when_few() {
    let (running, dir) = synthetic("batched", 3_000).await;
    assign_directly(&running, 700);
    let (source, _) = read(&running, &dir).await.unwrap();
    assert_eq!(source.users.len(), 700);
    // 700 ids = 47 filters of 15 = 3 batches of at most 20; the tenant listing (4 pages)
    // would not be cheaper.
    assert_eq!(count(&running, "POST /v1.0/$batch"), 3);
    assert_eq!(count(&running, "GET /v1.0/users/$count"), 1);
    assert_eq!(count(&running, "GET /v1.0/users"), 0);
    running.shutdown().await;
}

#[tokio::test]
async fn direct_assignments_are_read_by_listing_when_most_of_the_tenant_is_assigned() {
    let (running, dir) = synthetic("listing", 3_000).await;
    assign_directly(&running, 2_500);
    let (source, _) = read(&running, &dir).await.unwrap();
    assert_eq!(source.users.len(), 2_500);
    // 2,500 ids would take 9 batches; the whole tenant is 4 pages of 999.
    assert_eq!(count(&running, "GET /v1.0/users"), 4);
    assert_eq!(count(&running, "POST /v1.0/$batch"), 0);
    running.shutdown().await;
}

/// The active accounts of people no longer assigned are looked up by their anchors after the
/// read, the cheaper way `users_by_id` finds: each found is named in `unassigned_users`; an id
/// the tenant does not have, and an inactive account's, are not.
#[tokio::test]
async fn anchors_of_active_accounts_the_read_did_not_give_are_looked_up() {
    let (running, dir) = synthetic("anchors-looked-up", 1_000).await;
    assign_directly(&running, 400);
    let stranger = "99999999-0000-4000-8000-000000000001";
    let expected: Vec<String> = {
        let mut state = running.shared.state();
        let assigned: std::collections::HashSet<String> = (state.entra.assignments.iter())
            .map(|a| a.principal_id.clone())
            .collect();
        let accounts = state.org.objects.get_mut("User").unwrap();
        let mut leavers = accounts.values_mut().filter(|a| {
            a.get("Entra_Object_Id__c")
                .and_then(|v| v.as_str())
                .is_some_and(|id| !assigned.contains(id))
        });
        // Two leavers' accounts active again, the second's anchor in .NET's braces and upper
        // case; a third's anchor a stranger's.
        let mut ids = Vec::new();
        for (i, account) in leavers.by_ref().take(2).enumerate() {
            account.insert("IsActive".into(), true.into());
            let id = account["Entra_Object_Id__c"].as_str().unwrap().to_owned();
            if i == 1 {
                let braced = format!("{{{}}}", id.to_uppercase());
                account.insert("Entra_Object_Id__c".into(), braced.into());
            }
            ids.push(id);
        }
        let third = leavers.next().unwrap();
        third.insert("IsActive".into(), true.into());
        third.insert("Entra_Object_Id__c".into(), stranger.into());
        ids.sort();
        ids
    };
    let (source, _) = read(&running, &dir).await.unwrap();
    assert_eq!(source.users.len(), 400);
    let found = source.unassigned_users.unwrap();
    let ids: Vec<&str> = found.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, expected);
    // Each named as Graph names them.
    assert!(
        found.iter().all(|u| u
            .user_principal_name
            .as_deref()
            .is_some_and(|upn| upn.contains('@'))
            && u.display_name.is_some()),
        "{found:?}"
    );
    // 400 assignees in two batches, the three anchors in one plain request.
    assert_eq!(count(&running, "POST /v1.0/$batch"), 2);
    assert_eq!(count(&running, "GET /v1.0/users"), 1);
    running.shutdown().await;
}

#[tokio::test]
async fn one_direct_user_is_one_plain_request() {
    let (running, dir) = synthetic("single", 50).await;
    assign_directly(&running, 3);
    let (source, _) = read(&running, &dir).await.unwrap();
    assert_eq!(source.users.len(), 3);
    assert_eq!(count(&running, "GET /v1.0/users"), 1);
    assert_eq!(count(&running, "GET /v1.0/users/$count"), 0);
    running.shutdown().await;
}

fn status(status: u16, retry_after: Option<&str>) -> faults::Kind {
    faults::Kind::Status {
        status,
        retry_after: retry_after.map(str::to_owned),
    }
}

#[tokio::test]
async fn throttling_with_a_fractional_retry_after_is_waited_out() {
    let running = demo().await;
    let dir = demo_dir("throttle", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    fault(&running, "GET /v1.0/groups", status(429, Some("0.3")), 2);
    fault(
        &running,
        "GET /services/data/{v}/query",
        status(429, Some("2.5")),
        1,
    );
    let started = std::time::Instant::now();
    let (source, target) = read(&running, &dir).await.unwrap();
    // The throttled reads run side by side: the longest wait bounds the delay from below. It
    // is longer than roster's own first backoff (0.5 to 1 s), so only an honoured
    // `Retry-After` takes this long.
    assert!(started.elapsed() >= std::time::Duration::from_millis(2500));
    assert_eq!(source.groups.len(), 3);
    assert_eq!(target.users.len(), 10);
    // Three group reads and the two throttled tries.
    assert_eq!(count(&running, "GET /v1.0/groups/{id}/members"), 5);
    running.shutdown().await;
}

#[tokio::test]
async fn unavailable_and_dropped_connections_are_retried() {
    let running = demo().await;
    let dir = demo_dir("unavailable", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    fault(
        &running,
        "GET /v1.0/servicePrincipals",
        status(503, None),
        1,
    );
    fault(&running, "GET /v1.0/users", faults::Kind::Drop, 1);
    fault(
        &running,
        "GET /services/data/{v}/query",
        status(504, Some("0")),
        1,
    );
    fault(
        &running,
        "POST /services/oauth2/token",
        faults::Kind::Drop,
        1,
    );
    let (source, target) = read(&running, &dir).await.unwrap();
    assert_eq!(source.assignments.len(), 8);
    assert_eq!(target.users.len(), 10);
    assert_eq!(count(&running, "POST /services/oauth2/token"), 2);
    running.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_is_renewed_once() {
    let running = demo().await;
    let dir = demo_dir("expired", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    fault(
        &running,
        "GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo",
        faults::Kind::ExpiredToken,
        1,
    );
    fault(
        &running,
        "GET /services/data/{v}/query",
        faults::Kind::ExpiredToken,
        1,
    );
    let (source, target) = read(&running, &dir).await.unwrap();
    assert_eq!(source.assignments.len(), 8);
    assert_eq!(target.users.len(), 10);
    assert_eq!(
        count(&running, "POST /{id}/oauth2/{v}/token"),
        2,
        "{:?}",
        counts(&running)
    );
    assert_eq!(count(&running, "POST /services/oauth2/token"), 2);
    running.shutdown().await;
}

#[tokio::test]
async fn a_token_that_expires_twice_in_one_read_is_renewed_again() {
    let running = demo().await;
    let dir = demo_dir("expired-twice", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    // The same request (the only one in flight) meets an expired token twice: each time a
    // fresh one is fetched, and the read goes on.
    fault(
        &running,
        "GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo",
        faults::Kind::ExpiredToken,
        2,
    );
    let (source, target) = read(&running, &dir).await.unwrap();
    assert_eq!(source.assignments.len(), 8);
    assert_eq!(target.users.len(), 10);
    assert_eq!(count(&running, "POST /{id}/oauth2/{v}/token"), 3);
    assert_eq!(
        count(
            &running,
            "GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo"
        ),
        3
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_token_that_stays_rejected_is_an_error_not_a_loop() {
    let running = demo().await;
    let dir = demo_dir("rejected", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    fault(
        &running,
        "GET /v1.0/servicePrincipals",
        faults::Kind::ExpiredToken,
        5,
    );
    let err = message(&read(&running, &dir).await.unwrap_err());
    assert!(err.contains("HTTP 401 InvalidAuthenticationToken"), "{err}");
    running.shutdown().await;
}

#[tokio::test]
async fn the_request_limit_stops_at_once() {
    let running = demo().await;
    let dir = demo_dir("limit", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    fault(
        &running,
        "GET /services/data/{v}/query",
        faults::Kind::RequestLimit,
        1,
    );
    let err = message(&read(&running, &dir).await.unwrap_err());
    assert!(err.starts_with("reading Salesforce failed: Salesforce refused GET /services/data/v62.0/query with REQUEST_LIMIT_EXCEEDED (TotalRequests Limit exceeded.)"), "{err}");
    assert!(err.contains("daily API request limit is used up"), "{err}");
    // Never retried: at most one request for each query the read starts at once (users,
    // logins, the organization, licences, profiles, roles, six kinds of access objects and the
    // feature licence seats); a retry of any would send them all again.
    let queries = count(&running, "GET /services/data/{v}/query");
    assert!((1..=13).contains(&queries), "{queries} queries");
    running.shutdown().await;
}

#[tokio::test]
async fn the_concurrent_request_limits_are_waited_out() {
    let running = demo().await;
    let dir = demo_dir("concurrent-limit", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    let (_, clean) = read(&running, &dir).await.unwrap();
    let queries = count(&running, "GET /services/data/{v}/query");
    // Both concurrency meanings of REQUEST_LIMIT_EXCEEDED, once each on the same route: the
    // read backs off, asks again, and reads the same org.
    for long_txn in [false, true] {
        fault(
            &running,
            "GET /services/data/{v}/query",
            faults::Kind::ConcurrentLimit { long_txn },
            1,
        );
    }
    let (_, target) = read(&running, &dir).await.unwrap();
    assert_eq!(target.users.len(), clean.users.len());
    assert_eq!(
        count(&running, "GET /services/data/{v}/query"),
        2 * queries + 2,
        "each refused query was sent once more"
    );
    assert!(crate::concurrent::lock(&running.shared.faults).is_empty());
    running.shutdown().await;
}

#[tokio::test]
async fn a_failed_read_returns_no_snapshot() {
    let running = demo().await;
    let dir = demo_dir("failed", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    // Persistent unavailability of one group's members: retried, then the whole read fails.
    fault(
        &running,
        "GET /v1.0/groups/{id}/members",
        status(503, Some("0.01")),
        100,
    );
    let err = message(&read(&running, &dir).await.unwrap_err());
    assert!(
        err.starts_with("reading Microsoft Entra failed: Microsoft Graph GET /v1.0/groups/"),
        "{err}"
    );
    assert!(err.contains("HTTP 503 serviceNotAvailable"), "{err}");
    // Bounded: the first try and five retries per failing read, not forever.
    assert!(count(&running, "GET /v1.0/groups/{id}/members") <= 3 * 6);

    // Exactly: one request the read makes once (the application's lookup) is tried six times.
    crate::concurrent::lock(&running.shared.faults).clear();
    fault(
        &running,
        "GET /v1.0/servicePrincipals",
        status(503, Some("0.01")),
        100,
    );
    let before = count(&running, "GET /v1.0/servicePrincipals");
    assert!(read(&running, &dir).await.is_err());
    assert_eq!(count(&running, "GET /v1.0/servicePrincipals"), before + 6);

    // A 404 is not retried.
    crate::concurrent::lock(&running.shared.faults).clear();
    fault(
        &running,
        "GET /v1.0/servicePrincipals",
        status(404, None),
        1,
    );
    let before = count(&running, "GET /v1.0/servicePrincipals");
    assert!(read(&running, &dir).await.is_err());
    assert_eq!(count(&running, "GET /v1.0/servicePrincipals"), before + 1);
    running.shutdown().await;
}

#[tokio::test]
async fn throttled_requests_inside_a_batch_are_sent_again() {
    let (running, dir) = synthetic("batch-throttle", 1_000).await;
    assign_directly(&running, 200);
    // Each throttled item carries its own Retry-After: two short, the last longer than roster's
    // own first wait (0.5 s). The batch is sent again only after the longest.
    fault(&running, "GET /v1.0/users", status(429, Some("0.1")), 2);
    fault(&running, "GET /v1.0/users", status(429, Some("1.6")), 1);
    let started = std::time::Instant::now();
    let (source, _) = read(&running, &dir).await.unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1600),
        "the items' longest Retry-After was waited: {:?}",
        started.elapsed()
    );
    assert_eq!(source.users.len(), 200);
    // 14 filters in one batch, and one more batch for the three throttled filters.
    assert_eq!(count(&running, "POST /v1.0/$batch"), 2);
    assert!(crate::concurrent::lock(&running.shared.faults).is_empty());
    running.shutdown().await;
}

#[tokio::test]
async fn an_ambiguous_application_name_is_an_error() {
    let running = demo().await;
    {
        let mut state = running.shared.state();
        let mut twin = state.entra.applications[0].clone();
        twin.service_principal_id = "9a8b7c6d-0000-4000-8000-000000000099".into();
        twin.app_id = "0f2e1d3c-0000-4000-8000-000000000099".into();
        state.entra.applications.push(twin);
    }
    let dir = demo_dir("ambiguous", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    let err = message(&read(&running, &dir).await.unwrap_err());
    assert!(
        err.contains("2 enterprise applications are named \"Salesforce Sandbox\""),
        "{err}"
    );
    assert!(err.contains("service_principal_id"), "{err}");

    let dir = demo_dir("by-id", ENTRA_FILE_SECRET, SF_FILE_SECRET);
    let config = std::fs::read_to_string(dir.0.join("roster.yaml"))
        .unwrap()
        .replace(
            "    display_name: Salesforce Sandbox",
            "    app_id: 0f2e1d3c-4b5a-4978-8a9b-0c1d2e3f4a5b",
        );
    dir.write("roster.yaml", &config);
    let (source, _) = read(&running, &dir).await.unwrap();
    assert_eq!(
        source.application.id,
        "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
    );
    running.shutdown().await;
}
