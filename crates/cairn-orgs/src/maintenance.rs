//! The cell's periodic pass over its companies: records today's usage and
//! raises idle-agent alerts.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use cairn_core::Error;
use cairn_entity::regional::company;
use cairn_entity::{CompanyScope, db_err};

/// One pass; returns how many idle alerts were queued.
pub async fn run_once(db: &DatabaseConnection) -> Result<usize, Error> {
    let companies = company::Entity::find()
        .all(db)
        .await
        .map_err(db_err("listing companies"))?;
    let now = chrono::Utc::now();
    let mut alerts = 0;
    for c in &companies {
        let scope = CompanyScope::for_maintenance(c);
        crate::usage::record(db, scope).await?;
        alerts += crate::alerts::idle_agents(db, c, now).await?;
    }
    Ok(alerts)
}

/// Runs a pass every `every` until cancelled; wakes the mail worker when a
/// pass queued alerts.
pub async fn run(
    db: DatabaseConnection,
    every: Duration,
    wake_mail: Arc<Notify>,
    cancel: CancellationToken,
) {
    loop {
        match run_once(&db).await {
            Ok(0) => {}
            Ok(alerts) => {
                tracing::info!(alerts, "idle-agent alerts queued");
                wake_mail.notify_one();
            }
            Err(err) => tracing::warn!(error = %err, "maintenance pass failed"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
