//! sObject create, read, update and delete, one at a time and as collections, enforcing the
//! rules a real org enforces on User and PermissionSetAssignment, with its error codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::super::Shared;
use super::super::http::{json_response, param, salesforce_error, url_pairs};
use super::super::ids;
use super::super::state::{JUNCTIONS, Org, object_name};
use super::super::world::{CustomField, CustomType};
use super::user_object;
use super::with_attributes;
use crate::concurrent::lock;

/// One failure, as Salesforce reports it per record.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) fields: Vec<String>,
}

impl Failure {
    pub(crate) fn new(code: &'static str, message: impl Into<String>, fields: &[&str]) -> Failure {
        Failure {
            code,
            message: message.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    /// The top-level error body of a single-record call.
    fn response(&self) -> Response {
        json_response(
            StatusCode::BAD_REQUEST,
            &json!([{"message": self.message, "errorCode": self.code, "fields": self.fields}]),
        )
    }

    /// The per-record error of a collections call (its key is `statusCode`).
    fn item(&self) -> Value {
        json!({"statusCode": self.code, "message": self.message, "fields": self.fields})
    }
}

/// The fields Salesforce sets on every record itself, `Id` first: readable, never written.
const SYSTEM_FIELDS: &[&str] = &[
    "Id",
    "CreatedById",
    "CreatedDate",
    "LastModifiedById",
    "LastModifiedDate",
    "SystemModstamp",
];

/// Fields of the non-User objects.
fn fixed_fields(object: &str) -> &'static [&'static str] {
    match object {
        // And its administrative permissions (`profile_permission`).
        "Profile" => &["Name", "UserLicenseId", "UserType", "Description"],
        "UserRole" => &["Name", "DeveloperName", "ParentRoleId"],
        "PermissionSet" => &[
            "Name",
            "Label",
            "IsOwnedByProfile",
            "Type",
            "LicenseId",
            "ProfileId",
            "PermissionSetGroupId",
        ],
        "PermissionSetAssignment" => &[
            "AssigneeId",
            "PermissionSetId",
            "PermissionSetGroupId",
            "ExpirationDate",
            "IsActive",
        ],
        "PermissionSetGroup" => &[
            "DeveloperName",
            "MasterLabel",
            "Status",
            "Description",
            "NamespacePrefix",
        ],
        "PermissionSetLicense" => &[
            "DeveloperName",
            "MasterLabel",
            "PermissionSetLicenseKey",
            "Status",
            "ExpirationDate",
            "TotalLicenses",
            "UsedLicenses",
        ],
        "PermissionSetLicenseAssign" => &["AssigneeId", "PermissionSetLicenseId"],
        "PackageLicense" => &[
            "NamespacePrefix",
            "Status",
            "AllowedLicenses",
            "UsedLicenses",
            "ExpirationDate",
        ],
        "UserPackageLicense" => &["UserId", "PackageLicenseId"],
        "Group" => &["Name", "DeveloperName", "Type"],
        "GroupMember" => &["GroupId", "UserOrGroupId"],
        "ActiveFeatureLicenseMetric" => &[
            "FeatureType",
            "TotalLicenseCount",
            "AssignedUserCount",
            "ActiveUserCount",
            "MetricsDate",
        ],
        "UserLogin" => &["UserId", "IsFrozen", "IsPasswordLocked"],
        "UserLicense" => &["Name", "TotalLicenses", "UsedLicenses", "Status"],
        "Organization" => &["Name", "IsSandbox", "InstanceName", "OrganizationType"],
        _ => &[],
    }
}

/// Whether `field` is one of the Profile checkboxes the emulator models: `Permissions` and a
/// name of `model::ADMINISTRATIVE_PERMISSIONS` (`PermissionsModifyAllData`), in any case.
fn profile_permission(object: &str, field: &str) -> bool {
    object == "Profile"
        && field
            .get(..11)
            .is_some_and(|p| p.eq_ignore_ascii_case("Permissions"))
        && crate::model::ADMINISTRATIVE_PERMISSIONS
            .iter()
            .any(|name| field[11..].eq_ignore_ascii_case(name))
}

/// Whether `field` exists on `object` (on User: the standard fields and the custom fields the
/// org declares).
pub(crate) fn known_field(shared: &Shared, object: &str, field: &str) -> bool {
    if SYSTEM_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(field))
        || profile_permission(object, field)
    {
        return true;
    }
    if object == "User" {
        return user_object::field(field).is_some()
            || shared.state().org.custom_user_field(field).is_some();
    }
    fixed_fields(object)
        .iter()
        .any(|f| f.eq_ignore_ascii_case(field))
}

/// describe's `type` of `field` on `object`, where the emulator knows it: every User field,
/// the system fields, and the non-User objects' ids, references, checkboxes, dates and counts.
/// `None` for the rest (their text), which a filter may compare with any literal.
pub(crate) fn field_type(shared: &Shared, object: &str, field: &str) -> Option<&'static str> {
    let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(field));
    if is(&["CreatedDate", "LastModifiedDate", "SystemModstamp"]) {
        return Some("datetime");
    }
    if is(&["Id"]) {
        return Some("id");
    }
    if object == "User" {
        return user_object::field(field).map(|f| f.kind).or_else(|| {
            shared
                .state()
                .org
                .custom_user_field(field)
                .map(|f| f.kind.describe_type())
        });
    }
    // A Profile's system permissions are checkboxes (`PermissionsModifyAllData`).
    if profile_permission(object, field) {
        return Some("boolean");
    }
    if is(&[
        "IsOwnedByProfile",
        "IsActive",
        "IsFrozen",
        "IsPasswordLocked",
        "IsSandbox",
    ]) {
        Some("boolean")
    } else if is(&["ExpirationDate", "MetricsDate"]) {
        Some("date")
    } else if is(&[
        "TotalLicenses",
        "UsedLicenses",
        "AllowedLicenses",
        "TotalLicenseCount",
        "AssignedUserCount",
        "ActiveUserCount",
    ]) {
        Some("int")
    } else if field.len() > 2
        && field[field.len() - 2..].eq_ignore_ascii_case("Id")
        && known_field(shared, object, field)
    {
        // Every other field the emulator keeps whose name ends in `Id` holds a record's id
        // (ProfileId, AssigneeId, PermissionSetId, ...).
        Some("reference")
    } else {
        None
    }
}

/// `GET sobjects/{object}/describe`. The object-level `createable` and `updateable` are the
/// running user's: for User, whether their profile has Manage Users (Salesforce: creating and
/// editing users needs it; DescribeSObjectResult reports the caller's access).
pub(crate) fn describe(shared: &Shared, object: &str, caller: Option<&str>) -> Response {
    let Some(object) = object_name(object) else {
        return not_found();
    };
    let fields: Vec<Value> = if object == "User" {
        let state = shared.state();
        let org = &state.org;
        // Picklist values as describe shapes them; every listed value is active.
        let values = |list: &mut Vec<&String>| {
            list.sort();
            list.iter()
                .map(|v| json!({"active": true, "defaultValue": false, "label": v, "validFor": null, "value": v}))
                .collect::<Vec<Value>>()
        };
        let standard = user_object::FIELDS.iter().map(|f| {
            let restricted = user_object::RESTRICTED.iter().find(|(name, _)| *name == f.name);
            let picklist = restricted
                .and_then(|(name, _)| org.picklists.get(name))
                .map(|set| values(&mut set.iter().collect()))
                .unwrap_or_default();
            json!({"name": f.name, "label": f.label,
                "type": f.kind, "custom": false, "unique": false,
                "length": f.length.unwrap_or(255), "nillable": !user_object::REQUIRED.contains(&f.name),
                "restrictedPicklist": restricted.is_some(), "picklistValues": picklist,
                "caseSensitive": false, "externalId": false,
                "createable": f.name != "Id", "updateable": f.name != "Id"})
        });
        let custom: Vec<Value> = org
            .custom_user_fields
            .iter()
            .map(|f| {
                let picklist = f
                    .values
                    .as_ref()
                    .map(|v| values(&mut v.iter().collect()))
                    .unwrap_or_default();
                json!({"name": f.name, "label": f.label(),
                    "type": if f.values.is_some() { "picklist" } else { f.kind.describe_type() },
                    "custom": true, "length": if f.kind == CustomType::Text || f.values.is_some() { f.length } else { 0 },
                    "nillable": true, "unique": f.unique, "externalId": f.external_id,
                    "restrictedPicklist": f.values.is_some(), "picklistValues": picklist,
                    "caseSensitive": f.case_sensitive, "createable": true, "updateable": true})
            })
            .collect();
        standard.chain(custom).collect()
    } else {
        fixed_fields(object)
            .iter()
            .map(|f| json!({"name": f, "type": "string", "createable": true, "updateable": true}))
            .collect()
    };
    let (createable, updateable) = if object == "User" {
        let state = shared.state();
        let manage_users = caller
            .and_then(|id| state.org.find_by("User", "Id", id))
            .and_then(|user| {
                user.get("ProfileId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .and_then(|profile| state.org.find_by("Profile", "Id", &profile))
            .and_then(|profile| {
                profile
                    .get("PermissionsManageUsers")
                    .and_then(Value::as_bool)
            })
            .unwrap_or(true);
        (manage_users, manage_users)
    } else {
        (true, object != "UserLicense")
    };
    json_response(
        StatusCode::OK,
        &json!({"name": object, "fields": fields, "createable": createable, "updateable": updateable}),
    )
}

fn not_found() -> Response {
    salesforce_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

pub(crate) fn get(shared: &Shared, version: &str, object: &str, id: &str, query: &str) -> Response {
    let Some(object) = object_name(object) else {
        return not_found();
    };
    let Ok(id) = ids::normalize(id) else {
        return not_found();
    };
    let pairs = url_pairs(query);
    let fields: Option<Vec<String>> =
        param(&pairs, "fields").map(|f| f.split(',').map(|s| s.trim().to_owned()).collect());
    let state = shared.state();
    match state
        .org
        .objects
        .get(object)
        .and_then(|records| records.get(&id))
    {
        Some(record) => super::super::http::json_text_response(
            StatusCode::OK,
            with_attributes(object, version, record, fields.as_deref())
                .get()
                .to_owned(),
        ),
        None => not_found(),
    }
}

pub(crate) fn create_one(
    shared: &Shared,
    object: &str,
    body: &[u8],
    caller: Option<&str>,
) -> Response {
    let Some(object) = object_name(object) else {
        return not_found();
    };
    let mut state = shared.state();
    let fields = match parse_record(&state.org, object, body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let mut faults = lock(&shared.faults);
    match create(&mut state.org, &mut faults, object, fields, caller) {
        Ok(id) => json_response(
            StatusCode::CREATED,
            &json!({"id": id, "success": true, "errors": []}),
        ),
        Err(f) => f.response(),
    }
}

pub(crate) fn update_one(
    shared: &Shared,
    object: &str,
    id: &str,
    body: &[u8],
    caller: Option<&str>,
) -> Response {
    let Some(object) = object_name(object) else {
        return not_found();
    };
    let mut state = shared.state();
    let fields = match parse_record(&state.org, object, body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let mut faults = lock(&shared.faults);
    match update(&mut state.org, &mut faults, object, id, fields, caller) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(f) if f.code == "NOT_FOUND" => not_found(),
        Err(f) => f.response(),
    }
}

pub(crate) fn delete_one(shared: &Shared, object: &str, id: &str) -> Response {
    let Some(object) = object_name(object) else {
        return not_found();
    };
    if !JUNCTIONS.iter().any(|(o, _, _)| *o == object) {
        // Users are deactivated, never deleted; the emulator answers as for any method a
        // resource does not allow (the exact real response for User is unverified).
        return salesforce_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "HTTP Method 'DELETE' not allowed. Allowed are GET,HEAD,PATCH",
        );
    }
    let Ok(id) = ids::normalize(id) else {
        return not_found();
    };
    let mut state = shared.state();
    match super::access::unassign(&mut state.org, object, &id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(f) if f.code == "ENTITY_IS_DELETED" => salesforce_error(
            StatusCode::NOT_FOUND,
            "ENTITY_IS_DELETED",
            "entity is deleted",
        ),
        Err(f) => f.response(),
    }
}

/// What fails a collection request as a whole: more than 200 records, records of two object
/// types, or a value the JSON parser refuses in any of them (it reads the whole body before
/// any record is saved).
fn collection_refusal(org: &Org, records: &[Value], create_records: bool) -> Option<Response> {
    if records.len() > 200 {
        return Some(salesforce_error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        ));
    }
    // Every object the emulator serves is a setup object (User and the assignment records):
    // "You can't create records for multiple object types in one call when one of the types is
    // related to a feature in the Salesforce Setup area" (REST API Developer Guide, sObject
    // Collections). The whole request is refused; its code and the form of the answer are
    // assumptions (MIXED_DML_OPERATION is Salesforce's code for mixing setup objects).
    let mut types: Vec<&str> = records
        .iter()
        .filter_map(|r| r.get("attributes")?.get("type")?.as_str())
        .filter_map(object_name)
        .collect();
    types.sort_unstable();
    types.dedup();
    if let [first, second, ..] = types[..] {
        let verb = if create_records { "create" } else { "update" };
        return Some(salesforce_error(
            StatusCode::BAD_REQUEST,
            "MIXED_DML_OPERATION",
            &format!(
                "You can't {verb} records for multiple object types in one call when one of the \
                 types is related to a feature in the Salesforce Setup area: {first}, {second}"
            ),
        ));
    }
    records
        .iter()
        .filter_map(Value::as_object)
        .find_map(|record| {
            let object = record.get("attributes").and_then(|a| a.get("type"));
            parse_refusal(
                org,
                object.and_then(Value::as_str).unwrap_or_default(),
                record,
            )
        })
}

/// `POST`/`PATCH /composite/sobjects`: up to 200 records, results in request order,
/// `allOrNone` rolls everything back when one fails.
pub(crate) fn collection(
    shared: &Shared,
    body: &[u8],
    create_records: bool,
    caller: Option<&str>,
) -> Response {
    let body = match parse_body(body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    // Read as the records' checkboxes are: a boolean, or its text in any case.
    let all_or_none = match body.get("allOrNone").map(|v| (as_boolean(v), v)) {
        None => false,
        Some((Some(b), _)) => b,
        Some((None, value)) => return parser_refusal(true, value),
    };
    let Some(records) = body.get("records").and_then(Value::as_array) else {
        return salesforce_error(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            "records is required",
        );
    };
    let mut state = shared.state();
    if let Some(response) = collection_refusal(&state.org, records, create_records) {
        return response;
    }
    let mut faults = lock(&shared.faults);
    let before = all_or_none.then(|| state.org.objects.clone());
    let mut results: Vec<Result<String, Failure>> = Vec::with_capacity(records.len());
    for record in records {
        let Some(mut fields) = record.as_object().cloned() else {
            results.push(Err(Failure::new(
                "INVALID_FIELD",
                "each record must be an object",
                &[],
            )));
            continue;
        };
        let object = fields
            .remove("attributes")
            .and_then(|a| a.get("type").and_then(Value::as_str).map(str::to_owned))
            .and_then(|t| object_name(&t));
        let Some(object) = object else {
            results.push(Err(Failure::new(
                "INVALID_TYPE",
                "Each record needs attributes.type naming a supported sObject",
                &[],
            )));
            continue;
        };
        results.push(if create_records {
            if fields.contains_key("id") || fields.contains_key("Id") {
                Err(Failure::new(
                    "INVALID_FIELD",
                    "cannot specify Id in an insert call",
                    &["Id"],
                ))
            } else {
                create(&mut state.org, &mut faults, object, fields, caller)
            }
        } else {
            let id = fields.remove("id").or_else(|| fields.remove("Id"));
            match id.as_ref().and_then(Value::as_str) {
                Some(id) => {
                    let id = id.to_owned();
                    update(&mut state.org, &mut faults, object, &id, fields, caller)
                        .map(|()| ids::normalize(&id).unwrap_or(id))
                }
                None => Err(Failure::new(
                    "MISSING_ARGUMENT",
                    "Id not specified in an update call",
                    &[],
                )),
            }
        });
    }
    let failed = results.iter().any(Result::is_err);
    if let (true, Some(before)) = (failed, before) {
        state.org.objects = before;
        state.org.reindex();
    }
    let body: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            Ok(_) if all_or_none && failed => {
                json!({"success": false, "errors": [rolled_back().item()], "id": Value::Null})
            }
            Ok(id) => json!({"id": id, "success": true, "errors": []}),
            Err(f) => json!({"success": false, "errors": [f.item()]}),
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(body))
}

/// A User record's JSON values that Salesforce's parser refuses before any rule runs: a
/// checkbox given anything but `true`, `false` or their text, or a text field given an object
/// or a list. The whole request fails with `JSON_PARSER_ERROR` ("Cannot deserialize instance of
/// boolean from VALUE_STRING value maybe ...", the form Salesforce's REST answers give; the
/// `at [line:.., column:..]` it appends is left out).
fn parse_refusal(org: &Org, object: &str, fields: &Map<String, Value>) -> Option<Response> {
    for (name, value) in fields {
        // describe's type: User's fields, its custom fields, and UserLogin's two checkboxes.
        // A custom field's scalar of the wrong shape is its data layer's to refuse
        // (`check_custom_type`, one record); only an object or a list stops the parser.
        let custom = || {
            org.custom_user_field(name)
                .filter(|_| value.is_object() || value.is_array())
                .map(|custom| custom.kind.describe_type())
        };
        let kind = match object {
            "User" => user_object::field(name).map(|f| f.kind).or_else(custom),
            "UserLogin" => LOGIN_FIELDS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(name))
                .then_some("boolean"),
            _ => None,
        };
        let Some(kind) = kind else {
            continue;
        };
        let boolean = kind == "boolean";
        let refused = if boolean {
            as_boolean(value).is_none()
        } else {
            value.is_object() || value.is_array()
        };
        if refused {
            return Some(parser_refusal(boolean, value));
        }
    }
    None
}

/// A checkbox's value as Salesforce's JSON parser takes it: a boolean, null (false), or the
/// text `true` or `false` in any case; `None` for anything else.
fn as_boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Null => Some(false),
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Salesforce's JSON parser refusing `value` for a checkbox (`boolean`) or a text field: the
/// whole request fails with `JSON_PARSER_ERROR`.
fn parser_refusal(boolean: bool, value: &Value) -> Response {
    let (token, shown) = match value {
        Value::String(s) => ("VALUE_STRING", s.clone()),
        Value::Number(n) if n.is_f64() => ("VALUE_NUMBER_FLOAT", n.to_string()),
        Value::Number(n) => ("VALUE_NUMBER_INT", n.to_string()),
        Value::Object(_) => ("START_OBJECT", "{".to_owned()),
        Value::Array(_) => ("START_ARRAY", "[".to_owned()),
        Value::Bool(true) => ("VALUE_TRUE", "true".to_owned()),
        Value::Bool(false) => ("VALUE_FALSE", "false".to_owned()),
        Value::Null => ("VALUE_NULL", "null".to_owned()),
    };
    let kind = if boolean { "boolean" } else { "string" };
    salesforce_error(
        StatusCode::BAD_REQUEST,
        "JSON_PARSER_ERROR",
        &format!(
            "Cannot deserialize instance of {kind} from {token} value {shown} or request may be \
             missing a required field"
        ),
    )
}

/// One record's JSON body, parsed as Salesforce parses it (`parse_body`, `parse_refusal`).
#[allow(clippy::result_large_err, reason = "the error is the response to send")]
fn parse_record(org: &Org, object: &str, body: &[u8]) -> Result<Map<String, Value>, Response> {
    let fields = parse_body(body)?;
    match parse_refusal(org, object, &fields) {
        Some(response) => Err(response),
        None => Ok(fields),
    }
}

/// A JSON object request body, or Salesforce's `JSON_PARSER_ERROR`.
#[allow(clippy::result_large_err, reason = "the error is the response to send")]
fn parse_body(body: &[u8]) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(salesforce_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "The request body is not a JSON object",
        )),
    }
}

/// Creates an `object` record from `fields`, as `caller` (the session's User id), checked as
/// Salesforce checks it.
pub(crate) fn create(
    org: &mut Org,
    faults: &mut super::super::Faults,
    object: &'static str,
    fields: Map<String, Value>,
    caller: Option<&str>,
) -> Result<String, Failure> {
    let mut fields = check_fields(org, object, fields)?;
    typed(org, object, &mut fields);
    if let Some(caller) = caller {
        fields.insert("CreatedById".into(), json!(caller));
    }
    match object {
        "User" => {
            let username = fields
                .get("Username")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if faults.take_lock(&[&username]) {
                return Err(Failure::new(
                    "UNABLE_TO_LOCK_ROW",
                    "unable to obtain exclusive access to this record",
                    &[],
                ));
            }
            fields.entry("IsActive").or_insert(Value::Bool(true));
            org.fill_nickname(&mut fields);
            let missing: Vec<&str> = user_object::REQUIRED
                .iter()
                .copied()
                .filter(|f| {
                    fields
                        .get(*f)
                        .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
                })
                .collect();
            if !missing.is_empty() {
                return Err(Failure::new(
                    "REQUIRED_FIELD_MISSING",
                    format!("Required fields are missing: [{}]", missing.join(", ")),
                    &missing,
                ));
            }
            check_user(org, &fields, None)?;
            Ok(org.insert("User", fields))
        }
        "PermissionSetAssignment"
        | "PermissionSetLicenseAssign"
        | "UserPackageLicense"
        | "GroupMember" => super::access::assign(org, object, fields),
        _ => Err(Failure::new(
            "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
            format!("the emulator does not create {object} records"),
            &[],
        )),
    }
}

pub(crate) fn update(
    org: &mut Org,
    faults: &mut super::super::Faults,
    object: &'static str,
    id: &str,
    fields: Map<String, Value>,
    caller: Option<&str>,
) -> Result<(), Failure> {
    let Ok(id) = ids::normalize(id) else {
        return Err(Failure::new(
            "MALFORMED_ID",
            format!("{object} ID: id value of incorrect type: {id}"),
            &["Id"],
        ));
    };
    if object == "UserLogin" {
        return update_login(org, &id, fields);
    }
    if object != "User" {
        return Err(Failure::new(
            "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
            format!("the emulator does not update {object} records"),
            &[],
        ));
    }
    let mut fields = check_fields(org, object, fields)?;
    typed(org, object, &mut fields);
    let Some(existing) = org.objects.get(object).and_then(|r| r.get(&id)).cloned() else {
        return Err(Failure::new(
            "NOT_FOUND",
            "The requested resource does not exist",
            &[],
        ));
    };
    let username = existing
        .get("Username")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if faults.take_lock(&[&id, &username]) {
        return Err(Failure::new(
            "UNABLE_TO_LOCK_ROW",
            "unable to obtain exclusive access to this record",
            &[],
        ));
    }
    if let Some(blank) = user_object::REQUIRED.iter().find(|f| {
        fields
            .get(**f)
            .is_some_and(|v| v.is_null() || v.as_str() == Some(""))
    }) {
        return Err(Failure::new(
            "REQUIRED_FIELD_MISSING",
            format!("Required fields are missing: [{blank}]"),
            &[blank],
        ));
    }
    let deactivating = existing.get("IsActive") != Some(&Value::Bool(false))
        && fields.get("IsActive") == Some(&Value::Bool(false));
    if deactivating && let Some(why) = org.deactivation_blockers.get(&id) {
        // Salesforce names one blocker at a time. The REST errorCode for these refusals is not
        // published; FIELD_INTEGRITY_EXCEPTION is the likeliest of the WSDL's codes (a guess,
        // see the reference's "Deactivation" section).
        return Err(Failure::new("FIELD_INTEGRITY_EXCEPTION", why.clone(), &[]));
    }
    if deactivating && let Some(report) = org.active_report_of(&id) {
        // A user cannot report to an inactive user: the Manager of an active user is not
        // deactivated (Salesforce KB 000004425), with the hierarchy field's refusal (KB
        // 000386275; its REST errorCode is not published: the same guess as above). One
        // blocker at a time, as Salesforce names them.
        tracing::debug!(target: "roster::emulator", "{id} manages the active user {report}");
        return Err(Failure::new(
            "FIELD_INTEGRITY_EXCEPTION",
            "Cannot inactivate user that is the value of a hierarchy field: Manager",
            &[],
        ));
    }
    if deactivating && caller == Some(id.as_str()) {
        // The running user cannot deactivate itself (as in Setup). Salesforce publishes neither
        // the REST code nor the text for this: both are a documented guess.
        return Err(Failure::new(
            "FIELD_INTEGRITY_EXCEPTION",
            "You can't deactivate your own user record.",
            &["IsActive"],
        ));
    }
    let mut merged = existing.clone();
    merged.extend(fields);
    check_user(org, &merged, Some(&existing))?;
    let now = org.tick();
    merged.insert(
        "LastModifiedById".into(),
        json!(caller.unwrap_or(crate::emulator::state::SETUP_USER_ID)),
    );
    merged.insert("LastModifiedDate".into(), json!(now));
    merged.insert("SystemModstamp".into(), json!(now));
    org.put(object, id, merged);
    Ok(())
}

/// Freezing and unfreezing: only `IsFrozen` and `IsPasswordLocked` of a UserLogin change.
/// The UserLogin fields the API writes (`salesforce-access.md` §8).
const LOGIN_FIELDS: [&str; 2] = ["IsFrozen", "IsPasswordLocked"];

/// A UserLogin update: its two checkboxes, named in any case (a null unchecks one, a checkbox
/// is never null; `parse_refusal` refused other values), and `IsPasswordLocked` only cleared —
/// "the API may only clear it (set `false`), never set it".
fn update_login(org: &mut Org, id: &str, given: Map<String, Value>) -> Result<(), Failure> {
    let refused = |name: &str| {
        Failure::new(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            format!(
                "Unable to create/update fields: {name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set."
            ),
            &[name],
        )
    };
    let mut fields = Map::new();
    for (name, value) in given {
        let Some(field) = LOGIN_FIELDS.iter().find(|f| f.eq_ignore_ascii_case(&name)) else {
            return Err(refused(&name));
        };
        // `parse_refusal` let through only what `as_boolean` reads.
        let value = as_boolean(&value).unwrap_or(false);
        if *field == "IsPasswordLocked" && value {
            return Err(refused(field));
        }
        fields.insert((*field).to_owned(), Value::Bool(value));
    }
    let now = org.tick();
    let Some(login) = org.objects.get_mut("UserLogin").and_then(|r| r.get_mut(id)) else {
        return Err(Failure::new(
            "NOT_FOUND",
            "The requested resource does not exist",
            &[],
        ));
    };
    login.extend(fields);
    login.insert("LastModifiedDate".into(), json!(now));
    login.insert("SystemModstamp".into(), json!(now));
    Ok(())
}

/// `DELETE /composite/sobjects?ids=...&allOrNone=...`: up to 200 records; only permission-set
/// assignments can be deleted (users are deactivated, never deleted). With `allOrNone=true`,
/// one failure rolls the others back.
pub(crate) fn delete_collection(shared: &Shared, query: &str) -> Response {
    let pairs = url_pairs(query);
    let ids: Vec<&str> = param(&pairs, "ids")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() {
        return salesforce_error(
            StatusCode::BAD_REQUEST,
            "MISSING_ARGUMENT",
            "ids is required",
        );
    }
    if ids.len() > 200 {
        return salesforce_error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        );
    }
    // `allOrNone=true`: one failure rolls every delete of the request back.
    let all_or_none = param(&pairs, "allOrNone").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut state = shared.state();
    let before = all_or_none.then(|| state.org.objects.clone());
    let results: Vec<(String, Result<(), Failure>)> = ids
        .into_iter()
        .map(|raw| {
            // An id of neither form (or whose checksum is wrong) names nothing to delete.
            let Ok(id) = ids::normalize(raw) else {
                let malformed = Failure::new("MALFORMED_ID", format!("malformed id {raw}"), &[]);
                return (raw.to_owned(), Err(malformed));
            };
            let junction = JUNCTIONS.iter().map(|(o, _, _)| *o).find(|o| {
                state
                    .org
                    .objects
                    .get(*o)
                    .is_some_and(|r| r.contains_key(&id))
            });
            let result = match junction {
                Some(object) => super::access::unassign(&mut state.org, object, &id),
                None if JUNCTIONS.iter().any(|(o, _, _)| {
                    super::super::state::OBJECTS
                        .iter()
                        .any(|(n, prefix)| n == o && id.starts_with(prefix))
                }) =>
                {
                    Err(Failure::new("ENTITY_IS_DELETED", "entity is deleted", &[]))
                }
                None => Err(Failure::new(
                    "DELETE_FAILED",
                    "the emulator deletes assignment records only (users are deactivated)",
                    &[],
                )),
            };
            (id, result)
        })
        .collect();
    let failed = results.iter().any(|(_, r)| r.is_err());
    if let (true, Some(before)) = (failed, before) {
        state.org.objects = before;
        state.org.reindex();
    }
    let body: Vec<Value> = results
        .into_iter()
        .map(|(id, result)| match result {
            Ok(()) if all_or_none && failed => {
                json!({"id": id, "success": false, "errors": [rolled_back().item()]})
            }
            Ok(()) => json!({"id": id, "success": true, "errors": []}),
            Err(f) => json!({"id": id, "success": false, "errors": [f.item()]}),
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(body))
}

/// A record of an `allOrNone` collection that was written, then rolled back because another
/// failed (REST API Developer Guide, sObject Collections).
fn rolled_back() -> Failure {
    Failure::new(
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "Record rolled back because not all records were valid and the request was using AllOrNone header",
        &[],
    )
}

fn check_fields(
    org: &Org,
    object: &str,
    fields: Map<String, Value>,
) -> Result<Map<String, Value>, Failure> {
    let mut named = Map::with_capacity(fields.len());
    for (name, value) in fields {
        // The field's own spelling: REST reads a body's field names without case (`title` is
        // Title), so a write is stored, checked and found under one name.
        let canonical: Option<String> = match object {
            "User" => user_object::field(&name)
                .map(|f| f.name.to_owned())
                .or_else(|| org.custom_user_field(&name).map(|f| f.name.clone())),
            _ => fixed_fields(object)
                .iter()
                .find(|f| f.eq_ignore_ascii_case(&name))
                .map(|f| (*f).to_owned()),
        };
        // The system fields exist but Salesforce sets them: a write of one is refused as such,
        // the record's Id in a body too (a record is named by its URL, or by the `id` a
        // collection or a bulk row carries, taken out before this check).
        if let Some(audit) = SYSTEM_FIELDS.iter().find(|t| t.eq_ignore_ascii_case(&name)) {
            return Err(Failure::new(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!(
                    "Unable to create/update fields: {audit}. Please check the security settings of this field and verify that it is read/write for your profile or permission set."
                ),
                &[audit],
            ));
        }
        let Some(canonical) = canonical else {
            return Err(Failure::new(
                "INVALID_FIELD",
                format!("No such column '{name}' on sobject of type {object}"),
                &[],
            ));
        };
        // One field written twice, in two spellings: which value Salesforce keeps is not
        // documented, so the emulator refuses it (an assumption: its JSON parser's error).
        if named.contains_key(&canonical) {
            return Err(Failure::new(
                "JSON_PARSER_ERROR",
                format!("Duplicate field {canonical} in the request body"),
                &[&canonical],
            ));
        }
        named.insert(canonical, value);
    }
    Ok(named)
}

/// A reference field's value: a well-formed id of an existing record of `target`.
pub(super) fn reference(
    org: &Org,
    fields: &Map<String, Value>,
    field: &str,
    target: &str,
) -> Result<String, Failure> {
    let raw = fields
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default();
    if raw.is_empty() {
        return Err(Failure::new(
            "REQUIRED_FIELD_MISSING",
            format!("Required fields are missing: [{field}]"),
            &[field],
        ));
    }
    let id = ids::normalize(raw).map_err(|_| {
        Failure::new(
            "MALFORMED_ID",
            format!("{field}: id value of incorrect type: {raw}"),
            &[field],
        )
    })?;
    if org.objects.get(target).is_none_or(|r| !r.contains_key(&id)) {
        return Err(Failure::new(
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
            &[field],
        ));
    }
    Ok(id)
}

/// A User's values as Salesforce takes them, before any rule reads them: a checkbox written as
/// the text `"true"` or `"False"` (a Bulk CSV cell, or JSON text) is a boolean, a number
/// written as text is a number (SOQL answers `true` and `5.0`, whatever the write sent). Text
/// of neither shape is left for the type checks to refuse.
fn typed(org: &Org, object: &str, user: &mut Map<String, Value>) {
    if object != "User" {
        return;
    }
    for (name, value) in user.iter_mut() {
        // What the field holds, looked up once: text, a checkbox, a number (or none of them).
        let (text_field, checkbox, number) =
            match (user_object::field(name), org.custom_user_field(name)) {
                (Some(field), _) => (
                    matches!(
                        field.kind,
                        "string" | "textarea" | "email" | "phone" | "picklist"
                    ),
                    field.kind == "boolean",
                    matches!(field.kind, "int" | "double" | "currency" | "percent"),
                ),
                (None, Some(custom)) => (
                    custom.kind == CustomType::Text,
                    custom.kind == CustomType::Checkbox,
                    custom.kind == CustomType::Number,
                ),
                (None, None) => (false, false, false),
            };
        // A number or a boolean written to a text field is kept as its text (SOQL answers
        // `"12"`, `"false"`).
        match (&*value, text_field) {
            (Value::Number(n), true) => *value = Value::String(n.to_string()),
            (Value::Bool(b), true) => *value = Value::String(b.to_string()),
            _ => {}
        }
        // A checkbox is never null: a null written to one is unchecked (an assumption: Salesforce
        // does not document its REST answer; the database holds false).
        if value.is_null() && checkbox {
            *value = Value::Bool(false);
            continue;
        }
        // Text is stored without leading and trailing white space (Java's trim: every character
        // up to U+0020; a no-break space stays), and empty text is null: "sObject String field
        // values follow the same rules as in the SOAP API: they can never be empty (only null),
        // and they can never include leading and trailing whitespace" (Apex Developer Guide,
        // "Primitive Data Types").
        if let (Value::String(_), true) = (&*value, text_field) {
            crate::user_fields::store_text(value);
            continue;
        }
        let Value::String(text) = &*value else {
            continue;
        };
        if checkbox && let Some(checked) = as_boolean(value) {
            *value = Value::Bool(checked);
        } else if number
            && let Some(n) = text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
        {
            *value = Value::Number(n);
        }
    }
}

/// A value against a custom field's type. Salesforce's label for a custom field is its name
/// without `__c`; the code and message of a wrong type are those its data layer gives
/// (`<Label>: value not of required type: <value>`).
fn check_custom_type(field: &CustomField, value: &Value) -> Result<(), Failure> {
    let label = field.label();
    let text = match value {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    };
    let ok = match field.kind {
        CustomType::Text => value.is_string(),
        // Never null here: a null is not checked against the type.
        CustomType::Checkbox => as_boolean(value).is_some(),
        CustomType::Date => text.is_some_and(crate::user_fields::is_date),
        CustomType::Number => {
            value.is_number()
                || text.is_some_and(|t| t.trim().parse::<f64>().is_ok_and(f64::is_finite))
        }
        CustomType::Email => {
            if let Some(t) = text.filter(|t| !t.is_empty() && !crate::user_fields::is_email(t)) {
                return Err(Failure::new(
                    "INVALID_EMAIL_ADDRESS",
                    format!("{label}: invalid email address: {t}"),
                    &[&field.name],
                ));
            }
            value.is_string()
        }
    };
    if ok {
        return Ok(());
    }
    let shown = text.map_or_else(|| value.to_string(), str::to_owned);
    Err(Failure::new(
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        format!("{label}: value not of required type: {shown}"),
        &[&field.name],
    ))
}

/// Each value against its field: lengths, restricted picklists, unique custom fields.
fn check_values(
    org: &Org,
    user: &Map<String, Value>,
    existing: Option<&Map<String, Value>>,
) -> Result<(), Failure> {
    for (name, value) in user {
        // A checkbox holds a boolean (`typed` read its text): other text, which only a Bulk CSV
        // cell can carry here (the JSON parser refuses it in a REST body), fails the record as
        // a custom field's does. Whether Bulk takes `1`/`0` is not documented: refused.
        if let (Some(field), Value::String(text)) = (user_object::field(name), value)
            && field.kind == "boolean"
        {
            return Err(Failure::new(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                format!("{}: value not of required type: {text}", field.label),
                &[field.name],
            ));
        }
        // Email fields take an address: `Email: invalid email address: x` (a go-sfdc fixture
        // and Apex captures; the exact grammar is not published, the shape is).
        if let (Some(field), Some(text)) = (user_object::field(name), value.as_str())
            && field.kind == "email"
            && !text.is_empty()
            && existing.is_none_or(|e| e.get(name) != Some(value))
            && !crate::user_fields::is_email(text)
        {
            return Err(Failure::new(
                "INVALID_EMAIL_ADDRESS",
                format!("{}: invalid email address: {text}", field.label),
                &[field.name],
            ));
        }
        if let (Some(field), Some(text)) = (user_object::field(name), value.as_str())
            && let Some(max) = field.length
            // Java's length: UTF-16 units (an emoji is two).
            && text.encode_utf16().count() > max
            && !name.ends_with("Id")
        {
            return Err(Failure::new(
                "STRING_TOO_LONG",
                format!(
                    "{}: data value too large: {text} (max length={max})",
                    field.label
                ),
                &[field.name],
            ));
        }
        // A value the record already held stays (an admin may deactivate a picklist value).
        if let Some(text) = value.as_str()
            && existing.is_none_or(|e| e.get(name) != Some(value))
            && let Some(bad) = restricted_picklist_refusal(org, name, text)
        {
            return Err(bad);
        }
        if let Some(field) = org.custom_user_field(name)
            && !value.is_null()
            && existing.is_none_or(|e| e.get(name) != Some(value))
        {
            check_custom_type(field, value)?;
        }
        if let (Some(field), Some(text)) = (org.custom_user_field(name), value.as_str()) {
            if text.encode_utf16().count() > field.length {
                return Err(Failure::new(
                    "STRING_TOO_LONG",
                    format!(
                        "{}: data value too large: {text} (max length={})",
                        field.label(),
                        field.length
                    ),
                    &[&field.name],
                ));
            }
            let id = existing.and_then(|e| e.get("Id")).and_then(Value::as_str);
            if field.unique
                && !text.is_empty()
                && let Some(holder) = org
                    .user_by_unique(&field.name, text)
                    .filter(|holder| Some(*holder) != id)
            {
                return Err(Failure::new(
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: {} duplicates value on record with id: {holder}",
                        field.name
                    ),
                    &[&field.name],
                ));
            }
        }
    }
    Ok(())
}

/// The User rules: lengths, e-mail-shaped and globally unique Username, unique nickname,
/// valid profile and role, licence headroom for active users.
/// Feature licences (`UserPermissions*` checkboxes) with seats in the world: an active user
/// turning one on takes a seat, and none left is `LICENSE_LIMIT_EXCEEDED` (Salesforce Help
/// 000387847: "License limit exceeded").
fn check_feature_seats(
    org: &Org,
    user: &Map<String, Value>,
    existing: Option<&Map<String, Value>>,
    id: Option<&str>,
) -> Result<(), Failure> {
    let on = |record: &Map<String, Value>, field: &str| {
        let flag = |f: &str| {
            record
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(f) && as_boolean(v) == Some(true))
        };
        flag(field) && flag("IsActive")
    };
    for (name, seats) in &org.feature_seats {
        let field = format!("UserPermissions{name}");
        if !on(user, &field) || existing.is_some_and(|e| on(e, &field)) {
            continue;
        }
        let taken = org
            .records("User")
            .filter(|u| u.get("Id").and_then(Value::as_str) != id && on(u, &field))
            .count();
        if taken >= usize::try_from(*seats).unwrap_or(usize::MAX) {
            return Err(Failure::new(
                "LICENSE_LIMIT_EXCEEDED",
                format!("License Limit Exceeded - {name}"),
                &[&field],
            ));
        }
    }
    Ok(())
}

/// Refuses `manager` as the Manager of the User `id` when it is `id` itself or reports to `id`,
/// directly or up a chain: Salesforce's two rules for a hierarchy field ("A user can't be his or
/// her own manager"; "You cannot set a hierarchy field to point to itself or a child record").
/// Their REST errorCode is not published: FIELD_INTEGRITY_EXCEPTION, as for the deactivation
/// blockers, is a guess.
pub(crate) fn manager_loop(org: &Org, id: &str, manager: &str) -> Result<(), Failure> {
    let refused = |message: &str| {
        Err(Failure::new(
            "FIELD_INTEGRITY_EXCEPTION",
            message,
            &["ManagerId"],
        ))
    };
    if crate::salesforce::same_id(manager, id) {
        return refused("A user can't be his or her own manager");
    }
    let users = org.objects.get("User");
    let mut above = manager.to_owned();
    // Each user up the chain once: a chain longer than the org has users is already a loop.
    for _ in 0..users.map_or(0, std::collections::BTreeMap::len) {
        let key = ids::normalize(&above).unwrap_or_default();
        let next = users
            .and_then(|users| users.get(&key))
            .and_then(|user| user.get("ManagerId"))
            .and_then(Value::as_str)
            .filter(|next| !next.is_empty());
        match next {
            Some(next) if crate::salesforce::same_id(next, id) => {
                return refused(
                    "You cannot set a hierarchy field to point to itself or a child record",
                );
            }
            Some(next) => next.clone_into(&mut above),
            None => break,
        }
    }
    Ok(())
}

fn check_user(
    org: &Org,
    user: &Map<String, Value>,
    existing: Option<&Map<String, Value>>,
) -> Result<(), Failure> {
    check_values(org, user, existing)?;
    let id = existing.and_then(|e| e.get("Id")).and_then(Value::as_str);
    check_feature_seats(org, user, existing, id)?;
    let someone_else = |found: Option<&str>| found.is_some_and(|other| Some(other) != id);
    let username = user
        .get("Username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !crate::user_fields::is_email(username) {
        return Err(Failure::new(
            "INVALID_EMAIL_ADDRESS",
            "Username must be in the form of an email address (for example, john@acme.com)",
            &["Username"],
        ));
    }
    let changed = |field: &str| existing.is_none_or(|e| e.get(field) != user.get(field));
    if changed("Username")
        && (org.taken_usernames.contains(&username.to_lowercase())
            || someone_else(org.user_by_username(username)))
    {
        return Err(Failure::new(
            "DUPLICATE_USERNAME",
            "Duplicate Username.<br>The username already exists in this or another Salesforce organization. Usernames must be unique across all Salesforce organizations. To resolve, use a different username (it doesn't need to match the user's email address). ",
            &["Username"],
        ));
    }
    if let Some(nick) = user.get("CommunityNickname").and_then(Value::as_str)
        && changed("CommunityNickname")
        && someone_else(org.user_by_nickname(nick))
    {
        return Err(Failure::new(
            "DUPLICATE_COMM_NICKNAME",
            "Duplicate Nickname.<br>Another user has already selected this nickname.<br>Please select another.",
            &["CommunityNickname"],
        ));
    }
    // "A Federation ID must be unique for each user in an org" (Trailhead); the error text as
    // Okta surfaces it, its code most likely DUPLICATE_VALUE (salesforce-api.md: unverified).
    if let Some(federation) = user
        .get("FederationIdentifier")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty())
        && changed("FederationIdentifier")
        && someone_else(org.user_by_unique("FederationIdentifier", federation))
    {
        return Err(Failure::new(
            "DUPLICATE_VALUE",
            "This Federation ID is already in use. Use a different Federation ID.: SAML Federation ID",
            &["FederationIdentifier"],
        ));
    }
    let profile_id = reference(org, user, "ProfileId", "Profile")?;
    if user
        .get("UserRoleId")
        .and_then(Value::as_str)
        .is_some_and(|r| !r.is_empty())
    {
        reference(org, user, "UserRoleId", "UserRole")?;
    }
    // The Manager lookup names a User of the org, as any lookup names a record of its object
    // (`MALFORMED_ID`, `INVALID_CROSS_REFERENCE_KEY`).
    if user
        .get("ManagerId")
        .and_then(Value::as_str)
        .is_some_and(|m| !m.is_empty())
        && changed("ManagerId")
    {
        let manager = reference(org, user, "ManagerId", "User")?;
        if let Some(id) = id {
            manager_loop(org, id, &manager)?;
        }
    }
    let active = user.get("IsActive") != Some(&Value::Bool(false));
    let was_counted = existing.is_some_and(|e| {
        e.get("IsActive") != Some(&Value::Bool(false))
            && e.get("ProfileId").and_then(Value::as_str) == Some(profile_id.as_str())
    });
    if active && !was_counted {
        check_licence(org, &profile_id)?;
    }
    Ok(())
}

/// `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST` for a value a restricted picklist does not have
/// (standard or custom), with the message Salesforce gives: `Time Zone: bad value for restricted
/// picklist field: Pacific Standard Time`.
fn restricted_picklist_refusal(org: &Org, name: &str, value: &str) -> Option<Failure> {
    let (field, label, allowed): (&str, String, bool) = if let Some((field, _)) =
        user_object::RESTRICTED
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
    {
        let allowed = org.picklists.get(field).is_some_and(|v| v.contains(value));
        let label = user_object::field(field).map_or(*field, |f| f.label);
        (field, label.to_owned(), allowed)
    } else {
        let custom = org.custom_user_field(name)?;
        let values = custom.values.as_ref()?;
        let label = custom.label();
        (&custom.name, label, values.iter().any(|v| v == value))
    };
    (!allowed).then(|| {
        Failure::new(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            format!("{label}: bad value for restricted picklist field: {value}"),
            &[field],
        )
    })
}

/// Room for one more active user on the profile's licence.
fn check_licence(org: &Org, profile_id: &str) -> Result<(), Failure> {
    {
        let licence = org
            .objects
            .get("Profile")
            .and_then(|p| p.get(profile_id))
            .and_then(|p| p.get("UserLicenseId"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let total = org
            .objects
            .get("UserLicense")
            .and_then(|l| l.get(&licence))
            .and_then(|l| l.get("TotalLicenses"))
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let in_use = u64::try_from(org.licence_usage(&licence)).unwrap_or(u64::MAX);
        if in_use >= total {
            return Err(Failure::new(
                "LICENSE_LIMIT_EXCEEDED",
                "License Limit Exceeded",
                &[],
            ));
        }
    }
    Ok(())
}
