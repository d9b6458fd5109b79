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
    let entra = async {
        graph::read(graph, config, also, progress.task("Entra"))
            .await
            .map_err(Error::from)
    };
    let org = async {
        Box::pin(salesforce::read(
            salesforce,
            config,
            also,
            progress.task("Salesforce"),
        ))
        .await
        .map_err(Error::from)
    };
    tokio::try_join!(entra, org)
}

#[cfg(test)]
mod tests;
