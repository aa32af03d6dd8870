//! The sweep of commits that never finished (the server stopped midway).

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use cairn_core::Error;
use cairn_entity::db_err;
use cairn_entity::regional::{snapshot, snapshot_ref_page};

/// Pages of a commit that never finished (the server stopped midway) are
/// swept once they are this old; younger ones may belong to a commit still
/// under way on another server of the cell.
const UNFINISHED_PAGES_HOURS: i64 = 24;

/// Removes the pages of commits that never finished: those without their
/// snapshot's row, older than a day. Run when a cell starts.
pub async fn sweep_unfinished(db: &DatabaseConnection) -> Result<u64, Error> {
    let cutoff = chrono::Utc::now() - chrono::Duration::hours(UNFINISHED_PAGES_HOURS);
    let done = snapshot_ref_page::Entity::delete_many()
        .filter(snapshot_ref_page::Column::CreatedAt.lt(cutoff))
        .filter(
            snapshot_ref_page::Column::SnapshotId.not_in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(snapshot::Column::Id)
                    .from(snapshot::Entity)
                    .to_owned(),
            ),
        )
        .exec(db)
        .await
        .map_err(db_err("sweeping unfinished snapshot commits"))?;
    Ok(done.rows_affected)
}

#[cfg(test)]
mod tests {
    use cairn_core::CompanyId;
    use sea_orm::Set;

    use super::*;
    use crate::holdings::Holder;
    use crate::snapshots::commit;
    use crate::testing::{KEEP, id, machine, pages_of, requests, store_chunks};
    use cairn_core::AgentId;
    use cairn_entity::CompanyScope;

    #[tokio::test]
    async fn only_old_pages_of_unfinished_commits_are_swept() {
        for test_db in cairn_migration::testing::test_databases().await.unwrap() {
            let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
            let scope = CompanyScope::for_tests(CompanyId::new());
            let agent = AgentId(uuid::Uuid::now_v7());
            let tree = id(1);
            store_chunks(&db, scope, Holder(agent.0), &[tree]).await;
            let commit_in = requests(tree, &[]);
            let committed = commit(&db, scope, machine(agent), KEEP, commit_in)
                .await
                .unwrap();
            let old = chrono::Utc::now() - chrono::Duration::days(3);
            let (abandoned, under_way) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
            for (snapshot, created_at) in [(abandoned, old), (under_way, chrono::Utc::now())] {
                snapshot_ref_page::Entity::insert(snapshot_ref_page::ActiveModel {
                    snapshot_id: Set(snapshot),
                    page: Set(0),
                    company_id: Set(scope.uuid()),
                    chunk_ids: Set(tree.0.to_vec()),
                    created_at: Set(created_at),
                })
                .exec_without_returning(&db)
                .await
                .unwrap();
            }
            // The committed snapshot's page is old too, but has its row.
            snapshot_ref_page::Entity::update_many()
                .col_expr(
                    snapshot_ref_page::Column::CreatedAt,
                    sea_orm::sea_query::Expr::value(old),
                )
                .filter(snapshot_ref_page::Column::SnapshotId.eq(committed.id))
                .exec(&db)
                .await
                .unwrap();

            let swept = sweep_unfinished(&db).await.unwrap();
            assert_eq!(swept, 1, "{}", test_db.backend);
            assert!(pages_of(&db, abandoned).await.is_empty());
            assert!(!pages_of(&db, under_way).await.is_empty());
            assert_eq!(pages_of(&db, committed.id).await, tree.0.to_vec());
        }
    }
}
