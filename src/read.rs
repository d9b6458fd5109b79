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
        let source = graph::read(graph, config, also, progress.task("Entra")).await?;
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
    let ((source, entra), (target, org)) = tokio::try_join!(entra, org)?;
    tracing::info!(
        target: "roster::read",
        "read Entra in {} ms, Salesforce in {} ms",
        entra.as_millis(),
        org.as_millis()
    );
    Ok((source, target))
}

#[cfg(test)]
mod tests;
