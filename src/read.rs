//! Reading the live world: Entra and Salesforce side by side, each through its edge. Either
//! failing fails the whole read, so a read error is never taken for "no users".

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::endpoint::{Endpoints, Env};
use crate::error::Error;
use crate::graph::{self, Graph};
use crate::model::{SourceSnapshot, TargetSnapshot};
use crate::progress::Progress;
use crate::salesforce::{self, Salesforce};

/// Both snapshots, taken together: what `config` reads, and the Entra attributes and User
/// fields `also` reads (the baseline config a plan is compared with).
pub(crate) async fn live(
    config: &Config,
    also: Option<&Config>,
    base: &Path,
    env: Env<'_>,
    progress: &Progress,
) -> Result<(SourceSnapshot, TargetSnapshot), Error> {
    let endpoints = Endpoints::resolve(config, env).map_err(Error::Endpoint)?;
    let graph = Arc::new(Graph::connect(&config.source, base, &endpoints.entra, env)?);
    let salesforce = Arc::new(Salesforce::connect(
        config,
        base,
        &endpoints.salesforce_login,
    )?);
    // Each side's time, for the log: which one the plan waited for.
    let started = std::time::Instant::now();
    let entra = async {
        let source = graph::read(Arc::clone(&graph), config, also, progress.task("Entra")).await?;
        Ok::<_, Error>((source, started.elapsed()))
    };
    let org = async {
        let target = Box::pin(salesforce::read(
            salesforce,
            config,
            also,
            progress.task("Salesforce"),
        ))
        .await?;
        Ok::<_, Error>((target, started.elapsed()))
    };
    let ((mut source, entra), (target, org)) = tokio::try_join!(entra, org)?;
    tracing::info!(
        target: "roster::read",
        "read Entra in {} ms, Salesforce in {} ms",
        entra.as_millis(),
        org.as_millis()
    );
    let unread = unread_anchors([Some(config), also].into_iter().flatten(), &source, &target);
    if !unread.is_empty() {
        let task = progress.task("Entra");
        task.step("users the anchors name");
        let found = graph::users_found(&graph, &unread, &task)
            .await
            .map_err(|source| graph::GraphError::Lookup {
                ids: unread.len(),
                source: Box::new(source),
            })?;
        task.finish(&format!(
            "{} of {} anchored users outside the application",
            found.len(),
            unread.len()
        ));
        source.unassigned_users = Some(found);
    }
    Ok((source, target))
}

/// The object ids (GUIDs, Graph's form, lower case, sorted, each once) the object-id anchors
/// (`config::object_id_anchor`) of `configs` hold on `target`'s active users, where `source`
/// neither read that user nor lists them as deleted: people roster linked to an account who
/// are no longer the application's, or ids no user of this tenant has (another tenant's, after
/// a sandbox refresh). Only Graph tells the two apart, and the plan must: a leaver's account
/// goes as they did, while an account that may be the person's own is held by a conflict over
/// it (helper-87). Inactive accounts are left out: there is nothing to deprovision, and a
/// tenant's leavers of years would be asked for on every plan. None when every user is read
/// (`assignment: all`).
pub(crate) fn unread_anchors<'c>(
    configs: impl Iterator<Item = &'c Config>,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
) -> Vec<String> {
    let mut ids = Vec::new();
    if source.assignment != "assigned" {
        return ids;
    }
    for config in configs {
        let Some(field) = crate::config::object_id_anchor(&config.matching, &config.mappings)
        else {
            continue;
        };
        for user in target.users.iter().filter(|u| u.is_active) {
            let Some(id) = user.text(field).and_then(graph::anchored_guid) else {
                continue;
            };
            // A live read's users are in id order, ids as Graph writes them (lower case).
            let read = source
                .users
                .binary_search_by(|u| u.id.as_str().cmp(&id))
                .is_ok();
            if !read && !source.left_application(&id) {
                ids.push(id.into_owned());
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests;
