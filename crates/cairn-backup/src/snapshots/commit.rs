//! Driving a commit: the pages first, then the snapshot's row in one
//! transaction with the agent's status and the retention it triggers.

use futures::Stream;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use cairn_core::{AgentId, ChunkId, Error, SnapshotId};
use cairn_entity::regional::{agent, snapshot, snapshot_ref_page};
use cairn_entity::{CompanyScope, begin_write, db_err};

use crate::holdings::Holder;

use super::refs::write_refs;
use super::retention::apply_retention;
use super::{Retention, SnapshotCommit, SnapshotHeader};

/// Commits an agent's snapshot under the retention of the agent's group
/// (at least the newest snapshot is always kept).
pub(crate) async fn commit_for_agent<I>(
    db: &DatabaseConnection,
    scope: CompanyScope,
    agent: &agent::Model,
    commit: SnapshotCommit<I>,
) -> Result<snapshot::Model, Error>
where
    I: Stream<Item = Result<Vec<ChunkId>, Error>> + Unpin,
{
    let group = cairn_tenancy::groups::resolve(db, scope, agent.group_id).await?;
    let retention = Retention {
        keep_last: usize::try_from(group.keep_last).unwrap_or(1).max(1),
        keep_within_days: i64::from(group.keep_within_days),
    };
    let machine = Machine {
        agent: AgentId(agent.id),
        holder: Holder::of(agent),
    };
    self::commit(db, scope, machine, retention, commit).await
}

/// The committing machine, and whose chunks it may reference.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Machine {
    pub(crate) agent: AgentId,
    pub(crate) holder: Holder,
}

/// Commits a snapshot whose header is read: its referenced chunk ids come
/// in ascending order, are checked and written a page at a time as they
/// arrive (so memory does not grow with the snapshot), and the snapshot's
/// row is written last, in one transaction with the retention it triggers.
/// A commit that fails leaves no pages behind.
pub(crate) async fn commit<I>(
    db: &DatabaseConnection,
    scope: CompanyScope,
    Machine { agent, holder }: Machine,
    retention: Retention,
    SnapshotCommit { header, ids }: SnapshotCommit<I>,
) -> Result<snapshot::Model, Error>
where
    I: Stream<Item = Result<Vec<ChunkId>, Error>> + Unpin,
{
    let id = SnapshotId::new();
    let outcome = async {
        write_refs(db, scope, agent, holder, id, header.tree, ids).await?;
        record(db, scope, agent, retention, id, header).await
    }
    .await;
    if outcome.is_err()
        && let Err(err) = snapshot_ref_page::Entity::delete_many()
            .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
            .filter(snapshot_ref_page::Column::SnapshotId.eq(id.0))
            .exec(db)
            .await
    {
        // Swept later (see `sweep_unfinished`).
        tracing::warn!(snapshot = %id, error = %err, "could not remove a failed commit's pages");
    }
    outcome
}

/// Writes the snapshot's row, once all its pages are, and forgets what the
/// retention policy no longer keeps.
async fn record(
    db: &DatabaseConnection,
    scope: CompanyScope,
    agent: AgentId,
    retention: Retention,
    id: SnapshotId,
    header: SnapshotHeader,
) -> Result<snapshot::Model, Error> {
    let stats = header.stats;
    let txn = begin_write(db)
        .await
        .map_err(db_err("starting a snapshot commit"))?;
    let row = snapshot::ActiveModel {
        id: Set(id.0),
        company_id: Set(scope.uuid()),
        agent_id: Set(agent.0),
        hostname: Set(header.hostname.trim().to_owned()),
        paths: Set(serde_json::to_string(&header.paths)
            .map_err(|e| Error::internal_with("encoding paths", e))?),
        started_at: Set(header.started_at),
        finished_at: Set(header.finished_at),
        tree_id: Set(header.tree.0.to_vec()),
        files: Set(stats.files as i64),
        dirs: Set(stats.dirs as i64),
        bytes: Set(stats.bytes as i64),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(db_err("recording a snapshot"))?;
    cairn_tenancy::agents::record_backup(&txn, agent, stats.bytes as i64).await?;
    let forgotten = apply_retention(&txn, scope, agent, retention).await?;
    txn.commit()
        .await
        .map_err(db_err("committing a snapshot"))?;
    tracing::info!(company = %scope.company(), snapshot = %id, forgotten, "snapshot committed");
    Ok(row)
}

#[cfg(test)]
mod tests {
    use cairn_auth::Role;

    use super::*;
    use crate::holdings::Holder;
    use crate::snapshots::refs::PAGE_IDS;
    use crate::snapshots::{Caller, delete};
    use crate::testing::{KEEP, company_pages, id, machine, pages_of, requests, store_chunks};

    #[tokio::test]
    async fn references_are_checked_and_written_a_page_at_a_time() {
        for test_db in cairn_migration::testing::test_databases().await.unwrap() {
            let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
            let scope = crate::testing::company(&db, None).await;
            let admin = Caller::User(crate::testing::user(&db, scope, Role::Admin).await);
            let agent = AgentId(uuid::Uuid::now_v7());
            // Two and a half pages of chunks, the tree in their midst.
            let ids: Vec<ChunkId> = (0..(PAGE_IDS * 5 / 2) as u32).map(|n| id(n * 2)).collect();
            let tree = id(2001);
            store_chunks(&db, scope, Holder(agent.0), &ids).await;
            store_chunks(&db, scope, Holder(agent.0), &[tree]).await;

            let commit_in = requests(tree, &ids);
            let first = commit(&db, scope, machine(agent), KEEP, commit_in)
                .await
                .unwrap();
            let mut expected: Vec<ChunkId> = ids.clone();
            expected.push(tree);
            expected.sort();
            assert_eq!(
                pages_of(&db, first.id).await,
                expected.iter().flat_map(|id| id.0).collect::<Vec<u8>>(),
                "{}",
                test_db.backend
            );
            assert_eq!(company_pages(&db, scope).await, 3, "{}", test_db.backend);

            // The next snapshot: the parent's ids pass without a lookup, new
            // ones are looked up, and one the company lacks fails the
            // commit without leaving pages behind.
            let added: Vec<ChunkId> = (0..10).map(|n| id(n * 2 + 1)).collect();
            store_chunks(&db, scope, Holder(agent.0), &added).await;
            let mut next: Vec<ChunkId> = ids.iter().chain(&added).copied().collect();
            next.sort();
            let commit_in = requests(tree, &next);
            let second = commit(&db, scope, machine(agent), KEEP, commit_in)
                .await
                .unwrap();
            assert_eq!(
                pages_of(&db, second.id).await.len(),
                (next.len() + 1) * 32,
                "{}",
                test_db.backend
            );
            let mut lacking = next.clone();
            lacking.push(id(u32::MAX));
            let commit_in = requests(tree, &lacking);
            let err = commit(&db, scope, machine(agent), KEEP, commit_in)
                .await
                .unwrap_err();
            assert!(
                err.to_string().contains("not stored for this company"),
                "{err}"
            );
            assert!(err.to_string().contains(&id(u32::MAX).to_hex()), "{err}");

            // Out of order, or repeated: refused, nothing left behind.
            let mut unsorted = ids.clone();
            unsorted.swap(10, PAGE_IDS + 10);
            let commit_in = requests(tree, &unsorted);
            let err = commit(&db, scope, machine(agent), KEEP, commit_in)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("ascending order"), "{err}");
            let repeated = [ids[0], ids[0]];
            let commit_in = requests(tree, &repeated);
            let err = commit(&db, scope, machine(agent), KEEP, commit_in)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("ascending order"), "{err}");
            assert_eq!(company_pages(&db, scope).await, 6, "{}", test_db.backend);

            // Deleting a snapshot removes its pages.
            delete(&db, scope, &admin, "", SnapshotId(first.id))
                .await
                .unwrap();
            assert!(pages_of(&db, first.id).await.is_empty());
            assert_eq!(company_pages(&db, scope).await, 3, "{}", test_db.backend);
        }
    }
}
