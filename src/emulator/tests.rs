//! The emulator against its own rules, over HTTP on 127.0.0.1:0: Salesforce's auth, query
//! paging, create/update rules and collections; Graph's lookups, paging, `$select`, `$top`
//! and `$filter`; injected faults and request counts.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Running, State, WorldFile, start, synthetic};

const DEMO: &str = include_str!("../../examples/demo/world.yaml");

async fn demo() -> Running {
    let world = WorldFile::from_yaml(DEMO).unwrap();
    start(State::from_world(world).unwrap(), "127.0.0.1:0")
        .await
        .unwrap()
}

async fn synthetic(n: u32) -> Running {
    start(
        State::from_world(synthetic::world(n, 7)).unwrap(),
        "127.0.0.1:0",
    )
    .await
    .unwrap()
}

struct Sf {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// The path of a `query` of `soql`, encoded.
fn query_path(soql: &str) -> String {
    format!("query?q={}", crate::http::encode(soql))
}

impl Sf {
    /// Logged in to a synthetic org as its connected app.
    async fn synthetic(running: &Running) -> Sf {
        Sf::login(
            running,
            synthetic::SALESFORCE_CLIENT,
            synthetic::SALESFORCE_SECRET,
        )
        .await
    }

    /// Logged in to the demo org as its connected app.
    async fn demo(running: &Running) -> Sf {
        Sf::login(
            running,
            "3MVG9contoso.roster.dev1",
            "demo-salesforce-client-secret",
        )
        .await
    }

    async fn login(running: &Running, client_id: &str, secret: &str) -> Sf {
        let http = reqwest::Client::new();
        let base = running.base_url();
        let response: Value = http
            .post(format!("{base}/services/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = response["access_token"].as_str().unwrap().to_owned();
        assert_eq!(response["instance_url"], json!(base));
        Sf { http, base, token }
    }

    /// A request to `/services/data/v62.0/{path}` with the session's token.
    fn call(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/services/data/v62.0/{path}", self.base))
            .bearer_auth(&self.token)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.call(reqwest::Method::GET, path).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// `GET`: the body as text (a Bulk job's CSV results).
    async fn text(&self, path: &str) -> String {
        let r = self.call(reqwest::Method::GET, path).send().await.unwrap();
        r.text().await.unwrap()
    }

    /// `DELETE`: the JSON answer (a collection delete's results).
    async fn delete_answer(&self, path: &str) -> Value {
        let r = self
            .call(reqwest::Method::DELETE, path)
            .send()
            .await
            .unwrap();
        r.json().await.unwrap_or(Value::Null)
    }

    /// `DELETE`: the status.
    async fn delete(&self, path: &str) -> StatusCode {
        let r = self
            .call(reqwest::Method::DELETE, path)
            .send()
            .await
            .unwrap();
        r.status()
    }

    /// `PATCH sobjects/User/{id}` with `body`.
    async fn patch_user(&self, id: &str, body: &Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PATCH, &format!("sobjects/User/{id}"), body)
            .await
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self.call(method, path).json(body).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }
}

fn new_user(username: &str) -> Value {
    json!({"Username": username, "LastName": "Doe", "Email": "jd@example.com", "Alias": "jdoe",
           "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8",
           "LanguageLocaleKey": "en_US"})
}

/// What a User describe says of field `name` under `key` (`type`, `label`, `length`...).
fn described(describe: &Value, name: &str, key: &str) -> Option<Value> {
    describe["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == name)
        .map(|f| f[key].clone())
}

async fn profile_id(sf: &Sf, name: &str) -> String {
    let (_, body) = sf
        .get(&format!(
            "query?q=SELECT+Id+FROM+Profile+WHERE+Name='{}'",
            name.replace(' ', "+")
        ))
        .await;
    body["records"][0]["Id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn api_versions_and_record_key_order_are_salesforces() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let versions: Value = sf
        .http
        .get(format!("{}/services/data/", sf.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let versions = versions.as_array().unwrap();
    assert_eq!(
        versions.first(),
        Some(&json!({"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}))
    );
    assert_eq!(
        versions.last(),
        Some(&json!({"label": "Winter '26", "url": "/services/data/v65.0", "version": "65.0"}))
    );
    assert!(versions.contains(
        &json!({"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"})
    ));
    for (version, status) in [
        ("v65.0", StatusCode::OK),
        ("v30.0", StatusCode::GONE),
        ("v66.0", StatusCode::NOT_FOUND),
        ("v62", StatusCode::NOT_FOUND),
        ("v062.0", StatusCode::NOT_FOUND),
        ("62.0", StatusCode::NOT_FOUND),
    ] {
        let response = sf
            .http
            .get(format!("{}/services/data/{version}/limits", sf.base))
            .bearer_auth(&sf.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{version}");
    }
    // Records keep `attributes` first and the fields in SELECT order, as the API writes them.
    let text = sf
        .http
        .get(format!(
            "{}/services/data/v62.0/query?q=SELECT+Username,+Email,+Id,+IsActive+FROM+User+LIMIT+1",
            sf.base
        ))
        .bearer_auth(&sf.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = |key: &str| text.find(&format!("\"{key}\":")).unwrap();
    assert!(
        at("totalSize") < at("done") && at("done") < at("records"),
        "{text}"
    );
    assert!(
        at("attributes") < at("Username")
            && at("Username") < at("Email")
            && at("Email") < at("Id")
            && at("Id") < at("IsActive"),
        "{text}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn the_concurrent_request_limit_passes() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let admin = |path: &str, body: Value| {
        let url = format!("{}/_emulator/{path}", running.base_url());
        async move { reqwest::Client::new().post(url).json(&body).send().await }
    };
    admin(
        "faults",
        json!({"route": "GET /services/data/{v}/limits", "kind": "concurrent_limit"}),
    )
    .await
    .unwrap();
    let (status, body) = sf.get("limits").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!([{"message": "ConcurrentRequests (Concurrent API Requests) Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
        )
    );
    assert_eq!(
        sf.get("limits").await.0,
        StatusCode::OK,
        "the concurrent limit is passing"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn graph_refuses_to_select_what_users_do_not_have() {
    let running = demo().await;
    let token = demo_graph_token(&running).await;
    let get = |path: &str| {
        let url = format!("{}/v1.0/{path}", running.base_url());
        let token = token.clone();
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    for path in [
        "users?$select=id,jobTitel",
        "users/ava.martinez@contoso.com?$select=jobTitel",
        "users/delta?$select=jobTitel",
    ] {
        let (status, body) = get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(body["error"]["code"], "Request_BadRequest");
        assert_eq!(
            body["error"]["message"],
            "Could not find a property named 'jobTitel' on type 'Microsoft.DirectoryServices.User'."
        );
    }
    let (_, groups) = get("groups?$select=id,displayName").await;
    let group = groups["value"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = get(&format!("groups/{group}/members?$select=id,jobTitel")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A directory extension no user has is not defined in the tenant.
    let extension = "extension_0123456789abcdef0123456789abcdef_costCenter";
    let (status, _) = get(&format!("users?$select={extension}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    {
        let mut state = running.shared.state();
        state.entra.users[0].insert(extension.into(), json!("CC-1"));
        state.entra.reindex();
    }
    // Names are matched without case; defined extensions and unset collections are fine.
    let (status, body) = get(&format!(
        "users?$select=JOBTITLE,businessPhones,{extension}&$top=2"
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user = &body["value"][1];
    assert_eq!(
        user["businessPhones"],
        json!([]),
        "collections are [], not null"
    );
    assert!(user.get("jobTitle").is_some(), "{user}");
    assert_eq!(user[extension], Value::Null);
    assert_eq!(body["value"][0][extension], "CC-1");
    // A user's groups are selected by group properties, not user ones.
    let (status, _) = get("users/ava.martinez@contoso.com/memberOf?$select=id,displayName").await;
    assert_eq!(status, StatusCode::OK);
    running.shutdown().await;
}

/// A CSV upload naming a column twice fails its job, and no record is written: the last `Id`
/// cell would otherwise decide which user a row changes.
/// A Bulk API 2.0 update job of `csv`, run to its end: its id and its last state.
async fn bulk_update(sf: &Sf, csv: &str) -> (String, Value) {
    let (_, job) = sf
        .send(
            reqwest::Method::POST,
            "jobs/ingest",
            &json!({"object": "User", "operation": "update", "contentType": "CSV"}),
        )
        .await;
    let id = job["id"].as_str().unwrap().to_owned();
    let uploaded = sf
        .http
        .put(format!(
            "{}/services/data/v62.0/jobs/ingest/{id}/batches",
            sf.base
        ))
        .bearer_auth(&sf.token)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    sf.send(
        reqwest::Method::PATCH,
        &format!("jobs/ingest/{id}"),
        &json!({"state": "UploadComplete"}),
    )
    .await;
    let mut info = Value::Null;
    for _ in 0..5 {
        info = sf.get(&format!("jobs/ingest/{id}")).await.1;
        if info["state"] != "UploadComplete" && info["state"] != "InProgress" {
            break;
        }
    }
    (id, info)
}

/// A Bulk CSV cell for a checkbox is `true` or `false` (any case); other text fails its row,
/// as a custom checkbox's does, and is never stored (helper-59: `IsActive` held "yes").
#[tokio::test]
async fn a_bulk_row_with_text_for_a_checkbox_fails_alone() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let ava = results_id(&sf, "ava.martinez@contoso.com.dev1").await;
    let liam = results_id(&sf, "liam.chen@contoso.com.dev1").await;
    let (id, info) = bulk_update(
        &sf,
        &format!("Id,UserPermissionsSupportUser\n{ava},yes\n{liam},TRUE\n"),
    )
    .await;
    assert_eq!(info["state"], "JobComplete", "{info}");
    assert_eq!(info["numberRecordsFailed"], 1, "{info}");
    let failed = sf.text(&format!("jobs/ingest/{id}/failedResults")).await;
    assert!(
        failed.contains(
            "INVALID_TYPE_ON_FIELD_IN_RECORD:Service Cloud User: value not of required type: yes"
        ),
        "{failed}"
    );
    let (_, record) = sf.get(&format!("sobjects/User/{ava}")).await;
    assert_eq!(record["UserPermissionsSupportUser"], false, "{record}");
    let (_, record) = sf.get(&format!("sobjects/User/{liam}")).await;
    assert_eq!(record["UserPermissionsSupportUser"], true, "{record}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_bulk_upload_naming_a_column_twice_fails_and_writes_nothing() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let ava = results_id(&sf, "ava.martinez@contoso.com.dev1").await;
    let liam = results_id(&sf, "liam.chen@contoso.com.dev1").await;
    let (_, info) = bulk_update(&sf, &format!("Id,Title,ID\n{ava},Twice,{liam}\n")).await;
    assert_eq!(info["state"], "Failed", "{info}");
    assert!(
        info["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("Duplicate field name in the header row: ID")),
        "{info}"
    );
    for user in [&ava, &liam] {
        let (_, record) = sf.get(&format!("sobjects/User/{user}")).await;
        assert_ne!(record["Title"], "Twice", "{record}");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn bulk_jobs_take_several_polls_and_are_listed() {
    let running = demo().await;
    running.shared.state().org.bulk_job_polls = 3;
    let sf = Sf::demo(&running).await;
    let (status, job) = sf
        .send(
            reqwest::Method::POST,
            "jobs/ingest",
            &json!({"object": "User", "operation": "update", "contentType": "CSV"}),
        )
        .await;
    assert_eq!(
        (status, job["state"].clone()),
        (StatusCode::OK, json!("Open"))
    );
    let id = job["id"].as_str().unwrap().to_owned();
    let user = results_id(&sf, "ava.martinez@contoso.com.dev1").await;
    let url = format!("{}/services/data/v62.0/jobs/ingest/{id}", sf.base);
    let uploaded = sf
        .http
        .put(format!("{url}/batches"))
        .bearer_auth(&sf.token)
        .header("content-type", "text/csv")
        .body(format!("Id,Title\n{user},Bulk Title\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let (_, closed) = sf
        .send(
            reqwest::Method::PATCH,
            &format!("jobs/ingest/{id}"),
            &json!({"state": "UploadComplete"}),
        )
        .await;
    assert_eq!(closed["state"], "UploadComplete");
    let successful = || async {
        sf.http
            .get(format!("{url}/successfulResults"))
            .bearer_auth(&sf.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // Three polls: UploadComplete, InProgress, JobComplete; results only at the end.
    for expected in ["UploadComplete", "InProgress"] {
        let (_, info) = sf.get(&format!("jobs/ingest/{id}")).await;
        assert_eq!(info["state"], expected);
        assert_eq!(info["numberRecordsProcessed"], 0);
        assert_eq!(successful().await.lines().count(), 1, "the header only");
    }
    let (_, info) = sf.get(&format!("jobs/ingest/{id}")).await;
    assert_eq!(info["state"], "JobComplete");
    assert_eq!(info["numberRecordsProcessed"], 1);
    let results = successful().await;
    assert!(
        results.lines().nth(1).unwrap().contains("Bulk Title"),
        "{results}"
    );
    let (_, again) = sf.get(&format!("jobs/ingest/{id}")).await;
    assert_eq!(
        again["state"], "JobComplete",
        "a finished job stays finished"
    );
    // The org's jobs, listed.
    let (status, list) = sf.get("jobs/ingest").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["done"], true);
    let listed = list["records"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0]["id"].as_str(), listed[0]["state"].as_str()),
        (Some(id.as_str()), Some("JobComplete"))
    );
    running.shutdown().await;
}

#[tokio::test]
async fn the_identity_url_names_the_running_user_who_cannot_deactivate_itself() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let me = results_id(&sf, "integration@contoso.com.dev1").await;
    let (_, resources) = sf.get("").await;
    let identity = resources["identity"].as_str().unwrap().to_owned();
    assert!(identity.ends_with(&format!("/{me}")), "{identity}");
    // By query parameter, as jsforce asks; and by header.
    let by_query: Value = sf
        .http
        .get(format!("{identity}?format=json&oauth_token={}", sf.token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_query["user_id"], json!(me));
    assert_eq!(by_query["username"], "integration@contoso.com.dev1");
    assert!(
        by_query["organization_id"]
            .as_str()
            .unwrap()
            .starts_with("00D")
    );
    assert_eq!(by_query["id"], json!(identity));
    let by_header = sf
        .http
        .get(&identity)
        .bearer_auth(&sf.token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), StatusCode::OK);
    // The scheme is case-insensitive; another user's identity is not asserted.
    let other = results_id(&sf, "ava.martinez@contoso.com.dev1").await;
    let theirs: Value = sf
        .http
        .get(identity.replace(&me, &other))
        .header("authorization", format!("bearer {}", sf.token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["user_id"], json!(other));
    assert_eq!(theirs["asserted_user"], false);
    assert_eq!(by_query["asserted_user"], true);
    let bad = sf
        .http
        .get(format!("{identity}?oauth_token=nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::FORBIDDEN);
    assert_eq!(bad.text().await.unwrap(), "Bad_OAuth_Token");

    // The running user cannot deactivate itself, alone or in a collection; others can be.
    let (status, refused) = sf.patch_user(&me, &json!({"IsActive": false})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused[0]["errorCode"], "FIELD_INTEGRITY_EXCEPTION");
    let (_, results) = sf
        .send(
            reqwest::Method::PATCH,
            "composite/sobjects",
            &json!({"allOrNone": false, "records": [{"attributes": {"type": "User"}, "id": me, "IsActive": false}]}),
        )
        .await;
    assert_eq!(results[0]["success"], false, "{results}");
    let other = results_id(&sf, "ava.martinez@contoso.com.dev1").await;
    let (status, _) = sf.patch_user(&other, &json!({"IsActive": false})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    running.shutdown().await;
}

#[tokio::test]
async fn custom_fields_take_values_of_their_type() {
    use super::world::{CustomField, CustomType};
    let running = demo().await;
    for (name, kind) in [
        ("Hire_Date__c", CustomType::Date),
        ("Remote__c", CustomType::Checkbox),
        ("Grade__c", CustomType::Number),
        ("Backup_Email__c", CustomType::Email),
    ] {
        running
            .shared
            .state()
            .org
            .custom_user_fields
            .push(CustomField {
                name: name.into(),
                length: 255,
                unique: false,
                case_sensitive: false,
                external_id: false,
                values: None,
                kind,
            });
    }
    let sf = Sf::demo(&running).await;
    let (_, describe) = sf.get("sobjects/User/describe").await;
    let kind = |name: &str| described(&describe, name, "type");
    assert_eq!(kind("Hire_Date__c"), Some(json!("date")));
    assert_eq!(kind("Remote__c"), Some(json!("boolean")));
    assert_eq!(kind("Grade__c"), Some(json!("double")));
    assert_eq!(kind("Backup_Email__c"), Some(json!("email")));
    let profile = profile_id(&sf, "Standard User").await;
    let user = |extra: &Value| {
        let mut user = new_user("typed@contoso.com.dev1");
        user["ProfileId"] = json!(profile);
        for (k, v) in extra.as_object().unwrap() {
            user[k] = v.clone();
        }
        user
    };
    for (extra, code, message) in [
        (
            json!({"Hire_Date__c": "31/01/2026"}),
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            "Hire Date: value not of required type: 31/01/2026",
        ),
        (
            json!({"Hire_Date__c": "2026-02-30"}),
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            "Hire Date: value not of required type: 2026-02-30",
        ),
        (
            json!({"Remote__c": "yes"}),
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            "Remote: value not of required type: yes",
        ),
        (
            json!({"Grade__c": "senior"}),
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            "Grade: value not of required type: senior",
        ),
        (
            json!({"Backup_Email__c": "nobody"}),
            "INVALID_EMAIL_ADDRESS",
            "Backup Email: invalid email address: nobody",
        ),
    ] {
        let (status, body) = sf
            .send(reqwest::Method::POST, "sobjects/User", &user(&extra))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra}");
        assert_eq!(
            (body[0]["errorCode"].as_str(), body[0]["message"].as_str()),
            (Some(code), Some(message)),
            "{extra}"
        );
    }
    let fine = json!({"Hire_Date__c": "2026-01-31", "Remote__c": true, "Grade__c": 7, "Backup_Email__c": "b@contoso.com"});
    let (status, body) = sf
        .send(reqwest::Method::POST, "sobjects/User", &user(&fine))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    running.shutdown().await;
}

#[tokio::test]
async fn salesforce_login_modes_and_bad_secrets() {
    let running = demo().await;
    let http = reqwest::Client::new();
    let url = format!("{}/services/oauth2/token", running.base_url());
    let post = |form: Vec<(&'static str, &'static str)>| http.post(&url).form(&form).send();
    let r = post(vec![
        ("grant_type", "client_credentials"),
        ("client_id", "3MVG9contoso.roster.dev1"),
        ("client_secret", "wrong"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = post(vec![
        ("grant_type", "password"),
        ("client_id", "3MVG9contoso.roster.dev1"),
        ("client_secret", "demo-salesforce-client-secret"),
        ("username", "integration@contoso.com.dev1"),
        ("password", "demo-password"),
    ])
    .await
    .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "the security token must be appended"
    );
    let r = post(vec![
        ("grant_type", "password"),
        ("client_id", "3MVG9contoso.roster.dev1"),
        ("client_secret", "demo-salesforce-client-secret"),
        ("username", "integration@contoso.com.dev1"),
        ("password", "demo-passworddemoToken123"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The answer's signature is HMAC-SHA256 of id + issued_at, keyed by the client secret.
    let token: Value = r.json().await.unwrap();
    assert_eq!(token["scope"], "api");
    let issued_at = token["issued_at"].as_str().unwrap();
    assert!(
        issued_at.parse::<u128>().unwrap() > 1_767_225_600_000,
        "milliseconds: {issued_at}"
    );
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        b"demo-salesforce-client-secret",
    );
    let signature = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(token["signature"].as_str().unwrap())
            .unwrap()
    };
    let id = token["id"].as_str().unwrap();
    assert!(
        aws_lc_rs::hmac::verify(&key, format!("{id}{issued_at}").as_bytes(), &signature).is_ok(),
        "{token}"
    );
    let r = http
        .get(format!("{}/services/data/v62.0/limits", running.base_url()))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!([{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
    );
    running.shutdown().await;
}

#[tokio::test]
async fn query_pages_follow_next_records_url_with_batch_size() {
    let running = synthetic(2_500).await;
    let sf = Sf::synthetic(&running).await;
    // 251 users exist in Salesforce (250 and the integration user): ask for pages of 200.
    let first = sf
        .http
        .get(format!(
            "{}/services/data/v62.0/query?q=SELECT+Id,+Username+FROM+User+ORDER+BY+Username",
            sf.base
        ))
        .bearer_auth(&sf.token)
        .header("Sforce-Query-Options", "batchSize=200")
        .send()
        .await
        .unwrap();
    assert!(
        first
            .headers()
            .get("sforce-limit-info")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("api-usage=")
    );
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["totalSize"], 251);
    assert_eq!(first["done"], false);
    assert_eq!(first["records"].as_array().unwrap().len(), 200);
    let next = first["nextRecordsUrl"].as_str().unwrap();
    assert!(next.starts_with("/services/data/v62.0/query/01g"), "{next}");
    let second: Value = sf
        .http
        .get(format!("{}{next}", sf.base))
        .bearer_auth(&sf.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["done"], true);
    assert_eq!(second["records"].as_array().unwrap().len(), 51);
    let (status, err) = sf.get("query?q=SELECT+Nope+FROM+User").await;
    assert_eq!(
        (status, err[0]["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("INVALID_FIELD"))
    );
    let (status, err) = sf.get("query?q=SELEC+Id+FROM+User").await;
    assert_eq!(
        (status, err[0]["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("MALFORMED_QUERY"))
    );
    // A field selected twice, in any case, is refused as Salesforce refuses it.
    let (status, err) = sf.get("query?q=SELECT+Id,+Username,+id+FROM+User").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err[0]["errorCode"], "INVALID_FIELD", "{err}");
    assert_eq!(err[0]["message"], "duplicate field selected: id", "{err}");
    running.shutdown().await;
}

/// A filter is held to the fields and types Salesforce holds it to: a column the object lacks,
/// and a checkbox, date-time or number compared with a quoted value, are `INVALID_FIELD`
/// with Salesforce's message; the same values bare, and text quoted, are answered.
#[tokio::test]
async fn a_filter_on_an_unknown_field_or_with_a_quoted_typed_value_is_refused() {
    let running = synthetic(100).await;
    let sf = Sf::synthetic(&running).await;
    let query = query_path;
    for (soql, message) in [
        (
            "SELECT Id FROM User WHERE Nope = 'x'",
            "No such column 'Nope' on entity 'User'.",
        ),
        (
            "SELECT Id FROM User WHERE IsActive = 'true'",
            "value of filter criterion for field 'IsActive' must be of type boolean and should \
             not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM User WHERE LastModifiedDate > '2024-01-01T00:00:00Z'",
            "value of filter criterion for field 'LastModifiedDate' must be of type dateTime and \
             should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM UserLogin WHERE IsFrozen IN (true, 'false')",
            "value of filter criterion for field 'IsFrozen' must be of type boolean and should \
             not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM UserLicense WHERE UsedLicenses > '5'",
            "value of filter criterion for field 'UsedLicenses' must be of type integer and \
             should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM User WHERE Email = 5",
            "value of filter criterion for field 'Email' must be of type string and should be \
             enclosed in quotes",
        ),
        // A bare literal of the wrong kind.
        (
            "SELECT Id FROM User WHERE IsActive = 1",
            "value of filter criterion for field 'IsActive' must be of type boolean and should \
             not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM UserLicense WHERE UsedLicenses = true",
            "value of filter criterion for field 'UsedLicenses' must be of type integer",
        ),
        (
            "SELECT Id FROM User WHERE Id = 5",
            "value of filter criterion for field 'Id' must be of type id and should be enclosed \
             in quotes",
        ),
        (
            "SELECT Id FROM PermissionSetAssignment WHERE AssigneeId IN ('005000000000001', 7)",
            "value of filter criterion for field 'AssigneeId' must be of type id",
        ),
        (
            "SELECT Id FROM User WHERE ProfileId = 2024-01-01",
            "value of filter criterion for field 'ProfileId' must be of type id",
        ),
    ] {
        let (status, err) = sf.get(&query(soql)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{soql}");
        assert_eq!(err[0]["errorCode"], json!("INVALID_FIELD"), "{soql}");
        assert!(
            err[0]["message"].as_str().unwrap().starts_with(message),
            "{soql}: {err}"
        );
    }
    for soql in [
        "SELECT Id FROM User WHERE (IsActive = true AND Username = 'a') OR Username = 'b'",
        "SELECT Id FROM User WHERE IsActive = true AND Username != 'x' AND Email != null",
        "SELECT Id FROM UserLicense WHERE UsedLicenses > 5",
        "SELECT Id FROM User WHERE LastModifiedDate > 2024-01-01T00:00:00Z",
        "SELECT Id FROM UserLogin WHERE IsFrozen IN (true, false)",
        "SELECT Id FROM User WHERE IsActive = null",
    ] {
        let (status, body) = sf.get(&query(soql)).await;
        assert_eq!(status, StatusCode::OK, "{soql}: {body}");
    }
    running.shutdown().await;
}

/// A URI and headers over 16,384 bytes are refused before anything else: 414 URI Too Long, or
/// 431 when the headers make it (help article 000386264); just under passes.
#[tokio::test]
async fn a_request_over_salesforces_uri_limit_is_refused() {
    let running = synthetic(10).await;
    let sf = Sf::synthetic(&running).await;
    // Strings of 80 characters, Salesforce's longest Username, up to `bytes` in all.
    let soql_of = |bytes: usize| {
        let mut soql = "SELECT Id FROM User WHERE Username IN ('x'".to_owned();
        while soql.len() + 85 < bytes {
            soql.push_str(", '");
            soql.push_str(&"x".repeat(80));
            soql.push('\'');
        }
        soql + ")"
    };
    let (status, body) = sf.get(&query_path(&soql_of(15_000))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = sf.get(&query_path(&soql_of(16_400))).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    let status = sf
        .http
        .get(format!("{}/services/data/v62.0/limits", sf.base))
        .bearer_auth(&sf.token)
        .header("X-Padding", "p".repeat(16_400))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    running.shutdown().await;
}

/// AND and OR together need parentheses (SOQL gives neither precedence): `MALFORMED_QUERY`, its
/// message shaped as Salesforce's, pointing where reading stopped.
#[tokio::test]
async fn a_malformed_query_points_where_reading_stopped() {
    let running = synthetic(10).await;
    let sf = Sf::synthetic(&running).await;
    let query = query_path;
    // AND and OR together need parentheses: SOQL gives neither precedence.
    let (status, err) = sf
        .get(&query(
            "SELECT Id FROM User WHERE IsActive = true AND Username = 'a' OR Username = 'b'",
        ))
        .await;
    assert_eq!(
        (status, err[0]["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("MALFORMED_QUERY"))
    );
    // Salesforce's shape: the query, a caret under where reading stopped (the OR), the row and
    // column.
    let soql = "SELECT Id FROM User WHERE IsActive = true AND Username = 'a' OR Username = 'b'";
    let column = soql.find(" OR ").unwrap() + 2;
    let message = err[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "\n{soql}\n{}^\nERROR at Row:1:Column:{column}\n",
            " ".repeat(column - 1)
        )),
        "{message}"
    );
    // A backslash before a character SOQL defines no escape for; `\_` outside LIKE.
    for (soql, sequence) in [
        (r"SELECT Id FROM User WHERE Username = 'a\x'", r"'\x'"),
        (r"SELECT Id FROM User WHERE Username = 'a\u00'", r"'\u00'"),
        (r"SELECT Id FROM User WHERE Username = 'a\_b'", r"'\_'"),
    ] {
        let (status, err) = sf.get(&query(soql)).await;
        let column = soql.find('\'').unwrap() + 1;
        let message = err[0]["message"].as_str().unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{soql}");
        assert_eq!(err[0]["errorCode"], "MALFORMED_QUERY", "{soql}");
        assert!(
            message.starts_with(&format!(
                "\n{soql}\n{}^\nERROR at Row:1:Column:{column}\nIllegal character sequence \
                 {sequence} in string literal",
                " ".repeat(column - 1)
            )),
            "{message}"
        );
    }
    // The same escapes where SOQL defines them are answered.
    for soql in [
        r"SELECT Id FROM User WHERE Username LIKE 'a\_b%'",
        r"SELECT Id FROM User WHERE Username = 'caf\u00e9\n'",
    ] {
        let (status, body) = sf.get(&query(soql)).await;
        assert_eq!(status, StatusCode::OK, "{soql}: {body}");
    }
    // On the second row of a query written on two.
    let (_, err) = sf.get(&query("SELECT Id\nFROM User WHERE Id = ?")).await;
    assert!(
        err[0]["message"].as_str().unwrap().starts_with(
            "\nFROM User WHERE Id = ?\n                     ^\nERROR at Row:2:Column:22\n"
        ),
        "{err}"
    );
    running.shutdown().await;
}

/// An id in a filter is a record's id, 15 characters (case-sensitive) or 18, and finds the
/// record in either form; anything else is "invalid ID field".
#[tokio::test]
async fn an_id_in_a_filter_is_read_in_its_15_or_18_character_form() {
    let running = synthetic(100).await;
    let sf = Sf::synthetic(&running).await;
    let query = query_path;
    for soql in [
        "SELECT Id FROM User WHERE Id = 'abc'",
        "SELECT Id FROM User WHERE ProfileId IN ('00e000000000001AAA', '00e0000000000012')",
        "SELECT Id FROM User WHERE ManagerId != '005-00000000001'",
        "SELECT Id FROM User WHERE Id LIKE '005%'",
    ] {
        let (status, err) = sf.get(&query(soql)).await;
        assert_eq!(
            (status, err[0]["errorCode"].clone()),
            (
                StatusCode::BAD_REQUEST,
                json!("INVALID_QUERY_FILTER_OPERATOR")
            ),
            "{soql}: {err}"
        );
        assert!(
            err[0]["message"].as_str().unwrap().starts_with("invalid "),
            "{err}"
        );
    }
    let (_, first) = sf
        .get(&query("SELECT Id, ProfileId FROM User ORDER BY Id LIMIT 1"))
        .await;
    let id = first["records"][0]["Id"].as_str().unwrap().to_owned();
    let profile = first["records"][0]["ProfileId"]
        .as_str()
        .unwrap()
        .to_owned();
    let swapped_case = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    };
    assert_ne!(swapped_case(&id[..15]), id[..15], "{id} has a letter");
    let found = |body: &Value| {
        body["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["Id"] == json!(id))
    };
    for (filter, finds) in [
        (format!("Id = '{}'", &id[..15]), true),
        (format!("Id IN ('{}')", id.to_lowercase()), true),
        (format!("Id = '{}'", id.to_uppercase()), true),
        (format!("ProfileId = '{}'", &profile[..15]), true),
        // A 15-character id is case-sensitive: in other case it is another record's.
        (format!("Id = '{}'", swapped_case(&id[..15])), false),
        (format!("Id != '{}'", &id[..15]), false),
    ] {
        let soql = format!("SELECT Id FROM User WHERE {filter}");
        let (status, body) = sf.get(&query(&soql)).await;
        assert_eq!(status, StatusCode::OK, "{soql}: {body}");
        assert_eq!(found(&body), finds, "{soql}: {body}");
    }
    running.shutdown().await;
}

/// A custom number field written as text is kept, and answered, as a number (`5.0`), as SOQL
/// types it; a text field keeps its text.
#[tokio::test]
async fn a_number_written_as_text_is_answered_as_a_number() {
    let world = DEMO.replace(
        "    - {name: Entra_Object_Id__c,",
        "    - {name: Level__c, type: number}\n    - {name: Entra_Object_Id__c,",
    );
    assert_ne!(world, DEMO);
    let running = start(
        State::from_world(WorldFile::from_yaml(&world).unwrap()).unwrap(),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let sf = Sf::demo(&running).await;
    let id = results_id(&sf, "ava.martinez@contoso.com.dev1").await;
    let (status, body) = sf
        .patch_user(&id, &json!({"Level__c": "5", "Title": "5"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, user) = sf.get(&format!("sobjects/User/{id}")).await;
    assert_eq!(user["Level__c"], json!(5.0), "{user}");
    assert_eq!(user["Title"], json!("5"), "{user}");
    running.shutdown().await;
}

/// Salesforce stamps the running user as a record's creator and last modifier; neither, nor
/// any other system field or the record's Id, is written through a body.
#[tokio::test]
async fn system_fields_are_stamped_and_never_written() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let mut user = new_user("jane.doe@contoso.com.dev1");
    user["ProfileId"] = json!(profile_id(&sf, "Standard User").await);
    user["Alias"] = json!("jdoe");
    let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, _) = sf.patch_user(&id, &json!({"Title": "Engineer"})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, after) = sf.get(&format!("sobjects/User/{id}")).await;
    // A checkbox written as text is kept, and answered, as a boolean.
    let (status, _) = sf
        .patch_user(&id, &json!({"UserPermissionsKnowledgeUser": "True"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, checked) = sf.get(&format!("sobjects/User/{id}")).await;
    assert_eq!(
        checked["UserPermissionsKnowledgeUser"],
        json!(true),
        "{checked}"
    );
    // What the world seeds was created in Setup, by no API user.
    let (_, me) = sf
        .get(
            "query?q=SELECT+Id,CreatedById+FROM+User+WHERE+Username='integration@contoso.com.dev1'",
        )
        .await;
    let me = &me["records"][0];
    assert_eq!(after["CreatedById"], me["Id"], "{after}");
    assert_eq!(after["LastModifiedById"], me["Id"], "{after}");
    assert_ne!(me["CreatedById"], me["Id"], "{me}");
    let (status, body) = sf
        .patch_user(&id, &json!({"CreatedById": me["CreatedById"]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body[0]["errorCode"], "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert_eq!(body[0]["fields"], json!(["CreatedById"]));
    // Nor is the record's Id written through a body: another user's would be taken over.
    let (status, body) = sf
        .patch_user(&id, &json!({"Id": me["Id"], "Title": "x"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body[0]["errorCode"], "INVALID_FIELD_FOR_INSERT_UPDATE");
    running.shutdown().await;
}

/// A field is named by its label in Salesforce's errors and describe: "Zip/Postal Code", not
/// PostalCode; the error's `fields` keep the API name.
#[tokio::test]
async fn fields_are_named_by_their_labels() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let mut user = new_user("label@contoso.com.dev1");
    user["ProfileId"] = json!(profile_id(&sf, "Standard User").await);
    user["PostalCode"] = json!("9".repeat(21));
    let (_, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(
        (body[0]["errorCode"].as_str(), body[0]["fields"][0].as_str()),
        (Some("STRING_TOO_LONG"), Some("PostalCode")),
        "{body}"
    );
    assert!(
        body[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Zip/Postal Code: data value too large: 999"),
        "{body}"
    );
    let (_, describe) = sf.get("sobjects/User/describe").await;
    let label = |name: &str| described(&describe, name, "label");
    assert_eq!(
        label("FederationIdentifier"),
        Some(json!("SAML Federation ID"))
    );
    assert_eq!(label("TimeZoneSidKey"), Some(json!("Time Zone")));
    running.shutdown().await;
}

#[tokio::test]
async fn user_create_enforces_salesforce_rules() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let standard = profile_id(&sf, "Standard User").await;
    let mut user = new_user("jane.doe@contoso.com.dev1");
    let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body[0]["errorCode"], "REQUIRED_FIELD_MISSING");
    assert_eq!(body[0]["fields"], json!(["ProfileId"]));
    user["ProfileId"] = json!(standard);
    user["Alias"] = json!("waytoolong");
    let (_, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(body[0]["errorCode"], "STRING_TOO_LONG");
    assert_eq!(
        body[0]["message"],
        "Alias: data value too large: waytoolong (max length=8)"
    );
    user["Alias"] = json!("jdoe");
    let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 18);
    assert!(id.starts_with("005"));
    let (_, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(body[0]["errorCode"], "DUPLICATE_USERNAME");
    let mut taken = new_user("jdoe@contoso.com.dev1");
    taken["ProfileId"] = json!(standard);
    let (_, body) = sf
        .send(reqwest::Method::POST, "sobjects/User", &taken)
        .await;
    assert_eq!(
        body[0]["errorCode"], "DUPLICATE_USERNAME",
        "taken in another org"
    );
    let mut bad_profile = new_user("x1@contoso.com.dev1");
    bad_profile["ProfileId"] = json!("00e000000000000");
    let (_, body) = sf
        .send(reqwest::Method::POST, "sobjects/User", &bad_profile)
        .await;
    assert_eq!(body[0]["errorCode"], "INVALID_CROSS_REFERENCE_KEY");
    bad_profile["ProfileId"] = json!("nonsense");
    let (_, body) = sf
        .send(reqwest::Method::POST, "sobjects/User", &bad_profile)
        .await;
    assert_eq!(body[0]["errorCode"], "MALFORMED_ID");
    // The Manager lookup names a User of the org: another object's record or no record is
    // refused; an existing user, in its 15-character form, is taken.
    for (manager, code) in [
        (standard.as_str(), "INVALID_CROSS_REFERENCE_KEY"),
        ("005000000000000", "INVALID_CROSS_REFERENCE_KEY"),
        ("my boss", "MALFORMED_ID"),
    ] {
        let (_, body) = sf.patch_user(&id, &json!({"ManagerId": manager})).await;
        assert_eq!(body[0]["errorCode"], code, "{manager}: {body}");
        assert_eq!(body[0]["fields"][0], "ManagerId", "{body}");
    }
    let ava = results_id(&sf, "ava.martinez@contoso.com.dev1").await;
    let (status, body) = sf.patch_user(&id, &json!({"ManagerId": &ava[..15]})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Update bumps LastModifiedDate; a User cannot be deleted.
    let (_, before) = sf.get(&format!("sobjects/User/{id}")).await;
    let (status, _) = sf.patch_user(&id, &json!({"Title": "Engineer"})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, after) = sf.get(&format!("sobjects/User/{id}")).await;
    assert_eq!(after["Title"], "Engineer");
    assert_ne!(before["LastModifiedDate"], after["LastModifiedDate"]);
    assert_ne!(before["SystemModstamp"], after["SystemModstamp"]);
    // Salesforce sets the audit fields: a write of one is refused as read-only.
    let (status, body) = sf
        .patch_user(
            &id,
            &json!({"SystemModstamp": "2020-01-01T00:00:00.000+0000"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body[0]["errorCode"], "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert_eq!(body[0]["fields"], json!(["SystemModstamp"]));
    let r = sf
        .http
        .delete(format!(
            "{}/services/data/v62.0/sobjects/User/{id}",
            sf.base
        ))
        .bearer_auth(&sf.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    running.shutdown().await;
}

#[tokio::test]
async fn licences_run_out() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let read_only = profile_id(&sf, "Read Only").await;
    let mut codes = Vec::new();
    for i in 0..11 {
        let mut user = new_user(&format!("ro{i}@contoso.com.dev1"));
        user["ProfileId"] = json!(read_only);
        let (_, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
        codes.push(body.get("success").map_or_else(
            || body[0]["errorCode"].as_str().unwrap().to_owned(),
            |_| "ok".to_owned(),
        ));
    }
    assert_eq!(codes.iter().filter(|c| *c == "ok").count(), 10, "{codes:?}");
    assert_eq!(codes.last().unwrap(), "LICENSE_LIMIT_EXCEEDED");
    running.shutdown().await;
}

/// What Salesforce's JSON parser refuses fails the whole request before any rule runs: a
/// checkbox given text that is no boolean, a number or an object; a text field, standard or
/// custom, given an object or a list. A number for a text field is kept as its text.
#[tokio::test]
async fn values_the_json_parser_refuses_fail_the_request() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let standard = profile_id(&sf, "Standard User").await;
    let user = |name: &str, extra: Value| {
        let mut u = new_user(name);
        u["ProfileId"] = json!(standard);
        for (k, v) in extra.as_object().unwrap() {
            u[k] = v.clone();
        }
        u
    };
    for (extra, shown) in [
        (
            json!({"IsActive": "maybe"}),
            "boolean from VALUE_STRING value maybe",
        ),
        (
            json!({"IsActive": 5}),
            "boolean from VALUE_NUMBER_INT value 5",
        ),
        (
            json!({"UserPermissionsSupportUser": {"a": 1}}),
            "boolean from START_OBJECT value {",
        ),
        (json!({"Title": ["a"]}), "string from START_ARRAY value ["),
        // A custom field is read by the same parser: a list for text fails the request too.
        (
            json!({"entra_object_id__c": ["a"]}),
            "string from START_ARRAY value [",
        ),
    ] {
        let (status, body) = sf
            .send(
                reqwest::Method::POST,
                "sobjects/User",
                &user("t1@contoso.com.dev1", extra.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra}: {body}");
        assert_eq!(body[0]["errorCode"], "JSON_PARSER_ERROR", "{body}");
        assert!(
            body[0]["message"].as_str().unwrap().contains(shown),
            "{body}"
        );
    }
    // In a collection, one such value fails every record: none is saved.
    let mut good = user("t2@contoso.com.dev1", json!({"Alias": "t2"}));
    good["attributes"] = json!({"type": "User"});
    let mut bad = user(
        "t3@contoso.com.dev1",
        json!({"Alias": "t3", "IsActive": "yes"}),
    );
    bad["attributes"] = json!({"type": "User"});
    let (status, body) = sf
        .send(
            reqwest::Method::POST,
            "composite/sobjects",
            &json!({"records": [good, bad]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, found) = sf
        .get("query?q=SELECT+Id+FROM+User+WHERE+Username='t2@contoso.com.dev1'")
        .await;
    assert_eq!(found["totalSize"], 0, "nothing saved");
    // Text for a checkbox and a number for text are taken, as Salesforce takes them.
    let (status, body) = sf
        .send(
            reqwest::Method::POST,
            "sobjects/User",
            &user(
                "t4@contoso.com.dev1",
                json!({"IsActive": "TRUE", "LastName": 12}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, found) = sf
        .get("query?q=SELECT+LastName,IsActive+FROM+User+WHERE+Username='t4@contoso.com.dev1'")
        .await;
    assert_eq!(found["records"][0]["LastName"], "12", "{found}");
    assert_eq!(found["records"][0]["IsActive"], true, "{found}");
    // A checkbox is never null; a boolean for text is its text.
    let (status, body) = sf
        .send(
            reqwest::Method::POST,
            "sobjects/User",
            &user(
                "t5@contoso.com.dev1",
                json!({"UserPermissionsSupportUser": null, "Title": false}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, found) = sf
        .get("query?q=SELECT+Title,UserPermissionsSupportUser+FROM+User+WHERE+Username='t5@contoso.com.dev1'")
        .await;
    assert_eq!(found["records"][0]["Title"], "false", "{found}");
    assert_eq!(
        found["records"][0]["UserPermissionsSupportUser"], false,
        "{found}"
    );
    running.shutdown().await;
}

/// Text is stored trimmed, and text that is only white space is null: a LastName of spaces
/// is a required field missing. A no-break space is no white space to Salesforce.
#[tokio::test]
async fn text_is_stored_trimmed_and_blank_text_is_null() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let standard = profile_id(&sf, "Standard User").await;
    let mut user = new_user("trim1@contoso.com.dev1");
    user["ProfileId"] = json!(standard);
    user["LastName"] = json!("   ");
    let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body[0]["errorCode"], "REQUIRED_FIELD_MISSING", "{body}");
    user["LastName"] = json!("  Doe\t");
    user["FirstName"] = json!("\u{a0}Ava ");
    let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, found) = sf
        .get("query?q=SELECT+FirstName,LastName+FROM+User+WHERE+Username='trim1@contoso.com.dev1'")
        .await;
    assert_eq!(found["records"][0]["LastName"], "Doe", "{found}");
    assert_eq!(found["records"][0]["FirstName"], "\u{a0}Ava", "{found}");
    // Lengths count UTF-16 units, as Java's do: eight letters, one an emoji, are nine.
    let mut user = new_user("trim2@contoso.com.dev1");
    user["ProfileId"] = json!(standard);
    user["Alias"] = json!("Ana🌻Lima");
    let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body[0]["errorCode"], "STRING_TOO_LONG", "{body}");
    running.shutdown().await;
}

/// A new User as an sObject Collections record, with `profile`.
fn collection_user(profile: &str, name: &str) -> Value {
    let mut u = new_user(name);
    u["ProfileId"] = json!(profile);
    u["attributes"] = json!({"type": "User"});
    u["Alias"] = json!(name.chars().take(8).collect::<String>());
    u
}

#[tokio::test]
async fn collections_report_per_record_and_roll_back_all_or_none() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let standard = profile_id(&sf, "Standard User").await;
    let record = |name: &str| collection_user(&standard, name);
    let body = json!({"allOrNone": false, "records": [record("a1@contoso.com.dev1"), record("admin@contoso.com.dev1"), record("a2@contoso.com.dev1")]});
    let (status, results) = sf
        .send(reqwest::Method::POST, "composite/sobjects", &body)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(results[0]["success"], true);
    assert_eq!(results[1]["errors"][0]["statusCode"], "DUPLICATE_USERNAME");
    assert_eq!(results[2]["success"], true);
    let body = json!({"allOrNone": true, "records": [record("b1@contoso.com.dev1"), record("admin@contoso.com.dev1")]});
    let (_, results) = sf
        .send(reqwest::Method::POST, "composite/sobjects", &body)
        .await;
    assert_eq!(
        results[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    let (_, found) = sf
        .get("query?q=SELECT+Id+FROM+User+WHERE+Username='b1@contoso.com.dev1'")
        .await;
    assert_eq!(found["totalSize"], 0, "rolled back");
    let too_many: Vec<Value> = (0..201)
        .map(|i| record(&format!("m{i}@contoso.com.dev1")))
        .collect();
    let (status, err) = sf
        .send(
            reqwest::Method::POST,
            "composite/sobjects",
            &json!({"records": too_many}),
        )
        .await;
    assert_eq!(
        (status, err[0]["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("EXCEEDED_ID_LIMIT"))
    );
    // Permission set assignments: create, duplicate, delete.
    let (_, sets) = sf
        .get("query?q=SELECT+Id+FROM+PermissionSet+WHERE+Name='Reports_Export'")
        .await;
    let set = sets["records"][0]["Id"].clone();
    let assignee = results_id(&sf, "a1@contoso.com.dev1").await;
    let psa = json!({"AssigneeId": assignee, "PermissionSetId": set});
    let (status, created) = sf
        .send(
            reqwest::Method::POST,
            "sobjects/PermissionSetAssignment",
            &psa,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, dup) = sf
        .send(
            reqwest::Method::POST,
            "sobjects/PermissionSetAssignment",
            &psa,
        )
        .await;
    assert_eq!(dup[0]["errorCode"], "DUPLICATE_VALUE");
    assert_eq!(
        sf.delete(&format!(
            "sobjects/PermissionSetAssignment/{}",
            created["id"].as_str().unwrap()
        ))
        .await,
        StatusCode::NO_CONTENT
    );
    // A User and an assignment in one collection: two setup objects, refused whole.
    let mut assignment = psa.clone();
    assignment["attributes"] = json!({"type": "permissionsetassignment"});
    let mixed = json!({"records": [record("mixed@contoso.com.dev1"), assignment]});
    let (status, refused) = sf
        .send(reqwest::Method::POST, "composite/sobjects", &mixed)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused[0]["errorCode"], "MIXED_DML_OPERATION", "{refused}");
    let (_, users) = sf
        .get("query?q=SELECT+Id+FROM+User+WHERE+Username='mixed@contoso.com.dev1'")
        .await;
    assert_eq!(users["totalSize"], 0, "{users}");
    let (_, sets) = sf
        .get(&format!(
            "query?q=SELECT+Id+FROM+PermissionSetAssignment+WHERE+AssigneeId='{assignee}'+AND+PermissionSetId='{}'",
            set.as_str().unwrap()
        ))
        .await;
    assert_eq!(sets["totalSize"], 0, "nothing of it written: {sets}");
    running.shutdown().await;
}

/// `allOrNone` as text is read as a record's checkbox is; anything else is the JSON parser's
/// refusal of the request.
#[tokio::test]
async fn the_all_or_none_flag_is_read_as_a_checkbox() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let standard = profile_id(&sf, "Standard User").await;
    let record = |name: &str| collection_user(&standard, name);
    let body = json!({"allOrNone": "TRUE", "records": [record("c1@contoso.com.dev1"), record("admin@contoso.com.dev1")]});
    let (_, results) = sf
        .send(reqwest::Method::POST, "composite/sobjects", &body)
        .await;
    assert_eq!(
        results[0]["errors"][0]["statusCode"], "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "{results}"
    );
    let body = json!({"allOrNone": "yes", "records": [record("c2@contoso.com.dev1")]});
    let (status, refused) = sf
        .send(reqwest::Method::POST, "composite/sobjects", &body)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused[0]["errorCode"], "JSON_PARSER_ERROR", "{refused}");
    running.shutdown().await;
}

async fn results_id(sf: &Sf, username: &str) -> String {
    let (_, found) = sf
        .get(&format!(
            "query?q=SELECT+Id+FROM+User+WHERE+Username='{username}'"
        ))
        .await;
    found["records"][0]["Id"].as_str().unwrap().to_owned()
}

/// A Graph token for the demo world's app registration.
/// `url`'s JSON answer to a GET with `token`.
async fn get_json(http: &reqwest::Client, token: &str, url: &str) -> Value {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn demo_graph_token(running: &Running) -> String {
    let token: Value = graph_token(
        running,
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "5e1f8a63-0c3b-4d0e-9a57-3f1d2b7c9e11",
        "demo-entra-client-secret",
    )
    .await
    .json()
    .await
    .unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

async fn graph_token(
    running: &Running,
    tenant: &str,
    client: &str,
    secret: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", running.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn graph_paging_select_top_and_filter() {
    let running = synthetic(1_000).await;
    let bad = graph_token(
        &running,
        synthetic::TENANT,
        synthetic::ENTRA_CLIENT,
        "wrong",
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let token: Value = graph_token(
        &running,
        synthetic::TENANT,
        synthetic::ENTRA_CLIENT,
        synthetic::ENTRA_SECRET,
    )
    .await
    .json()
    .await
    .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let get = |url: String| http.get(url).bearer_auth(&token).send();
    let base = running.base_url();
    // Follow every nextLink of the user listing at $top=999.
    let mut url = format!("{base}/v1.0/users?$select=id,department&$top=999");
    let (mut seen, mut pages) = (0, 0);
    loop {
        let page: Value = get(url.clone()).await.unwrap().json().await.unwrap();
        let users = page["value"].as_array().unwrap();
        assert!(
            users.iter().all(|u| u.as_object().unwrap().len() == 2),
            "$select gates properties"
        );
        seen += users.len();
        pages += 1;
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!((seen, pages), (1_000, 2));
    let over = get(format!("{base}/v1.0/users?$top=1000")).await.unwrap();
    assert_eq!(over.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        over.json::<Value>().await.unwrap()["error"]["code"],
        "Request_BadRequest"
    );
    let filtered: Value = get(format!(
        "{base}/v1.0/users?$filter=id%20in%20('{}','{}')",
        synthetic::guid_for_test(3),
        synthetic::guid_for_test(4)
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(filtered["value"].as_array().unwrap().len(), 2);
    let sp: Value = get(format!(
        "{base}/v1.0/servicePrincipals?$filter=displayName%20eq%20'Salesforce%20Sandbox'"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let sp_id = sp["value"][0]["id"].as_str().unwrap();
    let assigned: Value = get(format!(
        "{base}/v1.0/servicePrincipals/{sp_id}/appRoleAssignedTo"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(assigned["value"].as_array().unwrap().len(), 4);
    let group = assigned["value"][0]["principalId"].as_str().unwrap();
    let members: Value = get(format!(
        "{base}/v1.0/groups/{group}/members/microsoft.graph.user?$select=id&$top=999"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(members["value"].as_array().unwrap().len(), 250);
    assert_eq!(members["value"][0]["@odata.type"], "#microsoft.graph.user");
    running.shutdown().await;
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let latency = |ms: u64| {
        sf.http
            .post(format!("{}/_emulator/latency", sf.base))
            .json(&json!({"ms": ms}))
            .send()
    };
    latency(400).await.unwrap();
    let started = std::time::Instant::now();
    assert_eq!(sf.get("limits").await.0, StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(400));
    latency(0).await.unwrap();
    running.shutdown().await;
}

#[tokio::test]
async fn faults_latency_and_counts() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let admin = |path: &str, body: Value| {
        sf.http
            .post(format!("{}/_emulator/{path}", sf.base))
            .json(&body)
            .send()
    };
    // A rule that fails no request is a mistake in the test, refused.
    let zero = admin(
        "faults",
        json!({"route": "*", "kind": "status", "status": 500, "count": 0}),
    )
    .await
    .unwrap();
    assert_eq!(zero.status(), StatusCode::BAD_REQUEST);
    admin("faults", json!({"route": "GET /services/data/{v}/limits", "kind": "status", "status": 429, "retry_after": "0.5", "count": 2})).await.unwrap();
    for _ in 0..2 {
        let r = sf
            .http
            .get(format!("{}/services/data/v62.0/limits", sf.base))
            .bearer_auth(&sf.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "0.5");
    }
    assert_eq!(sf.get("limits").await.0, StatusCode::OK);
    admin(
        "faults",
        json!({"route": "limits", "kind": "expired_token"}),
    )
    .await
    .unwrap();
    assert_eq!(sf.get("limits").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        sf.get("limits").await.0,
        StatusCode::UNAUTHORIZED,
        "the token stays expired"
    );
    let sf = Sf::demo(&running).await;
    assert_eq!(
        sf.get("limits").await.0,
        StatusCode::OK,
        "a new token works"
    );
    admin(
        "locks",
        json!({"records": ["ava.martinez@contoso.com.dev1"], "count": 1}),
    )
    .await
    .unwrap();
    let id = results_id(&sf, "ava.martinez@contoso.com.dev1").await;
    let (_, locked) = sf.patch_user(&id, &json!({"Title": "x"})).await;
    assert_eq!(locked[0]["errorCode"], "UNABLE_TO_LOCK_ROW");
    assert_eq!(
        sf.patch_user(&id, &json!({"Title": "x"})).await.0,
        StatusCode::NO_CONTENT
    );
    admin("faults", json!({"route": "*", "kind": "request_limit"}))
        .await
        .unwrap();
    let (status, body) = sf.get("limits").await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (StatusCode::FORBIDDEN, json!("REQUEST_LIMIT_EXCEEDED"))
    );
    let (status, _) = sf.get("limits").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the daily limit stays exhausted"
    );
    let counts: Value = sf
        .http
        .get(format!("{}/_emulator/requests", sf.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["GET /services/data/{v}/limits"], 8);
    running.shutdown().await;
}

/// A server error answers as Salesforce's does (`UNKNOWN_EXCEPTION`, not
/// `SERVER_UNAVAILABLE`), and forgetting the faults gives back a daily total a fault spent.
#[tokio::test]
async fn a_server_error_and_a_cleared_limit_answer_as_salesforce() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let admin = |body: Value| {
        sf.http
            .post(format!("{}/_emulator/faults", sf.base))
            .json(&body)
            .send()
    };
    admin(json!({"route": "GET /services/data/{v}/limits", "kind": "status", "status": 500}))
        .await
        .unwrap();
    let (status, body) = sf.get("limits").await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!("UNKNOWN_EXCEPTION")
        )
    );
    admin(json!({"route": "*", "kind": "request_limit"}))
        .await
        .unwrap();
    assert_eq!(sf.get("limits").await.0, StatusCode::FORBIDDEN);
    let cleared = sf
        .http
        .delete(format!("{}/_emulator/faults", sf.base))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), StatusCode::OK);
    assert_eq!(
        sf.get("limits").await.0,
        StatusCode::OK,
        "the limit is back"
    );
    running.shutdown().await;
}

fn assertion(iss: &str, sub: &str, aud: &str) -> String {
    assertion_with(iss, sub, aud, None)
}

/// A certificate assertion whose header names the certificate by this SHA-256 thumbprint.
fn assertion_with(iss: &str, sub: &str, aud: &str, x5t_s256: Option<&str>) -> String {
    let now = super::jwt::now_for_test();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t_s256 = x5t_s256.map(str::to_owned);
    super::jwt::sign_for_test_with(
        &super::jwt::Claims {
            iss: iss.into(),
            sub: sub.into(),
            aud: aud.into(),
            exp: now + 300,
            iat: now,
        },
        &header,
    )
}

/// The demo certificate's SHA-256 thumbprint, base64url, as an `x5t#S256` header holds it.
fn demo_thumbprint() -> String {
    use base64::Engine as _;
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/demo/keys/demo-signing.crt"),
    )
    .unwrap();
    let der = crate::graph::auth::certificate_der(&pem).unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der).as_ref())
}

#[tokio::test]
async fn entra_certificate_assertions_and_the_scope_are_checked() {
    let running = demo().await;
    let http = reqwest::Client::new();
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let client = "5e1f8a63-0c3b-4d0e-9a57-3f1d2b7c9e11";
    let token_url = format!("{}/{tenant}/oauth2/v2.0/token", running.base_url());
    let exchange = |assertion: String| {
        http.post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client),
                ("scope", "https://graph.microsoft.com/.default"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
    };
    // Certificate credential: signed by the key, naming the registered certificate.
    let thumbprint = demo_thumbprint();
    let good = exchange(assertion_with(
        client,
        client,
        &token_url,
        Some(&thumbprint),
    ))
    .await
    .unwrap();
    assert_eq!(good.status(), StatusCode::OK);
    let signed = assertion_with(client, client, &token_url, Some(&thumbprint));
    let middle = signed.len() - 20;
    let flipped = if &signed[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let forged = format!("{}{flipped}{}", &signed[..middle], &signed[middle + 1..]);
    let bad: Value = exchange(forged).await.unwrap().json().await.unwrap();
    assert!(
        bad["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700027"),
        "{bad}"
    );
    // The right key, but no thumbprint (or another one): Entra cannot find the key.
    for x5t in [None, Some("bm90LXRoZS1jZXJ0aWZpY2F0ZQ")] {
        let unnamed: Value = exchange(assertion_with(client, client, &token_url, x5t))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            unnamed["error_description"]
                .as_str()
                .unwrap()
                .starts_with("AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application."),
            "{unnamed}"
        );
    }
    // The scope: required, `{resource}/.default`, and the resource Graph.
    for (scope, code) in [
        (None, "AADSTS900144"),
        (
            Some("https://graph.microsoft.com/User.Read.All"),
            "AADSTS1002012",
        ),
        (
            Some("https://management.azure.com/.default"),
            "AADSTS500011",
        ),
    ] {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", "demo-entra-client-secret"),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let refused = http.post(&token_url).form(&form).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let body: Value = refused.json().await.unwrap();
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with(code),
            "{scope:?}: {body}"
        );
    }
    running.shutdown().await;
}

#[tokio::test]
async fn signed_assertions_for_every_auth_mode() {
    let running = demo().await;
    let base = running.base_url();
    let http = reqwest::Client::new();
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let client = "5e1f8a63-0c3b-4d0e-9a57-3f1d2b7c9e11";
    let token_url = format!("{base}/{tenant}/oauth2/v2.0/token");
    let exchange = |assertion: String| {
        http.post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client),
                ("scope", "https://graph.microsoft.com/.default"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
    };
    // Federated credential: GitHub's OIDC token, as the emulator issues it.
    let idtoken = |request_token: &'static str| {
        http.get(format!(
            "{base}/_github/idtoken?audience=api://AzureADTokenExchange"
        ))
        .bearer_auth(request_token)
        .send()
    };
    assert_eq!(
        idtoken("wrong").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let github: Value = idtoken("demo-actions-request-token")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let federated = exchange(github["value"].as_str().unwrap().to_owned())
        .await
        .unwrap();
    assert_eq!(federated.status(), StatusCode::OK);
    // Salesforce JWT bearer.
    let sf = |assertion: String| {
        http.post(format!("{base}/services/oauth2/token"))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
    };
    let ok = sf(assertion(
        "3MVG9contoso.roster.dev1",
        "integration@contoso.com.dev1",
        "https://test.salesforce.com",
    ))
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let jwt_token: Value = ok.json().await.unwrap();
    assert!(
        jwt_token.get("signature").is_none() && jwt_token.get("issued_at").is_none(),
        "the JWT bearer answer has no signature: {jwt_token}"
    );
    assert!(jwt_token["id"].as_str().unwrap().contains("/id/00D"));
    let stranger: Value = sf(assertion(
        "3MVG9contoso.roster.dev1",
        "nobody@contoso.com.dev1",
        "https://test.salesforce.com",
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(stranger["error"], "invalid_grant");
    let wrong_aud: Value = sf(assertion(
        "3MVG9contoso.roster.dev1",
        "integration@contoso.com.dev1",
        "https://example.com",
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(wrong_aud["error_description"], "invalid assertion");
    running.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_fail_the_read_once() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    sf.http
        .post(format!("{}/_emulator/faults", sf.base))
        .json(&json!({"route": "limits", "kind": "drop"}))
        .send()
        .await
        .unwrap();
    let broken = sf
        .http
        .get(format!("{}/services/data/v62.0/limits", sf.base))
        .bearer_auth(&sf.token)
        .send()
        .await;
    let failed = match broken {
        Err(_) => true,
        Ok(response) => response.bytes().await.is_err(),
    };
    assert!(failed, "the dropped response must not read as a success");
    assert_eq!(sf.get("limits").await.0, StatusCode::OK);
    running.shutdown().await;
}

#[tokio::test]
async fn graph_refuses_malformed_batches() {
    let running = demo().await;
    let token = demo_graph_token(&running).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1.0/$batch", running.base_url());
    // Malformed batches are refused whole.
    for bad in [
        json!({"requests": []}),
        json!({"requests": [{"id": "1", "url": "/users"}]}),
        json!({"requests": [{"id": "1", "method": "GET", "url": "/users", "headers": "x"}]}),
        json!({"requests": [{"id": "1", "method": "GET", "url": "/users", "dependsOn": ["2"]}]}),
    ] {
        let r = http
            .post(&url)
            .bearer_auth(&token)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let chained = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/users?$top=1"},
        {"id": "2", "method": "GET", "url": "/users?$top=1", "dependsOn": ["1"]},
    ]});
    let r = http
        .post(&url)
        .bearer_auth(&token)
        .json(&chained)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    running.shutdown().await;
}

#[tokio::test]
async fn graph_batch_answers_each_request() {
    let running = demo().await;
    let token = demo_graph_token(&running).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1.0/$batch", running.base_url());
    let body = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/users/ava.martinez@contoso.com?$select=id,department"},
        {"id": "2", "method": "GET", "url": "users?$filter=startswith(userPrincipalName,'liam')&$select=userPrincipalName"},
        {"id": "3", "method": "GET", "url": "/users/nobody@contoso.com"},
    ]});
    let reply: Value = http
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let responses = reply["responses"].as_array().unwrap();
    assert_eq!(responses[0]["status"], 200);
    assert_eq!(responses[0]["body"]["department"], "Sales");
    assert_eq!(
        responses[1]["body"]["value"][0]["userPrincipalName"],
        "liam.chen@contoso.com"
    );
    assert_eq!(responses[2]["status"], 404);
    assert!(
        responses[0]["headers"]["Content-Type"]
            .as_str()
            .unwrap()
            .starts_with("application/json")
    );

    // Items fail on their own, each with its own headers: a throttled item has its own
    // Retry-After, a broken one a failed status with an error body. Item headers count.
    let admin = |body: Value| {
        let url = format!("{}/_emulator/faults", running.base_url());
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    admin(json!({"route": "GET /v1.0/users/{id}", "kind": "drop"})).await;
    admin(json!({"route": "GET /v1.0/users", "kind": "status", "status": 429, "retry_after": "7"}))
        .await;
    let body = json!({"requests": [
        {"id": "a", "method": "GET", "url": "/users/ava.martinez@contoso.com"},
        {"id": "b", "method": "GET", "url": "/users?$select=id"},
        {"id": "c", "method": "GET", "url": "/users/$count", "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "d", "method": "GET", "url": "/users/$count"},
    ]});
    let reply: Value = http
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = |id: &str| {
        reply["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(item("a")["status"], 503, "{reply}");
    assert_eq!(item("a")["body"]["error"]["code"], "serviceNotAvailable");
    assert_eq!(item("b")["status"], 429);
    assert_eq!(item("b")["headers"]["Retry-After"], "7");
    assert_eq!(item("b")["body"]["error"]["code"], "TooManyRequests");
    assert_eq!(item("c")["status"], 200, "{reply}");
    assert!(item("c")["body"].as_u64().unwrap() > 0, "{reply}");
    assert_eq!(
        item("d")["status"],
        400,
        "ConsistencyLevel is the item's own"
    );

    let too_many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"}))
        .collect();
    let r = http
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"requests": too_many}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["message"],
        "Number of requests inside batch exceeds the limit."
    );
    running.shutdown().await;
}

/// The first delta round of a tenant larger than a page lists every user once, in order, a
/// page of 100 at a time, and ends in a delta link.
#[tokio::test]
async fn a_first_delta_round_pages_through_every_user_once() {
    let running = synthetic(250).await;
    let token: Value = graph_token(
        &running,
        synthetic::TENANT,
        synthetic::ENTRA_CLIENT,
        synthetic::ENTRA_SECRET,
    )
    .await
    .json()
    .await
    .unwrap();
    let (http, token) = (
        reqwest::Client::new(),
        token["access_token"].as_str().unwrap(),
    );
    let mut url = format!("{}/v1.0/users/delta?$select=id", running.base_url());
    let (mut ids, mut pages) = (Vec::new(), 0);
    loop {
        let page = get_json(&http, token, &url).await;
        let items = page["value"].as_array().unwrap();
        assert!(items.len() <= 100, "a page holds at most 100");
        ids.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        pages += 1;
        if let Some(next) = page["@odata.nextLink"].as_str() {
            next.clone_into(&mut url);
        } else {
            assert!(page["@odata.deltaLink"].is_string(), "{page}");
            break;
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (synthetic::world(250, 7).entra.users.iter())
        .map(|u| u.get("id").and_then(Value::as_str).unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn delta_rounds_report_changes_and_removals() {
    let running = demo().await;
    let base = running.base_url();
    let token = demo_graph_token(&running).await;
    let http = reqwest::Client::new();
    let round = |url: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            let (mut items, mut url) = (Vec::new(), url);
            loop {
                let page = get_json(&http, &token, &url).await;
                items.extend(page["value"].as_array().unwrap().iter().cloned());
                match (
                    page["@odata.nextLink"].as_str(),
                    page["@odata.deltaLink"].as_str(),
                ) {
                    (Some(next), _) => url = next.to_owned(),
                    (None, Some(delta)) => return (items, delta.to_owned()),
                    _ => panic!("a delta page ends in nextLink or deltaLink: {page}"),
                }
            }
        }
    };
    let (users, users_delta) = round(format!("{base}/v1.0/users/delta?$select=id,jobTitle")).await;
    assert_eq!(users.len(), 40);
    let (groups, groups_delta) = round(format!("{base}/v1.0/groups/delta")).await;
    assert_eq!(groups.len(), 5);
    let (nothing, _) = round(users_delta.clone()).await;
    assert!(nothing.is_empty(), "no changes yet: {nothing:?}");
    let admin = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{base}/_emulator/{path}"))
            .json(&body)
            .send()
    };
    admin(
        reqwest::Method::PATCH,
        "entra/users/liam.chen@contoso.com",
        json!({"jobTitle": "Senior AE"}),
    )
    .await
    .unwrap();
    admin(
        reqwest::Method::DELETE,
        "entra/users/noah.okafor@contoso.com",
        json!({}),
    )
    .await
    .unwrap();
    admin(
        reqwest::Method::POST,
        "entra/groups/SF Sales/members",
        json!({"remove": ["emma.johansson@contoso.com"]}),
    )
    .await
    .unwrap();
    let (changed, _) = round(users_delta).await;
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!(changed[0]["jobTitle"], "Senior AE");
    assert_eq!(changed[1]["@removed"]["reason"], "changed");
    let (groups, _) = round(groups_delta).await;
    let members = groups[0]["members@delta"].as_array().unwrap();
    assert_eq!(groups[0]["displayName"], "SF Sales");
    assert!(
        members.iter().all(|m| m["@removed"]["reason"] == "deleted"),
        "{members:?}"
    );
    assert_eq!(
        members.len(),
        2,
        "Noah left with his deletion, Emma was removed"
    );
    running.shutdown().await;
}

/// `EmployeeNumber` holds 20 characters and `FederationIdentifier` 512, as a real org's
/// describe says; describe tells a client so.
#[tokio::test]
async fn employee_number_and_federation_id_have_their_orgs_lengths() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let (_, describe) = sf.get("sobjects/User/describe").await;
    let length = |name: &str| described(&describe, name, "length");
    assert_eq!(length("EmployeeNumber"), Some(json!(20)));
    assert_eq!(length("FederationIdentifier"), Some(json!(512)));
    let standard = profile_id(&sf, "Standard User").await;
    for (field, fits, too_long) in [
        ("EmployeeNumber", 20, 21),
        ("FederationIdentifier", 512, 513),
    ] {
        let mut user = new_user(&format!("{}@contoso.com.dev1", field.to_lowercase()));
        user["ProfileId"] = json!(standard);
        user["CommunityNickname"] = json!(field);
        user[field] = json!("7".repeat(too_long));
        let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert_eq!(body[0]["errorCode"], "STRING_TOO_LONG", "{field}: {body}");
        user[field] = json!("7".repeat(fits));
        let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
        assert_eq!(status, StatusCode::CREATED, "{field}: {body}");
    }
    running.shutdown().await;
}

/// A Username takes an email's shape: one `@`, a dotted domain that neither starts nor ends
/// with a dot, no spaces.
#[tokio::test]
async fn usernames_take_an_emails_shape() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let standard = profile_id(&sf, "Standard User").await;
    for username in [
        "shape@x@contoso.com.dev1",
        "shape@contoso.com.",
        "shape@.contoso.com",
        "shape@contoso",
        "sha pe@contoso.com",
        "shape@contoso..com",
        "shape@-contoso.com",
        "shape@contoso.com/x",
        "shape\u{200b}@contoso.com",
        "shape\u{0}@contoso.com",
    ] {
        let mut user = new_user(username);
        user["ProfileId"] = json!(standard);
        let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{username}");
        assert_eq!(
            (body[0]["errorCode"].as_str(), body[0]["message"].as_str()),
            (
                Some("INVALID_EMAIL_ADDRESS"),
                Some(
                    "Username must be in the form of an email address (for example, john@acme.com)"
                )
            ),
            "{username}"
        );
    }
    let mut user = new_user("shape@contoso.com.dev1");
    user["ProfileId"] = json!(standard);
    let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    running.shutdown().await;
}

#[tokio::test]
async fn username_shape_nickname_and_daily_limit() {
    let mut world = WorldFile::from_yaml(DEMO).unwrap();
    world.salesforce.daily_api_limit = 6;
    let running = start(State::from_world(world).unwrap(), "127.0.0.1:0")
        .await
        .unwrap();
    let sf = Sf::demo(&running).await;
    let standard = profile_id(&sf, "Standard User").await; // request 1
    let mut user = new_user("not-an-email");
    user["ProfileId"] = json!(standard);
    let (_, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await; // 2
    assert_eq!(body[0]["errorCode"], "INVALID_EMAIL_ADDRESS");
    user["Username"] = json!("nick1@contoso.com.dev1");
    user["CommunityNickname"] = json!("ava.martinez");
    let (_, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await; // 3
    assert_eq!(body[0]["errorCode"], "DUPLICATE_COMM_NICKNAME");
    for _ in 0..3 {
        assert_eq!(sf.get("limits").await.0, StatusCode::OK); // 4, 5, 6
    }
    let (status, body) = sf.get("limits").await; // 7: over the daily limit
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (StatusCode::FORBIDDEN, json!("REQUEST_LIMIT_EXCEEDED"))
    );
    running.shutdown().await;
}

/// A FederationIdentifier another user holds is refused, on a create and on an update, in any
/// case ("A Federation ID must be unique for each user in an org"); a user keeping their own,
/// and one taking a free one, are not (helper-58: a second Ava's was created).
#[tokio::test]
async fn a_federation_id_another_user_holds_is_refused() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let standard = profile_id(&sf, "Standard User").await;
    let mut user = new_user("second.ava@contoso.com.dev1");
    user["ProfileId"] = json!(standard);
    user["FederationIdentifier"] = json!("AVA.MARTINEZ@contoso.com");
    let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        (body[0]["errorCode"].as_str(), body[0]["message"].as_str()),
        (
            Some("DUPLICATE_VALUE"),
            Some(
                "This Federation ID is already in use. Use a different Federation ID.: SAML \
                 Federation ID"
            )
        )
    );
    user["FederationIdentifier"] = json!("second.ava@contoso.com");
    let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let path = format!("sobjects/User/{id}");
    let (status, body) = sf
        .send(
            reqwest::Method::PATCH,
            &path,
            &json!({"FederationIdentifier": "ava.martinez@contoso.com"}),
        )
        .await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("DUPLICATE_VALUE"))
    );
    let (status, body) = sf
        .send(
            reqwest::Method::PATCH,
            &path,
            &json!({"FederationIdentifier": "second.ava@contoso.com", "Title": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    running.shutdown().await;
}

/// A body's field names are read without case, as Salesforce's REST API reads them: `title`
/// is Title, stored under that name; `username` is checked for duplicates as Username is;
/// the same field written twice in two spellings is refused (helper-58: writes in lower case
/// were kept under a second name, and got past the uniqueness checks).
#[tokio::test]
async fn field_names_are_read_without_case() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let noah = "sobjects/User/0058c0000000005AAA";
    let (status, body) = sf
        .send(
            reqwest::Method::PATCH,
            noah,
            &json!({"title": "Field Lead"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, user) = sf.get(&format!("{noah}?fields=Title")).await;
    assert_eq!(user["Title"], "Field Lead", "{user}");
    assert!(user.get("title").is_none(), "{user}");
    let (status, body) = sf
        .send(
            reqwest::Method::PATCH,
            noah,
            &json!({"username": "ava.martinez@contoso.com.dev1"}),
        )
        .await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("DUPLICATE_USERNAME")),
        "{body}"
    );
    let (status, body) = sf
        .send(
            reqwest::Method::PATCH,
            noah,
            &json!({"Title": "A", "TITLE": "B"}),
        )
        .await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("JSON_PARSER_ERROR")),
        "{body}"
    );
    running.shutdown().await;
}

/// A UserLogin takes its two checkboxes and nothing else: a value that is no boolean is the
/// parser's refusal, a name in another case is the field, a null unchecks, and
/// IsPasswordLocked may only be cleared (helper-58: "banana" was stored, and a lock set).
#[tokio::test]
async fn a_user_login_takes_only_checkboxes_and_only_clears_a_password_lock() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let (_, found) = sf
        .get(&query_path(
            "SELECT Id FROM UserLogin WHERE IsFrozen = false LIMIT 1",
        ))
        .await;
    let id = found["records"][0]["Id"].as_str().unwrap().to_owned();
    let path = format!("sobjects/UserLogin/{id}");
    let (status, body) = sf
        .send(
            reqwest::Method::PATCH,
            &path,
            &json!({"IsFrozen": "banana"}),
        )
        .await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("JSON_PARSER_ERROR")),
        "{body}"
    );
    let (status, body) = sf
        .send(
            reqwest::Method::PATCH,
            &path,
            &json!({"IsPasswordLocked": true}),
        )
        .await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (
            StatusCode::BAD_REQUEST,
            json!("INVALID_FIELD_FOR_INSERT_UPDATE")
        ),
        "{body}"
    );
    let (status, body) = sf
        .send(reqwest::Method::PATCH, &path, &json!({"isfrozen": true}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let soql = format!("SELECT IsFrozen FROM UserLogin WHERE Id = '{id}'");
    let (_, read) = sf.get(&query_path(&soql)).await;
    assert_eq!(read["records"][0]["IsFrozen"], json!(true), "{read}");
    let (status, body) = sf
        .send(reqwest::Method::PATCH, &path, &json!({"IsFrozen": null}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, read) = sf.get(&query_path(&soql)).await;
    assert_eq!(read["records"][0]["IsFrozen"], json!(false), "{read}");
    running.shutdown().await;
}

#[tokio::test]
async fn graph_faults_server_errors_and_expired_tokens() {
    let running = demo().await;
    let base = running.base_url();
    let token = demo_graph_token(&running).await;
    let http = reqwest::Client::new();
    let users = |token: String| {
        http.get(format!("{base}/v1.0/users"))
            .bearer_auth(token)
            .send()
    };
    for status in [503, 504, 500] {
        http.post(format!("{base}/_emulator/faults")).json(&json!({"route": "GET /v1.0/users", "kind": "status", "status": status, "retry_after": "2"})).send().await.unwrap();
        let r = users(token.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.headers()["retry-after"], "2");
        assert!(r.json::<Value>().await.unwrap()["error"]["code"].is_string());
    }
    http.post(format!("{base}/_emulator/faults"))
        .json(&json!({"route": "GET /v1.0/users", "kind": "expired_token"}))
        .send()
        .await
        .unwrap();
    let r = users(token.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "InvalidAuthenticationToken"
    );
    assert_eq!(
        users(token).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "the old token stays expired"
    );
    assert_eq!(
        users(demo_graph_token(&running).await)
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    running.shutdown().await;
}

#[tokio::test]
async fn licence_usage_is_counted_live() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let (_, body) = sf.get("query?q=SELECT+Name,+TotalLicenses,+UsedLicenses+FROM+UserLicense+WHERE+Name='Salesforce'").await;
    // Seeded: 9 users on Salesforce-licence profiles, one of them inactive.
    assert_eq!(body["records"][0]["TotalLicenses"], 40);
    assert_eq!(body["records"][0]["UsedLicenses"], 8);
    running.shutdown().await;
}

#[test]
fn synthetic_worlds_are_deterministic_for_a_seed() {
    let dump = |seed| {
        let w = synthetic::world(500, seed);
        (
            serde_json::to_string(&w.entra.users).unwrap(),
            serde_json::to_string(&w.salesforce.users).unwrap(),
        )
    };
    assert_eq!(dump(3), dump(3));
    assert_ne!(dump(3), dump(4));
}

#[tokio::test]
async fn graph_alternate_key_transitive_members_and_latest_delta() {
    let running = demo().await;
    let base = running.base_url();
    let token = demo_graph_token(&running).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        http.get(format!("{base}/v1.0/{path}"))
            .bearer_auth(&token)
            .send()
    };
    let sp: Value = get("servicePrincipals(appId='0f2e1d3c-4b5a-4978-8a9b-0c1d2e3f4a5b')".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sp["displayName"], "Salesforce Sandbox");
    let support = "00000006-0000-0000-0000-000000000002";
    let direct: Value = get(format!(
        "groups/{support}/members/graph.user?$select=displayName"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let transitive: Value = get(format!(
        "groups/{support}/transitiveMembers/graph.user?$select=displayName"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let count = |v: &Value| v["value"].as_array().unwrap().len();
    assert_eq!(
        count(&transitive),
        count(&direct) + 1,
        "Abigail is only in the nested Tier 2 group"
    );
    assert!(
        direct["value"][0]["id"].is_string(),
        "id comes back whatever $select says"
    );
    let latest: Value = get("users/delta?$deltatoken=latest".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count(&latest), 0);
    assert!(latest["@odata.deltaLink"].is_string());
    running.shutdown().await;
}

/// A group's members (and transitive members) read a page at a time give what one page gives,
/// in the same order, each once — with a cast that leaves a member out between two pages too:
/// the `$skiptoken` holds the place in the member list, not a count of the members shown.
#[tokio::test]
async fn member_pages_of_any_size_list_each_member_once_in_order() {
    let running = demo().await;
    let base = running.base_url();
    let token = demo_graph_token(&running).await;
    let http = reqwest::Client::new();
    let ids = |url: String| {
        let (http, token) = (&http, &token);
        async move {
            let (mut url, mut ids, mut pages) = (Some(url), Vec::new(), 0);
            while let Some(at) = url {
                let page = get_json(http, token, &at).await;
                for item in page["value"].as_array().unwrap() {
                    ids.push(item["id"].as_str().unwrap().to_owned());
                }
                url = page["@odata.nextLink"].as_str().map(str::to_owned);
                pages += 1;
            }
            (ids, pages)
        }
    };
    // Support: users, the nested group Tier 2, and users added after it (members keep the
    // order they were added in).
    let support_id = "00000006-0000-0000-0000-000000000002";
    http.post(format!(
        "{base}/_emulator/entra/groups/{support_id}/members"
    ))
    .json(&json!({"add": ["ava.martinez@contoso.com", "liam.chen@contoso.com"]}))
    .send()
    .await
    .unwrap();
    let support = format!("{base}/v1.0/groups/{support_id}");
    let (all, one_page) = ids(format!("{support}/members?$select=id")).await;
    let (users, _) = ids(format!("{support}/members/graph.user?$select=id")).await;
    assert_eq!(one_page, 1);
    assert_eq!(users.len() + 1, all.len(), "one member is the nested group");
    let nested = all.iter().position(|id| !users.contains(id)).unwrap();
    assert!(
        nested + 1 < all.len(),
        "a user follows the nested group: {all:?}"
    );
    let (transitive, _) = ids(format!("{support}/transitiveMembers?$select=id")).await;
    assert_eq!(transitive[..all.len()], all[..], "the direct members first");
    assert!(
        transitive.len() > all.len(),
        "and the nested group's after them"
    );
    for top in 1..=3 {
        let (listed, page_count) = ids(format!("{support}/members?$select=id&$top={top}")).await;
        assert_eq!(listed, all, "$top={top}");
        assert_eq!(page_count, all.len().div_ceil(top), "$top={top}");
        let (cast, _) = ids(format!(
            "{support}/members/graph.user?$select=id&$top={top}"
        ))
        .await;
        assert_eq!(cast, users, "graph.user, $top={top}");
        let (walked, _) = ids(format!("{support}/transitiveMembers?$select=id&$top={top}")).await;
        assert_eq!(walked, transitive, "transitiveMembers, $top={top}");
    }
}

#[tokio::test]
async fn custom_user_fields_exist_only_when_the_org_declares_them() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    // describe lists the declared field with its attributes.
    let (_, describe) = sf.get("sobjects/User/describe").await;
    let anchor = describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Entra_Object_Id__c")
        .cloned()
        .expect("the declared field");
    assert_eq!(
        (
            &anchor["custom"],
            &anchor["unique"],
            &anchor["externalId"],
            &anchor["length"]
        ),
        (&json!(true), &json!(true), &json!(true), &json!(36))
    );
    // An undeclared custom field is no column: not in SOQL, not in writes.
    let (status, body) = sf.get("query?q=SELECT+Id,+Cost_Center__c+FROM+User").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body[0]["errorCode"], "INVALID_FIELD", "{body}");
    let (status, _) = sf
        .get("query?q=SELECT+Id,+Entra_Object_Id__c+FROM+User")
        .await;
    assert_eq!(status, StatusCode::OK);
    let standard = profile_id(&sf, "Standard User").await;
    let mut user = new_user("anchor.one@contoso.com.dev1");
    user["ProfileId"] = json!(standard);
    user["Cost_Center__c"] = json!("CC-1");
    let (_, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(body[0]["errorCode"], "INVALID_FIELD", "{body}");
    // Declared: written, length-checked, and unique without case.
    user.as_object_mut().unwrap().remove("Cost_Center__c");
    user["Entra_Object_Id__c"] = json!("x".repeat(37));
    let (_, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(body[0]["errorCode"], "STRING_TOO_LONG", "{body}");
    user["Entra_Object_Id__c"] = json!("aaaaaaaa-0000-4000-8000-000000000001");
    let (status, first) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let mut second = new_user("anchor.two@contoso.com.dev1");
    second["ProfileId"] = json!(standard);
    second["Alias"] = json!("atwo");
    second["Entra_Object_Id__c"] = json!("AAAAAAAA-0000-4000-8000-000000000001");
    let (_, body) = sf
        .send(reqwest::Method::POST, "sobjects/User", &second)
        .await;
    assert_eq!(body[0]["errorCode"], "DUPLICATE_VALUE", "{body}");
    assert_eq!(
        body[0]["message"],
        format!(
            "duplicate value found: Entra_Object_Id__c duplicates value on record with id: {}",
            first["id"].as_str().unwrap()
        )
    );
    // The holder may rewrite its own value; once it lets go, the value is free.
    let path = format!("sobjects/User/{}", first["id"].as_str().unwrap());
    let (status, _) = sf
        .send(
            reqwest::Method::PATCH,
            &path,
            &json!({"Entra_Object_Id__c": "aaaaaaaa-0000-4000-8000-000000000001"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = sf
        .send(
            reqwest::Method::PATCH,
            &path,
            &json!({"Entra_Object_Id__c": null}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = sf
        .send(reqwest::Method::POST, "sobjects/User", &second)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    running.shutdown().await;
}

/// A world's text is stored as an org stores what the API writes: without leading and trailing
/// white space, blank text as null — so two values differing only in spacing are one value,
/// which a unique field refuses twice (helper-91: a world's spaces were served as written).
#[test]
fn a_worlds_text_is_stored_trimmed_as_an_org_stores_it() {
    let text = DEMO.replacen(
        "      FederationIdentifier: liam.chen@contoso.com\n",
        "      FederationIdentifier: \"liam.chen@contoso.com \"\n      Division: \"  West\\t\"\n      Department: \"   \"\n",
        1,
    );
    assert_ne!(text, DEMO);
    let state = State::from_world(WorldFile::from_yaml(&text).unwrap()).expect("seeded");
    let liam = state
        .org
        .records("User")
        .find(|u| u["Username"] == "liam.chen@contoso.com.dev1")
        .unwrap();
    assert_eq!(liam["FederationIdentifier"], "liam.chen@contoso.com");
    assert_eq!(liam["Division"], "West");
    assert!(liam["Department"].is_null(), "{liam:?}");
    let twice = DEMO.replacen(
        "      FederationIdentifier: liam.chen@contoso.com\n",
        "      FederationIdentifier: \" ava.martinez@contoso.com\"\n",
        1,
    );
    let err = State::from_world(WorldFile::from_yaml(&twice).unwrap())
        .err()
        .expect("refused");
    assert!(
        err.contains("FederationIdentifier \"ava.martinez@contoso.com\" is held by user 005"),
        "{err}"
    );
}

#[test]
fn a_world_whose_users_share_a_federation_identifier_is_refused() {
    // Ava's, in another case, on the next user.
    let text = DEMO.replacen(
        "      FederationIdentifier: liam.chen@contoso.com\n",
        "      FederationIdentifier: Ava.Martinez@contoso.com\n",
        1,
    );
    assert_ne!(text, DEMO);
    let world = WorldFile::from_yaml(&text).unwrap();
    let err = State::from_world(world).err().expect("refused");
    assert!(
        err.contains("FederationIdentifier \"Ava.Martinez@contoso.com\" is held by user 005")
            && err.contains("DUPLICATE_VALUE"),
        "{err}"
    );
    // With Setup's "Make Federation ID case-insensitive" off, the org holds both; the same
    // value in the same case it still refuses.
    let sensitive = |text: &str| {
        text.replacen(
            "salesforce:\n  sandbox: dev1\n",
            "salesforce:\n  sandbox: dev1\n  federation_id_case_insensitive: false\n",
            1,
        )
    };
    let served = sensitive(&text);
    assert_ne!(served, text);
    State::from_world(WorldFile::from_yaml(&served).unwrap()).expect("served");
    let same = sensitive(&DEMO.replacen(
        "      FederationIdentifier: liam.chen@contoso.com\n",
        "      FederationIdentifier: ava.martinez@contoso.com\n",
        1,
    ));
    let err = State::from_world(WorldFile::from_yaml(&same).unwrap())
        .err()
        .expect("refused");
    assert!(err.contains("DUPLICATE_VALUE"), "{err}");
}

/// A unique field set to be case-sensitive is described so, and only the same text in the same
/// case duplicates it; case sensitivity on a field that is not unique is no Salesforce setting.
#[tokio::test]
async fn a_case_sensitive_unique_field_refuses_only_the_same_case() {
    let declared =
        "    - {name: Entra_Object_Id__c, length: 36, unique: true, external_id: true}\n";
    let text = DEMO.replacen(
        declared,
        &format!(
            "{declared}    - {{name: Badge__c, length: 10, unique: true, case_sensitive: true}}\n"
        ),
        1,
    );
    assert_ne!(text, DEMO);
    let running = start(
        State::from_world(WorldFile::from_yaml(&text).unwrap()).unwrap(),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let sf = Sf::demo(&running).await;
    let (_, describe) = sf.get("sobjects/User/describe").await;
    assert_eq!(
        described(&describe, "Badge__c", "caseSensitive"),
        Some(json!(true))
    );
    assert_eq!(
        described(&describe, "Entra_Object_Id__c", "caseSensitive"),
        Some(json!(false))
    );
    let standard = profile_id(&sf, "Standard User").await;
    let mut ids = Vec::new();
    for (n, (badge, created)) in [("B-7", true), ("b-7", true), ("B-7", false)]
        .into_iter()
        .enumerate()
    {
        let mut user = new_user(&format!("badge.{n}@contoso.com.dev1"));
        user["ProfileId"] = json!(standard);
        user["Alias"] = json!(format!("badge{n}"));
        user["Badge__c"] = json!(badge);
        let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
        if created {
            assert_eq!(status, StatusCode::CREATED, "{badge}: {body}");
            ids.push(body["id"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(body[0]["errorCode"], "DUPLICATE_VALUE", "{body}");
            assert_eq!(
                body[0]["message"],
                format!(
                    "duplicate value found: Badge__c duplicates value on record with id: {}",
                    ids[0]
                )
            );
        }
    }
    // SOQL's `=` and `IN` compare it as written, other text without case.
    for (filter, found) in [
        ("Badge__c = 'B-7'", vec![&ids[0]]),
        ("Badge__c = 'b-7'", vec![&ids[1]]),
        ("Badge__c IN ('b-7', 'x')", vec![&ids[1]]),
        ("Badge__c != 'B-7' AND Alias LIKE 'badge%'", vec![&ids[1]]),
        ("Alias = 'BADGE0'", vec![&ids[0]]),
    ] {
        let (status, body) = sf
            .get(&query_path(&format!("SELECT Id FROM User WHERE {filter}")))
            .await;
        assert_eq!(status, StatusCode::OK, "{filter}: {body}");
        let rows: Vec<&str> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Id"].as_str().unwrap())
            .collect();
        assert_eq!(rows, found, "{filter}");
    }
    running.shutdown().await;
    let err = State::from_world(
        WorldFile::from_yaml(
            &text.replace("unique: true, case_sensitive: true", "case_sensitive: true"),
        )
        .unwrap(),
    )
    .err()
    .expect("refused");
    assert!(
        err.contains("\"Badge__c\" is `case_sensitive` but not `unique`"),
        "{err}"
    );
}

/// A world file is read as a config is (YAML 1.2): a surname `N` or `no` is text, not a
/// boolean; an employee id `007` or `1_000` is the text written, not a number. `.inf` is
/// refused in roster's words, and a number YAML 1.2 does read (`0x1F`) in a Salesforce text
/// field is refused, naming the field: Salesforce answers text fields as strings.
#[test]
fn a_world_reads_n_and_leading_zeros_as_text() {
    let text = DEMO
        .replacen("      surname: \"Martinez\"\n", "      surname: N\n", 1)
        .replacen(
            "      employeeId: \"E1001\"\n",
            "      employeeId: 007\n",
            1,
        )
        .replacen(
            "      employeeId: \"E1002\"\n",
            "      employeeId: 1_000\n",
            1,
        )
        .replacen("      FirstName: \"Sam\"\n", "      FirstName: no\n", 1);
    for written in [
        "surname: N\n",
        "employeeId: 007\n",
        "employeeId: 1_000\n",
        "FirstName: no\n",
    ] {
        assert_eq!(text.matches(written).count(), 1, "{written}");
    }
    let world = WorldFile::from_yaml(&text).unwrap();
    let (ava, liam) = (&world.entra.users[0], &world.entra.users[1]);
    assert_eq!(ava.get("surname"), Some(&json!("N")));
    assert_eq!(ava.get("employeeId"), Some(&json!("007")));
    assert_eq!(liam.get("employeeId"), Some(&json!("1_000")));
    assert_eq!(world.salesforce.users[0]["FirstName"], json!("no"));
    State::from_world(world).expect("served");
    let inf = DEMO.replacen("      jobTitle: VP Sales\n", "      jobTitle: .inf\n", 1);
    assert_ne!(inf, DEMO);
    let err = WorldFile::from_yaml(&inf).expect_err("refused");
    assert!(
        err.starts_with("line ")
            && err.ends_with(
                " (jobTitle): YAML reads an unquoted .inf as an infinite or not-a-number value, which no \
                 field takes; write \".inf\" to mean the text"
            ),
        "{err}"
    );
    // The key named is the one whose value is refused: inside a flow mapping, or quoted.
    for (line, key) in [
        (
            "      onPremisesExtensionAttributes: {extensionAttribute1: .inf}\n",
            "extensionAttribute1",
        ),
        ("      \"job title\": .inf\n", "job title"),
    ] {
        let text = DEMO.replacen("      jobTitle: VP Sales\n", line, 1);
        let err = WorldFile::from_yaml(&text).expect_err("refused");
        assert!(
            err.contains(&format!(" ({key}): YAML reads an unquoted .inf")),
            "{err}"
        );
    }
    // What a world read as YAML holds but the state refuses: the refusal.
    let refused = |text: &str| {
        State::from_world(WorldFile::from_yaml(text).unwrap())
            .err()
            .expect("refused")
    };
    let hex = DEMO.replacen(
        "      Alias: sadmin\n",
        "      Alias: sadmin\n      EmployeeNumber: 0x1F\n",
        1,
    );
    assert_ne!(hex, DEMO);
    let err = refused(&hex);
    assert!(
        err.contains("salesforce.users[0].EmployeeNumber: 31 is not text")
            && err.contains("write the text in quotes"),
        "{err}"
    );
    // An Entra user's, too: Graph holds text there.
    let entra = DEMO.replacen(
        "      employeeId: \"E1001\"\n",
        "      employeeId: 0x1F\n",
        1,
    );
    let err = refused(&entra);
    assert!(
        err.contains(
            "employeeId 31, not text (Graph would refuse it); YAML reads an unquoted number"
        ) && err.contains("write the text in quotes"),
        "{err}"
    );
    // `IsActive: no` is text in YAML 1.2: no checkbox's value (it was served as "no", and
    // every read of the world failed).
    let no = DEMO.replacen(
        "      Alias: sadmin\n",
        "      Alias: sadmin\n      IsActive: no\n",
        1,
    );
    let err = refused(&no);
    assert!(
        err.contains(
            "salesforce.users[0].IsActive: \"no\" is not a checkbox's value: write true or false"
        ),
        "{err}"
    );
}

#[test]
fn a_world_whose_users_carry_an_undeclared_custom_field_is_refused() {
    let text = DEMO.replacen(
        "      Profile: System Administrator\n",
        "      Profile: System Administrator\n      Cost_Center__c: CC-1\n",
        1,
    );
    let world = WorldFile::from_yaml(&text).unwrap();
    let err = State::from_world(world).err().expect("refused");
    assert!(
        err.contains("Cost_Center__c is not declared in salesforce.custom_user_fields"),
        "{err}"
    );
}

/// The Manager hierarchy never loops — no one is their own manager, nor their report's — and the
/// Manager of an active user is not deactivated.
#[tokio::test]
async fn a_manager_never_loops_and_stays_active_while_someone_reports_to_them() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let ava = results_id(&sf, "ava.martinez@contoso.com.dev1").await;
    let liam = results_id(&sf, "liam.chen@contoso.com.dev1").await;
    let (status, body) = sf
        .patch_user(&liam, &json!({"ManagerId": &ava[..15]}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for (user, manager, message) in [
        (&liam, &liam[..15], "A user can't be his or her own manager"),
        (
            &ava,
            &liam[..],
            "You cannot set a hierarchy field to point to itself or a child record",
        ),
    ] {
        let (status, body) = sf.patch_user(user, &json!({"ManagerId": manager})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body[0]["errorCode"], "FIELD_INTEGRITY_EXCEPTION", "{body}");
        assert_eq!(body[0]["message"], message, "{body}");
    }
    let (status, body) = sf.patch_user(&ava, &json!({"IsActive": false})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body[0]["message"],
        "Cannot inactivate user that is the value of a hierarchy field: Manager"
    );
    // Once Liam reports to no one, Ava goes.
    let (status, _) = sf.patch_user(&liam, &json!({"ManagerId": null})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = sf.patch_user(&ava, &json!({"IsActive": false})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    running.shutdown().await;
}

/// A world's `Manager` names another user by Username, and never loops: a manager no user has,
/// oneself, and two users managing each other are refused as Salesforce refuses them.
#[test]
fn a_world_whose_managers_loop_or_name_no_one_is_refused() {
    let manage = |pairs: &[(&str, &str)]| {
        let mut text = DEMO.to_owned();
        for (user, manager) in pairs {
            let entry = format!("    - Username: {user}\n");
            assert!(text.contains(&entry), "{user}");
            text = text.replacen(&entry, &format!("{entry}      Manager: {manager}\n"), 1);
        }
        State::from_world(WorldFile::from_yaml(&text).unwrap()).err()
    };
    let (ava, liam) = (
        "ava.martinez@contoso.com.dev1",
        "liam.chen@contoso.com.dev1",
    );
    assert_eq!(manage(&[(liam, ava)]), None);
    for (pairs, expected) in [
        (
            vec![(liam, "nobody@contoso.com.dev1")],
            "no user has the Username",
        ),
        (vec![(liam, liam)], "A user can't be his or her own manager"),
        (
            vec![(liam, ava), (ava, liam)],
            "You cannot set a hierarchy field to point to itself or a child record",
        ),
    ] {
        let err = manage(&pairs).expect("refused");
        assert!(
            err.contains(".Manager: ") && err.contains(expected),
            "{err}"
        );
    }
}

/// A profile's administrative permissions are Profile checkboxes a query reads: System
/// Administrator's all by default, a world's `permissions` as listed, and a name the emulator
/// does not model refused.
#[tokio::test]
async fn a_profiles_administrative_permissions_are_read_as_the_world_lists_them() {
    let line = "    - {name: System Administrator, license: Salesforce}\n";
    assert!(DEMO.contains(line));
    let listed = DEMO.replacen(
        line,
        "    - {name: System Administrator, license: Salesforce}\n    - {name: Auditor, license: Salesforce, permissions: [ViewAllData]}\n",
        1,
    );
    let running = start(
        State::from_world(WorldFile::from_yaml(&listed).unwrap()).unwrap(),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let sf = Sf::demo(&running).await;
    let (status, body) = sf
        .get(&query_path(
            "SELECT Name, PermissionsModifyAllData, PermissionsViewAllData, PermissionsManageUsers \
             FROM Profile WHERE PermissionsViewAllData = true",
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<(&str, bool, bool)> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["Name"].as_str().unwrap(),
                r["PermissionsModifyAllData"] == true,
                r["PermissionsManageUsers"] == true,
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("System Administrator", true, true),
            ("Auditor", false, false)
        ]
    );
    let unknown = DEMO.replacen(
        line,
        "    - {name: System Administrator, license: Salesforce, permissions: [ModifyAllData, ViewSetup]}\n",
        1,
    );
    let err = State::from_world(WorldFile::from_yaml(&unknown).unwrap())
        .err()
        .expect("refused");
    assert!(
        err.contains("profile \"System Administrator\": unknown permission \"ViewSetup\""),
        "{err}"
    );
}

/// Graph holds text in a text property and a boolean in a Boolean one: a world that says
/// otherwise is refused, as an admin change through the admin API is.
#[test]
fn a_world_whose_entra_users_hold_values_graph_refuses_is_refused() {
    for (from, to, expected) in [
        (
            "surname: \"Chen\"",
            "surname: 5",
            "entra.users[1] (liam.chen@contoso.com): surname 5, not text",
        ),
        (
            "userPrincipalName: liam.chen@contoso.com",
            "userPrincipalName: Ava.Martinez@contoso.com",
            "entra.users[1]: userPrincipalName \"Ava.Martinez@contoso.com\" is another user's",
        ),
        (
            "surname: \"Chen\"",
            "surname: \"Chen\"\n      proxyAddresses: \"SMTP:liam@contoso.com\"",
            "proxyAddresses \"SMTP:liam@contoso.com\", not a list of text",
        ),
        (
            "surname: \"Chen\"",
            "surname: \"Chen\"\n      onPremisesExtensionAttributes: {extensionAttribute1: 7}",
            "extensionAttribute1 7, not text",
        ),
        // Properties Graph's user does not have: a world with them would let roster read what
        // no tenant can give it.
        (
            "surname: \"Chen\"",
            "surname: \"Chen\"\n      costCenter: CC-7",
            "entra.users[1] (liam.chen@contoso.com): \"costCenter\": Graph's user has no such property",
        ),
        (
            "surname: \"Chen\"",
            "surname: \"Chen\"\n      JobTitle: Director",
            "entra.users[1] (liam.chen@contoso.com): \"JobTitle\": Graph spells it `jobTitle`",
        ),
        (
            "surname: \"Chen\"",
            "surname: \"Chen\"\n      extension_123_costCenter: CC-7",
            "\"extension_123_costCenter\": a directory extension is named",
        ),
        (
            "surname: \"Chen\"",
            "surname: \"Chen\"\n      onPremisesExtensionAttributes: {extensionAttribute16: x}",
            "onPremisesExtensionAttributes.\"extensionAttribute16\": Graph holds extensionAttribute1 to",
        ),
        (
            "surname: \"Chen\"",
            "surname: \"Chen\"\n      onPremisesExtensionAttributes: {extensionAttribute01: x}",
            "onPremisesExtensionAttributes.\"extensionAttribute01\"",
        ),
    ] {
        assert!(DEMO.contains(from));
        let world = WorldFile::from_yaml(&DEMO.replacen(from, to, 1)).unwrap();
        let err = State::from_world(world).err().expect("refused");
        assert!(err.contains(expected), "{err}");
    }
    // What Graph's user does hold is a world: a directory extension, extension attributes.
    let held = "surname: \"Chen\"\n      extension_b7d8e648520f41d3b9c0fdeb91768a0a_costCenter: \
                CC-7\n      onPremisesExtensionAttributes: {extensionAttribute15: x}";
    let world = WorldFile::from_yaml(&DEMO.replacen("surname: \"Chen\"", held, 1)).unwrap();
    assert!(State::from_world(world).is_ok());
}

#[tokio::test]
async fn admin_changes_to_entra_users_that_graph_refuses_change_nothing() {
    let running = demo().await;
    let client = reqwest::Client::new();
    let url = format!(
        "{}/_emulator/entra/users/liam.chen@contoso.com",
        running.base_url()
    );
    let answer = client
        .patch(&url)
        .json(&json!({"jobTitle": "Director", "accountEnabled": "false"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body = answer.text().await.unwrap();
    assert!(
        body.contains(r#"accountEnabled \"false\", not a boolean"#),
        "{body}"
    );
    // Nothing of the refused change was written.
    let world = client
        .get(format!("{}/_emulator/world", running.base_url()))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let users = world["entra"]["users"].as_array().unwrap();
    let liam = users
        .iter()
        .find(|u| u["userPrincipalName"] == "liam.chen@contoso.com")
        .unwrap();
    assert_eq!(liam["jobTitle"], "Account Executive");
    assert_eq!(liam["accountEnabled"], true);
    // Graph's `id` is read-only, and a user keeps a userPrincipalName.
    for (change, expected) in [
        (json!({"id": "other"}), "id is read-only"),
        (
            json!({"userPrincipalName": null}),
            "userPrincipalName is required",
        ),
        (
            json!({"costCenter": "CC-7"}),
            "costCenter\\\": Graph's user has no such property",
        ),
        // userPrincipalName is unique without regard to case, and text.
        (
            json!({"userPrincipalName": "AVA.MARTINEZ@contoso.com"}),
            "Another object with the same value for property userPrincipalName already exists",
        ),
        (
            json!({"userPrincipalName": 5}),
            "userPrincipalName 5, not text",
        ),
    ] {
        let answer = client.patch(&url).json(&change).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        let body = answer.text().await.unwrap();
        assert!(body.contains(expected), "{body}");
    }
    running.shutdown().await;
}

/// Values Graph refuses in a user's properties (Microsoft Graph, "user resource type"): the
/// admin API refuses them too, and a world holding one does not load.
#[tokio::test]
async fn admin_changes_and_worlds_hold_entra_values_to_graphs_rules() {
    let running = demo().await;
    let client = reqwest::Client::new();
    let url = format!(
        "{}/_emulator/entra/users/liam.chen@contoso.com",
        running.base_url()
    );
    for (change, expected) in [
        (
            json!({"userPrincipalName": "nodomain"}),
            "is not alias@domain",
        ),
        (
            json!({"userPrincipalName": "x@y@contoso.com"}),
            "is not alias@domain",
        ),
        (
            json!({"userPrincipalName": "has space@contoso.com"}),
            "is not alias@domain",
        ),
        (
            json!({"userPrincipalName": "\u{fc}ber@contoso.com"}),
            "is not alias@domain",
        ),
        (
            json!({"mail": "not an email"}),
            "is not an email address Graph accepts",
        ),
        (
            json!({"employeeHireDate": "not-a-date"}),
            "is not a date-time",
        ),
        (
            json!({"employeeHireDate": "2024-02-30T00:00:00Z"}),
            "is not a date-time",
        ),
        (
            json!({"usageLocation": "ZZZ"}),
            "is not a two-letter country code",
        ),
        (
            json!({"usageLocation": "UK"}),
            "Property usageLocation is invalid",
        ),
        (
            json!({"userPrincipalName": "liam.@contoso.com"}),
            "is not alias@domain",
        ),
        (
            json!({"userPrincipalName": format!("{}@contoso.com", "l".repeat(65))}),
            "is not alias@domain",
        ),
        (
            json!({"userPrincipalName": format!("liam@{}.com", "c".repeat(45))}),
            "is not alias@domain",
        ),
        (
            json!({"employeeHireDate": "2024-03-01T00:00:00+25:00"}),
            "is not a date-time",
        ),
        (
            json!({"jobTitle": "J".repeat(129)}),
            "jobTitle is 129 characters; Graph holds at most 128",
        ),
        (
            json!({"employeeId": "E".repeat(17)}),
            "employeeId is 17 characters; Graph holds at most 16",
        ),
    ] {
        let answer = client.patch(&url).json(&change).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{change}");
        let body = answer.text().await.unwrap();
        assert!(body.contains(expected), "{change}: {body}");
    }
    // What Graph takes passes.
    for change in [
        json!({"userPrincipalName": "o'brien.l~x@contoso.com"}),
        json!({"employeeHireDate": "2024-03-01T09:30:00.5+01:00"}),
        json!({"usageLocation": "DE", "jobTitle": "J".repeat(128)}),
    ] {
        let answer = client.patch(&url).json(&change).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{change}");
        let back = json!({"userPrincipalName": "liam.chen@contoso.com"});
        if change.get("userPrincipalName").is_some() {
            let url = format!(
                "{}/_emulator/entra/users/o'brien.l~x@contoso.com",
                running.base_url()
            );
            let answer = client.patch(&url).json(&back).send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
        }
    }
    running.shutdown().await;
    let world = WorldFile::from_yaml(&DEMO.replacen(
        "userPrincipalName: liam.chen@contoso.com",
        "userPrincipalName: \u{fc}ber@contoso.com",
        1,
    ))
    .unwrap();
    let refused = State::from_world(world).err().unwrap();
    assert!(refused.contains("is not alias@domain"), "{refused}");
}

#[tokio::test]
async fn restricted_picklists_take_only_their_values() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let mut user = new_user("pick.list@contoso.com.dev1");
    user["ProfileId"] = json!(profile_id(&sf, "Standard User").await);
    // The restricted picklists take only their values, as describe lists them.
    user["TimeZoneSidKey"] = json!("Pacific Standard Time");
    let (_, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(
        body[0]["errorCode"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    assert_eq!(
        body[0]["message"],
        "Time Zone: bad value for restricted picklist field: Pacific Standard Time"
    );
    assert_eq!(body[0]["fields"], json!(["TimeZoneSidKey"]));
    user["TimeZoneSidKey"] = json!("America/Los_Angeles");
    user["LanguageLocaleKey"] = json!("de_DE");
    let (_, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(
        body[0]["message"],
        "Language: bad value for restricted picklist field: de_DE"
    );
    user["LanguageLocaleKey"] = json!("en_US");
    user["Email"] = json!("not-an-address");
    let (_, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(body[0]["errorCode"], "INVALID_EMAIL_ADDRESS");
    assert_eq!(
        body[0]["message"],
        "Email: invalid email address: not-an-address"
    );
    user["Email"] = json!("pick.list@contoso.com");
    let (_, describe) = sf.get("sobjects/User/describe").await;
    let language = describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "LanguageLocaleKey")
        .cloned()
        .unwrap();
    assert_eq!(language["restrictedPicklist"], true);
    assert_eq!(language["label"], "Language");
    assert!(
        language["picklistValues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["value"] == "de" && v["active"] == true)
    );
    let (status, body) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    running.shutdown().await;
}

/// The demo org with an Outdated permission set group, no package seat and no Knowledge
/// feature licence seat left.
async fn grants_world() -> Running {
    let yaml = DEMO
        .replace(
            "    - {name: Sales_Leadership}",
            "    - {name: Sales_Leadership}\n    - {name: Support_Ops, status: Outdated}",
        )
        .replace(
            "{namespace: sbqq, total: 20}",
            "{namespace: sbqq, total: 0}",
        )
        .replace("{KnowledgeUser: 10, SupportUser: 10}", "{KnowledgeUser: 0}");
    let world = WorldFile::from_yaml(&yaml).unwrap();
    start(State::from_world(world).unwrap(), "127.0.0.1:0")
        .await
        .unwrap()
}

async fn one_id(sf: &Sf, soql: &str) -> Value {
    let (_, found) = sf.get(&format!("query?q={}", soql.replace(' ', "+"))).await;
    assert_eq!(found["totalSize"], 1, "{soql}: {found}");
    found["records"][0]["Id"].clone()
}

#[tokio::test]
async fn permission_sets_and_their_licences_follow_salesforces_rules() {
    use reqwest::Method;
    let running = grants_world().await;
    let sf = Sf::demo(&running).await;
    let user = new_grantee(&sf).await;
    let used_of = |body: &Value| body["records"][0]["UsedLicenses"].as_i64().unwrap();
    let psl_query = "query?q=SELECT+Id,UsedLicenses+FROM+PermissionSetLicense+WHERE+DeveloperName='Knowledge_PSL'";
    let (_, psl) = sf.get(psl_query).await;
    let knowledge_psl = psl["records"][0]["Id"].clone();
    let before = used_of(&psl);

    // A permission set needing a licence the user lacks is refused with Salesforce's text.
    let author = one_id(
        &sf,
        "SELECT Id FROM PermissionSet WHERE Name='Knowledge_Author'",
    )
    .await;
    let psa = json!({"AssigneeId": user, "PermissionSetId": author});
    let (status, refused) = sf
        .send(Method::POST, "sobjects/PermissionSetAssignment", &psa)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .contains("The user license doesn't allow the permission")
    );
    // With the licence (a seat counted live), it is taken; the licence cannot go while needed.
    let licence_record = json!({"AssigneeId": user, "PermissionSetLicenseId": knowledge_psl});
    let (status, licence) = sf
        .send(
            Method::POST,
            "sobjects/PermissionSetLicenseAssign",
            &licence_record,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{licence}");
    assert_eq!(used_of(&sf.get(psl_query).await.1), before + 1);
    let (_, dup) = sf
        .send(
            Method::POST,
            "sobjects/PermissionSetLicenseAssign",
            &licence_record,
        )
        .await;
    assert_eq!(dup[0]["errorCode"], "DUPLICATE_VALUE");
    let (status, _) = sf
        .send(Method::POST, "sobjects/PermissionSetAssignment", &psa)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        sf.delete(&format!(
            "sobjects/PermissionSetLicenseAssign/{}",
            licence["id"].as_str().unwrap()
        ))
        .await,
        StatusCode::BAD_REQUEST
    );

    // A permission set linked to a licence brings it along.
    let cadences = one_id(
        &sf,
        "SELECT Id FROM PermissionSet WHERE Name='Sales_Engagement_Cadences'",
    )
    .await;
    let psa = json!({"AssigneeId": user, "PermissionSetId": cadences});
    let (status, _) = sf
        .send(Method::POST, "sobjects/PermissionSetAssignment", &psa)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, brought) = sf
        .get(&format!(
            "query?q=SELECT+Id+FROM+PermissionSetLicenseAssign+WHERE+AssigneeId='{}'",
            user.as_str().unwrap()
        ))
        .await;
    assert_eq!(brought["totalSize"], 2, "{brought}");

    running.shutdown().await;
}

/// A new Standard User in `sf`'s org: its id.
async fn new_grantee(sf: &Sf) -> Value {
    let mut user = new_user("grants@contoso.com.dev1");
    user["ProfileId"] = json!(profile_id(sf, "Standard User").await);
    let (status, created) = sf.send(reqwest::Method::POST, "sobjects/User", &user).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].clone()
}

#[tokio::test]
async fn groups_packages_and_feature_licences_follow_salesforces_rules() {
    use reqwest::Method;
    let running = grants_world().await;
    let sf = Sf::demo(&running).await;
    let user = new_grantee(&sf).await;
    let author = one_id(
        &sf,
        "SELECT Id FROM PermissionSet WHERE Name='Knowledge_Author'",
    )
    .await;
    // A group that is not Updated takes no assignee; one that is, does.
    let outdated = one_id(
        &sf,
        "SELECT Id FROM PermissionSetGroup WHERE DeveloperName='Support_Ops'",
    )
    .await;
    let (status, refused) = sf
        .send(
            Method::POST,
            "sobjects/PermissionSetAssignment",
            &json!({"AssigneeId": user, "PermissionSetGroupId": outdated}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .contains("\"Updated\" status")
    );
    let updated = one_id(
        &sf,
        "SELECT Id FROM PermissionSetGroup WHERE DeveloperName='Sales_Leadership'",
    )
    .await;
    let (status, _) = sf
        .send(
            Method::POST,
            "sobjects/PermissionSetAssignment",
            &json!({"AssigneeId": user, "PermissionSetGroupId": updated, "PermissionSetId": author}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a group and a set in one assignment"
    );

    // No package seat: LICENSE_LIMIT_EXCEEDED.
    let sbqq = one_id(
        &sf,
        "SELECT Id FROM PackageLicense WHERE NamespacePrefix='sbqq'",
    )
    .await;
    let (_, refused) = sf
        .send(
            Method::POST,
            "sobjects/UserPackageLicense",
            &json!({"UserId": user, "PackageLicenseId": sbqq}),
        )
        .await;
    assert_eq!(refused[0]["errorCode"], "LICENSE_LIMIT_EXCEEDED");

    // A group member twice: the same record, no error.
    let queue = one_id(&sf, "SELECT Id FROM Group WHERE Type = 'Queue'").await;
    let member = json!({"GroupId": queue, "UserOrGroupId": user});
    let (first, a) = sf.send(Method::POST, "sobjects/GroupMember", &member).await;
    let (second, b) = sf.send(Method::POST, "sobjects/GroupMember", &member).await;
    assert_eq!((first, second), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(a["id"], b["id"]);

    // No Knowledge feature licence seat left, as the daily metric says too.
    let (_, metric) = sf
        .get("query?q=SELECT+FeatureType,TotalLicenseCount,AssignedUserCount+FROM+ActiveFeatureLicenseMetric")
        .await;
    assert_eq!(
        metric["records"][0]["FeatureType"], "KnowledgeUser",
        "{metric}"
    );
    assert_eq!(metric["records"][0]["TotalLicenseCount"], 0);
    assert_eq!(metric["records"][0]["AssignedUserCount"], 0);
    let (_, refused) = sf
        .send(
            Method::PATCH,
            &format!("sobjects/User/{}", user.as_str().unwrap()),
            &json!({"UserPermissionsKnowledgeUser": true}),
        )
        .await;
    assert_eq!(
        refused[0]["errorCode"], "LICENSE_LIMIT_EXCEEDED",
        "{refused}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn the_routes_the_readme_lists_are_served() {
    let running = demo().await;
    let token = demo_graph_token(&running).await;
    let base = running.base_url();
    let graph = |path: String| {
        reqwest::Client::new()
            .get(format!("{base}/v1.0/{path}"))
            .bearer_auth(&token)
            .send()
    };
    let app = "0f2e1d3c-4b5a-4978-8a9b-0c1d2e3f4a5b";
    let sp = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
    for path in [
        format!("servicePrincipals/{sp}"),
        format!("servicePrincipals(appId='{app}')"),
        format!("servicePrincipals?$filter=appId eq '{app}'"),
        "servicePrincipals?$filter=displayName eq 'Salesforce Sandbox'".to_owned(),
    ] {
        let answer = graph(path.clone()).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        let body: Value = answer.json().await.unwrap();
        let found = body.get("value").map_or(&body, |v| &v[0]);
        assert_eq!(found["id"], sp, "{path}: {body}");
    }
    let sf = Sf::demo(&running).await;
    // queryAll also sees what query does; describe lists the User's fields.
    let (status, all) = sf.get("queryAll?q=SELECT+Id+FROM+User").await;
    assert_eq!(status, StatusCode::OK);
    let (_, some) = sf.get("query?q=SELECT+Id+FROM+User").await;
    assert!(all["totalSize"].as_u64() >= some["totalSize"].as_u64());
    let (status, describe) = sf.get("sobjects/User/describe").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        describe["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "UserPermissionsKnowledgeUser")
    );
    // Collections delete takes assignment records by id, 200 at most.
    let member = one_id(&sf, "SELECT Id FROM GroupMember LIMIT 1").await;
    let r = sf
        .http
        .delete(format!(
            "{}/services/data/v62.0/composite/sobjects?ids={}",
            sf.base,
            member.as_str().unwrap()
        ))
        .bearer_auth(&sf.token)
        .send()
        .await
        .unwrap();
    let deleted: Value = r.json().await.unwrap();
    assert_eq!(deleted[0]["success"], true, "{deleted}");
    running.shutdown().await;
}

/// `allOrNone=true` on a collection delete: one record that cannot be deleted rolls the
/// others back, each answered `ALL_OR_NONE_OPERATION_ROLLED_BACK`; without it, the others go.
#[tokio::test]
async fn a_collection_delete_with_all_or_none_rolls_back_on_one_failure() {
    let running = demo().await;
    let sf = Sf::demo(&running).await;
    let member = one_id(&sf, "SELECT Id FROM GroupMember LIMIT 1").await;
    let member = member.as_str().unwrap();
    let user = one_id(&sf, "SELECT Id FROM User LIMIT 1").await;
    let path = |all_or_none: &str| {
        format!(
            "composite/sobjects?ids={member},{}&allOrNone={all_or_none}",
            user.as_str().unwrap()
        )
    };
    let count = || async {
        let (_, found) = sf
            .get(&format!(
                "query?q=SELECT+Id+FROM+GroupMember+WHERE+Id='{member}'"
            ))
            .await;
        found["totalSize"].clone()
    };
    let answer = sf.delete_answer(&path("true")).await;
    assert_eq!(answer[0]["success"], false, "{answer}");
    assert_eq!(
        answer[0]["errors"][0]["statusCode"], "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "{answer}"
    );
    assert_eq!(answer[1]["success"], false, "{answer}");
    assert_eq!(count().await, 1, "the membership is still there");
    let answer = sf.delete_answer(&path("false")).await;
    assert_eq!(answer[0]["success"], true, "{answer}");
    assert_eq!(answer[1]["success"], false, "{answer}");
    assert_eq!(count().await, 0);
    // An id of no form names nothing: malformed, not "users are deactivated" (helper-59).
    let answer = sf.delete_answer("composite/sobjects?ids=hello").await;
    assert_eq!(
        answer[0]["errors"][0]["statusCode"], "MALFORMED_ID",
        "{answer}"
    );
    running.shutdown().await;
}

/// A world's org id is one Salesforce would give, kept in its 18-character form: one with a
/// suffix that does not fit, or of another object, is refused when the world loads.
#[test]
fn a_world_org_id_that_salesforce_would_never_give_is_refused() {
    let with_org = |id: &str| {
        let world = DEMO.replacen(
            "salesforce:\n",
            &format!("salesforce:\n  org_id: {id}\n"),
            1,
        );
        State::from_world(WorldFile::from_yaml(&world).unwrap())
    };
    assert_eq!(
        with_org("00D8c0000000099").unwrap().org.id,
        "00D8c0000000099EAA"
    );
    assert_eq!(
        with_org("00d8C0000000099eaa").unwrap().org.id,
        "00D8c0000000099EAA"
    );
    for bad in [
        "00D8c0000000099AAA",
        "0058c0000000099EAA",
        "00D8c00000000-9",
    ] {
        let error = with_org(bad).err().expect(bad);
        assert!(
            error.starts_with(&format!(
                "salesforce.org_id: \"{bad}\" is not an Organization id"
            )),
            "{error}"
        );
    }
}
