//! SOQL text, in one place: string literals quoted one way, and `WHERE field IN (...)` queries
//! over any number of values, chunked under Salesforce's URL length limit and run a few at a
//! time. Field names never come from here: the config's are checked as API names by `validate`.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;

use serde_json::Value;

use super::{Salesforce, SalesforceError};

/// Record ids in one `IN (...)` list (18 characters each, well under the 16,384-character URL
/// limit of a REST query).
pub(crate) const IDS_PER_QUERY: usize = 300;
/// Usernames in one `IN (...)` list (up to 80 characters each).
pub(crate) const NAMES_PER_QUERY: usize = 200;
/// Queries in flight at once.
pub(crate) const CONCURRENCY: usize = 4;

/// A SOQL string literal: `'...'` with the escape sequences of the SOQL and SOSL Reference
/// ("Quoted String Escape Sequences"): `\\`, `\'`, `\"`, `\n`, `\r`, `\t`, `\b`, `\f`.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            other => out.push(other),
        }
    }
    out.push('\'');
    out
}

/// How long a query's `q=` value may be once percent-encoded, in bytes. Salesforce caps the URI
/// plus the headers at 16,384 bytes, answering 414 URI Too Long or 431 beyond (help article
/// 000386264); the rest is left for `/services/data/vXX.X/query?q=`, the bearer token and the
/// other headers.
pub(crate) const ENCODED_QUERY_MAX: usize = 12_000;

/// `values` cut into `IN (...)` lists of at most `per_query` values each, and fewer when the
/// percent-encoded query (`{head}'a', 'b'...)`) would pass `ENCODED_QUERY_MAX`: 200 Usernames
/// of 80 characters are about 18 KB encoded. A value too long for any list gets one of its own.
/// A value given again is left out: in two lists it would bring its rows back twice (apply's
/// look-up of the assignments it added asked for a user once per grant, and failed as
/// "answered twice" when two of them fell in two lists).
fn in_lists(head: &str, values: &[String], per_query: usize) -> Vec<Vec<String>> {
    let fixed = crate::http::encode(head).len() + crate::http::encode(")").len();
    let separator = crate::http::encode(", ").len();
    let mut lists: Vec<Vec<String>> = Vec::new();
    let mut length = usize::MAX;
    let mut seen: HashSet<&str> = HashSet::with_capacity(values.len());
    for value in values.iter().filter(|v| seen.insert(v.as_str())) {
        let quoted = quote(value);
        let more = crate::http::encode(&quoted).len();
        let full = lists.last().is_none_or(|list| {
            list.len() >= per_query.max(1) || length + separator + more > ENCODED_QUERY_MAX
        });
        if full {
            lists.push(Vec::new());
            length = fixed;
        } else {
            length += separator;
        }
        length += more;
        lists.last_mut().expect("a list was pushed").push(quoted);
    }
    lists
}

/// Every row of `{select} WHERE {field} IN (...)` over `values`, `per_query` values a query
/// (fewer when the URL would be too long: `in_lists`), the queries run side by side; rows in
/// the order of the chunks.
pub(crate) async fn query_in(
    salesforce: &Arc<Salesforce>,
    select: &str,
    field: &str,
    values: &[String],
    per_query: usize,
) -> Result<Vec<Value>, SalesforceError> {
    query_in_as(salesforce, select, field, values, per_query, Ok).await
}

/// `query_in`, each row made a `T` by `row` as its page arrives: the rows as JSON are let go a
/// page at a time (an org's 100,000 PermissionSetAssignment rows, each a map with a map of its
/// `attributes`, were some 70 MB held until the last query's last page).
///
/// # Errors
/// A query's failure, or `row`'s error for a row; the first in chunk order.
pub(crate) async fn query_in_as<T: Send + 'static>(
    salesforce: &Arc<Salesforce>,
    select: &str,
    field: &str,
    values: &[String],
    per_query: usize,
    row: impl Fn(Value) -> Result<T, SalesforceError> + Clone + Send + Sync + 'static,
) -> Result<Vec<T>, SalesforceError> {
    let head = format!("{select} WHERE {field} IN (");
    let queries: Vec<_> = in_lists(&head, values, per_query)
        .into_iter()
        .map(|list| {
            let soql = format!("{head}{})", list.join(", "));
            let (salesforce, row) = (Arc::clone(salesforce), row.clone());
            async move {
                let mut rows = Vec::new();
                let read = salesforce
                    .query_pages(&soql, None, |page| {
                        rows.reserve(page.len());
                        for one in page {
                            rows.push(row(one)?);
                        }
                        Ok(())
                    })
                    .await;
                Ok::<_, Infallible>(read.map(|()| rows))
            }
        })
        .collect();
    let Ok(pages) = crate::concurrent::all(CONCURRENCY, queries).await;
    let mut rows = Vec::new();
    for page in pages {
        rows.extend(page?);
    }
    Ok(rows)
}

/// `rows` of a query of `object` as a map, each row made a key and a value by `entry`: a key
/// answered twice is refused (Salesforce holds one login a user, one assignment a user and
/// object, one user a Username: a second is an answer roster cannot read, and taking either
/// would act on a guess — a login of another user frozen).
fn each_once<'r, K: std::hash::Hash + Eq, V>(
    rows: impl IntoIterator<Item = &'r Value>,
    object: &str,
    named: impl Fn(&K) -> String,
    entry: impl Fn(&Value) -> Result<(K, V), String>,
) -> Result<HashMap<K, V>, SalesforceError> {
    let mut map = HashMap::new();
    for row in rows {
        let (key, value) = entry(row).map_err(|why| super::read::malformed(object, &why))?;
        if map.contains_key(&key) {
            let why = format!("{} is answered twice", named(&key));
            return Err(super::read::malformed(object, &why));
        }
        map.insert(key, value);
    }
    Ok(map)
}

/// A row's record id `field` (of one of `of`'s objects), canonical and cut to its
/// 15-character form: the key apply's lookups join by (`salesforce::record_id`).
fn id15_of(row: &Value, field: &str, of: &[super::KeyPrefix]) -> Result<String, String> {
    let mut id = super::read::id_of(row, field, of)?;
    id.truncate(15);
    Ok(id)
}

/// Ids of the users with these Usernames, by lower-case Username (Salesforce compares
/// Usernames without case), each a User's id in its canonical form.
///
/// # Errors
/// A failed query; a row without a User's id or a Username; a Username answered twice.
pub(crate) async fn ids_by_username(
    salesforce: &Arc<Salesforce>,
    usernames: &[String],
) -> Result<HashMap<String, String>, SalesforceError> {
    let rows = query_in(
        salesforce,
        "SELECT Id, Username FROM User",
        "Username",
        usernames,
        NAMES_PER_QUERY,
    )
    .await?;
    each_once(
        &rows,
        "User",
        |name: &String| format!("Username {}", crate::render::quoted(name)),
        |r| {
            let id = super::read::id_of(r, "Id", &[super::USER_IDS])?;
            let username = super::read::text_of(r, "Username")?;
            Ok((username.to_lowercase(), id))
        },
    )
}

/// The users with these ids, each a row of `fields` (API names the config's checks let
/// through), by 15-character id.
///
/// # Errors
/// A failed query; a row without a User's id; a user answered twice.
pub(crate) async fn users_by_id(
    salesforce: &Arc<Salesforce>,
    ids: &[String],
    fields: &[&str],
) -> Result<HashMap<String, Value>, SalesforceError> {
    let mut select = vec!["Id"];
    select.extend(fields.iter().filter(|f| !f.eq_ignore_ascii_case("Id")));
    let rows = query_in(
        salesforce,
        &format!("SELECT {} FROM User", select.join(", ")),
        "Id",
        ids,
        IDS_PER_QUERY,
    )
    .await?;
    each_once(
        &rows,
        "User",
        |id| format!("user {id}"),
        |r| Ok((id15_of(r, "Id", &[super::USER_IDS])?, r.clone())),
    )
}

/// The assignments of one kind of grant these users hold: assignment id (canonical) by
/// (user, access object), both as 15-character ids; each id of its object (`KindSpec::ids`).
///
/// # Errors
/// A failed query; a row whose ids are not its objects'; one user and object answered twice.
pub(crate) async fn assignments_of(
    salesforce: &Arc<Salesforce>,
    kind: crate::grants::GrantKind,
    assignees: &[String],
) -> Result<HashMap<(String, String), String>, SalesforceError> {
    let spec = kind.spec();
    let rows = query_in(
        salesforce,
        &kind.assignments_soql(),
        spec.assignee_field,
        assignees,
        IDS_PER_QUERY,
    )
    .await?;
    // Asked by user, Salesforce answers each user's every assignment of the object: a
    // permission set's rows have no PermissionSetGroupId. Not of this kind: passed over.
    let of_kind = rows
        .iter()
        .filter(|row| !row.get(spec.object_field).is_some_and(Value::is_null));
    each_once(
        of_kind,
        spec.assignment,
        |(user, object)| format!("the assignment of {object} to {user}"),
        |row| {
            let id = super::read::id_of(row, "Id", spec.ids.assignment)?;
            let user = id15_of(row, spec.assignee_field, spec.ids.assignee)?;
            let object = id15_of(row, spec.object_field, spec.ids.object)?;
            Ok(((user, object), id))
        },
    )
}

/// Which of these `object` records exist, as 15-character ids (each an id of one of `of`'s
/// objects).
///
/// # Errors
/// A failed query; a row whose id is not one of `of`'s.
pub(crate) async fn existing(
    salesforce: &Arc<Salesforce>,
    object: &str,
    of: &[super::KeyPrefix],
    ids: &[String],
) -> Result<std::collections::HashSet<String>, SalesforceError> {
    let rows = query_in(
        salesforce,
        &format!("SELECT Id FROM {object}"),
        "Id",
        ids,
        IDS_PER_QUERY,
    )
    .await?;
    rows.iter()
        .map(|r| id15_of(r, "Id", of).map_err(|why| super::read::malformed(object, &why)))
        .collect()
}

/// Whether each of these `UserLogin` records is frozen, by 15-character id.
///
/// # Errors
/// A failed query; a row without a UserLogin's id or a boolean `IsFrozen`; a login answered
/// twice.
pub(crate) async fn frozen_logins(
    salesforce: &Arc<Salesforce>,
    ids: &[String],
) -> Result<HashMap<String, bool>, SalesforceError> {
    let rows = query_in(
        salesforce,
        "SELECT Id, IsFrozen FROM UserLogin",
        "Id",
        ids,
        IDS_PER_QUERY,
    )
    .await?;
    each_once(
        &rows,
        "UserLogin",
        |id| format!("login {id}"),
        |r| {
            let id = id15_of(r, "Id", &[super::USER_LOGIN_IDS])?;
            let frozen = r
                .get("IsFrozen")
                .and_then(Value::as_bool)
                .ok_or_else(|| format!("IsFrozen is not a boolean (record {id})"))?;
            Ok((id, frozen))
        },
    )
}

/// The `UserLogin` id (canonical) of each of these users, by the user's 15-character id
/// (every user has one login record).
///
/// # Errors
/// A failed query; a row without a UserLogin's id or a User's `UserId`; a user with two logins,
/// or one login answered for two users (freezing either would be a guess).
pub(crate) async fn logins_of(
    salesforce: &Arc<Salesforce>,
    users: &[String],
) -> Result<HashMap<String, String>, SalesforceError> {
    let rows = query_in(
        salesforce,
        "SELECT Id, UserId FROM UserLogin",
        "UserId",
        users,
        IDS_PER_QUERY,
    )
    .await?;
    let logins = each_once(
        &rows,
        "UserLogin",
        |id| format!("login {id}"),
        |r| {
            let id = super::read::id_of(r, "Id", &[super::USER_LOGIN_IDS])?;
            let user = id15_of(r, "UserId", &[super::USER_IDS])?;
            Ok((id, user))
        },
    )?;
    let mut by_user: HashMap<String, String> = HashMap::with_capacity(logins.len());
    for (login, user) in logins {
        if let Some(other) = by_user.get(&user) {
            let mut both = [other.as_str(), login.as_str()];
            both.sort_unstable();
            return Err(super::read::malformed(
                "UserLogin",
                &format!(
                    "user {user} has two UserLogin records, {} and {}",
                    both[0], both[1]
                ),
            ));
        }
        by_user.insert(user, login);
    }
    Ok(by_user)
}

#[cfg(test)]
mod tests {
    use super::{ENCODED_QUERY_MAX, each_once, in_lists, quote};

    /// A lookup's rows become a map only when each key is answered once: a second row for a
    /// key (two logins of one user, one assignment twice) is refused, named.
    #[test]
    fn a_key_answered_twice_fails_the_lookup() {
        let rows = [
            serde_json::json!({"UserId": "a", "Id": "1"}),
            serde_json::json!({"UserId": "b", "Id": "2"}),
        ];
        let entry = |row: &serde_json::Value| {
            Ok((
                row["UserId"].as_str().unwrap_or_default().to_owned(),
                row["Id"].clone(),
            ))
        };
        let named = |user: &String| format!("user {user}");
        assert_eq!(
            each_once(&rows, "UserLogin", named, entry).unwrap().len(),
            2
        );
        let twice = [rows[0].clone(), rows[1].clone(), rows[0].clone()];
        let error = each_once(&twice, "UserLogin", named, entry)
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with("Salesforce query of UserLogin: the answer is not what roster expects: user a is answered twice"),
            "{error}"
        );
    }

    /// Lists stop at `per_query` values or at the encoded length, whichever comes first, and
    /// keep every value once, in order.
    #[test]
    fn in_lists_stay_under_the_url_limit() {
        let head = "SELECT Id, Username FROM User WHERE Username IN (";
        let long: Vec<String> = (0..450)
            .map(|n| format!("{n:03}.{}@contoso.com", "x".repeat(64)))
            .collect();
        assert_eq!(long[0].len(), 80, "Salesforce's longest Username");
        let lists = in_lists(head, &long, 200);
        assert!(lists.len() > 3, "{} lists", lists.len());
        for list in &lists {
            let soql = format!("{head}{})", list.join(", "));
            assert!(crate::http::encode(&soql).len() <= ENCODED_QUERY_MAX);
            assert!(list.len() <= 200);
        }
        let back: Vec<String> = lists.concat();
        let quoted: Vec<String> = long.iter().map(|v| quote(v)).collect();
        assert_eq!(back, quoted);
        // Short values: the count decides.
        let ids: Vec<String> = (0..601).map(|n| format!("005{n:015}")).collect();
        let sizes: Vec<usize> = in_lists(head, &ids, 300).iter().map(Vec::len).collect();
        assert_eq!(sizes, [300, 300, 1]);
        assert!(in_lists(head, &[], 300).is_empty());
        // A value too long for any list is a list of its own, not lost.
        let huge = vec!["a".into(), "x".repeat(20_000), "b".into()];
        let sizes: Vec<usize> = in_lists(head, &huge, 300).iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 1, 1]);
        // A value given again is asked for once.
        let again: Vec<String> = ["005a", "005b", "005a", "005c", "005b"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            in_lists(head, &again, 2),
            [vec!["'005a'", "'005b'"], vec!["'005c'"]]
        );
    }

    /// 450 Usernames of 80 characters (Salesforce's longest) are looked up without a 414 from
    /// the emulator, which refuses a URI and headers over 16,384 bytes as Salesforce does; the
    /// org's own users among them are found whatever their case.
    #[tokio::test]
    async fn the_longest_usernames_are_looked_up_under_the_url_limit() {
        use crate::emulator::{self, State, synthetic};
        let running = emulator::start(
            State::from_world(synthetic::world(3, 1)).unwrap(),
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        let dir = std::env::temp_dir().join(format!("roster-soql-long-{}", std::process::id()));
        let salesforce = std::sync::Arc::new(crate::salesforce::synthetic_client(
            &running.base_url(),
            &dir,
        ));
        let real: Vec<String> = running.shared.state().org.objects["User"]
            .values()
            .filter_map(|u| u["Username"].as_str())
            .filter(|name| name.contains('@'))
            .map(str::to_uppercase)
            .collect();
        let mut names: Vec<String> = (0..450)
            .map(|n| format!("{n:03}.{}@contoso.com", "x".repeat(64)))
            .collect();
        names.extend(real.iter().cloned());
        let found = super::ids_by_username(&salesforce, &names).await.unwrap();
        assert_eq!(found.len(), real.len(), "{found:?}");
        for name in &real {
            assert!(
                found.contains_key(&name.to_lowercase()),
                "{name}: {found:?}"
            );
        }
        running.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn literals_escape_what_soql_escapes() {
        assert_eq!(quote("O'Brien"), r"'O\'Brien'");
        assert_eq!(quote(r"a\' OR Id != '"), r"'a\\\' OR Id != \''");
        assert_eq!(quote("two\nlines\t\"x\""), r#"'two\nlines\t\"x\"'"#);
        assert_eq!(quote("jdoe@contoso.com"), "'jdoe@contoso.com'");
    }
}
