//! A snapshot's chunk references in pages of at most [`PAGE_IDS`] sorted
//! ids instead of one row holding them all: a commit writes each page as its
//! ids arrive and the next commit reads its parent's a page at a time, so
//! the server's memory no longer grows with the snapshot. Pages are written
//! before their snapshot's row; `created_at` lets a sweep tell the pages of
//! a commit that never finished from those of one under way.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

/// Chunk ids per carried-over page (128 KiB of ids).
const PAGE_IDS: usize = 4096;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum SnapshotRefPages {
    Table,
    SnapshotId,
    Page,
    CompanyId,
    ChunkIds,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SnapshotRefs {
    Table,
    SnapshotId,
    CompanyId,
    ChunkIds,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SnapshotRefPages::Table)
                    .col(uuid(SnapshotRefPages::SnapshotId))
                    .col(integer(SnapshotRefPages::Page))
                    .col(uuid(SnapshotRefPages::CompanyId))
                    .col(blob(SnapshotRefPages::ChunkIds))
                    .col(timestamp_with_time_zone(SnapshotRefPages::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(SnapshotRefPages::SnapshotId)
                            .col(SnapshotRefPages::Page),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_snapshot_ref_pages_company")
                    .table(SnapshotRefPages::Table)
                    .col(SnapshotRefPages::CompanyId)
                    .to_owned(),
            )
            .await?;
        // Carry the existing references over, one snapshot at a time.
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let snapshots = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT snapshot_id FROM snapshot_refs",
            ))
            .await?;
        let now = chrono::Utc::now();
        for row in snapshots {
            let snapshot: uuid::Uuid = row.try_get("", "snapshot_id")?;
            let select = Query::select()
                .columns([SnapshotRefs::CompanyId, SnapshotRefs::ChunkIds])
                .from(SnapshotRefs::Table)
                .and_where(Expr::col(SnapshotRefs::SnapshotId).eq(snapshot))
                .to_owned();
            let Some(refs) = db.query_one(&select).await? else {
                continue;
            };
            let company: uuid::Uuid = refs.try_get("", "company_id")?;
            let ids: Vec<u8> = refs.try_get("", "chunk_ids")?;
            for (page, ids) in ids.chunks(PAGE_IDS * 32).enumerate() {
                let insert = Query::insert()
                    .into_table(SnapshotRefPages::Table)
                    .columns([
                        SnapshotRefPages::SnapshotId,
                        SnapshotRefPages::Page,
                        SnapshotRefPages::CompanyId,
                        SnapshotRefPages::ChunkIds,
                        SnapshotRefPages::CreatedAt,
                    ])
                    .values_panic([
                        snapshot.into(),
                        (page as i32).into(),
                        company.into(),
                        ids.to_vec().into(),
                        now.into(),
                    ])
                    .to_owned();
                db.execute(&insert).await?;
            }
        }
        manager
            .drop_table(Table::drop().table(SnapshotRefs::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SnapshotRefs::Table)
                    .col(uuid(SnapshotRefs::SnapshotId).primary_key())
                    .col(uuid(SnapshotRefs::CompanyId))
                    .col(blob(SnapshotRefs::ChunkIds))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_snapshot_refs_company")
                    .table(SnapshotRefs::Table)
                    .col(SnapshotRefs::CompanyId)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        // Only committed snapshots' pages: a commit under way has none to keep.
        let snapshots = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT DISTINCT p.snapshot_id, p.company_id FROM snapshot_ref_pages p \
                 JOIN snapshots s ON s.id = p.snapshot_id",
            ))
            .await?;
        for row in snapshots {
            let snapshot: uuid::Uuid = row.try_get("", "snapshot_id")?;
            let company: uuid::Uuid = row.try_get("", "company_id")?;
            let select = Query::select()
                .column(SnapshotRefPages::ChunkIds)
                .from(SnapshotRefPages::Table)
                .and_where(Expr::col(SnapshotRefPages::SnapshotId).eq(snapshot))
                .order_by(SnapshotRefPages::Page, Order::Asc)
                .to_owned();
            let mut ids = Vec::new();
            for page in db.query_all(&select).await? {
                let page: Vec<u8> = page.try_get("", "chunk_ids")?;
                ids.extend(page);
            }
            let insert = Query::insert()
                .into_table(SnapshotRefs::Table)
                .columns([
                    SnapshotRefs::SnapshotId,
                    SnapshotRefs::CompanyId,
                    SnapshotRefs::ChunkIds,
                ])
                .values_panic([snapshot.into(), company.into(), ids.into()])
                .to_owned();
            db.execute(&insert).await?;
        }
        manager
            .drop_table(Table::drop().table(SnapshotRefPages::Table).to_owned())
            .await
    }
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::prelude::{Alias, Query};
    use sea_orm_migration::sea_orm::{ConnectionTrait, Database, Statement};

    use super::{PAGE_IDS, SnapshotRefs};
    use crate::{MigratorTrait, RegionalMigrator};

    #[tokio::test]
    async fn references_are_split_into_pages_and_joined_back() {
        for test_db in crate::testing::test_databases().await.unwrap() {
            let db = Database::connect(test_db.url.as_str()).await.unwrap();
            // The schema just before this migration.
            let before = crate::position_of("m20261124_000010_snapshot_ref_pages");
            RegionalMigrator::up(&db, Some(before)).await.unwrap();
            let (snapshot, company) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
            // A page and a half of sorted ids.
            let count = PAGE_IDS + PAGE_IDS / 2;
            let ids: Vec<u8> = (0..count as u32)
                .flat_map(|i| {
                    let mut id = [0u8; 32];
                    id[..4].copy_from_slice(&i.to_be_bytes());
                    id
                })
                .collect();
            let insert = Query::insert()
                .into_table(SnapshotRefs::Table)
                .columns([
                    SnapshotRefs::SnapshotId,
                    SnapshotRefs::CompanyId,
                    SnapshotRefs::ChunkIds,
                ])
                .values_panic([snapshot.into(), company.into(), ids.clone().into()])
                .to_owned();
            db.execute(&insert).await.unwrap();
            RegionalMigrator::up(&db, Some(1)).await.unwrap();
            let backend = db.get_database_backend();
            let rows = db
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT snapshot_id, page, company_id, chunk_ids FROM snapshot_ref_pages \
                     ORDER BY page",
                ))
                .await
                .unwrap();
            assert_eq!(rows.len(), 2, "{}", test_db.backend);
            let mut joined = Vec::new();
            for (n, row) in rows.iter().enumerate() {
                let page: i32 = row.try_get("", "page").unwrap();
                assert_eq!(page as usize, n);
                let got: uuid::Uuid = row.try_get("", "snapshot_id").unwrap();
                assert_eq!(got, snapshot);
                let got: uuid::Uuid = row.try_get("", "company_id").unwrap();
                assert_eq!(got, company);
                let part: Vec<u8> = row.try_get("", "chunk_ids").unwrap();
                joined.extend(part);
            }
            assert_eq!(joined, ids, "{}", test_db.backend);

            // And back: the snapshot row must exist for its pages to be kept.
            let insert = Query::insert()
                .into_table(Alias::new("snapshots"))
                .columns(
                    [
                        "id",
                        "company_id",
                        "agent_id",
                        "hostname",
                        "paths",
                        "started_at",
                        "finished_at",
                        "tree_id",
                        "files",
                        "dirs",
                        "bytes",
                        "created_at",
                    ]
                    .map(Alias::new),
                )
                .values_panic([
                    snapshot.into(),
                    company.into(),
                    company.into(),
                    "h".into(),
                    "[]".into(),
                    0i64.into(),
                    0i64.into(),
                    vec![0u8; 32].into(),
                    0i64.into(),
                    0i64.into(),
                    0i64.into(),
                    chrono::Utc::now().into(),
                ])
                .to_owned();
            db.execute(&insert).await.unwrap();
            RegionalMigrator::down(&db, Some(1)).await.unwrap();
            let row = db
                .query_one_raw(Statement::from_string(
                    backend,
                    "SELECT chunk_ids FROM snapshot_refs",
                ))
                .await
                .unwrap()
                .unwrap();
            let got: Vec<u8> = row.try_get("", "chunk_ids").unwrap();
            assert_eq!(got, ids, "{}", test_db.backend);
        }
    }
}
