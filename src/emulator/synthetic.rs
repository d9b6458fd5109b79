//! A consistent world of any size, deterministic for a seed: users spread over departments,
//! one group per department assigned with an app role, and a Salesforce org that already holds
//! a tenth of them (some drifted, some deactivated), with licences to spare.

use serde_json::{Map, Value, json};

use super::world::{
    ApiUser, AppRole, Application, Assignment, CustomField, EntraClient, EntraWorld, Group,
    License, Profile, SalesforceClient, SalesforceWorld, WorldFile,
};

const DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("Sales", "Sales_Rep", "Standard User"),
    ("Support", "Support_Agent", "Support User"),
    ("Marketing", "Sales_Rep", "Standard User"),
    ("Finance", "Sales_Manager", "Sales Manager"),
];
const GIVEN: &[&str] = &[
    "Ava", "Liam", "Noah", "Emma", "Olivia", "Elijah", "Sophia", "Lucas", "Mia", "James", "Zoë",
    "Mateo",
];
const SURNAMES: &[&str] = &[
    "Martinez",
    "Chen",
    "Okafor",
    "Johansson",
    "Nguyen",
    "Brown",
    "Rossi",
    "Müller",
    "Dubois",
    "O'Brien",
    "García",
    "Tanaka",
];

pub(crate) const ENTRA_SECRET: &str = "synthetic-entra-client-secret";
pub(crate) const SALESFORCE_SECRET: &str = "synthetic-salesforce-client-secret";
pub(crate) const TENANT: &str = "11111111-2222-4333-8444-555555555555";
pub(crate) const ENTRA_CLIENT: &str = "22222222-3333-4444-8555-666666666666";
pub(crate) const SALESFORCE_CLIENT: &str = "3MVG9synthetic.roster";
pub(crate) const APP_NAME: &str = "Salesforce Sandbox";

fn guid(kind: u32, n: u64) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

fn pick(random: u64, len: usize) -> usize {
    usize::try_from(random % u64::try_from(len).unwrap_or(1)).unwrap_or(0)
}

/// A world with `users` users; the same `seed` gives the same world.
#[allow(
    clippy::too_many_lines,
    reason = "the world is one table of data, read top to bottom"
)]
pub(crate) fn world(users: u32, seed: u64) -> WorldFile {
    let mut rng = seed ^ 0x5DEE_CE66_D1CE_4E5B;
    let mut next = move || {
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        rng >> 33
    };
    let mut entra_users = Vec::with_capacity(usize::try_from(users).unwrap_or(0));
    let mut members: Vec<Vec<String>> = vec![Vec::new(); DEPARTMENTS.len()];
    // The integration user the connected app runs as, as every org has it.
    let mut sf_users = vec![
        json!({
            "Username": "integration@synthetic.example.dev1", "Email": "integration@synthetic.example",
            "LastName": "Integration", "Alias": "integ", "CommunityNickname": "integration",
            "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US", "LanguageLocaleKey": "en_US",
            "EmailEncodingKey": "UTF-8", "Profile": "System Administrator",
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    ];
    for i in 0..u64::from(users) {
        let given = GIVEN[pick(next(), GIVEN.len())];
        let surname = SURNAMES[pick(next(), SURNAMES.len())];
        let dept = pick(i, DEPARTMENTS.len());
        let upn = format!("user{i:06}@synthetic.example");
        let enabled = next() % 50 != 0;
        let user: Map<String, Value> = json!({
            "id": guid(0xE, i), "userPrincipalName": upn, "mail": upn, "mailNickname": format!("user{i:06}"),
            "givenName": given, "surname": surname, "displayName": format!("{given} {surname}"),
            "department": DEPARTMENTS[dept].0, "jobTitle": if next() % 7 == 0 { "Manager" } else { "Specialist" },
            "employeeType": "Employee", "employeeId": format!("E{i:07}"), "preferredLanguage": "en-US",
            "accountEnabled": enabled,
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        members[dept].push(upn.clone());
        if i % 10 == 0 {
            let mut sf = json!({
                "Username": format!("{upn}.dev1"), "Email": format!("{upn}.invalid"), "FirstName": given,
                "LastName": surname, "Alias": format!("u{i:06}").chars().take(8).collect::<String>(),
                "CommunityNickname": format!("user{i:06}"),
                "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US", "LanguageLocaleKey": "en_US",
                "EmailEncodingKey": "UTF-8", "FederationIdentifier": upn, "Department": DEPARTMENTS[dept].0,
                "Entra_Object_Id__c": guid(0xE, i),
                "Title": if i % 30 == 0 { "Drifted Title" } else { "Specialist" },
                "Profile": DEPARTMENTS[dept].2,
            });
            if i % 40 == 0 {
                sf["IsActive"] = json!(false);
            }
            sf_users.push(sf.as_object().cloned().unwrap_or_default());
        }
        // Each user is made compact at once: 100,000 JSON maps are never held together.
        entra_users.push(super::state::EntraUser::from_names(user));
    }
    let roles = ["Sales_Manager", "Sales_Rep", "Support_Agent"];
    let groups: Vec<Group> = DEPARTMENTS
        .iter()
        .enumerate()
        .map(|(i, (name, _, _))| Group {
            id: guid(0x6, i as u64),
            display_name: format!("SF {name}"),
            members: std::mem::take(&mut members[i]),
        })
        .collect();
    let assignments = DEPARTMENTS
        .iter()
        .map(|(name, role, _)| Assignment {
            application: APP_NAME.into(),
            user: None,
            group: Some(format!("SF {name}")),
            role: Some((*role).into()),
        })
        .collect();
    let seats = users + users / 10 + 10;
    WorldFile {
        entra: EntraWorld {
            tenant_id: TENANT.into(),
            clients: vec![EntraClient {
                client_id: ENTRA_CLIENT.into(),
                secret: Some(ENTRA_SECRET.into()),
                public_key: None,
                certificate: None,
                federated_subjects: Vec::new(),
                roles: None,
            }],
            applications: vec![Application {
                display_name: APP_NAME.into(),
                app_id: guid(0xA9, 1),
                service_principal_id: guid(0x59, 1),
                app_roles: roles
                    .iter()
                    .enumerate()
                    .map(|(i, r)| AppRole {
                        id: guid(0xA, i as u64 + 1),
                        display_name: r.replace('_', " "),
                        value: Some((*r).into()),
                        is_enabled: true,
                        description: None,
                    })
                    .collect(),
                provisioning: None,
            }],
            users: entra_users,
            groups,
            assignments,
            github_actions: None,
        },
        salesforce: SalesforceWorld {
            org_id: None,
            sandbox: Some("dev1".into()),
            federation_id_case_insensitive: true,
            daily_api_limit: 1_000_000,
            bulk_job_polls: 2,
            clients: vec![SalesforceClient {
                client_id: SALESFORCE_CLIENT.into(),
                client_secret: Some(SALESFORCE_SECRET.into()),
                public_key: None,
                run_as: Some("integration@synthetic.example.dev1".into()),
            }],
            api_users: vec![ApiUser {
                username: "integration@synthetic.example.dev1".into(),
                password: None,
                security_token: None,
            }],
            licenses: vec![License {
                name: "Salesforce".into(),
                total: seats,
            }],
            profiles: [
                "System Administrator",
                "Sales Manager",
                "Standard User",
                "Support User",
            ]
            .iter()
            .map(|p| Profile {
                name: (*p).into(),
                license: "Salesforce".into(),
                manage_users: None,
                permissions: None,
                hidden: false,
            })
            .collect(),
            roles: vec!["Western Sales Rep".into(), "Support Lead".into()],
            permission_sets: ["Sales_Cloud_User", "Service_Cloud_User", "Reports_Export"]
                .iter()
                .map(|n| super::world::PermissionSetSpec::Name((*n).into()))
                .collect(),
            permission_set_groups: vec![super::world::PermissionSetGroupSpec {
                name: "Sales_Leadership".into(),
                status: "Updated".into(),
            }],
            permission_set_licenses: Vec::new(),
            package_licenses: Vec::new(),
            public_groups: Vec::new(),
            queues: vec!["Support_Tier_1".into()],
            feature_licenses: std::collections::BTreeMap::new(),
            users: sf_users,
            taken_usernames: Vec::new(),
            custom_user_fields: vec![CustomField {
                name: "Entra_Object_Id__c".into(),
                length: 36,
                unique: true,
                case_sensitive: false,
                external_id: true,
                values: None,
                kind: super::world::CustomType::Text,
            }],
            picklists: std::collections::BTreeMap::new(),
        },
    }
}

/// A roster config for the synthetic world (what `roster emulate --write-config` writes).
pub(crate) fn config() -> String {
    format!(
        r#"# Written by `roster emulate --synthetic N --write-config`; matches that emulated world.
version: 1
source:
  tenant_id: {TENANT}
  client_id: {ENTRA_CLIENT}
  credential:
    client_secret: {{env: AZURE_CLIENT_SECRET}}
  application:
    display_name: {APP_NAME}
target:
  auth:
    client_credentials:
      client_id: {SALESFORCE_CLIENT}
      client_secret: {{env: SF_CLIENT_SECRET}}
matching:
  - {{source: '[objectId]', target: Entra_Object_Id__c}}
  - {{source: '[userPrincipalName]', target: FederationIdentifier}}
  - {{source: 'Append([userPrincipalName], ".dev1")', target: Username}}
ownership:
  username_suffix: .dev1
protect:
  usernames: [integration@synthetic.example.dev1]
mappings:
  - {{target: Username, expression: 'Append([userPrincipalName], ".dev1")', apply: on_create}}
  - {{target: Email, source: mail}}
  - {{target: FirstName, source: givenName}}
  - {{target: LastName, source: surname, default: "."}}
  - {{target: Alias, expression: 'Left(Join("", Left([givenName], 1), [surname]), 8)'}}
  - {{target: CommunityNickname, source: mailNickname, apply: on_create}}
  - {{target: FederationIdentifier, source: userPrincipalName}}
  - {{target: Entra_Object_Id__c, source: objectId}}
  - {{target: Department, source: department}}
  - {{target: Title, source: jobTitle}}
  - {{target: TimeZoneSidKey, constant: America/Los_Angeles}}
  - {{target: LocaleSidKey, constant: en_US}}
  - {{target: LanguageLocaleKey, constant: en_US}}
  - {{target: EmailEncodingKey, constant: UTF-8}}
roles:
  rules:
    - when: {{app_role: Sales Manager}}
      profile: Sales Manager
      permission_set_groups: [Sales_Leadership]
    - when: {{app_role: Sales Rep}}
      profile: Standard User
      permission_sets: [Sales_Cloud_User]
    - when: {{app_role: Support Agent}}
      profile: Support User
      permission_sets: [Service_Cloud_User]
      queues: [Support_Tier_1]
  managed_permission_sets: [Sales_Cloud_User, Service_Cloud_User]
  managed_permission_set_groups: [Sales_Leadership]
  managed_queues: [Support_Tier_1]
safety:
  max_deactivations: "10%"
"#
    )
}

#[cfg(test)]
/// The object id of synthetic user `n`.
pub(crate) fn guid_for_test(n: u64) -> String {
    guid(0xE, n)
}
