//! The safety promises, tried as an attacker and as a failing network would: no secret over
//! plain http to a host the client reads differently, no plan from a malformed read, no edited
//! saved plan applied, an audit log that matches the org after any interruption, field names
//! that cannot reach SOQL unchecked, and files that name people readable by their owner only.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::apply::{World, first_of};
use crate::support::{Emulator, Scratch, repo};

// ---------------------------------------------------------------------------------------------
// 1. Secrets never go over plain http to a host other than loopback.

/// The demo config with `target.login_url` set to `url`.
fn with_login_url(url: &str) -> String {
    std::fs::read_to_string(repo().join("examples/demo/roster.yaml"))
        .unwrap()
        .replace(
            "  login_url: https://test.salesforce.com\n",
            &format!("  login_url: '{}'\n", url.replace('\'', "''")),
        )
}

#[test]
fn validate_refuses_urls_whose_host_the_client_reads_differently() {
    let scratch = Scratch::new("safety-url-validate");
    let cases = [
        (
            r"http://192.0.2.1:8080\@127.0.0.1",
            "plain http to 192.0.2.1",
        ),
        (r"http://192.0.2.1:8080\\@[::1]", "plain http to 192.0.2.1"),
        ("http://192.0.2.1:8080%5C@127.0.0.1", "user info"),
        ("https://admin:hunter2@test.salesforce.com", "user info"),
        (
            "http://localhost.example.com",
            "plain http to localhost.example.com",
        ),
        ("HTTP://EXAMPLE.COM", "plain http to example.com"),
    ];
    for (url, reason) in cases {
        let config = with_login_url(url);
        let line = config
            .lines()
            .position(|l| l.starts_with("  login_url:"))
            .unwrap()
            + 1;
        scratch.write("roster.yaml", &config);
        let out = scratch.roster(&["validate"]);
        assert_eq!(out.code, 1, "{url}: {}", out.stderr);
        assert!(out.stderr.contains(reason), "{url}: {}", out.stderr);
        assert!(!out.stderr.contains("hunter2"), "{url}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("roster.yaml:{line}:14")),
            "{url}: {}",
            out.stderr
        );
    }
    // https to any host, and http to a parsed loopback host, stay allowed.
    for url in [
        "https://192.0.2.1:8443",
        "http://2130706433:9",
        "http://[::1]:9",
    ] {
        scratch.write("roster.yaml", with_login_url(url));
        let out = scratch.roster(&["validate"]);
        assert_eq!(out.code, 0, "{url}: {}", out.stderr);
    }
}

#[test]
fn environment_overrides_are_checked_before_any_request() {
    let world = World::demo("safety-url-env");
    for (name, url) in [
        (
            "ROSTER_ENTRA_LOGIN_URL",
            r"http://192.0.2.1:8080\@127.0.0.1",
        ),
        (
            "ROSTER_SALESFORCE_LOGIN_URL",
            "http://192.0.2.1:8080%5C@127.0.0.1",
        ),
        ("ROSTER_GRAPH_URL", "http://user@127.0.0.1:9"),
    ] {
        let out = world.roster_env(&["plan"], &[(name, url)]);
        assert_eq!(out.code, 1, "{name}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{name}: {}", out.stdout);
        assert!(
            out.stderr
                .contains(&format!("(from environment variable {name})")),
            "{}",
            out.stderr
        );
    }
    assert_eq!(world.requests(), json!({}), "nothing was sent anywhere");
    // A password in a URL never reaches the output.
    let out = world.roster_env(
        &["plan"],
        &[(
            "ROSTER_GRAPH_URL",
            "https://svc:TopSecret@graph.microsoft.com",
        )],
    );
    assert_eq!(out.code, 1);
    assert!(!out.stderr.contains("TopSecret"), "{}", out.stderr);
    // A base URL whose path would end up in a fragment or query.
    let out = world.roster_env(&["plan"], &[("ROSTER_GRAPH_URL", "http://127.0.0.1:9#@x")]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("query or fragment"), "{}", out.stderr);
}

/// A listener on another loopback address that counts the connections it receives.
struct Catcher {
    listener: std::net::TcpListener,
    url: String,
}

impl Catcher {
    fn new() -> Catcher {
        let listener = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        Catcher { listener, url }
    }

    fn caught(&self) -> bool {
        self.listener.accept().is_ok()
    }
}

#[test]
fn redirects_are_never_followed() {
    let world = World::demo("safety-redirect");
    let catcher = Catcher::new();
    // The token endpoints answer with a redirect elsewhere: following it would send the
    // client secret there.
    for route in ["POST /services/oauth2/token", "POST /{id}/oauth2/{v}/token"] {
        world.emulator.admin(
            "faults",
            &json!({"route": route, "kind": "respond", "status": 307, "body": {},
                    "headers": {"location": format!("{}/steal", catcher.url)}}),
        );
        let out = world.roster(&["plan"]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains("HTTP 307"), "{}", out.stderr);
        assert!(
            out.stderr.contains("roster does not follow redirects"),
            "{}",
            out.stderr
        );
        world.emulator.admin_call(Method::DELETE, "faults", None);
    }
    assert!(!catcher.caught(), "a redirect was followed");
}

#[test]
fn plain_http_never_goes_through_a_proxy() {
    let world = World::demo("safety-proxy");
    let catcher = Catcher::new();
    let out = world.roster_env(
        &["plan"],
        &[
            ("HTTP_PROXY", catcher.url.as_str()),
            ("http_proxy", catcher.url.as_str()),
            ("ALL_PROXY", catcher.url.as_str()),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!catcher.caught(), "a request went to the proxy");
}

// ---------------------------------------------------------------------------------------------
// 2. A malformed or failed read is never a plan.

/// A world whose 40 users are each assigned to the application directly, so Graph reads them
/// by id in a `$batch` (15 ids a request): the shape of the tenant in the report.
fn direct_world(name: &str) -> World {
    let scratch = Scratch::new(name);
    let mut users = String::new();
    let mut assignments = String::new();
    for n in 1..=40 {
        let _ = std::fmt::Write::write_fmt(
            &mut users,
            format_args!(
                "    - {{id: cccccccc-0000-4000-8000-{n:012}, userPrincipalName: user{n}@example.com, \
                 mail: user{n}@example.com, givenName: User, surname: Number{n}, \
                 displayName: User {n}, accountEnabled: true}}\n"
            ),
        );
        let _ = std::fmt::Write::write_fmt(
            &mut assignments,
            format_args!(
                "    - {{application: Salesforce Sandbox, user: user{n}@example.com, role: Standard_User}}\n"
            ),
        );
    }
    let world = format!(
        "entra:
  tenant_id: 11111111-2222-4333-8444-555555555555
  clients:
    - {{client_id: aaaaaaaa-0000-4000-8000-000000000001, secret: test-entra-secret}}
  applications:
    - display_name: Salesforce Sandbox
      app_id: aaaaaaaa-0000-4000-8000-0000000000a1
      service_principal_id: aaaaaaaa-0000-4000-8000-0000000000b1
      app_roles:
        - {{id: bbbbbbbb-0000-4000-8000-000000000001, display_name: Standard User, value: Standard_User}}
  users:
{users}  groups: []
  assignments:
{assignments}salesforce:
  sandbox: dev1
  clients:
    - {{client_id: 3MVG9test.client, client_secret: test-sf-secret, run_as: integration@example.com.dev1}}
  api_users:
    - {{username: integration@example.com.dev1}}
  licenses:
    - {{name: Salesforce, total: 100}}
  profiles:
    - {{name: System Administrator, license: Salesforce}}
    - {{name: Standard User, license: Salesforce}}
  roles: []
  permission_sets: []
  users:
    - {{Username: integration@example.com.dev1, Email: integration@example.com, LastName: Integration, Alias: integ, TimeZoneSidKey: America/Los_Angeles, LocaleSidKey: en_US, LanguageLocaleKey: en_US, EmailEncodingKey: UTF-8, Profile: System Administrator}}
"
    );
    scratch.write("world.yaml", world);
    scratch.write(
        "roster.yaml",
        "version: 1
source:
  tenant_id: 11111111-2222-4333-8444-555555555555
  client_id: aaaaaaaa-0000-4000-8000-000000000001
  credential:
    client_secret: {env: AZURE_CLIENT_SECRET}
  application:
    display_name: Salesforce Sandbox
target:
  auth:
    client_credentials:
      client_id: 3MVG9test.client
      client_secret: {env: SF_CLIENT_SECRET}
matching:
  - {source: '[userPrincipalName]', target: FederationIdentifier}
ownership:
  username_suffix: .dev1
protect:
  usernames: [integration@example.com.dev1]
mappings:
  - {target: Username, expression: 'Append([userPrincipalName], \".dev1\")', apply: on_create}
  - {target: Email, source: mail}
  - {target: LastName, source: surname, default: \".\"}
  - {target: Alias, expression: 'Left(Join(\"\", Left([givenName], 1), [surname]), 8)'}
  - {target: FederationIdentifier, source: userPrincipalName}
  - {target: TimeZoneSidKey, constant: America/Los_Angeles}
  - {target: LocaleSidKey, constant: en_US}
  - {target: LanguageLocaleKey, constant: en_US}
  - {target: EmailEncodingKey, constant: UTF-8}
roles:
  rules:
    - when: {app_role: Standard User}
      profile: Standard User
",
    );
    let emulator = Emulator::start_with(&["--world", "world.yaml"], &scratch.dir);
    World { emulator, scratch }
}

/// A direct world whose 40 users are all provisioned already: a read that lost them would
/// deactivate them.
fn provisioned_direct_world(name: &str) -> World {
    let world = direct_world(name);
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("40 created"), "{}", out.stdout);
    world.assert_converged();
    world
}

fn fault(world: &World, rule: &Value) {
    world.emulator.admin("faults", rule);
}

/// `roster plan` fails: exit 1, no plan on stdout, the error on stderr containing `expected`.
fn assert_read_fails(world: &World, expected: &[&str]) {
    let out = world.roster(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "a plan was printed: {}", out.stdout);
    for text in expected {
        assert!(out.stderr.contains(text), "{text:?} not in {}", out.stderr);
    }
    world.emulator.admin_call(Method::DELETE, "faults", None);
}

/// A `$batch` item's answer is held to what was asked: its next link must page the listing the
/// item asked for (`/users`), not another group's members, and it may hold only the users asked
/// for by id — anyone else would enter the snapshot, or replace a planned user's copy.
#[test]
fn a_batch_item_that_leads_elsewhere_or_holds_users_not_asked_for_fails_the_read() {
    let world = provisioned_direct_world("safety-batch-elsewhere");
    let next = format!(
        "{}/v1.0/groups/00000000-0000-4000-8000-00000000dead/members?$skiptoken=x",
        world.emulator.base
    );
    fault(
        &world,
        &json!({"route": "GET /v1.0/users", "kind": "respond", "status": 200, "count": 1,
                "body": {"value": [], "@odata.nextLink": next}}),
    );
    assert_read_fails(
        &world,
        &["`@odata.nextLink` leads to another resource \
           (/v1.0/groups/00000000-0000-4000-8000-00000000dead/members) than the one listed \
           (/v1.0/users)"],
    );
    let stranger = json!({"id": "dddddddd-0000-4000-8000-000000000001",
                          "userPrincipalName": "stranger@example.com",
                          "mail": "stranger@example.com", "givenName": "S", "surname": "Tranger",
                          "displayName": "S Tranger", "accountEnabled": true});
    fault(
        &world,
        &json!({"route": "GET /v1.0/users", "kind": "respond", "status": 200, "count": 1,
                "body": {"value": [stranger]}}),
    );
    assert_read_fails(
        &world,
        &["it holds user dddddddd-0000-4000-8000-000000000001, which was not asked for"],
    );
    world.assert_converged();
}

#[test]
fn a_batch_item_cut_short_fails_the_read_instead_of_deactivating() {
    let world = provisioned_direct_world("safety-batch-drop");
    // An item that comes back as 200 with no body (Graph itself answers a failed status, but
    // roster does not rely on it).
    fault(
        &world,
        &json!({"route": "GET /v1.0/users", "kind": "respond", "status": 200, "body": null}),
    );
    assert_read_fails(
        &world,
        &["GET /v1.0/users (in a $batch)", "it has no `value` array"],
    );
    // An item that stays unavailable, after its retries.
    fault(
        &world,
        &json!({"route": "GET /v1.0/users", "kind": "status", "status": 503, "retry_after": "0", "count": 50}),
    );
    assert_read_fails(
        &world,
        &["GET /v1.0/users (in a $batch): HTTP 503 serviceNotAvailable"],
    );
    // A success whose collection is missing.
    fault(
        &world,
        &json!({"route": "GET /v1.0/users", "kind": "respond", "status": 200, "body": {"@odata.context": "x"}}),
    );
    assert_read_fails(&world, &["it has no `value` array"]);
    // A success that holds Graph's error instead (a gateway's answer): its code and message.
    fault(
        &world,
        &json!({"route": "GET /v1.0/users", "kind": "respond", "status": 200, "body": {"error": {
            "code": "Authorization_RequestDenied",
            "message": "Insufficient privileges to complete the operation."}}}),
    );
    assert_read_fails(
        &world,
        &[
            "GET /v1.0/users (in a $batch): HTTP 200 Authorization_RequestDenied: Insufficient \
           privileges to complete the operation.",
        ],
    );
    // The `$batch` itself answered with Graph's error and status 200.
    fault(
        &world,
        &json!({"route": "POST /v1.0/$batch", "kind": "respond", "status": 200, "body": {
            "error": {"code": "BadRequest", "message": "Invalid batch payload format."}}}),
    );
    assert_read_fails(
        &world,
        &[
            "POST /v1.0/$batch: HTTP 200, but the answer holds Graph's error BadRequest: Invalid \
           batch payload format.",
        ],
    );
    // ... also beside a `value` array: the items may be partial, and are not planned from.
    fault(
        &world,
        &json!({"route": "GET /v1.0/users", "kind": "respond", "status": 200, "body": {
            "value": [], "error": {"code": "Request_Throttled", "message": "partial result"}}}),
    );
    assert_read_fails(
        &world,
        &["GET /v1.0/users (in a $batch): HTTP 200 Request_Throttled: partial result"],
    );
    // An item that failed outright.
    fault(
        &world,
        &json!({"route": "GET /v1.0/users", "kind": "status", "status": 500}),
    );
    assert_read_fails(&world, &["HTTP 500"]);
    // A listing that leaves assignees out: they are asked for by id, and since Graph still has
    // them, the read is incomplete — not a reason to deactivate them as deleted.
    fault(
        &world,
        &json!({"route": "GET /v1.0/users", "kind": "respond", "status": 200, "count": 50,
                "body": {"value": []}}),
    );
    assert_read_fails(
        &world,
        &["returns them by id, but not when reading users by id in bulk"],
    );
    // And with the faults gone, nothing changed.
    world.assert_converged();
}

#[test]
fn graph_pages_that_are_not_what_graph_sends_fail_the_read() {
    let world = provisioned_direct_world("safety-graph-shapes");
    let route = "GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo";
    fault(
        &world,
        &json!({"route": route, "kind": "respond", "status": 200, "body": {}}),
    );
    assert_read_fails(
        &world,
        &["appRoleAssignedTo", "the page has no `value` array"],
    );
    fault(
        &world,
        &json!({"route": route, "kind": "respond", "status": 200,
                "body": {"error": {"code": "Request_ResourceNotFound",
                                   "message": "Resource 'x' does not exist."}}}),
    );
    assert_read_fails(
        &world,
        &[
            "appRoleAssignedTo: HTTP 200, but the answer holds Graph's error \
           Request_ResourceNotFound: Resource 'x' does not exist.",
        ],
    );
    // Beside items, Graph's error still fails the read: the items may be partial, and a
    // partial listing planned from would deactivate whoever it left out.
    fault(
        &world,
        &json!({"route": route, "kind": "respond", "status": 200,
                "body": {"value": [], "error": {"code": "Request_Throttled",
                                                "message": "partial\nerror: forged line"}}}),
    );
    assert_read_fails(
        &world,
        &[
            "appRoleAssignedTo: HTTP 200, but the answer holds Graph's error Request_Throttled: \
           partial\\nerror: forged line",
        ],
    );
    fault(
        &world,
        &json!({"route": route, "kind": "respond", "status": 200,
                "body": {"value": [{"id": "a1", "principalType": "User", "appRoleId": "r"}]}}),
    );
    assert_read_fails(&world, &["an item has no `principalId`"]);
    fault(
        &world,
        &json!({"route": route, "kind": "respond", "status": 200,
                "body": {"value": [{"id": "a1", "principalType": "Device", "principalId": "p",
                                    "appRoleId": "r"}]}}),
    );
    assert_read_fails(
        &world,
        &["principalType \"Device\", not User, Group or ServicePrincipal"],
    );
    fault(
        &world,
        &json!({"route": route, "kind": "respond", "status": 200,
                "body": {"value": [], "@odata.nextLink": 7}}),
    );
    assert_read_fails(&world, &["`@odata.nextLink` is 7"]);
    // A next link to another host, or to another port of the same one, would be sent the
    // token: refused before any request.
    let catcher = Catcher::new();
    let same_host_other_port = format!(
        "{}/v1.0/servicePrincipals",
        catcher.url.replace("127.0.0.2", "127.0.0.1")
    );
    for link in [
        format!("{}/v1.0/servicePrincipals", catcher.url),
        same_host_other_port,
    ] {
        fault(
            &world,
            &json!({"route": route, "kind": "respond", "status": 200,
                    "body": {"value": [], "@odata.nextLink": link}}),
        );
        // Named with the request whose answer carried it.
        assert_read_fails(
            &world,
            &[
                "Microsoft Graph GET /v1.0/servicePrincipals",
                "`@odata.nextLink` leads away from",
            ],
        );
    }
    assert!(!catcher.caught(), "the token was sent elsewhere");
    world.assert_converged();
}

#[test]
fn salesforce_pages_that_are_not_what_salesforce_sends_fail_the_read() {
    let world = provisioned_direct_world("safety-soql-shapes");
    let route = "GET /services/data/{v}/query";
    for (body, expected) in [
        (
            json!({"totalSize": 0, "done": true}),
            "a page has no `records` array",
        ),
        (
            json!({"totalSize": 3, "done": false, "records": [{}]}),
            "`done` is false, but there is no `nextRecordsUrl`",
        ),
        // A page before the last holds records: a chain of empty ones would never end.
        (
            json!({"totalSize": 3, "done": false, "records": [],
                   "nextRecordsUrl": "/services/data/v62.0/query/01gEMPTY-2000"}),
            "a page before the last has no records",
        ),
        // More rows than promised fail at once, not at the end of the chain.
        (
            json!({"totalSize": 1, "done": false, "records": [{}, {}],
                   "nextRecordsUrl": "/services/data/v62.0/query/01gMORE-2000"}),
            "totalSize is 1, but 2 records arrived",
        ),
        // Query-more paths only: never another host, nor another resource of the instance
        // (which would be sent the token), nor another version's.
        (
            json!({"totalSize": 3, "done": false, "records": [{}],
                   "nextRecordsUrl": "//elsewhere.example/services/data/v62.0/query/01g-2000"}),
            "nextRecordsUrl \"//elsewhere.example/services/data/v62.0/query/01g-2000\" is not a \
             query-more path of API version 62.0",
        ),
        (
            json!({"totalSize": 3, "done": false, "records": [{}],
                   "nextRecordsUrl": "/services/apexrest/export"}),
            "nextRecordsUrl \"/services/apexrest/export\" is not a query-more path",
        ),
        (
            json!({"totalSize": 3, "done": false, "records": [{}],
                   "nextRecordsUrl": "/services/data/v62.0/query/../sobjects/User"}),
            "is not a query-more path",
        ),
        (
            json!({"totalSize": 3, "done": false, "records": [{}],
                   "nextRecordsUrl": "/services/data/v41.0/query/01gOLD-2000"}),
            "is not a query-more path of API version 62.0",
        ),
        // A locator of megabytes is none (and its URL one the HTTP client refuses): refused
        // before any request, cut in the message.
        (
            json!({"totalSize": 3, "done": false, "records": [{}],
                   "nextRecordsUrl": format!("/services/data/v62.0/query/01g{}", "A".repeat(100_000))}),
            "AAAA\"… is not a query-more path",
        ),
        (
            json!({"totalSize": 41, "done": true, "records": []}),
            "totalSize is 41, but 0 records arrived",
        ),
        (
            json!({"totalSize": 1, "done": true, "records": [7]}),
            "a record is 7, not an object",
        ),
        (
            json!({"totalSize": -1, "done": true, "records": []}),
            "`totalSize` is -1, not a count of records",
        ),
        (
            json!({"totalSize": "1", "done": true, "records": [{}]}),
            "`totalSize` is a string, not a count of records",
        ),
        (
            json!({"done": true, "records": []}),
            "a page has no `totalSize`",
        ),
    ] {
        fault(
            &world,
            &json!({"route": route, "kind": "respond", "status": 200, "body": body}),
        );
        assert_read_fails(&world, &["Salesforce query", expected]);
    }
    // Every page answers the query's whole count: a later page's other count is another
    // query's page, or a broken one.
    fault(
        &world,
        &json!({"route": route, "query_contains": "FROM Profile", "kind": "respond", "status": 200,
                "body": {"totalSize": 3, "done": false, "records": [{}],
                         "nextRecordsUrl": "/services/data/v62.0/query/01gCOUNT-1"}}),
    );
    fault(
        &world,
        &json!({"route": "GET /services/data/{v}/query/{id}", "kind": "respond", "status": 200,
                "body": {"totalSize": 5, "done": true, "records": [{}, {}]}}),
    );
    assert_read_fails(
        &world,
        &["totalSize is 3 on the first page and 5 on a later one"],
    );
    world.assert_converged();
}

#[test]
fn salesforce_rows_without_what_every_record_has_fail_the_read() {
    // Protection by profile depends on these: a row that lost them would unprotect the admin.
    let world = World::demo("safety-rows");
    let route = "GET /services/data/{v}/query";
    for (query, body, expected) in [
        (
            "FROM Profile",
            json!({"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Profile"}, "Id": "00e000000000001AAA"}]}),
            "Salesforce query of Profile: the answer is not what roster expects: a record has no Name",
        ),
        (
            "FROM Profile",
            json!({"totalSize": 0, "done": true, "records": []}),
            "Salesforce returned no Profile records",
        ),
        (
            "SELECT Id, Username, Email",
            json!({"totalSize": 1, "done": true, "records": [{"Id": "005000000000001AAA", "Username": "admin@contoso.com.dev1"}]}),
            "Salesforce query of User: the answer is not what roster expects: a record has no Email",
        ),
        // One record in two forms of its id is one record listed twice.
        (
            "FROM Profile",
            json!({"totalSize": 2, "done": true, "records": [
                {"Id": "00e000000000001AAA", "Name": "Standard User"},
                {"Id": "00e000000000001", "Name": "System Administrator"}]}),
            "Salesforce query of Profile: the answer is not what roster expects: \
             00e000000000001AAA is listed twice",
        ),
        // A Group answered as a queue too (All_Sales, a public group, has this id in the demo):
        // the queue's grants would be written to the group.
        (
            "Type = 'Queue'",
            json!({"totalSize": 1, "done": true, "records": [
                {"Id": "00G8c0000000001EAA", "DeveloperName": "Support_Tier_1", "Name": "Support Tier 1"}]}),
            "00G8c0000000001EAA is listed twice",
        ),
        (
            "FROM PermissionSet WHERE",
            json!({"totalSize": 2, "done": true, "records": [
                {"Id": "0PS000000000001GAA", "Name": "Sales_Cloud_User"},
                {"Id": "0ps000000000001gaa", "Name": "Reports_Export"}]}),
            "Salesforce query of PermissionSet: the answer is not what roster expects: \
             0PS000000000001GAA is listed twice",
        ),
    ] {
        fault(
            &world,
            &json!({"route": route, "query_contains": query, "kind": "respond", "status": 200, "body": body}),
        );
        assert_read_fails(&world, &[expected]);
    }
}

/// A User answer whose record id is not an id (the path and escape an attacker would send)
/// fails the read of `apply` as of `plan`: nothing is written. Before, it was planned, and an
/// apply made its creates, then stopped at Salesforce's `MALFORMED_ID` half done. The same for
/// an assignment whose assignee is not a User.
#[test]
fn record_ids_that_are_not_ids_fail_the_read_and_apply_writes_nothing() {
    let world = World::demo("safety-ids");
    let snapshot = world.roster(&["snapshot", "--out", "snap"]);
    assert_eq!(snapshot.code, 0, "{}", snapshot.stderr);
    let target: Value = serde_json::from_str(
        &std::fs::read_to_string(world.scratch.dir.join("snap/salesforce.json")).unwrap(),
    )
    .unwrap();
    let fields: Vec<&str> = target["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let soql = format!("SELECT {} FROM User", fields.join(", "));
    let (status, mut page) =
        world
            .emulator
            .salesforce_send(Method::GET, &format!("query?q={soql}"), &Value::Null);
    assert_eq!(status, 200, "{page}");
    let hostile = "x/../../../../v1.0/users?\u{1b}[31m";
    page["records"][0]["Id"] = json!(hostile);
    let before = world_objects(&world, "User");
    let writes = |world: &World| -> Vec<String> {
        world
            .requests()
            .as_object()
            .unwrap()
            .keys()
            .filter(|route| !route.starts_with("GET") && !route.ends_with("/token"))
            .cloned()
            .collect()
    };
    fault(
        &world,
        &json!({"route": "GET /services/data/{v}/query", "query_contains": "SELECT Id, Username, Email",
                "kind": "respond", "status": 200, "count": 10, "body": page}),
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            r#"Salesforce query of User: the answer is not what roster expects: Id "x/../../../../v1.0/users?\u{1b}[31m" is not a Salesforce record id"#
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains('\u{1b}'), "{}", out.stderr);
    assert_eq!(writes(&world), Vec::<String>::new());
    assert_eq!(world_objects(&world, "User"), before);
    world.emulator.admin_call(Method::DELETE, "faults", None);

    // An assignment whose assignee is a permission set: refused, the record named.
    let permission_set = world_objects(&world, "PermissionSet")[0]["Id"].clone();
    let assignment = json!({"attributes": {"type": "PermissionSetAssignment"},
        "Id": "0Pa000000000001CAA", "AssigneeId": permission_set, "PermissionSetId": permission_set});
    fault(
        &world,
        &json!({"route": "GET /services/data/{v}/query", "query_contains": "FROM PermissionSetAssignment",
                "kind": "respond", "status": 200, "count": 10,
                "body": {"totalSize": 1, "done": true, "records": [assignment]}}),
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "Salesforce query of PermissionSetAssignment: the answer is not what roster expects: \
             AssigneeId \"{}\" is not the id of a User (those start 005) (record \
             0Pa000000000001CAA)",
            permission_set.as_str().unwrap()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(writes(&world), Vec::<String>::new());
    world.emulator.admin_call(Method::DELETE, "faults", None);
    // Without the faults, the same apply converges.
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    world.assert_converged();
}

/// A public group's member may be a group (a nested group, or a role's): read as before, not
/// refused for not being a User. And the apply-time lookup of a login to freeze is held to
/// the same rules: a user answered with two logins is a lookup failure, never a freeze of
/// whichever login came last (here the administrator's).
#[test]
fn a_group_member_that_is_a_group_is_read_and_a_login_lookup_answered_twice_freezes_no_one() {
    let world = World::demo("safety-ids-members");
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let group = |name: &str| id_where(&world, "Group", "DeveloperName", name);
    let (status, answer) = world.emulator.salesforce_send(
        Method::POST,
        "sobjects/GroupMember",
        &json!({"GroupId": group("All_Sales"), "UserOrGroupId": group("Legacy_Partners")}),
    );
    assert_eq!(status, 201, "{answer}");
    world.assert_converged();

    // Liam leaves; Salesforce refuses his deactivation, and the config freezes him instead.
    world.emulator.admin_call(
        Method::PATCH,
        "entra/users/liam.chen@contoso.com",
        Some(&json!({"accountEnabled": false})),
    );
    let user_id = |username: &str| id_where(&world, "User", "Username", username);
    let login_of = |user: &Value| id_where(&world, "UserLogin", "UserId", user.as_str().unwrap());
    let (liam, admin) = (
        user_id("liam.chen@contoso.com.dev1"),
        user_id("admin@contoso.com.dev1"),
    );
    let liam15 = liam.as_str().unwrap()[..15].to_owned();
    fault(
        &world,
        &json!({"route": "GET /services/data/{v}/query", "query_contains": "FROM UserLogin WHERE UserId IN",
                "kind": "respond", "status": 200, "count": 10,
                "body": {"totalSize": 2, "done": true, "records": [
                    {"Id": login_of(&liam), "UserId": liam},
                    {"Id": login_of(&admin), "UserId": liam15}]}}),
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("LOOKUP_FAILED") && out.stdout.contains("has two UserLogin records"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let frozen: Vec<Value> = world_objects(&world, "UserLogin")
        .into_iter()
        .filter(|l| l["IsFrozen"] == true)
        .map(|l| l["UserId"].clone())
        .collect();
    assert!(!frozen.contains(&admin), "the administrator was frozen");
}

#[test]
fn graph_members_without_their_selected_properties_fail_the_read() {
    let world = World::demo("safety-members");
    let route = "GET /v1.0/groups/{id}/members";
    let member = |kind: &str, extra: Value| {
        let mut user = json!({"@odata.type": kind, "id": "0000000e-0000-0000-0000-000000000002",
                              "userPrincipalName": "liam.chen@contoso.com", "displayName": "Liam Chen"});
        for (k, v) in extra.as_object().unwrap() {
            user[k] = v.clone();
        }
        json!({"value": [user]})
    };
    // `accountEnabled` missing is not `null`: a missing property would read as "not disabled".
    fault(
        &world,
        &json!({"route": route, "kind": "respond", "status": 200, "count": 10,
                "body": member("#microsoft.graph.user", json!({}))}),
    );
    assert_read_fails(&world, &["lacks the selected property for"]);
    fault(
        &world,
        &json!({"route": route, "kind": "respond", "status": 200, "count": 10,
                "body": member("#microsoft.graph.user", json!({"accountEnabled": "false"}))}),
    );
    assert_read_fails(&world, &["has accountEnabled \"false\", not a boolean"]);
    // Text Graph never sends as anything else: refused, not converted into a name.
    for (extra, expected) in [
        (
            json!({"userPrincipalName": 5}),
            "has userPrincipalName 5, not text",
        ),
        (
            json!({"displayName": {"first": "Liam"}}),
            "has displayName {\"first\":\"Liam\"}, not text",
        ),
    ] {
        fault(
            &world,
            &json!({"route": route, "kind": "respond", "status": 200, "count": 10,
                    "body": member("#microsoft.graph.user", extra)}),
        );
        assert_read_fails(&world, &[expected]);
    }
    fault(
        &world,
        &json!({"route": route, "kind": "respond", "status": 200, "count": 10,
                "body": member("#microsoft.graph.User", json!({}))}),
    );
    assert_read_fails(
        &world,
        &["a member has the unknown type \"#microsoft.graph.User\""],
    );
    // Pages read straight into directory objects still name what is not one.
    for (body, expected) in [
        (json!({"value": [5]}), "a member is 5, not an object"),
        (
            json!({"value": [{"@odata.type": "#microsoft.graph.user", "id": " "}]}),
            "`id` is empty",
        ),
        (json!({"value": "members"}), "the page has no `value` array"),
        (
            json!({"value": [{"@odata.type": "#microsoft.graph.user"}]}),
            "an item has no `id`",
        ),
    ] {
        fault(
            &world,
            &json!({"route": route, "kind": "respond", "status": 200, "count": 10, "body": body}),
        );
        assert_read_fails(&world, &[expected]);
    }
}

/// A user listed twice with different values (Entra changed during the read, or its replicas
/// disagreed) is planned from the copy read last, and the plan says so; identical copies (a user
/// in two groups) say nothing.
#[test]
fn a_user_read_twice_with_different_values_is_named_in_a_warning() {
    let world = World::demo("safety-twice");
    let plan = world.roster(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(!plan.stderr.contains("was read twice"), "{}", plan.stderr);
    let liam = |enabled: bool, title: &str| {
        json!({"@odata.type": "#microsoft.graph.user", "id": "0000000e-0000-0000-0000-000000000002",
               "accountEnabled": enabled, "department": "Sales", "displayName": "Liam Chen",
               "employeeId": "E1002", "employeeType": "Employee", "givenName": "Liam",
               "jobTitle": title, "mail": "liam.chen@contoso.com", "mailNickname": "liam.chen",
               "preferredLanguage": "en-US", "surname": "Chen",
               "userPrincipalName": "liam.chen@contoso.com"})
    };
    fault(
        &world,
        &json!({"route": "GET /v1.0/groups/{id}/members", "kind": "respond", "status": 200,
                "count": 10, "body": {"value": [liam(true, "Account Executive"),
                                                liam(false, "Former Account Executive")]}}),
    );
    let plan = world.roster(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let both = format!("{}{}", plan.stdout, plan.stderr);
    assert!(
        both.contains(
            "user \"liam.chen@contoso.com\" was read twice with different accountEnabled, \
             jobTitle: roster plans the copy read last, from the members of group"
        ),
        "{both}"
    );
    // Each such warning once, however often the same copies were read.
    let warnings: Vec<&str> = both
        .lines()
        .filter(|l| l.contains("was read twice"))
        .collect();
    let distinct: std::collections::HashSet<&str> = warnings.iter().copied().collect();
    assert_eq!(warnings.len(), distinct.len(), "{both}");
    // The copy read last is the one planned: Liam is disabled in it, so out of scope.
    assert!(
        both.contains("liam.chen@contoso.com") && both.contains("out of scope"),
        "{both}"
    );
}

#[test]
fn a_page_that_leads_back_to_itself_fails_instead_of_paging_forever() {
    let world = World::demo("safety-loop");
    let sp = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
    let next = format!(
        "{}/v1.0/servicePrincipals/{sp}/appRoleAssignedTo?$skiptoken=loop",
        world.emulator.base
    );
    fault(
        &world,
        &json!({"route": "GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo", "kind": "respond",
                "status": 200, "count": 100, "body": {"value": [], "@odata.nextLink": next}}),
    );
    assert_read_fails(&world, &["leads back to a page already read"]);
    let page = json!({"totalSize": 5, "done": false,
                      "records": [{"Id": "00e000000000001AAA", "Name": "Standard User"}],
                      "nextRecordsUrl": "/services/data/v62.0/query/01gLOOP-2000"});
    fault(
        &world,
        &json!({"route": "GET /services/data/{v}/query", "query_contains": "FROM Profile",
                "kind": "respond", "status": 200, "body": page}),
    );
    fault(
        &world,
        &json!({"route": "GET /services/data/{v}/query/{id}", "kind": "respond", "status": 200,
                "count": 100, "body": page}),
    );
    assert_read_fails(&world, &["leads back to a page already read"]);
}

/// Graph's next links page the resource listed; one that leads to another resource on Graph's
/// own host (every user of the tenant, another group's members) would be read as more of this
/// one — a group's members gaining the whole tenant — and fails the read instead.
#[test]
fn a_next_link_to_another_resource_fails_the_read() {
    let world = World::demo("safety-next-elsewhere");
    for elsewhere in [
        "/v1.0/users?$select=id,userPrincipalName&$top=999",
        "/v1.0/groups/00000000-0000-4000-8000-00000000dead/members?$top=999",
    ] {
        let next = format!("{}{elsewhere}", world.emulator.base);
        fault(
            &world,
            &json!({"route": "GET /v1.0/groups/{id}/members", "kind": "respond",
                    "status": 200, "count": 100, "body": {"value": [], "@odata.nextLink": next}}),
        );
        let path = elsewhere.split('?').next().unwrap_or_default();
        assert_read_fails(
            &world,
            &[&format!(
                "`@odata.nextLink` leads to another resource ({path}) than the one listed (/v1.0/groups/"
            )],
        );
    }
}

#[test]
fn a_deleted_assignee_is_named_and_its_deactivation_counts() {
    let world = provisioned_direct_world("safety-deleted");
    world.emulator.admin_call(
        Method::DELETE,
        "entra/users/user7@example.com",
        Some(&json!({"keep_assignments": true})),
    );
    let out = world.roster(&["plan"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "Assigned, but deleted in Entra (1): no Entra user links their Salesforce user any \
             more, so it is treated as out of scope:\n  - User 7 (cccccccc-0000-4000-8000-000000000007)"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("# salesforce_user[\"user7@example.com.dev1\"] will be deactivated"),
        "{}",
        out.stdout
    );
    let plan = world.plan_json();
    assert_eq!(plan["deleted_in_entra"][0]["display_name"], "User 7");
    assert_eq!(plan["safety"]["deactivations"], 1);
    let markdown = world.roster(&["plan", "--format", "markdown"]);
    assert!(
        markdown.stdout.contains("Assigned, but deleted in Entra"),
        "{}",
        markdown.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// 3. An edited saved plan is never applied.

/// The id of the `object` record of `world` whose `field` is `value`.
fn id_where(world: &World, object: &str, field: &str, value: &str) -> Value {
    world_objects(world, object)
        .into_iter()
        .find(|record| record[field] == value)
        .unwrap_or_else(|| panic!("the world has a {object} whose {field} is {value}"))["Id"]
        .clone()
}

fn world_objects(world: &World, object: &str) -> Vec<Value> {
    world.emulator.admin_call(Method::GET, "world", None)["salesforce"]["objects"][object]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The change `plan` (JSON) makes to the Salesforce user `id`.
fn change_to<'p>(plan: &'p Value, id: &Value) -> &'p Value {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target_id"] == *id)
        .unwrap_or_else(|| panic!("no change to {id}: {plan}"))
}

/// Asserts `plan` (JSON) changes none of `accounts` (Salesforce users as the world holds them).
fn no_change_to(plan: &Value, accounts: &[&Value]) {
    for account in accounts {
        assert!(
            !plan["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["target_id"] == account["Id"]),
            "{account} is acted on: {plan}"
        );
    }
}

/// The error item (a conflict, say) `plan` (JSON) has for `key`.
fn error_for<'p>(plan: &'p Value, key: &str) -> &'p Value {
    plan["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == key)
        .unwrap_or_else(|| panic!("no error item for {key}: {plan}"))
}

fn user_by_username(world: &World, username: &str) -> Value {
    world_objects(world, "User")
        .into_iter()
        .find(|u| {
            u["Username"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(username)
        })
        .unwrap_or_else(|| panic!("no user {username}"))
}

/// Applies `plan` (a saved plan, edited) and asserts it is refused as stale with `expected`
/// in the message, and that nothing was written.
fn assert_refused(world: &World, plan: &Value, expected: &str) {
    let writes = world.requests_to("composite") + world.requests_to("jobs/ingest");
    let logged = world.audit().len();
    world.scratch.write("edited.json", plan.to_string());
    let out = world.roster(&["apply", "edited.json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("Saved plan is stale"), "{}", out.stderr);
    assert!(
        out.stderr.contains(expected),
        "{expected:?} not in {}",
        out.stderr
    );
    assert_eq!(
        world.requests_to("composite") + world.requests_to("jobs/ingest"),
        writes,
        "nothing was written"
    );
    assert_eq!(
        world.audit().len(),
        logged,
        "a refused apply writes no audit line"
    );
}

#[test]
fn an_edited_saved_plan_is_refused_and_nothing_is_written() {
    let world = World::demo("safety-tamper");
    assert_eq!(world.roster(&["plan", "--out", "plan.json"]).code, 0);
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(world.scratch.dir.join("plan.json")).unwrap(),
    )
    .unwrap();
    let admin = user_by_username(&world, "admin@contoso.com.dev1");
    let deactivate = |user: &Value| {
        json!({
            "action": "deactivate", "key": user["Username"], "situation": "orphaned",
            "reason": "orphaned", "source_id": null, "target_id": user["Id"],
            "before": {"IsActive": true}, "after": {"IsActive": false}, "labels": {},
            "unchanged": 0, "grants": {"add": [], "remove": []},
            "fingerprint": user["SystemModstamp"],
        })
    };

    // A deactivation of the protected admin, fingerprint and all.
    let mut plan = saved.clone();
    plan["changes"]
        .as_array_mut()
        .unwrap()
        .push(deactivate(&admin));
    assert_refused(
        &world,
        &plan,
        "admin@contoso.com.dev1: the saved plan would deactivate this user; a plan made now would not",
    );

    // An update that also makes the user a System Administrator.
    let sysadmin = world_objects(&world, "Profile")
        .into_iter()
        .find(|p| p["Name"] == "System Administrator")
        .unwrap();
    let mut plan = saved.clone();
    let update = plan["changes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["action"] == "update")
        .unwrap();
    update["after"]["ProfileId"] = sysadmin["Id"].clone();
    let key = update["key"].as_str().unwrap().to_owned();
    assert_refused(
        &world,
        &plan,
        &format!(
            "{key}: update differs: ProfileId = {} in the saved plan",
            sysadmin["Id"]
        ),
    );

    // A change without its fingerprint.
    let mut plan = saved.clone();
    let update = plan["changes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["action"] == "update")
        .unwrap();
    update.as_object_mut().unwrap().remove("fingerprint");
    assert_refused(&world, &plan, "the saved change has no fingerprint");

    // A change copied, and a key roster does not write.
    let mut plan = saved.clone();
    let copy = plan["changes"][0].clone();
    plan["changes"].as_array_mut().unwrap().push(copy);
    assert_refused(
        &world,
        &plan,
        "change(s) for this user, a plan made now has 1",
    );
    let mut plan = saved.clone();
    plan["changes"][0]["approved_by"] = json!("mallory");
    world.scratch.write("edited.json", plan.to_string());
    let out = world.roster(&["apply", "edited.json"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("unknown field `approved_by`"),
        "{}",
        out.stderr
    );
    world.scratch.write("edited.json", "[]");
    let out = world.roster(&["apply", "edited.json"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("a plan is a JSON object"),
        "{}",
        out.stderr
    );

    // Untouched, the same file applies.
    let out = world.roster(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    world.assert_converged();
}

/// A saved plan's counts (the summary a reviewer reads first) are never acted on: `apply` goes
/// by the changes, which a plan made now must match. An edit to them is named, by `apply` as by
/// `show`, and the changes are applied as reviewed.
#[test]
fn an_edited_summary_is_named_by_show_and_apply_and_never_acted_on() {
    let world = World::demo("safety-summary");
    assert_eq!(world.roster(&["plan", "--out", "plan.json"]).code, 0);
    let mut plan: Value = serde_json::from_str(
        &std::fs::read_to_string(world.scratch.dir.join("plan.json")).unwrap(),
    )
    .unwrap();
    let changes = plan["changes"].as_array().unwrap().len();
    assert!(plan["summary"]["create"].as_u64().unwrap() > 0, "{plan}");
    plan["summary"]["create"] = json!(0);
    world.scratch.write("edited.json", plan.to_string());
    let warning = "edited.json's summary, headline or deactivation count does not match its \
                   changes (was it edited?): ";

    let shown = world.roster(&["show", "edited.json"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown
            .stderr
            .contains(&format!("{warning}shown as its changes count")),
        "{}",
        shown.stderr
    );

    let applied = world.roster(&["apply", "edited.json"]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    assert!(
        applied.stderr.contains(&format!(
            "{warning}apply goes by the changes alone, as planned again now"
        )),
        "{}",
        applied.stderr
    );
    assert_eq!(
        world.audit().len(),
        changes,
        "every change reviewed is applied"
    );

    // The plan as written is applied without a word about it.
    assert_eq!(world.roster(&["plan", "--out", "again.json"]).code, 0);
    let clean = world.roster(&["apply", "again.json"]);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    assert!(!clean.stderr.contains("was it edited"), "{}", clean.stderr);
}

#[test]
fn deactivations_appended_to_a_saved_plan_are_refused_whatever_its_safety_block_says() {
    let world = provisioned_direct_world("safety-tamper-threshold");
    assert_eq!(world.roster(&["plan", "--out", "plan.json"]).code, 0);
    let mut plan: Value = serde_json::from_str(
        &std::fs::read_to_string(world.scratch.dir.join("plan.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(plan["changes"], json!([]));
    for user in world_objects(&world, "User")
        .iter()
        .filter(|u| u["Username"] != "integration@example.com.dev1")
        .take(8)
    {
        plan["changes"].as_array_mut().unwrap().push(json!({
            "action": "deactivate", "key": user["Username"], "situation": "orphaned",
            "reason": "orphaned", "source_id": null, "target_id": user["Id"],
            "before": {"IsActive": true}, "after": {"IsActive": false}, "labels": {},
            "unchanged": 0, "grants": {"add": [], "remove": []},
            "fingerprint": user["SystemModstamp"],
        }));
    }
    // The plan's own safety block still says "not exceeded": it is never read.
    plan["summary"]["deactivate"] = json!(8);
    assert_eq!(plan["safety"]["exceeded"], false);
    assert_refused(&world, &plan, "the saved plan would deactivate this user");
    let active = world_objects(&world, "User")
        .iter()
        .filter(|u| u["IsActive"] == true)
        .count();
    assert_eq!(active, 41, "nobody was deactivated");
}

#[test]
fn deactivations_split_into_targeted_plans_still_meet_the_threshold() {
    let world = World::demo("safety-targeted-threshold");
    let path = world.scratch.dir.join("roster.yaml");
    let config = std::fs::read_to_string(&path).unwrap();
    assert!(config.contains("max_deactivations: 5"));
    std::fs::write(
        &path,
        config.replace("max_deactivations: 5", "max_deactivations: 1"),
    )
    .unwrap();
    let plan = world.roster(&["plan", "--format", "json"]);
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let deactivation = first_of(&plan, "deactivate");
    let key = deactivation["key"].as_str().unwrap();
    // The plan is shown and saved, and exits 1: over the threshold, it is refused as it stands.
    let planned = world.roster(&["plan", "--target", key, "--out", "one.json"]);
    assert_eq!(planned.code, 1, "{}", planned.stderr);
    assert!(
        planned
            .stdout
            .contains("Safety: 1 deactivation (with 1 more waiting outside --target), more than safety.max_deactivations allows (1)"),
        "{}",
        planned.stdout
    );
    let out = world.roster(&["apply", "one.json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("the plan has 1 deactivation, and 1 more wait outside --target: 2 in all"),
        "{}",
        out.stderr
    );
    let out = world.roster(&["apply", "one.json", "--allow-deactivations", "2"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("warning: this plan is limited to --target"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_entra_change_after_the_plan_makes_it_stale() {
    let world = World::demo("safety-entra-stale");
    assert_eq!(world.roster(&["plan", "--out", "plan.json"]).code, 0);
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(world.scratch.dir.join("plan.json")).unwrap(),
    )
    .unwrap();
    let create = first_of(&saved, "create");
    let key = create["key"].as_str().unwrap();
    // The new hire is disabled in Entra after the plan was reviewed.
    world.emulator.admin_call(
        Method::PATCH,
        &format!("entra/users/{key}"),
        Some(&json!({"accountEnabled": false})),
    );
    let writes = world.requests_to("composite");
    let out = world.roster(&["apply", "plan.json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{key}: the saved plan would create this user; a plan made now would not"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        world.requests_to("composite"),
        writes,
        "nothing was written"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. The audit log says what was done, step by step, whatever stops the apply.

/// Checks every audit line against the emulated org: a step `applied` is in the org, a step
/// `not_attempted` is not; a change is `applied` only when all its steps are.
fn assert_audit_matches_org(world: &World) -> Vec<Value> {
    let audit = world.audit();
    assert!(!audit.is_empty());
    // Every line is what the committed schema says a line is.
    let schema: Value =
        serde_json::from_str(&crate::support::read("schemas/audit-line.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for line in &audit {
        assert!(validator.is_valid(line), "{line}");
    }
    let users = world_objects(world, "User");
    for line in &audit {
        let steps = line["steps"].as_array().unwrap();
        let results: Vec<&str> = steps
            .iter()
            .map(|s| s["result"].as_str().unwrap())
            .collect();
        let expected = if results.contains(&"failed") {
            "failed"
        } else if results.iter().all(|r| *r == "applied") {
            "applied"
        } else if results.iter().all(|r| *r == "not_attempted") {
            "not_attempted"
        } else {
            "incomplete"
        };
        assert_eq!(line["result"], expected, "{line}");
        let user = match line["action"].as_str().unwrap() {
            "create" => users.iter().find(|u| {
                u["Username"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(line["after"]["Username"].as_str().unwrap())
            }),
            _ => users.iter().find(|u| u["Id"] == line["target_id"]),
        };
        for step in steps {
            let name = step["step"].as_str().unwrap();
            let done = step["result"] == "applied";
            assert_ne!(
                step["result"], "failed",
                "no fault makes a step fail here: {line}"
            );
            if name == "create" {
                assert_eq!(user.is_some(), done, "{line}");
            } else if name == "update" || name == "reactivate" {
                let user = user.unwrap();
                let side = if done { "after" } else { "before" };
                // A checkbox written as text ("true") is held as a boolean.
                let held_as = |v: &serde_json::Value| match v {
                    serde_json::Value::Bool(b) => serde_json::Value::String(b.to_string()),
                    other => other.clone(),
                };
                for (field, value) in line[side].as_object().unwrap() {
                    assert_eq!(held_as(&user[field]), held_as(value), "{field} of {line}");
                }
            } else if name == "deactivate" {
                assert_eq!(user.unwrap()["IsActive"] == false, done, "{line}");
            } else if let Some((adding, grant)) = grant_of_step(line, name) {
                // The test's own table: where Salesforce keeps each kind's assignments.
                let kind = grant["kind"].as_str().unwrap();
                let (object, user_field, object_field) = match kind {
                    "permission_set" => {
                        ("PermissionSetAssignment", "AssigneeId", "PermissionSetId")
                    }
                    "permission_set_group" => (
                        "PermissionSetAssignment",
                        "AssigneeId",
                        "PermissionSetGroupId",
                    ),
                    "permission_set_license" => (
                        "PermissionSetLicenseAssign",
                        "AssigneeId",
                        "PermissionSetLicenseId",
                    ),
                    "package_license" => ("UserPackageLicense", "UserId", "PackageLicenseId"),
                    _ => ("GroupMember", "UserOrGroupId", "GroupId"),
                };
                let rows = world_objects(world, object);
                let assignee = user.map_or(Value::Null, |u| u["Id"].clone());
                let exists = rows
                    .iter()
                    .any(|a| a[user_field] == assignee && a[object_field] == grant["id"]);
                assert_eq!(
                    exists,
                    if adding { done } else { !done },
                    "{name} of {line}"
                );
            } else {
                panic!("an unknown step {name}");
            }
        }
    }
    audit
}

/// The grant an audit line's step adds (`true`) or removes, from the line's `grants`: a step is
/// named `add <kind, in words> <name>`.
fn grant_of_step<'l>(line: &'l Value, step: &str) -> Option<(bool, &'l Value)> {
    let (adding, rest) = match step.split_once(' ')? {
        ("add", rest) => (true, rest),
        ("remove", rest) => (false, rest),
        _ => return None,
    };
    let list = &line["grants"][if adding { "add" } else { "remove" }];
    list.as_array()?
        .iter()
        .find(|g| {
            let words = g["kind"]
                .as_str()
                .unwrap_or_default()
                .replace('_', " ")
                .replace("license", "licence");
            rest == format!("{words} {}", g["name"].as_str().unwrap_or_default())
        })
        .map(|g| (adding, g))
}

/// Starts `roster apply --auto-approve ARGS` in the background, its output to a file.
fn spawn_apply(world: &World, args: &[&str]) -> std::process::Child {
    world
        .command()
        .args(["apply", "--auto-approve"])
        .args(args)
        .stdout(std::fs::File::create(world.scratch.dir.join("apply.out")).unwrap())
        .stderr(std::fs::File::create(world.scratch.dir.join("apply.err")).unwrap())
        .spawn()
        .unwrap()
}

fn wait_for_requests(world: &World, route: &str, count: u64) {
    let started = Instant::now();
    while world.requests_to(route) < count {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "no {route}: {}",
            world.requests()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &std::process::Child, name: &str) {
    let sent = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Interrupts an apply of the demo plan with `signal_name` while a request matching `delayed`
/// is held in flight, and checks the report and every audit line.
fn interrupt_while(
    delayed: &Value,
    wait_for: &str,
    args: &[&str],
    signal_name: &str,
) -> Vec<Value> {
    let world = World::demo(&format!(
        "safety-interrupt-{}",
        wait_for.replace(['/', ' ', '{', '}'], "")
    ));
    let mut delay = delayed.clone();
    delay["kind"] = json!("delay");
    delay["ms"] = json!(1500);
    world.emulator.admin("faults", &delay);
    let mut child = spawn_apply(&world, args);
    wait_for_requests(&world, wait_for, 1);
    signal(&child, signal_name);
    let status = child.wait().unwrap();
    let stdout = std::fs::read_to_string(world.scratch.dir.join("apply.out")).unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}");
    let why = if signal_name == "TERM" {
        "terminated (SIGTERM): the requests in flight finished, nothing more was sent"
    } else {
        "interrupted (Ctrl-C): the requests in flight finished, nothing more was sent"
    };
    assert!(stdout.contains(why), "{stdout}");
    assert!(stdout.contains("Apply incomplete."), "{stdout}");
    let audit = assert_audit_matches_org(&world);
    assert_eq!(audit.len(), 30, "every change has its line");
    // And the next apply finishes the job.
    let again = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    world.assert_converged();
    audit
}

fn count(audit: &[Value], result: &str) -> usize {
    audit.iter().filter(|l| l["result"] == result).count()
}

#[test]
fn sigterm_during_user_writes_logs_each_step_as_it_is_in_the_org() {
    let audit = interrupt_while(
        &json!({"route": "POST /services/data/{v}/composite/sobjects", "body_contains": "\"type\":\"User\""}),
        "POST /services/data/{v}/composite/sobjects",
        &[],
        "TERM",
    );
    // The creates in flight finished; their assignments and the deactivations were not sent.
    assert!(count(&audit, "incomplete") > 0, "{audit:?}");
    assert_eq!(
        audit
            .iter()
            .filter(|l| l["action"] == "deactivate")
            .map(|l| &l["result"])
            .collect::<Vec<_>>(),
        ["not_attempted", "not_attempted"]
    );
}

#[test]
fn an_interrupt_during_assignment_writes_logs_each_step_as_it_is_in_the_org() {
    let audit = interrupt_while(
        &json!({"route": "POST /services/data/{v}/composite/sobjects", "body_contains": "PermissionSetAssignment"}),
        "POST /services/data/{v}/composite/sobjects",
        &[],
        "INT",
    );
    assert!(count(&audit, "applied") > 0, "{audit:?}");
    assert_eq!(count(&audit, "not_attempted"), 2, "the deactivations");
}

#[test]
fn an_interrupt_while_polling_a_bulk_job_follows_the_job_to_its_end() {
    let audit = interrupt_while(
        &json!({"route": "GET /services/data/{v}/jobs/ingest/{id}"}),
        "GET /services/data/{v}/jobs/ingest/{id}",
        &["--bulk-threshold", "10"],
        "TERM",
    );
    // The job was submitted: it ran, and roster waited to say so truthfully.
    let creates: Vec<&Value> = audit.iter().filter(|l| l["action"] == "create").collect();
    assert_eq!(creates.len(), 23);
    for create in creates {
        assert_eq!(create["steps"][0]["result"], "applied", "{create}");
    }
}

#[test]
fn a_bulk_job_whose_answer_was_lost_is_looked_up() {
    let world = World::demo("safety-bulk-lost");
    world.emulator.admin(
        "faults",
        &json!({"route": "PATCH /services/data/{v}/jobs/ingest/{id}", "kind": "lose_response"}),
    );
    let out = world.roster(&["apply", "--auto-approve", "--bulk-threshold", "10"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Apply complete! Resources: 23 created"),
        "{}",
        out.stdout
    );
    assert_eq!(count(&assert_audit_matches_org(&world), "applied"), 30);
    world.assert_converged();
}

/// The answer to completing the upload is lost and the job cannot be read either: the apply
/// stops, naming both failures (the job read's last), and looks the records up.
#[test]
fn a_bulk_job_that_cannot_be_read_after_a_lost_answer_names_the_read() {
    let world = World::demo("safety-bulk-unreadable");
    world.emulator.admin(
        "faults",
        &json!({"route": "PATCH /services/data/{v}/jobs/ingest/{id}", "kind": "lose_response"}),
    );
    world.emulator.admin(
        "faults",
        &json!({"route": "GET /services/data/{v}/jobs/ingest/{id}", "kind": "status", "status": 500, "count": 20}),
    );
    let out = world.roster(&["apply", "--auto-approve", "--bulk-threshold", "10"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}\n{}", out.stdout, out.stderr);
    assert!(
        said.contains("to learn whether that took effect failed too") && said.contains("500"),
        "{said}"
    );
    let audit = assert_audit_matches_org(&world);
    assert!(count(&audit, "applied") > 0, "{audit:?}");
}

#[test]
fn writes_whose_every_answer_was_lost_are_looked_up_not_guessed() {
    for (name, route, body) in [
        (
            "updates",
            "PATCH /services/data/{v}/composite/sobjects",
            "Alias",
        ),
        (
            "creates",
            "POST /services/data/{v}/composite/sobjects",
            "Username",
        ),
        (
            "assignments",
            "POST /services/data/{v}/composite/sobjects",
            "PermissionSetId",
        ),
        // Looked up by user, every assignment of the user answers: a permission set's rows
        // have no PermissionSetGroupId, and are not the group's to settle (nor a malformed
        // answer).
        (
            "group-assignments",
            "POST /services/data/{v}/composite/sobjects",
            "PermissionSetGroupId",
        ),
    ] {
        let world = World::demo(&format!("safety-lost-{name}"));
        // The request is carried out and its answer lost; its retry then fails outright: the
        // request failed as a whole, after Salesforce did the work.
        world.emulator.admin(
            "faults",
            &json!({"route": route, "body_contains": body, "kind": "lose_response"}),
        );
        world.emulator.admin(
            "faults",
            &json!({"route": route, "body_contains": body, "kind": "status", "status": 500, "count": 10}),
        );
        let out = world.roster(&["apply", "--auto-approve"]);
        // The request failed after its retries, so the apply stopped; what it sent is in the org.
        assert_eq!(out.code, 1, "{name}: {}\n{}", out.stdout, out.stderr);
        let audit = assert_audit_matches_org(&world);
        let unknown = audit
            .iter()
            .flat_map(|l| l["steps"].as_array().unwrap())
            .filter(|s| s["result"] == "unknown")
            .count();
        assert_eq!(unknown, 0, "{name}: every lost answer was looked up");
        assert!(
            count(&audit, "applied") + count(&audit, "incomplete") > 0,
            "{name}"
        );
        let again = world.roster(&["apply", "--auto-approve"]);
        assert_eq!(again.code, 0, "{name}: {}\n{}", again.stdout, again.stderr);
        world.assert_converged();
    }
}

#[test]
fn a_killed_apply_leaves_only_whole_lines() {
    let world = World::demo("safety-kill");
    world.emulator.admin(
        "faults",
        &json!({"route": "POST /services/data/{v}/composite/sobjects",
                "body_contains": "PermissionSetAssignment", "kind": "delay", "ms": 1500}),
    );
    let mut child = spawn_apply(&world, &[]);
    wait_for_requests(&world, "POST /services/data/{v}/composite/sobjects", 2);
    child.kill().unwrap();
    child.wait().unwrap();
    // What finished before the kill is on record, each line whole.
    let before = world.audit();
    assert!(
        !before.is_empty(),
        "the settled changes were logged before the kill"
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let text = std::fs::read_to_string(world.scratch.dir.join("roster-audit.jsonl")).unwrap();
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    world.assert_converged();
}

// ---------------------------------------------------------------------------------------------
// 5. Config text reaches SOQL only as a field API name.

#[test]
fn field_names_that_are_not_api_names_are_refused_where_they_stand() {
    let scratch = Scratch::new("safety-field-names");
    let demo = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    for target in ["ftp://x", "62.0", "Title, Id FROM User --", "Id"] {
        let config = demo.replacen(
            "mappings:\n",
            &format!("mappings:\n  - {{target: '{target}', source: department}}\n"),
            1,
        );
        let line = config
            .lines()
            .position(|l| l.contains(&format!("target: '{target}'")))
            .unwrap()
            + 1;
        scratch.write("roster.yaml", config);
        let out = scratch.roster(&["validate"]);
        assert_eq!(out.code, 1, "{target}: {}", out.stderr);
        let reason = if target == "Id" {
            "`Id` cannot be mapped: Salesforce assigns it".to_owned()
        } else {
            format!("`{target}` is not a Salesforce field API name")
        };
        assert!(out.stderr.contains(&reason), "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("roster.yaml:{line}:")),
            "{}",
            out.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Files that name people are their owner's alone.

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn plans_snapshots_and_job_summaries_are_owner_only() {
    let world = World::demo("safety-modes");
    let summary = world.scratch.dir.join("summary.md");
    let out = world.roster_env(
        &["plan", "--out", "plan.json"],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(mode(&world.scratch.dir.join("plan.json")), 0o600);
    assert_eq!(mode(&summary), 0o600);
    // A plan saved over a world-readable file narrows it.
    let path = world.scratch.dir.join("plan.json");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    assert_eq!(world.roster(&["plan", "--out", "plan.json"]).code, 0);
    assert_eq!(mode(&path), 0o600);
    let out = world.roster(&["snapshot", "--out", "snap"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(mode(&world.scratch.dir.join("snap/entra.json")), 0o600);
    assert_eq!(mode(&world.scratch.dir.join("snap/salesforce.json")), 0o600);
}

/// The demo's scratch directories left in `dir`.
fn demo_dirs(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("roster-demo-"))
        .collect()
}

#[cfg(unix)]
#[test]
fn the_demo_removes_its_secrets_on_exit_and_on_interrupt() {
    let scratch = Scratch::new("safety-demo");
    let tmp = scratch.dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = crate::support::run_with(
        &scratch.dir,
        &["demo"],
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(demo_dirs(&tmp).is_empty(), "{:?}", demo_dirs(&tmp));

    for name in ["INT", "TERM", "HUP"] {
        let child = crate::support::roster_command()
            // Two seconds a request: the signal lands while the demo is still at work.
            .args(["demo", "--latency-ms", "2000"])
            .current_dir(&scratch.dir)
            .env("TMPDIR", &tmp)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while demo_dirs(&tmp).is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no demo directory"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let secrets = tmp.join(&demo_dirs(&tmp)[0]);
        assert_eq!(mode(&secrets), 0o700);
        signal(&child, name);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("its temporary files are removed"),
            "{stderr}"
        );
        assert!(demo_dirs(&tmp).is_empty(), "{:?}", demo_dirs(&tmp));
    }
}

/// A User row as Salesforce answers the demo config's query: every selected field, null or not.
fn user_row(world: &World, username: &str) -> Value {
    let mut row = user_by_username(world, username);
    for field in [
        "Id",
        "Username",
        "Email",
        "IsActive",
        "ProfileId",
        "UserRoleId",
        "ManagerId",
        "LastModifiedDate",
        "SystemModstamp",
        "FederationIdentifier",
        "FirstName",
        "LastName",
        "Alias",
        "CommunityNickname",
        "Title",
        "Department",
        "EmployeeNumber",
        "TimeZoneSidKey",
        "LocaleSidKey",
        "LanguageLocaleKey",
        "EmailEncodingKey",
        "Entra_Object_Id__c",
    ] {
        row.as_object_mut()
            .unwrap()
            .entry(field)
            .or_insert(Value::Null);
    }
    row
}

#[test]
fn user_rows_of_the_wrong_shape_fail_the_read() {
    // Each would make the planner guess: an IsActive of "false" read as active, a user without
    // a profile unprotecting a protected one, a user listed twice planned twice.
    let world = World::demo("safety-user-rows");
    let admin = user_row(&world, "admin@contoso.com.dev1");
    let page = |rows: Vec<Value>| json!({"totalSize": rows.len(), "done": true, "records": rows});
    let mut text_active = admin.clone();
    text_active["IsActive"] = json!("false");
    let mut no_profile = admin.clone();
    no_profile["ProfileId"] = Value::Null;
    let mut numeric_email = admin.clone();
    numeric_email["Email"] = json!(42);
    for (body, expected) in [
        (
            page(vec![text_active]),
            "IsActive is \"false\", not a boolean",
        ),
        (page(vec![no_profile]), "ProfileId is null, not a string"),
        (page(vec![numeric_email]), "Email is 42, not a string"),
        (page(vec![admin.clone(), admin.clone()]), "is listed twice"),
    ] {
        fault(
            &world,
            &json!({"route": "GET /services/data/{v}/query", "query_contains": "SELECT Id, Username, Email",
                    "kind": "respond", "status": 200, "body": body}),
        );
        assert_read_fails(
            &world,
            &[
                "Salesforce query of User: the answer is not what roster expects",
                expected,
            ],
        );
    }
    // The real answer plans.
    assert_eq!(world.roster(&["plan"]).code, 0);
}

/// Salesforce's internal users (the Automated Process user, API 41.0 and later) hold a profile
/// no Profile query lists. Every real org has one, so the read takes them, and the planner
/// protects them: the demo's, whose Username carries the owned sandbox suffix, would otherwise
/// be deactivated as an orphan, and a person an admin put on such a profile is left alone,
/// with the plan saying so.
#[test]
fn users_on_a_profile_the_org_does_not_list_are_read_and_protected() {
    let world = World::demo("safety-autoproc");
    // The emulator, as Salesforce, answers the user's ProfileId but lists no such profile.
    let autoproc = user_by_username(&world, "autoproc@00d000000000001eaa.dev1");
    let profile = autoproc["ProfileId"].as_str().unwrap().to_owned();
    let (status, profiles) = world.emulator.salesforce_send(
        reqwest::Method::GET,
        "query?q=SELECT+Id,+Name+FROM+Profile",
        &Value::Null,
    );
    assert_eq!(status, 200, "{profiles}");
    let listed = profiles["records"].as_array().unwrap();
    assert!(!listed.is_empty());
    assert!(
        listed.iter().all(|p| p["Id"] != profile.as_str()),
        "{profiles}"
    );
    let plan = world.plan_json();
    let touching = |username: &str| {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["target_id"] == user_by_username(&world, username)["Id"])
            .count()
    };
    assert_eq!(touching("autoproc@00d000000000001eaa.dev1"), 0, "{plan:#}");
    let why = "it is protected (its profile is not among those the org lists, as for \
               Salesforce's internal users such as the Automated Process user), so roster \
               never changes, deactivates or freezes it";
    let explained = world.roster(&["explain", "autoproc@00d000000000001eaa.dev1"]);
    assert_eq!(explained.code, 0, "{}", explained.stderr);
    assert!(explained.stdout.contains(why), "{}", explained.stdout);
    // The JSON says the same (helper-77: it gave no reason).
    let explained = world.roster(&[
        "explain",
        "autoproc@00d000000000001eaa.dev1",
        "--format",
        "json",
    ]);
    assert_eq!(explained.code, 0, "{}", explained.stderr);
    let json: Value = serde_json::from_str(&explained.stdout).unwrap();
    assert_eq!(json["no_change_because"], why, "{json:#}");
    assert_eq!(json["change"], Value::Null);
    // Naming that profile in `protect` is refused — the org does not list it — with the reason
    // it cannot be named, and that its users are protected already.
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    world.scratch.write(
        "roster.yaml",
        config.replace(
            "profiles: [System Administrator]",
            "profiles: [System Administrator, Automated Process]",
        ),
    );
    let refused = world.roster(&["plan"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("the org has no profile named \"Automated Process\"")
            && refused.stderr.contains(
                "1 Salesforce user(s) hold a profile the org's Profile query does not list"
            )
            && refused.stderr.contains("protects the users on it already"),
        "{}",
        refused.stderr
    );
    world.scratch.write("roster.yaml", config);

    // A person on such a profile: a conflict, never linked to it and left as it is.
    let world = World::demo_editing("safety-unlisted-linked", |text| {
        text.replacen(
            "      Profile: Sales Manager\n      FederationIdentifier: ava.martinez@contoso.com",
            "      Profile: Automated Process\n      FederationIdentifier: ava.martinez@contoso.com",
            1,
        )
    });
    let ava = user_by_username(&world, "ava.martinez@contoso.com.dev1")["Id"].clone();
    let plan = world.plan_json();
    assert!(
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["target_id"] != ava),
        "{plan:#}"
    );
    let conflict = plan["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "ava.martinez@contoso.com" && p["kind"] == "conflict")
        .unwrap_or_else(|| panic!("{plan:#}"));
    assert!(
        conflict["reason"]
            .as_str()
            .unwrap()
            .contains("whose profile the org does not list"),
        "{conflict:#}"
    );
}

/// An internal user whose anchor holds the object id of someone roster does not read (a value
/// automation wrote) is named for what it is — a value to clear — not among the protected
/// users "to deprovision by hand if they left" (helper-77).
#[test]
fn an_internal_user_linked_to_someone_gone_is_a_value_to_clear_not_a_person() {
    let world = World::demo_editing("safety-internal-anchored", |text| {
        text.replacen(
            "      Alias: autoproc\n",
            "      Alias: autoproc\n      Entra_Object_Id__c: 0000000e-0000-0000-0000-0000000000ff\n",
            1,
        )
    });
    let plan = world.plan_json();
    let warnings: Vec<&str> = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("internal user(s)")
            && w.contains("clear the value that links them")
            && w.contains("autoproc@00d000000000001eaa.dev1 (anchored to the Entra user")),
        "{warnings:#?}"
    );
    assert!(
        !warnings
            .iter()
            .any(|w| w.contains("deprovision them by hand") && w.contains("autoproc")),
        "{warnings:#?}"
    );
    assert!(
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["key"].as_str().unwrap().starts_with("autoproc")),
        "{plan:#}"
    );
    // A person the read gives whose anchor sits on it (out of scope here, disabled) is a
    // conflict naming the account, where the value to clear is (helper-78: the warning named
    // the person; helper-79: in scope, they were linked to it and never got an account).
    for enabled in ["false", "true"] {
        let world = World::demo_editing("safety-internal-linked", |text| {
            text.replacen(
                "      Alias: autoproc\n",
                "      Alias: autoproc\n      Entra_Object_Id__c: 0000000e-0000-0000-0000-000000000004\n",
                1,
            )
            .replacen(
                "      employeeId: \"E1004\"\n      preferredLanguage: en-US\n      accountEnabled: true",
                &format!(
                    "      employeeId: \"E1004\"\n      preferredLanguage: en-US\n      accountEnabled: {enabled}"
                ),
                1,
            )
        });
        let plan = world.plan_json();
        let conflict = plan["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"] == "emma.johansson@contoso.com" && p["kind"] == "conflict")
            .unwrap_or_else(|| panic!("{plan:#}"));
        let reason = conflict["reason"].as_str().unwrap();
        assert!(
            reason.contains(
                "this user's Entra_Object_Id__c matches Salesforce user \
                 autoproc@00d000000000001eaa.dev1, whose profile the org does not list"
            ) && reason.contains("clear its Entra_Object_Id__c if it is not theirs"),
            "{reason}"
        );
        assert!(
            plan["changes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["key"] != "emma.johansson@contoso.com"),
            "{plan:#}"
        );
    }
}

/// A protected account linked to a person who is out of scope stays active, and the warning
/// names the account, where a person acts, with the person and why (helper-79: it named the
/// Entra user alone).
#[test]
fn a_protected_account_of_someone_out_of_scope_is_named_in_the_warning() {
    let world = World::demo_editing("safety-protected-out", |text| {
        text.replacen(
            "      Alias: sadmin\n",
            "      Alias: sadmin\n      Entra_Object_Id__c: 0000000e-0000-0000-0000-000000000004\n",
            1,
        )
        .replacen(
            "      employeeId: \"E1004\"\n      preferredLanguage: en-US\n      accountEnabled: true",
            "      employeeId: \"E1004\"\n      preferredLanguage: en-US\n      accountEnabled: false",
            1,
        )
    });
    let plan = world.plan_json();
    let warned = plan["warnings"].as_array().unwrap();
    assert!(
        warned.iter().any(|w| {
            let w = w.as_str().unwrap();
            w.contains("deprovision them by hand if they left")
                && w.contains(
                    "admin@contoso.com.dev1 (linked to the Entra user \
                     emma.johansson@contoso.com: disabled in Entra",
                )
        }),
        "{warned:#?}"
    );
    let admin = user_by_username(&world, "admin@contoso.com.dev1")["Id"].clone();
    assert!(
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["target_id"] != admin),
        "{plan:#}"
    );
}

/// A protected account holding a person's object id in its anchor (the Automated Process user,
/// which automation writes to; an administrator's, copied by hand) is no stamp of roster's,
/// which never writes one: when the person's other rules find their own account, the two are
/// a dispute, and neither is deprovisioned (helper-77: the anchor took the link, and the
/// person's own account was deactivated as an orphan).
#[test]
fn a_protected_account_holding_a_persons_anchor_does_not_orphan_their_own() {
    // Liam's own account is active; Henry's inactive, which the plan would reactivate
    // (helper-78: the anchor on a protected account took the link from it).
    for (holder, world_line, person, id) in [
        (
            "autoproc@00d000000000001eaa.dev1",
            "      Alias: autoproc\n",
            "liam.chen",
            "02",
        ),
        (
            "admin@contoso.com.dev1",
            "      Alias: sadmin\n",
            "liam.chen",
            "02",
        ),
        (
            "autoproc@00d000000000001eaa.dev1",
            "      Alias: autoproc\n",
            "henry.tanaka",
            "0e",
        ),
    ] {
        let anchor = format!("      Entra_Object_Id__c: 0000000e-0000-0000-0000-0000000000{id}\n");
        let world = World::demo_editing("safety-protected-anchor", |text| {
            text.replacen(world_line, &format!("{world_line}{anchor}"), 1)
        });
        let account = format!("{person}@contoso.com.dev1");
        let own = user_by_username(&world, &account)["Id"].clone();
        let plan = world.plan_json();
        assert!(
            plan["changes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["target_id"] != own),
            "{holder}: {plan:#}"
        );
        let key = format!("{person}@contoso.com");
        let conflict = plan["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["key"] == key.as_str() && c["kind"] == "conflict")
            .unwrap_or_else(|| panic!("{holder}, {person}: {plan:#}"));
        let reason = conflict["reason"].as_str().unwrap();
        assert!(
            reason.contains(holder)
                && reason.contains(&account)
                && reason.contains("two accounts for one person"),
            "{reason}"
        );
        // explain of the person's own account says the dispute holds it back, inactive or not
        // (helper-79: "inactive already" hid it).
        let explained = world.roster(&["explain", &account, "--format", "json"]);
        assert_eq!(explained.code, 0, "{}", explained.stderr);
        let json: Value = serde_json::from_str(&explained.stdout).unwrap();
        let why = json["no_change_because"].as_str().unwrap_or_default();
        assert!(
            why.contains(&format!("part of {key}'s conflict")),
            "{person}: {json:#}"
        );
    }
}

#[test]
fn a_protected_profile_the_org_lacks_is_a_config_error_not_an_unprotected_admin() {
    let world = World::demo("safety-protect-typo");
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    assert!(
        config.contains("profiles: [System Administrator]"),
        "{config}"
    );
    world.scratch.write(
        "roster.yaml",
        config.replace(
            "profiles: [System Administrator]",
            "profiles: [System Administator]",
        ),
    );
    let out = world.roster(&["plan"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Plan refused"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("the org has no profile named \"System Administator\"")
            && out
                .stderr
                .contains("did you mean \"System Administrator\"?")
            && out.stderr.contains("roster.yaml:"),
        "{}",
        out.stderr
    );
    // explain says the plan is refused rather than "no change for this user", lists why at
    // the places in the file, and fails as plan does (helper-77: it listed nothing, exit 0) —
    // of an Entra user, a Salesforce user, and in JSON.
    for args in [
        &["explain", "ava.martinez@contoso.com"][..],
        &["explain", "former.contractor@contoso.com.dev1"],
        &["explain", "ava.martinez@contoso.com", "--format", "json"],
        // Not assigned, so not read: looked up in Entra (helper-78: exit 0, nothing listed).
        &["explain", "grace.yamamoto@contoso.com"],
        &["explain", "grace.yamamoto@contoso.com", "--format", "json"],
    ] {
        let explained = world.roster(args);
        assert_eq!(explained.code, 1, "{args:?}: {}", explained.stderr);
        assert!(
            explained
                .stdout
                .contains("Plan refused, so no user is changed")
                || explained.stdout.contains("\"plan_refused\"")
                || explained.stdout.contains("grace.yamamoto@contoso.com"),
            "{args:?}: {}",
            explained.stdout
        );
        assert!(
            explained
                .stderr
                .contains("the org has no profile named \"System Administator\"")
                && explained.stderr.contains("roster.yaml:"),
            "{args:?}: {}",
            explained.stderr
        );
    }
}

#[test]
fn a_reused_upn_never_takes_over_the_leavers_account() {
    // Liam leaves (deleted in Entra); Jacob is given Liam's UPN and assigned. Liam's account
    // holds Liam's object id in Entra_Object_Id__c: the UPN rules must not hand it to Jacob.
    let world = World::demo("safety-reused-upn");
    let applied = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    world.emulator.admin_call(
        Method::DELETE,
        "entra/users/0000000e-0000-0000-0000-000000000002",
        None,
    );
    world.emulator.admin_call(
        Method::PATCH,
        "entra/users/0000000e-0000-0000-0000-000000000016",
        Some(&json!({"userPrincipalName": "liam.chen@contoso.com"})),
    );
    world.emulator.admin(
        "entra/assignments",
        &json!({"application": "Salesforce Sandbox",
                "user": "0000000e-0000-0000-0000-000000000016", "role": "Sales_Rep"}),
    );
    let out = world.roster(&["plan", "--format", "json"]);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    let liam = user_by_username(&world, "liam.chen@contoso.com.dev1");
    for change in plan["changes"].as_array().unwrap() {
        assert!(
            !(change["target_id"] == liam["Id"] && change["action"] == "update"),
            "Liam's account handed over: {change}"
        );
    }
    let conflict = error_for(&plan, "liam.chen@contoso.com");
    assert!(
        conflict["reason"]
            .as_str()
            .unwrap()
            .contains("whose Entra_Object_Id__c holds \"0000000e-0000-0000-0000-000000000002\""),
        "{conflict}"
    );
}

#[test]
fn the_user_roster_signs_in_as_is_never_deprovisioned_and_protected_usernames_must_exist() {
    let world = World::demo("safety-api-user");
    let demo = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    let block = "protect:\n  usernames: [admin@contoso.com.dev1, integration@contoso.com.dev1]\n  profiles: [System Administrator]\n";
    assert!(demo.contains(block));
    // No `protect` at all: validate warns, and the integration user is spared all the same.
    world.scratch.write("roster.yaml", demo.replace(block, ""));
    let validated = world.roster(&["validate"]);
    assert!(
        validated.stderr.contains("nothing is protected"),
        "{}",
        validated.stderr
    );
    let out = world.roster(&["plan", "--format", "json"]);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    let keys: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert!(!keys.contains(&"integration@contoso.com.dev1"), "{keys:?}");
    // A protected Username nobody has is a config error with the closest name.
    world.scratch.write(
        "roster.yaml",
        demo.replace(
            "integration@contoso.com.dev1]",
            "integraton@contoso.com.dev1]",
        ),
    );
    let out = world.roster(&["plan"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("no Salesforce user has the Username \"integraton@contoso.com.dev1\"")
            && out
                .stderr
                .contains("did you mean \"integration@contoso.com.dev1\"?"),
        "{}",
        out.stderr
    );
}

#[test]
fn accounts_a_conflict_names_or_a_failed_matching_rule_might_own_are_never_deprovisioned() {
    let world = World::demo("safety-conflict-accounts");
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let path = world.scratch.dir.join("roster.yaml");
    let original = std::fs::read_to_string(&path).unwrap();
    let start = original.find("matching:\n").unwrap();
    let end = original[start..].find("\n\n").unwrap() + start;
    let with_matching = |rules: &str| {
        format!(
            "{}matching:\n{rules}{}",
            &original[..start],
            &original[end..]
        )
    };
    // A careless edit: the only rule links no one. Each user's create meets their own
    // account's unique anchor (Entra_Object_Id__c) or Username: conflicts, and those accounts
    // are not orphans to deactivate.
    // Ava was renamed in Entra: her create meets her account on the unique anchor only.
    world.emulator.admin_call(
        Method::PATCH,
        "entra/users/ava.martinez@contoso.com",
        Some(&json!({"userPrincipalName": "ava.smith@contoso.com", "mail": "ava.smith@contoso.com", "surname": "Smith"})),
    );
    std::fs::write(
        &path,
        with_matching("  - {source: '[mail]', target: CompanyName}\n"),
    )
    .unwrap();
    let out = world.roster(&["plan", "--format", "json"]);
    let plan: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stderr));
    assert!(
        plan["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "conflict"),
        "{}",
        plan["errors"]
    );
    let deactivated: Vec<&Value> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "deactivate" || c["action"] == "freeze")
        .collect();
    assert!(deactivated.is_empty(), "{deactivated:?}");
    // Her create meets her own account on a unique field (the anchor, or the nickname her
    // account keeps): a conflict naming that account.
    let errors = plan["errors"].as_array().unwrap();
    let ava = errors.iter().find(|e| e["key"] == "ava.smith@contoso.com");
    assert!(
        ava.is_some_and(|a| a["kind"] == "conflict"
            && a["reason"]
                .as_str()
                .unwrap()
                .contains("held by Salesforce user ava.martinez@contoso.com.dev1")),
        "the unique-field conflict: {ava:?}"
    );
    // A rule that cannot be evaluated for a user (the regex engine gives up): that user is an
    // error item, and no unlinked account is deprovisioned while it might be theirs.
    world.emulator.admin_call(
        Method::PATCH,
        "entra/users/liam.chen@contoso.com",
        Some(&json!({"jobTitle": format!("{}c", "a".repeat(39))})),
    );
    std::fs::write(
        &path,
        with_matching(
            "  - {source: 'IIF(Replace([jobTitle], , \"^(a|aa)+(?!b)$\", , \"\", , ) = \"zzz\", \"nope\", [objectId])', target: Entra_Object_Id__c}\n",
        ),
    )
    .unwrap();
    let out = world.roster(&["plan", "--format", "json"]);
    let plan: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stderr));
    let liam = plan["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "liam.chen@contoso.com")
        .unwrap_or_else(|| panic!("{}", plan["errors"]));
    assert!(
        liam["reason"]
            .as_str()
            .unwrap()
            .contains("cannot be evaluated"),
        "{liam}"
    );
    assert!(
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["action"] != "deactivate" && c["action"] != "freeze"),
        "{}",
        plan["changes"]
    );
    assert!(
        plan["warnings"]
            .to_string()
            .contains("could not be evaluated"),
        "{}",
        plan["warnings"]
    );
}

/// A config naming a sandbox's login URL whose credentials reach a production org: the plan
/// is refused, saying which org was reached, and apply writes nothing.
#[test]
fn a_sandbox_login_url_that_reaches_production_is_refused() {
    let world = World::demo_editing("production-org", |world| {
        world.replacen("  sandbox: dev1\n", "", 1)
    });
    let out = world.roster(&["plan"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("target.login_url (https://test.salesforce.com) is a sandbox's, but the org roster reached")
            && said.contains("is a production org"),
        "{said}"
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("Apply complete"), "{}", out.stdout);
    assert!(world.audit().is_empty(), "nothing applied");
}

/// A token endpoint that quotes the secret it refused (an `error_description` echoing the
/// request, as a proxy or a misconfigured gateway may) never gets it shown: `plan` and `check`
/// print `****` in its place, for Entra's client secret and for Salesforce's.
#[test]
fn a_secret_a_token_endpoint_echoes_is_never_shown() {
    for (route, variable) in [
        ("POST /services/oauth2/token", "SF_CLIENT_SECRET"),
        ("POST /{id}/oauth2", "AZURE_CLIENT_SECRET"),
    ] {
        let emulator = Emulator::start("examples/demo/world.yaml");
        let secret = emulator
            .env
            .iter()
            .find(|(name, _)| name == variable)
            .map(|(_, value)| value.clone())
            .unwrap();
        let scratch = Scratch::new("safety-echoed-secret");
        let config = repo().join("examples/demo/roster.yaml");
        let run = |command: &str| {
            let out = emulator.roster(
                &scratch.dir,
                &["-c", config.to_str().unwrap(), command],
                &[],
            );
            assert_eq!(out.code, 1, "{route} {command}: {}", out.stderr);
            format!("{}{}", out.stdout, out.stderr)
        };
        // Quoted percent-encoded, as a proxy quoting the form it received may: the secret
        // cannot be cut out exactly, so the text is withheld whole.
        let mut encoded = String::new();
        for byte in secret.bytes() {
            let _ = std::fmt::Write::write_fmt(&mut encoded, format_args!("%{byte:02x}"));
        }
        emulator.admin(
            "faults",
            &json!({"route": route, "kind": "respond", "status": 400, "count": 1,
                "body": {"error": "invalid_client",
                         "error_description": format!("request was client_secret={encoded}")}}),
        );
        let shown = run("check");
        assert!(
            !shown.contains(&encoded)
                && shown.contains("(withheld: the reply quotes a credential roster sent)"),
            "{route}: {shown}"
        );
        // Quoted as sent: cut out, the rest of the message kept.
        emulator.admin(
            "faults",
            &json!({"route": route, "kind": "respond", "status": 400, "count": 100,
                "body": {"error": "invalid_client",
                         "error_description": format!("client_secret={secret} is not valid")}}),
        );
        for command in ["plan", "check"] {
            let shown = run(command);
            assert!(
                !shown.contains(&secret) && shown.contains("client_secret=**** is not valid"),
                "{route} {command}: {shown}"
            );
        }
    }
}

/// Two applies at once — a person's beside the scheduled reconcile, in one checkout — would
/// each plan from what the other is changing, and append to one audit log. The second is
/// refused before it reads anything, naming the directory whose lock the first holds; once
/// the first has finished, it runs. An audit log in a directory that does not exist is named
/// before anything is read, too.
#[test]
fn a_second_apply_beside_a_running_one_is_refused_before_reading() {
    let world = World::demo("safety-one-apply");
    // Another process holding the lock: the test itself, as a running apply would.
    let held = std::fs::File::open(&world.scratch.dir).unwrap();
    held.lock().unwrap();
    let before = world.requests_to("");
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.stderr,
        "error: another roster apply is running beside the audit log roster-audit.jsonl (it \
         holds its directory's lock): this one stopped before reading or writing anything; run \
         it again once that one has finished\n"
    );
    assert_eq!(world.requests_to(""), before, "nothing read");
    assert!(world.audit().is_empty(), "nothing written");
    // The same log by another name: a link from another directory to it (helper-58: the
    // second apply ran, and the log claimed every change twice), and a hard link there.
    std::fs::create_dir(world.scratch.dir.join("other")).unwrap();
    std::os::unix::fs::symlink(
        "../roster-audit.jsonl",
        world.scratch.dir.join("other/link.jsonl"),
    )
    .unwrap();
    let out = world.roster(&["apply", "--auto-approve", "--audit-log", "other/link.jsonl"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("another roster apply is running"),
        "{}",
        out.stderr
    );
    std::fs::write(world.scratch.dir.join("roster-audit.jsonl"), "").unwrap();
    std::fs::hard_link(
        world.scratch.dir.join("roster-audit.jsonl"),
        world.scratch.dir.join("other/hard.jsonl"),
    )
    .unwrap();
    let log = std::fs::File::open(world.scratch.dir.join("roster-audit.jsonl")).unwrap();
    log.lock().unwrap();
    drop(held);
    let out = world.roster(&["apply", "--auto-approve", "--audit-log", "other/hard.jsonl"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("another roster apply is running"),
        "{}",
        out.stderr
    );
    drop(log);
    let held = std::fs::File::open(&world.scratch.dir).unwrap();
    held.lock().unwrap();
    assert_eq!(world.requests_to(""), before, "nothing read");
    // An audit log elsewhere is another directory's lock.
    std::fs::create_dir(world.scratch.dir.join("logs")).unwrap();
    let out = world.roster(&["plan", "--out", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = world.roster(&["apply", "plan.json", "--audit-log", "logs/audit.jsonl"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    drop(held);
    let out = world.roster(&[
        "apply",
        "--audit-log",
        "missing/audit.jsonl",
        "--auto-approve",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: cannot lock the audit log's directory missing:"),
        "{}",
        out.stderr
    );
    // Let go: the next apply runs.
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    world.assert_converged();
}

/// The demo world with one more Salesforce user, `entry` (a YAML flow mapping).
fn with_a_salesforce_user(demo: &str, entry: &str) -> String {
    demo.replace(
        "    - Username: former.contractor@contoso.com.dev1\n",
        &format!("    - {entry}\n    - Username: former.contractor@contoso.com.dev1\n"),
    )
}

/// A Salesforce user on the Standard User profile, as a world file's flow mapping: `username`,
/// its Email (the Username without `.dev1`), the fields every user needs, and `more`
/// (`Key: value, ...`).
fn standard_user(username: &str, more: &str) -> String {
    let email = username.trim_end_matches(".dev1");
    let alias: String = email
        .chars()
        .filter(char::is_ascii_alphabetic)
        .take(8)
        .collect();
    format!(
        "{{Username: {username}, Email: {email}, LastName: Schmidt, Alias: {alias}, \
         TimeZoneSidKey: America/Los_Angeles, LocaleSidKey: en_US, LanguageLocaleKey: en_US, \
         EmailEncodingKey: UTF-8, Profile: Standard User, {more}}}"
    )
}

/// The demo world (named `name`) with one more Salesforce user, `standard_user(username,
/// more)`; that user as the org holds it; and the demo config's JSON plan.
fn planned_beside(name: &str, username: &str, more: &str) -> (World, Value, Value) {
    let world = World::demo_editing(name, |demo| {
        with_a_salesforce_user(demo, &standard_user(username, more))
    });
    let account = user_by_username(&world, username);
    let plan = serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    (world, account, plan)
}

/// The demo world with one more Entra user, `entry` (a YAML flow mapping), assigned to the
/// application as a Sales Rep.
fn with_a_sales_rep(demo: &str, entry: &str, upn: &str) -> String {
    demo.replacen(
        "      employeeId: \"E1040\"\n      preferredLanguage: en-US\n      accountEnabled: true\n",
        &format!(
            "      employeeId: \"E1040\"\n      preferredLanguage: en-US\n      accountEnabled: true\n    - {entry}\n"
        ),
        1,
    )
    .replace(
        "    - {application: Salesforce Sandbox, user: wyatt.schmidt@contoso.com, role: Sales_Rep}\n",
        &format!(
            "    - {{application: Salesforce Sandbox, user: wyatt.schmidt@contoso.com, role: Sales_Rep}}\n\
             \x20   - {{application: Salesforce Sandbox, user: {upn}, role: Sales_Rep}}\n"
        ),
    )
}

/// The demo world with one more person, `spare1@contoso.com`, assigned as a Sales Rep, and a
/// Salesforce user made by hand for them (`spare1.sf@contoso.com`: not owned, no `.dev1`) that
/// the FederationIdentifier rule links.
fn with_a_hand_made_account(name: &str) -> World {
    World::demo_editing(name, |demo| {
        with_a_sales_rep(
            demo,
            "{id: 0000000e-0000-0000-0000-0000000000f1, userPrincipalName: spare1@contoso.com,\n\
             \x20      mail: spare1@contoso.com, givenName: Spare, surname: N1, displayName: Spare N1,\n\
             \x20      department: Sales, jobTitle: Account Executive, employeeId: E9001,\n\
             \x20      employeeType: Employee,\n\
             \x20      preferredLanguage: en-US, accountEnabled: true}",
            "spare1@contoso.com",
        )
        .replace("{name: Knowledge_PSL, total: 10}", "{name: Knowledge_PSL, total: 30}")
        .replace(
            "feature_licenses: {KnowledgeUser: 10, SupportUser: 10}",
            "feature_licenses: {KnowledgeUser: 30, SupportUser: 30}",
        )
        .replace(
            "    - Username: former.contractor@contoso.com.dev1\n",
            "    - {Username: spare1.sf@contoso.com, Email: spare1@contoso.com, FirstName: Spare,\n\
             \x20      LastName: N1, Alias: sn1, TimeZoneSidKey: America/Los_Angeles,\n\
             \x20      LocaleSidKey: en_US, LanguageLocaleKey: en_US, EmailEncodingKey: UTF-8,\n\
             \x20      Profile: Standard User, FederationIdentifier: spare1@contoso.com}\n\
             \x20   - Username: former.contractor@contoso.com.dev1\n",
        )
    })
}

/// `with_a_hand_made_account` applied once (Spare's account linked and its anchor stamped),
/// and that account.
fn with_spares_account_applied(name: &str) -> (World, Value) {
    let world = with_a_hand_made_account(name);
    let applied = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.transcript());
    let account = user_by_username(&world, "spare1.sf@contoso.com");
    (world, account)
}

/// `explain OBJECT-ID` of a user the plan lists as deleted (helper-61: "Entra has no user")
/// names them and the account anchored to them, whose deactivation the plan holds.
fn explains_the_deleted_user(world: &World, id: &str) {
    let explained = world.roster(&["explain", id]);
    assert_eq!(explained.code, 0, "{}", explained.transcript());
    assert!(
        explained.stdout.contains(&format!(
            "Entra user {id} (Spare N1): assigned to the application, but deleted in Entra: \
             roster treats them as out of scope."
        )) && explained
            .stdout
            .contains("Salesforce user spare1.sf@contoso.com")
            && explained.stdout.contains("will be deactivated"),
        "{}",
        explained.transcript()
    );
    let json: Value =
        serde_json::from_str(&world.roster(&["explain", id, "--format", "json"]).stdout).unwrap();
    assert_eq!(json["entra_user"]["deleted_in_entra"], true, "{json}");
    assert_eq!(
        json["anchored_salesforce_users"][0]["change"]["action"], "deactivate",
        "{json}"
    );
}

/// A leaver taken out of the assigned group is no longer read; roster looks them up by their
/// account's anchor, so `--target` by their UPN reaches the account's deactivation (helper-89:
/// it suggested another person). Deleted from Entra too, they are named by no one; the hint is
/// their own account's Username (an admin renamed it; it carries the UPN as its
/// FederationIdentifier) — which targets the deactivation — not the closest key roster read,
/// another person's (helper-65).
#[test]
fn a_leavers_upn_as_target_points_to_their_account_not_to_a_colleague() {
    let world = World::demo("safety-leaver-upn-target");
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let (_, found) = world.emulator.salesforce_send(
        Method::GET,
        "query?q=SELECT+Id+FROM+User+WHERE+Username+=+'liam.chen@contoso.com.dev1'",
        &Value::Null,
    );
    let id = found["records"][0]["Id"].as_str().unwrap().to_owned();
    let (status, _) = world.emulator.salesforce_send(
        Method::PATCH,
        &format!("sobjects/User/{id}"),
        &json!({"Username": "lchen@contoso.com.dev1"}),
    );
    assert_eq!(status, 204);
    world.emulator.admin(
        "entra/groups/00000006-0000-0000-0000-000000000001/members",
        &json!({"remove": ["liam.chen@contoso.com"]}),
    );
    let deactivation = "# salesforce_user[\"lchen@contoso.com.dev1\"] will be deactivated";
    for typed in ["liam.chen@contoso.com", "Liam.Chen@Contoso.com"] {
        let run = world.roster(&["plan", "--target", typed]);
        assert!(run.stdout.contains(deactivation), "{}", run.transcript());
    }
    world
        .emulator
        .admin_call(Method::DELETE, "entra/users/liam.chen@contoso.com", None);
    for typed in ["liam.chen@contoso.com", "Liam.Chen@Contoso.com"] {
        let run = world.roster(&["plan", "--target", typed]);
        assert_eq!(run.code, 1, "{}", run.transcript());
        assert!(
            run.stderr
                .contains(&format!("--target {typed} names no Entra user"))
                && run.stderr.contains("did you mean lchen@contoso.com.dev1?"),
            "{}",
            run.stderr
        );
    }
    let run = world.roster(&["plan", "--target", "lchen@contoso.com.dev1"]);
    assert!(run.stdout.contains(deactivation), "{}", run.transcript());
    // `explain` points to the same account, live and from a snapshot (helper-91: it said
    // neither Entra nor the org had the user) — his own, though another account's Email carries
    // his name too, an account made before his (helper-93: the lowest id was named).
    let (_, found) = world.emulator.salesforce_send(
        Method::GET,
        "query?q=SELECT+Id+FROM+User+WHERE+Username+=+'ava.martinez@contoso.com.dev1'",
        &Value::Null,
    );
    let (status, answer) = world.emulator.salesforce_send(
        Method::PATCH,
        &format!(
            "sobjects/User/{}",
            found["records"][0]["Id"].as_str().unwrap()
        ),
        &json!({"Email": "liam.chen@contoso.com"}),
    );
    assert_eq!(status, 204, "{answer}");
    let run = world.roster(&["snapshot", "--out", "snap"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    for snapshot in [&[][..], &["--snapshot", "snap"][..]] {
        let run = world.roster(&[&["explain", "liam.chen@contoso.com"][..], snapshot].concat());
        assert_eq!(run.code, 1, "{}", run.transcript());
        assert!(
            run.stderr.contains(
                "; the Salesforce user lchen@contoso.com.dev1 carries it as its \
                 FederationIdentifier, maybe a deleted or renamed Entra user's account: `roster \
                 explain lchen@contoso.com.dev1` shows what the plan does with it"
            ),
            "{}",
            run.stderr
        );
        let run = world.roster(&[&["explain", "lchen@contoso.com.dev1"][..], snapshot].concat());
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert!(run.stdout.contains("deactivate"), "{}", run.transcript());
    }
}

/// A leaver whom no assignment names any more (deleted in Entra with the assignment, or only
/// ever assigned through a group) is still reachable by object id: `--target` keeps the
/// deactivation of the account anchored to them, and `explain` names that account. Before,
/// both said the id named no one, and `--target` suggested the closest id read: another
/// person's (helper-63).
#[test]
fn a_leaver_only_an_anchor_names_is_targeted_and_explained_by_object_id() {
    const SPARE: &str = "0000000e-0000-0000-0000-0000000000f1";
    let (world, account) = with_spares_account_applied("safety-leaver-by-anchor");
    // An import script rewrote the anchor as .NET's `ToString("N")` writes GUIDs, in capitals.
    let (status, answer) = world.emulator.salesforce_send(
        Method::PATCH,
        &format!("sobjects/User/{}", account["Id"].as_str().unwrap()),
        &json!({"Entra_Object_Id__c": SPARE.replace('-', "").to_uppercase()}),
    );
    assert_eq!(status, 204, "{answer}");
    world
        .emulator
        .admin_call(Method::DELETE, &format!("entra/users/{SPARE}"), None);
    for target in [
        format!("{{{}}}", SPARE.to_uppercase()),
        SPARE.replace('-', ""),
    ] {
        let run = world.roster(&[
            "plan",
            "--format",
            "json",
            "--detailed-exitcode",
            "--target",
            &target,
        ]);
        assert_eq!(run.code, 2, "{target}: {}", run.transcript());
        let plan: Value = serde_json::from_str(&run.stdout).unwrap();
        assert!(
            plan["deleted_in_entra"].as_array().unwrap().is_empty(),
            "{plan}"
        );
        assert_eq!(
            plan["changes"].as_array().unwrap().len(),
            1,
            "{target}: {plan}"
        );
        let change = change_to(&plan, &account["Id"]);
        assert_eq!(change["action"], "deactivate");
        // The change names the person by their object id in Graph's form.
        assert_eq!(change["source_id"], SPARE, "{change}");
    }

    let explained = world.roster(&["explain", SPARE]);
    assert_eq!(explained.code, 0, "{}", explained.transcript());
    assert!(
        explained.stdout.contains(&format!(
            "Entra user {SPARE}: Entra has no user with this object id (deleted, or never \
             this tenant's), and no assignment names it: roster treats them as out of scope."
        )) && explained
            .stdout
            .contains("Salesforce user spare1.sf@contoso.com")
            && explained.stdout.contains("will be deactivated"),
        "{}",
        explained.transcript()
    );
    let json: Value = serde_json::from_str(
        &world
            .roster(&["explain", &format!("{{{SPARE}}}"), "--format", "json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(json["entra_user"]["id"], SPARE, "{json}");
    assert_eq!(
        json["anchored_salesforce_users"][0]["change"]["action"], "deactivate",
        "{json}"
    );

    // An id no one has is refused, without suggesting the nearest id, another person's: in
    // any form, and mistyped.
    for typo in [
        "0000000e-0000-0000-0000-0000000000f2",
        "{0000000e00000000000000000000000f2}",
        "0000000e00000000000000000000f1",
    ] {
        let run = world.roster(&["plan", "--target", typo]);
        assert_eq!(run.code, 1, "{}", run.transcript());
        assert!(
            run.stderr.contains("names no Entra user") && !run.stderr.contains("did you mean"),
            "{typo}: {}",
            run.stderr
        );
    }
    let typo = "0000000e-0000-0000-0000-0000000000f2";
    let run = world.roster(&["explain", typo]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains(&format!(
            "neither Entra nor the Salesforce org has a user \"{typo}\" (deleted, or never this \
             tenant's), and no Salesforce user's object-id anchor holds that id"
        )) && !run.stderr.contains("give a userPrincipalName"),
        "{}",
        run.stderr
    );
}

/// A change listed under an Entra user's key names the Salesforce account it touches when that
/// account's Username does not name the person (helper-61: a reviewer saw
/// `salesforce_user["dave@contoso.com"] will be updated` and not that it was Carol's account).
#[test]
fn a_change_names_the_account_when_its_username_does_not_name_the_person() {
    let world = with_a_hand_made_account("safety-account-named");
    let account = user_by_username(&world, "spare1.sf@contoso.com");
    let plan: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    let change = change_to(&plan, &account["Id"]);
    assert_eq!(change["key"], "spare1@contoso.com", "{change}");
    assert!(
        change["reason"].as_str().unwrap().starts_with(
            "linked by FederationIdentifier to Salesforce user spare1.sf@contoso.com;"
        ),
        "{change}"
    );
    let text = world.roster(&["plan"]).stdout;
    assert!(
        text.contains("(linked by FederationIdentifier to Salesforce user spare1.sf@contoso.com;"),
        "{text}"
    );
    // Noah's account is `noah.okafor@contoso.com.dev1`: his key names it, and nothing is added.
    let noah = user_by_username(&world, "noah.okafor@contoso.com.dev1");
    assert!(
        !change_to(&plan, &noah["Id"])["reason"]
            .as_str()
            .unwrap()
            .contains("to Salesforce user"),
        "{plan}"
    );
    // Out of scope, in parentheses (the overview groups reasons by what comes before them).
    world.emulator.admin_call(
        Method::PATCH,
        "entra/users/spare1@contoso.com",
        Some(&json!({"accountEnabled": false})),
    );
    let plan: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    assert_eq!(
        change_to(&plan, &account["Id"])["reason"],
        "out of scope: disabled in Entra (accountEnabled is false) (Salesforce user \
         spare1.sf@contoso.com)"
    );
}

/// Text in the object-id anchor that is no object id ("TBD", an OData filter) links no one: an
/// account no one owns is left as it is, one roster owns goes only as an orphan, and the plan
/// names both (helper-89: the first was deactivated as "anchored to the Entra user TBD").
#[test]
fn an_anchor_that_is_no_object_id_links_no_one() {
    let account = |username: &str, anchor: &str| {
        standard_user(username, &format!("Entra_Object_Id__c: \"{anchor}\""))
    };
    let world = World::demo_editing("safety-anchor-no-id", |demo| {
        let demo = with_a_salesforce_user(demo, &account("hand.made@contoso.com", "TBD"));
        with_a_salesforce_user(
            &demo,
            &account("hand.owned@contoso.com.dev1", "x' or 1 eq 1 or id eq 'y"),
        )
    });
    let unowned = user_by_username(&world, "hand.made@contoso.com");
    let owned = user_by_username(&world, "hand.owned@contoso.com.dev1");
    let plan: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    no_change_to(&plan, &[&unowned]);
    let orphan = change_to(&plan, &owned["Id"]);
    assert_eq!(orphan["situation"], "orphaned", "{orphan}");
    assert_eq!(orphan["source_id"], Value::Null, "{orphan}");
    let warning = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|w| w.contains("no Entra object id"))
        .unwrap_or_else(|| panic!("{}", plan["warnings"]));
    assert!(
        warning.starts_with("2 active Salesforce user(s) no one links hold text that is no Entra object id in Entra_Object_Id__c")
            && warning.contains("hand.made@contoso.com (\"TBD\")")
            && warning.contains("hand.owned@contoso.com.dev1 (\"x' or 1 eq 1 or id eq 'y\")"),
        "{warning}"
    );
}

/// An account a later rule finds for a person, whose object-id anchor holds text that is no
/// object id ("TBD"), is no other person's: it is linked, and the anchor written (helper-90:
/// it was taken for another person's, and the person's create a conflict over it).
#[test]
fn an_account_whose_anchor_is_no_object_id_is_linked_by_a_later_rule() {
    let (_world, account, plan) = planned_beside(
        "safety-anchor-no-id-linked",
        "wyatt.hand@contoso.com",
        "FederationIdentifier: wyatt.schmidt@contoso.com, Entra_Object_Id__c: TBD",
    );
    assert!(
        !plan["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["key"] == "wyatt.schmidt@contoso.com"),
        "{}",
        plan["errors"]
    );
    let change = change_to(&plan, &account["Id"]);
    assert_eq!(change["key"], "wyatt.schmidt@contoso.com", "{change}");
    assert_eq!(change["before"]["Entra_Object_Id__c"], "TBD", "{change}");
    assert!(
        change["after"]["Entra_Object_Id__c"]
            .as_str()
            .is_some_and(|id| id.len() == 36),
        "{change}"
    );
}

/// A person who leaves — unassigned, or deleted in Entra with the assignment kept — loses the
/// Salesforce account roster linked, even one it does not own: the anchor roster stamped on it
/// is the link, as Entra's own provisioning keeps its link and disables the account
/// (helper-60: the plan said "No changes to make").
#[test]
fn a_leaver_loses_the_account_roster_anchored_though_it_does_not_own_it() {
    const SPARE: &str = "0000000e-0000-0000-0000-0000000000f1";
    for deleted in [false, true] {
        let world = with_a_hand_made_account(if deleted {
            "safety-anchored-deleted"
        } else {
            "safety-anchored-unassigned"
        });
        let applied = world.roster(&["apply", "--auto-approve"]);
        assert_eq!(applied.code, 0, "{}", applied.transcript());
        let account = user_by_username(&world, "spare1.sf@contoso.com");
        assert_eq!(account["Entra_Object_Id__c"], SPARE, "linked and stamped");
        if deleted {
            world.emulator.admin_call(
                Method::DELETE,
                &format!("entra/users/{SPARE}"),
                Some(&json!({"keep_assignments": true})),
            );
        } else {
            let state = world.emulator.admin_call(Method::GET, "world", None);
            let assignment = state["entra"]["assignments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["principalId"] == SPARE)
                .unwrap()["id"]
                .clone();
            world.emulator.admin_call(
                Method::DELETE,
                &format!("entra/assignments/{}", assignment.as_str().unwrap()),
                None,
            );
        }
        let out = world.roster(&["plan", "--format", "json"]);
        let plan: Value = serde_json::from_str(&out.stdout).unwrap();
        let change = change_to(&plan, &account["Id"]);
        assert_eq!(change["action"], "deactivate", "{change}");
        assert_eq!(change["source_id"], SPARE, "{change}");
        if deleted {
            explains_the_deleted_user(&world, SPARE);
        }
        // What Graph said of them: deleted, or in the tenant by their name.
        let how = [
            "(spare1@contoso.com), who is in the tenant but not among the application's users",
            "whom Entra has deleted (an assignment still names them)",
        ][usize::from(deleted)];
        let reason = change["reason"].as_str().unwrap();
        let to = format!("anchored (Entra_Object_Id__c) to the Entra user {SPARE} ");
        assert!(reason.contains(&to) && reason.contains(how), "{change}");
        // Unassigned (Entra still has them), and told to leave out-of-scope users as they are:
        // roster says why this one stays.
        if !deleted {
            let config = world.scratch.dir.join("roster.yaml");
            let demo = std::fs::read_to_string(&config).unwrap();
            let ignore = demo.replace("out_of_scope: deactivate", "out_of_scope: ignore");
            world.scratch.write("ignore.yaml", &ignore);
            let ignored: Value = serde_json::from_str(
                &world
                    .roster(&["-c", "ignore.yaml", "plan", "--format", "json"])
                    .stdout,
            )
            .unwrap();
            assert!(
                ignored["warnings"].as_array().unwrap().iter().any(|w| {
                    let w = w.as_str().unwrap();
                    w.contains("stay active, as `deprovision.out_of_scope: ignore` leaves them")
                        && w.contains("spare1.sf@contoso.com")
                }),
                "{ignored}"
            );
            // By the Salesforce Username too: the same reason, not a list of guesses.
            let by_username =
                world.roster(&["-c", "ignore.yaml", "explain", "spare1.sf@contoso.com"]);
            assert!(
                by_username.stdout.contains(&format!(
                    "Plan: no change for this user: it is anchored (Entra_Object_Id__c) to the \
                     Entra user {SPARE}"
                )),
                "{}",
                by_username.transcript()
            );
            let explained = world.roster(&["-c", "ignore.yaml", "explain", "spare1@contoso.com"]);
            assert!(
                explained.stdout.contains(&format!(
                    "it is anchored (Entra_Object_Id__c) to the Entra user {SPARE}"
                )) && explained
                    .stdout
                    .contains("`deprovision.out_of_scope: ignore` leaves it"),
                "{}",
                explained.transcript()
            );
        }
        let applied = world.roster(&["apply", "--auto-approve"]);
        assert_eq!(applied.code, 0, "{}", applied.transcript());
        assert_eq!(
            user_by_username(&world, "spare1.sf@contoso.com")["IsActive"],
            false
        );
        let again: Value =
            serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
        assert_eq!(again["changes"], json!([]), "{again}");
    }
}

/// Two Salesforce accounts for one person, found by different matching rules, are a conflict:
/// Charlotte's active account has no FederationIdentifier (her Username rule finds it), and an
/// old inactive one holds her FederationIdentifier. The first rule that finds one used to win:
/// the plan reactivated the old account and deactivated her active one as an orphan "no Entra
/// user links to" (helper-61).
#[test]
fn two_accounts_found_by_different_rules_are_a_conflict_and_neither_is_touched() {
    let world = with_charlottes_old_account("safety-two-accounts-one-person");
    let active = user_by_username(&world, "charlotte.haddad@contoso.com.dev1");
    let old = user_by_username(&world, "charlotte.x@contoso.com.dev1");
    let plan: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    let conflict = error_for(&plan, "charlotte.haddad@contoso.com");
    let reason = conflict["reason"].as_str().unwrap();
    assert!(
        reason.contains("matching rule 2 (FederationIdentifier")
            && reason.contains("charlotte.x@contoso.com.dev1")
            && reason.contains("rule 3 (Username")
            && reason.contains("two accounts for one person"),
        "{conflict}"
    );
    no_change_to(&plan, &[&active, &old]);
    let applied = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.transcript());
    assert_eq!(
        user_by_username(&world, "charlotte.haddad@contoso.com.dev1")["IsActive"],
        true
    );
    assert_eq!(
        user_by_username(&world, "charlotte.x@contoso.com.dev1")["IsActive"],
        false
    );
}

/// The demo with an old inactive account of Charlotte's that her FederationIdentifier finds,
/// beside her active one that her Username finds.
fn with_charlottes_old_account(name: &str) -> World {
    World::demo_editing(name, |demo| {
        with_a_salesforce_user(
            demo,
            "{Username: charlotte.x@contoso.com.dev1, Email: charlotte.haddad@contoso.com,\n\
             \x20      LastName: Haddad, Alias: chx, TimeZoneSidKey: America/Los_Angeles,\n\
             \x20      LocaleSidKey: en_US, LanguageLocaleKey: en_US, EmailEncodingKey: UTF-8,\n\
             \x20      Profile: Support User, FederationIdentifier: charlotte.haddad@contoso.com,\n\
             \x20      IsActive: false}",
        )
    })
}

/// `--target` reaches a conflict through the person and through either account: a reviewer
/// who targets Charlotte by object id (in braces, as PowerShell writes it), or either account by
/// Username or id, sees the dispute and exit 2. Before, only her userPrincipalName did; by an
/// account or her id the targeted plan said "No changes. Salesforce matches the configuration."
/// and exited 0 with `--detailed-exitcode` (helper-63).
#[test]
fn a_targeted_plan_shows_the_conflict_whichever_way_the_person_is_named() {
    let world = with_charlottes_old_account("safety-target-reaches-conflict");
    let old = user_by_username(&world, "charlotte.x@contoso.com.dev1");
    let old_id = old["Id"].as_str().unwrap();
    for target in [
        "charlotte.haddad@contoso.com",
        "{0000000E-0000-0000-0000-00000000000D}",
        "0000000E00000000000000000000000D",
        "charlotte.haddad@contoso.com.dev1",
        "CHARLOTTE.X@contoso.com.dev1",
        &old_id[..15],
    ] {
        let run = world.roster(&[
            "plan",
            "--format",
            "json",
            "--detailed-exitcode",
            "--target",
            target,
        ]);
        assert_eq!(run.code, 2, "--target {target}: {}", run.transcript());
        let plan: Value = serde_json::from_str(&run.stdout).unwrap();
        let conflict = error_for(&plan, "charlotte.haddad@contoso.com");
        assert!(
            conflict["reason"]
                .as_str()
                .unwrap()
                .contains("two accounts for one person"),
            "--target {target}: {conflict}"
        );
        assert_eq!(plan["errors"].as_array().unwrap().len(), 1, "{target}");
        assert!(plan["changes"].as_array().unwrap().is_empty(), "{target}");
    }
    // Another person's targeted plan leaves her conflict out.
    let run = world.roster(&[
        "plan",
        "--format",
        "json",
        "--target",
        "noah.okafor@contoso.com",
    ]);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        plan["errors"].as_array().unwrap().is_empty(),
        "{}",
        run.stdout
    );
}

/// An anchor holding the object id in braces, as .NET and PowerShell write GUIDs (an import
/// script's `[guid]`), or in capitals, is the person's object id: Noah stays linked to his
/// account, whose anchor the plan rewrites as Graph gives the id. It was taken for another
/// person's, so the plan created a second account and deactivated his as "anchored to the Entra
/// user {...}, who ... no longer exists" (helper-61).
#[test]
fn an_anchor_in_braces_is_the_object_id_it_encloses() {
    const NOAH: &str = "0000000e-0000-0000-0000-000000000003";
    let world = World::demo_editing("safety-anchor-in-braces", |demo| {
        demo.replace(
            "      FederationIdentifier: noah.okafor@contoso.com\n",
            "      FederationIdentifier: noah.okafor@contoso.com\n\
             \x20     Entra_Object_Id__c: \"{0000000E-0000-0000-0000-000000000003}\"\n",
        )
    });
    let noah = user_by_username(&world, "noah.okafor@contoso.com.dev1");
    assert_eq!(
        noah["Entra_Object_Id__c"],
        "{0000000E-0000-0000-0000-000000000003}"
    );
    let plan: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    let changes: Vec<&Value> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["key"] == "noah.okafor@contoso.com" || c["target_id"] == noah["Id"])
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["action"], "update", "{changes:?}");
    assert_eq!(changes[0]["target_id"], noah["Id"], "{changes:?}");
    assert_eq!(
        changes[0]["after"]["Entra_Object_Id__c"], NOAH,
        "{changes:?}"
    );
    let applied = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.transcript());
    let again: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    assert_eq!(again["changes"], json!([]), "{again}");
}

/// A new person given a renamed colleague's old address conflicts over the colleague's
/// account, which the anchor links to the colleague: the conflict names the colleague rather
/// than advising to clear the anchor, which would hand the account over (helper-61).
#[test]
fn a_username_conflict_over_a_colleagues_account_names_the_colleague() {
    let world = World::demo_editing("safety-reused-address", |demo| {
        with_a_sales_rep(
            demo,
            "{id: 0000000e-0000-0000-0000-0000000000f2, userPrincipalName: newbie@contoso.com,\n\
             \x20      mail: newbie@contoso.com, givenName: New, surname: Hire, displayName: New Hire,\n\
             \x20      department: Sales, jobTitle: Account Executive, employeeId: E9002,\n\
             \x20      employeeType: Employee, preferredLanguage: en-US, accountEnabled: false}",
            "newbie@contoso.com",
        )
    });
    let applied = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.transcript());
    world.emulator.admin_call(
        Method::PATCH,
        "entra/users/noah.okafor@contoso.com",
        Some(&json!({"userPrincipalName": "noah.new@contoso.com", "mail": "noah.new@contoso.com"})),
    );
    world.emulator.admin_call(
        Method::PATCH,
        "entra/users/newbie@contoso.com",
        Some(&json!({
            "userPrincipalName": "noah.okafor@contoso.com",
            "mail": "noah.okafor@contoso.com",
            "accountEnabled": true
        })),
    );
    let plan: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    let reason = error_for(&plan, "noah.okafor@contoso.com")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("already belongs to Salesforce user")
            && reason.contains("it is linked to the Entra user noah.new@contoso.com")
            && !reason.contains("correct or clear that field"),
        "{reason}"
    );
    let noah = user_by_username(&world, "noah.okafor@contoso.com.dev1");
    assert_eq!(
        change_to(&plan, &noah["Id"])["after"]["FederationIdentifier"],
        "noah.new@contoso.com"
    );
    // `explain` says what the FederationIdentifier rule found, and why it does not count.
    let explained = world.roster(&["explain", "noah.okafor@contoso.com"]);
    assert!(
        explained.stdout.contains(
            "rule 2: FederationIdentifier = \"noah.okafor@contoso.com\": 0 Salesforce user(s), \
             and noah.okafor@contoso.com.dev1 whose anchor holds another person's value"
        ),
        "{}",
        explained.transcript()
    );
}

/// An account whose anchor holds an object id no one roster knows has (another tenant's, a
/// typo) may still be the person's own: the person's conflict over it holds it back, as
/// before, rather than deactivating it as a leaver's (helper-62: after a refresh from another
/// tenant's production org, every person's only account was deactivated).
#[test]
fn an_account_anchored_to_an_unknown_id_is_held_by_the_conflict_over_it() {
    let (_world, account, plan) = planned_beside(
        "safety-unknown-anchor",
        "wyatt.schmidt@contoso.com.dev1",
        "Entra_Object_Id__c: 99999999-0000-4000-8000-000000000001",
    );
    let reason = error_for(&plan, "wyatt.schmidt@contoso.com")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("already belongs to Salesforce user"),
        "{reason}"
    );
    assert!(
        !plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["target_id"] == account["Id"]),
        "{plan}"
    );
}

/// The demo world with a leaver (no longer assigned, still in the tenant) whose account holds
/// Wyatt's FederationIdentifier, its anchor in .NET's braces and upper case, and an account
/// anchored to an id the tenant does not have.
fn leaver_and_stranger_world(name: &str) -> World {
    World::demo_editing(name, |demo| {
        let demo = with_a_salesforce_user(
            demo,
            &standard_user(
                "gone@contoso.com.dev1",
                "Entra_Object_Id__c: 99999999-0000-4000-8000-0000000000cd",
            ),
        );
        with_a_salesforce_user(
            &demo,
            &standard_user(
                "wyatt.old@contoso.com.dev1",
                "FederationIdentifier: wyatt.schmidt@contoso.com, \
                 Entra_Object_Id__c: \"{99999999-0000-4000-8000-0000000000AB}\"",
            ),
        )
        // The leaver: still in the tenant, assigned no more.
        .replacen(
            "  users:\n",
            "  users:\n    - {id: 99999999-0000-4000-8000-0000000000ab, \
             userPrincipalName: w.schmidt.old@contoso.com, accountEnabled: true}\n",
            1,
        )
    })
}

/// The plan of `leaver_and_stranger_world`: Wyatt's conflict names the leaver, whose account
/// goes as theirs, by name; the stranger's account goes as anchored to no one the tenant has.
fn check_leaver_plan(world: &World, plan: &Value) {
    let account = user_by_username(world, "wyatt.old@contoso.com.dev1");
    let gone = user_by_username(world, "gone@contoso.com.dev1");
    let reason = error_for(plan, "wyatt.schmidt@contoso.com")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("FederationIdentifier")
            && reason.contains(
                "that account is the Entra user 99999999-0000-4000-8000-0000000000ab's by \
                 its Entra_Object_Id__c"
            ),
        "{reason}"
    );
    let change = change_to(plan, &account["Id"]);
    assert_eq!(change["action"], "deactivate", "{change}");
    assert_eq!(change["source_id"], "99999999-0000-4000-8000-0000000000ab");
    let leaver = " (w.schmidt.old@contoso.com), who is in the tenant but not among the \
                  application's users (unassigned, or assigned only through a nested group)";
    let stranger = ", whom the tenant does not have (deleted, or another tenant's user)";
    assert_eq!(
        change["reason"],
        format!(
            "out of scope: anchored (Entra_Object_Id__c) to the Entra user \
             99999999-0000-4000-8000-0000000000ab{leaver}"
        )
    );
    // An account anchored to an id the tenant does not have, which no conflict holds,
    // goes as a leaver's too.
    assert_eq!(
        change_to(plan, &gone["Id"])["reason"],
        format!(
            "out of scope: anchored (Entra_Object_Id__c) to the Entra user \
             99999999-0000-4000-8000-0000000000cd{stranger}"
        )
    );
}

/// An account whose anchor holds the object id of a tenant user no longer assigned to the
/// application is that leaver's, and goes as they did, even while it holds a new hire's
/// value: roster asks Graph for the ids the anchors of active accounts hold that its read did
/// not give (helper-87: the leaver's account stayed active, held by the new hire's conflict,
/// holding the Federation ID the new hire signs in with). Graph refusing the lookup fails the
/// read.
#[test]
fn a_leavers_account_holding_a_new_hires_value_is_deactivated_not_held() {
    let world = leaver_and_stranger_world("safety-unassigned-anchor");
    let live = world.roster(&["plan", "--format", "json"]);
    check_leaver_plan(&world, &serde_json::from_str(&live.stdout).unwrap());
    // Graph refusing the lookup fails the read: no plan that guessed.
    fault(
        &world,
        &json!({"route": "GET /v1.0/users", "kind": "respond", "status": 403, "count": 1,
                "query_contains": "99999999-0000-4000-8000-0000000000ab",
                "body": {"error": {"code": "Authorization_RequestDenied",
                                   "message": "Insufficient privileges to complete the operation."}}}),
    );
    assert_read_fails(
        &world,
        &[
            "reading Microsoft Entra failed: looking up the 2 Entra object id(s) that active \
             Salesforce users' object-id anchors hold",
            "Graph refusing it with 403 means the app registration lacks User.Read.All, which \
             `roster check` checks",
            "Microsoft Graph GET /v1.0/users: HTTP 403 Authorization_RequestDenied",
        ],
    );
}

/// `explain` of a leaver's userPrincipalName that is also their account's Username (as
/// production orgs keep them) shows the account's change and names the Entra user beside it
/// (helper-91: only the Salesforce side was shown, as if no Entra user had the name).
#[test]
fn explain_of_a_username_that_is_a_leavers_upn_names_the_entra_user() {
    const LEAVER: &str = "99999999-0000-4000-8000-0000000000ac";
    let world = World::demo_editing("safety-explain-leaver-username", |demo| {
        with_a_salesforce_user(
            demo,
            &standard_user(
                "sam.leaver@contoso.com",
                &format!("Entra_Object_Id__c: {LEAVER}"),
            ),
        )
        .replacen(
            "  users:\n",
            &format!(
                "  users:\n    - {{id: {LEAVER}, userPrincipalName: sam.leaver@contoso.com, \
                 accountEnabled: true}}\n"
            ),
            1,
        )
    });
    let text = world.roster(&["explain", "Sam.Leaver@contoso.com"]);
    assert_eq!(text.code, 0, "{}", text.transcript());
    assert!(
        text.stdout
            .contains("Salesforce user sam.leaver@contoso.com (")
            && text.stdout.contains("will be deactivated")
            && text.stdout.contains(&format!(
                "sam.leaver@contoso.com is also the userPrincipalName of the Entra user \
                 {LEAVER}, who is in the tenant but not among the application's users"
            )),
        "{}",
        text.stdout
    );
    let json = world.roster(&["explain", "sam.leaver@contoso.com", "--format", "json"]);
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["entra_user"]["id"], LEAVER, "{json}");
    // An account whose Username is no one's userPrincipalName names no Entra user.
    let other = world.roster(&[
        "explain",
        "former.contractor@contoso.com.dev1",
        "--format",
        "json",
    ]);
    let other: Value = serde_json::from_str(&other.stdout).unwrap();
    assert!(other["entra_user"].is_null(), "{other}");
}

/// `explain` of a Username that is also the userPrincipalName of a tenant user never assigned
/// to the application (no anchor names them, so the read never looked them up) asks Entra and
/// names them (helper-92); Graph refusing the question leaves the explanation without the note,
/// and a warning says so.
#[test]
fn explain_of_a_username_that_is_a_never_assigned_users_upn_asks_entra() {
    const PAT: &str = "99999999-0000-4000-8000-0000000000ad";
    let world = World::demo_editing("safety-explain-unassigned-username", |demo| {
        with_a_salesforce_user(demo, &standard_user("pat.never@contoso.com", "")).replacen(
            "  users:\n",
            &format!(
                "  users:\n    - {{id: {PAT}, userPrincipalName: pat.never@contoso.com, \
                     accountEnabled: true}}\n"
            ),
            1,
        )
    });
    let text = world.roster(&["explain", "pat.never@contoso.com"]);
    assert_eq!(text.code, 0, "{}", text.transcript());
    assert!(
        text.stdout
            .contains("Salesforce user pat.never@contoso.com (")
            && text.stdout.contains(&format!(
                "pat.never@contoso.com is also the userPrincipalName of the Entra user {PAT}, \
                 who is in the tenant but not among the application's users"
            )),
        "{}",
        text.stdout
    );
    let json = world.roster(&["explain", "pat.never@contoso.com", "--format", "json"]);
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["entra_user"]["id"], PAT, "{json}");
    assert_eq!(
        json["entra_user"]["user_principal_name"],
        "pat.never@contoso.com"
    );
    // Named by its Salesforce id, the account's Username is asked about just the same.
    let id = json["salesforce_user"]["id"].as_str().unwrap();
    let by_id = world.roster(&["explain", id, "--format", "json"]);
    let by_id: Value = serde_json::from_str(&by_id.stdout).unwrap();
    assert_eq!(by_id["entra_user"]["id"], PAT, "{by_id}");
    fault(
        &world,
        &json!({"route": "GET /v1.0/users/pat.never", "kind": "respond", "status": 403,
                "count": 1,
                "body": {"error": {"code": "Authorization_RequestDenied",
                                   "message": "Insufficient privileges to complete the operation."}}}),
    );
    // Under --quiet too: something was not read (helper-93).
    let refused = world.roster(&["-q", "explain", "pat.never@contoso.com"]);
    assert_eq!(refused.code, 0, "{}", refused.transcript());
    assert!(
        refused
            .stdout
            .contains("Salesforce user pat.never@contoso.com (")
            && !refused.stdout.contains("is also the userPrincipalName")
            && refused.stderr.contains(
                "could not ask Entra whether pat.never@contoso.com is also a userPrincipalName"
            )
            && refused.stderr.contains("403"),
        "{}",
        refused.transcript()
    );
}

/// A snapshot keeps what Graph found: planned from it, the leaver goes as live (also when the
/// list is edited out of order, an id in another form); one taken before roster looked the
/// anchors up plans as before, with a warning; text that is no object id there is refused.
#[test]
fn a_snapshot_keeps_the_leavers_graph_found() {
    let world = leaver_and_stranger_world("safety-unassigned-anchor-snapshot");
    let account = user_by_username(&world, "wyatt.old@contoso.com.dev1");
    let gone = user_by_username(&world, "gone@contoso.com.dev1");
    let taken = world.roster(&["snapshot", "--out", "snap"]);
    assert!(taken.code == 0, "{}", taken.transcript());
    let entra = world.scratch.dir.join("snap/entra.json");
    let mut source: Value =
        serde_json::from_str(&std::fs::read_to_string(&entra).unwrap()).unwrap();
    assert_eq!(
        source["unassigned_users"],
        json!([{"id": "99999999-0000-4000-8000-0000000000ab",
                "user_principal_name": "w.schmidt.old@contoso.com"}])
    );
    let offline = world.roster(&["plan", "--snapshot", "snap", "--format", "json"]);
    check_leaver_plan(&world, &serde_json::from_str(&offline.stdout).unwrap());
    // `explain` from the snapshot knows the leaver, by object id and by name.
    for named in [
        "99999999-0000-4000-8000-0000000000ab",
        "w.schmidt.old@contoso.com",
    ] {
        let explained = world.roster(&["explain", named, "--snapshot", "snap"]);
        assert!(
            explained.stdout.starts_with(
                "Entra user 99999999-0000-4000-8000-0000000000ab (w.schmidt.old@contoso.com): \
                 in the tenant, but not among the application's users"
            ) && explained.stdout.contains("wyatt.old@contoso.com.dev1"),
            "{}",
            explained.transcript()
        );
    }
    // Out of order, and in .NET's braces: what a live read writes, whatever the edit.
    source["unassigned_users"] = json!([
        {"id": "ffffffff-0000-4000-8000-000000000001"},
        {"id": "eeeeeeee-0000-4000-8000-000000000001"},
        {"id": "{99999999-0000-4000-8000-0000000000AB}",
         "user_principal_name": "w.schmidt.old@contoso.com"},
    ]);
    std::fs::write(&entra, source.to_string()).unwrap();
    let edited = world.roster(&["plan", "--snapshot", "snap", "--format", "json"]);
    check_leaver_plan(&world, &serde_json::from_str(&edited.stdout).unwrap());
    // A snapshot taken before roster looked the anchors up: held as yesterday's roster held
    // it, with a warning that says what the snapshot cannot tell.
    source.as_object_mut().unwrap().remove("unassigned_users");
    std::fs::write(&entra, source.to_string()).unwrap();
    let old = world.roster(&["plan", "--snapshot", "snap", "--format", "json"]);
    let old: Value = serde_json::from_str(&old.stdout).unwrap();
    assert!(
        old["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("2 active Salesforce user(s) hold in Entra_Object_Id__c the object id of an Entra user this snapshot neither read nor looked up")),
        "{}",
        old["warnings"]
    );
    no_change_to(&old, &[&account]);
    assert!(
        change_to(&old, &gone["Id"])["reason"]
            .as_str()
            .unwrap()
            .ends_with("whom roster did not read among the application's users (not assigned, assigned only through a nested group, or deleted in Entra)"),
        "{old}"
    );
    // Text that is no object id in the list is refused, where it stands.
    source["unassigned_users"] = json!([{"id": "not-an-id"}]);
    std::fs::write(&entra, source.to_string()).unwrap();
    let refused = world.roster(&["plan", "--snapshot", "snap"]);
    assert_eq!(refused.code, 1, "{}", refused.transcript());
    assert!(
        refused
            .stderr
            .contains("unassigned_users[0] is \"not-an-id\", which is no object id"),
        "{}",
        refused.transcript()
    );
}

/// An active account holding a person's FederationIdentifier, anchored to an id the tenant does
/// not have, is held by the person's conflict (it may be theirs), and the conflict says what
/// it risks if it was a leaver's: whoever signs in with the value reaches it (helper-89: the
/// conflict read the same as for any holder).
#[test]
fn a_conflict_over_an_account_anchored_to_no_user_of_the_tenant_says_what_it_risks() {
    // As Graph writes ids, and as an import script may have stored one: the note quotes the
    // value the field holds, what an admin searches the org for (helper-90).
    for (i, (stored, held)) in [
        (
            "99999999-0000-4000-8000-0000000000ef",
            "99999999-0000-4000-8000-0000000000ef",
        ),
        (
            "'{99999999-0000-4000-8000-0000000000EF}'",
            "\"{99999999-0000-4000-8000-0000000000EF}\" (the object id \
             99999999-0000-4000-8000-0000000000ef)",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (_world, account, plan) = planned_beside(
            &format!("safety-stranger-anchor-risk-{i}"),
            "wyatt.prior@contoso.com.dev1",
            &format!(
                "FederationIdentifier: wyatt.schmidt@contoso.com, Entra_Object_Id__c: {stored}"
            ),
        );
        let reason = error_for(&plan, "wyatt.schmidt@contoso.com")["reason"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            reason
                .starts_with("FederationIdentifier \"wyatt.schmidt@contoso.com\" is already held")
                && reason.ends_with(&format!(
                    "; Salesforce user wyatt.prior@contoso.com.dev1 is active and its \
                     Entra_Object_Id__c holds {held}, no user of this tenant (deleted, or \
                     another tenant's): if it is this user's own account, correct that field; if \
                     it was a leaver's, whoever signs in with the value reaches it — deactivate \
                     it or clear the value"
                )),
            "{reason}"
        );
        no_change_to(&plan, &[&account]);
    }
}

/// An inactive account holds the value a new user's create wants, and its anchor an object id
/// roster knows of no one (the read never looks inactive accounts' anchors up): a leaver's, or
/// the person's own from before Entra deleted and created them again. The conflict says how to
/// give them that account or a new one (helper-91: it said only who holds the value).
#[test]
fn a_conflict_over_an_inactive_account_anchored_to_no_one_says_how_to_settle_it() {
    let (world, account, plan) = planned_beside(
        "safety-inactive-stranger-anchor",
        "wyatt.prior@contoso.com.dev1",
        "FederationIdentifier: wyatt.schmidt@contoso.com, IsActive: false, \
         Entra_Object_Id__c: 99999999-0000-4000-8000-0000000000ef",
    );
    assert_eq!(account["IsActive"], false);
    let reason = error_for(&plan, "wyatt.schmidt@contoso.com")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    // Wyatt's object id in the demo world.
    let wyatt = "0000000e-0000-0000-0000-000000000026";
    assert!(
        reason.starts_with("FederationIdentifier \"wyatt.schmidt@contoso.com\" is already held")
            && reason.ends_with(&format!(
                "; Salesforce user wyatt.prior@contoso.com.dev1 is inactive and its \
                 Entra_Object_Id__c holds 99999999-0000-4000-8000-0000000000ef, an Entra user \
                 roster did not read (a leaver's, this user's from before they were deleted and \
                 created again, or a user's who is not the application's: `roster explain \
                 99999999-0000-4000-8000-0000000000ef` says whose): if it is this user's \
                 account, set its Entra_Object_Id__c to their object id {wyatt} and roster links \
                 and reactivates it; if not, clear or change the value on it to give this user \
                 a new one"
            )),
        "{reason}"
    );
    no_change_to(&plan, &[&account]);
    // The advice holds: with Wyatt's object id in the anchor, the account is his, reactivated.
    let (status, answer) = world.emulator.salesforce_send(
        Method::PATCH,
        &format!("sobjects/User/{}", account["Id"].as_str().unwrap()),
        &json!({"Entra_Object_Id__c": wyatt}),
    );
    assert_eq!(status, 204, "{answer}");
    let plan: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    let change = change_to(&plan, &account["Id"]);
    assert_eq!(change["action"], "reactivate", "{change}");
    assert_eq!(change["key"], "wyatt.schmidt@contoso.com", "{change}");
}

/// The same account protected (a System Administrator's): roster never links or reactivates
/// it, so the conflict does not say an anchor would give it to the person (helper-93).
#[test]
fn a_conflict_over_an_inactive_protected_account_says_only_what_roster_can_do() {
    // Wyatt's conflict, with an inactive System Administrator's account `username` (`more`
    // besides) in the demo world.
    let reason = |name: &str, username: &str, more: &str| {
        let world = World::demo_editing(name, |demo| {
            with_a_salesforce_user(
                demo,
                &standard_user(username, &format!("IsActive: false, {more}"))
                    .replace("Profile: Standard User", "Profile: System Administrator"),
            )
        });
        let plan: Value =
            serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
        error_for(&plan, "wyatt.schmidt@contoso.com")["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let held = reason(
        "safety-inactive-protected-anchor",
        "wyatt.prior@contoso.com.dev1",
        "FederationIdentifier: wyatt.schmidt@contoso.com, \
         Entra_Object_Id__c: 99999999-0000-4000-8000-0000000000ef",
    );
    assert!(
        held.ends_with(
            "; Salesforce user wyatt.prior@contoso.com.dev1 is inactive and protected, so roster \
             never links or reactivates it, and its Entra_Object_Id__c holds \
             99999999-0000-4000-8000-0000000000ef, an Entra user roster did not read: to give \
             this user a new account, clear or change the value on it"
        ),
        "{held}"
    );
    // Holding the Username the create wants, its anchor another id: the same (helper-94).
    let taken = reason(
        "safety-inactive-protected-username",
        "wyatt.schmidt@contoso.com.dev1",
        "Entra_Object_Id__c: 99999999-0000-4000-8000-0000000000ef",
    );
    assert!(
        taken.contains("already belongs to Salesforce user")
            && taken.ends_with(
                "roster does not hand one person's account to another, and it is protected, so \
                 roster never changes or reactivates it, linked or not (this person needs another \
                 Username; or an admin gives them that account by hand)"
            ),
        "{taken}"
    );
}

/// A later rule's account whose anchor holds an id no one roster knows has may be the
/// person's own: it disputes the earlier rule's link, as one without an anchor does, rather than
/// being deactivated as a leaver's (helper-63: the FederationIdentifier rule linked a hand-made
/// account and the person's own `.dev1` account, its anchor a typo, was deactivated).
#[test]
fn a_later_rules_account_anchored_to_an_unknown_id_disputes_the_link() {
    let world = World::demo_editing("safety-unknown-anchor-dispute", |demo| {
        with_a_salesforce_user(
            demo,
            "{Username: charlotte.fed@contoso.com, Email: charlotte.haddad@contoso.com,\n\
             \x20      LastName: Haddad, Alias: chf, TimeZoneSidKey: America/Los_Angeles,\n\
             \x20      LocaleSidKey: en_US, LanguageLocaleKey: en_US, EmailEncodingKey: UTF-8,\n\
             \x20      Profile: Support User, FederationIdentifier: charlotte.haddad@contoso.com}",
        )
        .replace(
            "      Title: Support Lead\n",
            "      Title: Support Lead\n      Entra_Object_Id__c: 99999999-0000-4000-8000-000000000009\n",
        )
    });
    let own = user_by_username(&world, "charlotte.haddad@contoso.com.dev1");
    assert_eq!(
        own["Entra_Object_Id__c"],
        "99999999-0000-4000-8000-000000000009"
    );
    let other = user_by_username(&world, "charlotte.fed@contoso.com");
    let plan: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    let reason = error_for(&plan, "charlotte.haddad@contoso.com")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("links Salesforce user charlotte.fed@contoso.com")
            && reason.contains("finds Salesforce user charlotte.haddad@contoso.com.dev1")
            && reason.contains("two accounts for one person"),
        "{reason}"
    );
    no_change_to(&plan, &[&own, &other]);
}

/// A leaver's account is not held back by another person's conflict over it: Spare is deleted
/// in Entra, and Wyatt renamed to Spare's old name, so Wyatt's update wants the
/// FederationIdentifier Spare's account holds. That is Wyatt's conflict; the account, whose anchor
/// holds Spare's object id, is Spare's, and goes as Spare does (helper-61: it stayed active while
/// the plan said nothing of it).
#[test]
fn a_leavers_account_is_deactivated_though_another_persons_conflict_names_it() {
    const SPARE: &str = "0000000e-0000-0000-0000-0000000000f1";
    let (world, account) = with_spares_account_applied("safety-leaver-conflict");
    world.emulator.admin_call(
        Method::DELETE,
        &format!("entra/users/{SPARE}"),
        Some(&json!({"keep_assignments": true})),
    );
    world.emulator.admin_call(
        Method::PATCH,
        "entra/users/wyatt.schmidt@contoso.com",
        Some(&json!({"userPrincipalName": "spare1@contoso.com", "mail": "spare1@contoso.com"})),
    );
    let out = world.roster(&["plan", "--format", "json"]);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    let conflict = error_for(&plan, "spare1@contoso.com");
    assert!(
        conflict["reason"]
            .as_str()
            .unwrap()
            .contains("FederationIdentifier \"spare1@contoso.com\" is already held by Salesforce user spare1.sf@contoso.com"),
        "{conflict}"
    );
    // What frees the value is said: it never frees by itself (helper-62).
    assert!(
        conflict["reason"].as_str().unwrap().contains(&format!(
            "that account is the Entra user {SPARE}'s by its Entra_Object_Id__c: the value is \
             this user's once it is cleared or changed on that account"
        )),
        "{conflict}"
    );
    let change = change_to(&plan, &account["Id"]);
    assert_eq!(change["action"], "deactivate", "{change}");
    assert!(
        change["reason"].as_str().unwrap().contains(&format!(
            "anchored (Entra_Object_Id__c) to the Entra user {SPARE}"
        )),
        "{change}"
    );
    // Targeting the account shows both what happens to it and the conflict over its value.
    let out = world.roster(&[
        "plan",
        "--format",
        "json",
        "--target",
        "spare1.sf@contoso.com",
    ]);
    let targeted: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(change_to(&targeted, &account["Id"])["action"], "deactivate");
    assert_eq!(error_for(&targeted, "spare1@contoso.com"), conflict);
    assert_eq!(
        targeted["errors"].as_array().unwrap().len(),
        1,
        "{targeted}"
    );
}

/// The demo world applied, then Noah's account made a System Administrator's (a protected
/// profile) with a Title Entra does not give: with the plan before that.
fn noah_made_an_administrator(name: &str) -> (World, Value) {
    let world = World::demo(name);
    let applied = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.transcript());
    let before: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    let noah = user_by_username(&world, "noah.okafor@contoso.com.dev1");
    let admin = world_objects(&world, "Profile")
        .into_iter()
        .find(|p| p["Name"] == "System Administrator")
        .unwrap()["Id"]
        .clone();
    let (status, answer) = world.emulator.salesforce_send(
        Method::PATCH,
        &format!("sobjects/User/{}", noah["Id"].as_str().unwrap()),
        &json!({"ProfileId": admin, "Title": "Acting CIO"}),
    );
    assert_eq!(status, 204, "{answer}");
    (world, before)
}

/// `plan --target` of a protected user whose account differs has no change, and its headline
/// does not say Salesforce matches the configuration (helper-77), in JSON and as text.
#[test]
fn a_targeted_protected_user_is_not_said_to_match() {
    let (world, _) = noah_made_an_administrator("safety-protected-targeted");
    for typed in ["noah.okafor@contoso.com", "noah.okafor@contoso.com.dev1"] {
        let targeted: Value = serde_json::from_str(
            &world
                .roster(&["plan", "--target", typed, "--format", "json"])
                .stdout,
        )
        .unwrap();
        assert_eq!(
            targeted["headline"],
            "No changes. 1 user is linked to a protected Salesforce user, which roster leaves as \
             it is; the rest matches the configuration.",
            "{targeted}"
        );
    }
    let other: Value = serde_json::from_str(
        &world
            .roster(&[
                "plan",
                "--target",
                "ava.martinez@contoso.com",
                "--format",
                "json",
            ])
            .stdout,
    )
    .unwrap();
    assert!(other["summary"].get("protected").is_none(), "{other}");
    let text = world.roster(&["plan", "--target", "noah.okafor@contoso.com"]);
    assert!(
        text.stdout
            .contains("No changes. 1 user is linked to a protected Salesforce user"),
        "{}",
        text.transcript()
    );
}

/// A user `protect` covers is left as it is, and the plan says so rather than counting it as in
/// step: linked in scope (an admin made Noah a System Administrator), and out of scope (Noah
/// then left SF Sales) — he stays active, and the plan names him (helper-60). A rule that gives
/// a protected profile is a `validate` warning.
#[test]
fn a_protected_user_is_named_not_counted_as_in_step() {
    let (world, before) = noah_made_an_administrator("safety-protected-named");
    let noah = user_by_username(&world, "noah.okafor@contoso.com.dev1");
    let plan: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    let warned = |plan: &Value, text: &str| {
        plan["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains(text))
    };
    assert!(
        warned(
            &plan,
            "linked to protected Salesforce users, which roster leaves as they are"
        ) && warned(&plan, "noah.okafor@contoso.com"),
        "{plan}"
    );
    assert_eq!(
        plan["summary"]["unchanged"].as_u64().unwrap() + 1,
        before["summary"]["unchanged"].as_u64().unwrap(),
        "not counted as in step"
    );
    assert_eq!(plan["summary"]["protected"], 1, "{}", plan["summary"]);
    assert!(before["summary"].get("protected").is_none(), "{before}");
    world.emulator.admin(
        "entra/groups/SF Sales/members",
        &json!({"remove": ["noah.okafor@contoso.com"]}),
    );
    let plan: Value =
        serde_json::from_str(&world.roster(&["plan", "--format", "json"]).stdout).unwrap();
    assert!(
        warned(
            &plan,
            "protected Salesforce user(s) are out of scope but stay active"
        ) && warned(
            &plan,
            "noah.okafor@contoso.com.dev1 (anchored to the Entra user"
        ),
        "{plan}"
    );
    assert!(
        !plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["target_id"] == noah["Id"]),
        "a protected user is never deactivated: {plan}"
    );
    // A rule giving a protected profile.
    let config = std::fs::read_to_string(world.scratch.dir.join("roster.yaml")).unwrap();
    let edited = config.replacen("profile: Standard User", "profile: System Administrator", 1);
    assert_ne!(edited, config);
    world.scratch.write("admins.yaml", edited);
    let validated = world.roster(&["-c", "admins.yaml", "validate"]);
    assert!(
        validated
            .stderr
            .contains("`System Administrator` is protected: roster creates users with it"),
        "{}",
        validated.transcript()
    );
}

/// The plan's change for Amelia.
fn amelias(plan: &Value) -> &Value {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "amelia.kowalski@contoso.com")
        .unwrap_or_else(|| panic!("no change for Amelia: {plan}"))
}

/// A person who moves to a rule that gives no role loses the role a rule gave them, as a create
/// under that rule gets none; the plan shows it (helper-60: a Sales Rep moved to Support kept
/// the sales role, and its access, in silence). Then a title of white space alone: the plan
/// shows the field cleared, as Salesforce stores it.
#[test]
fn a_move_to_a_rule_without_a_role_takes_the_rules_role_away() {
    let world = World::demo_editing("safety-role-taken-away", |demo| {
        demo.replace(
            "{name: Knowledge_PSL, total: 10}",
            "{name: Knowledge_PSL, total: 30}",
        )
        .replace(
            "feature_licenses: {KnowledgeUser: 10, SupportUser: 10}",
            "feature_licenses: {KnowledgeUser: 30, SupportUser: 30}",
        )
    });
    let applied = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.transcript());
    let amelia = user_by_username(&world, "amelia.kowalski@contoso.com.dev1");
    let role = amelia["UserRoleId"].clone();
    assert!(
        role.is_string(),
        "a Sales Rep holds the rule's role: {amelia}"
    );
    world.emulator.admin(
        "entra/groups/SF Sales/members",
        &json!({"remove": ["amelia.kowalski@contoso.com"]}),
    );
    world.emulator.admin(
        "entra/groups/SF Support/members",
        &json!({"add": ["amelia.kowalski@contoso.com"]}),
    );
    let plan = world.plan_json();
    let change = amelias(&plan);
    assert_eq!(change["before"]["UserRoleId"], role, "{change}");
    assert_eq!(change["after"]["UserRoleId"], Value::Null, "{change}");
    let applied = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.transcript());
    assert_eq!(
        user_by_username(&world, "amelia.kowalski@contoso.com.dev1")["UserRoleId"],
        Value::Null
    );
    // A job title of white space alone clears Title, as Salesforce stores it: the plan says
    // null, not "   " (helper-60).
    world.emulator.admin_call(
        Method::PATCH,
        "entra/users/amelia.kowalski@contoso.com",
        Some(&json!({"jobTitle": "   "})),
    );
    let plan = world.plan_json();
    let change = amelias(&plan);
    assert_eq!(change["after"]["Title"], Value::Null, "{change}");
    let applied = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.transcript());
    let again = world.plan_json();
    assert!(
        !again["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["key"] == "amelia.kowalski@contoso.com"),
        "{again}"
    );
}
