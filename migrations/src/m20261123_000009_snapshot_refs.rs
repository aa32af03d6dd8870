//! A snapshot's chunk references in one row (sorted, concatenated 32-byte
//! ids) instead of one row per chunk: committing a snapshot of 100,000
//! chunks writes one row, not 100,000.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum SnapshotRefs {
    Table,
    SnapshotId,
    CompanyId,
    ChunkIds,
}

#[derive(DeriveIden)]
enum SnapshotChunks {
    Table,
    SnapshotId,
    ChunkId,
    CompanyId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
        // Carry the existing references over, one snapshot at a time.
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let snapshots = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT DISTINCT snapshot_id, company_id FROM snapshot_chunks",
            ))
            .await?;
        for row in snapshots {
            let snapshot: uuid::Uuid = row.try_get("", "snapshot_id")?;
            let company: uuid::Uuid = row.try_get("", "company_id")?;
            let select = Query::select()
                .column(SnapshotChunks::ChunkId)
                .from(SnapshotChunks::Table)
                .and_where(Expr::col(SnapshotChunks::SnapshotId).eq(snapshot))
                .order_by(SnapshotChunks::ChunkId, Order::Asc)
                .to_owned();
            let mut ids = Vec::new();
            for chunk in db.query_all(&select).await? {
                let id: Vec<u8> = chunk.try_get("", "chunk_id")?;
                ids.extend(id);
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
            .drop_table(Table::drop().table(SnapshotChunks::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SnapshotChunks::Table)
                    .col(uuid(SnapshotChunks::SnapshotId))
                    .col(blob(SnapshotChunks::ChunkId))
                    .col(uuid(SnapshotChunks::CompanyId))
                    .primary_key(
                        Index::create()
                            .col(SnapshotChunks::SnapshotId)
                            .col(SnapshotChunks::ChunkId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(SnapshotRefs::Table).to_owned())
            .await
    }
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Database, Statement};

    use crate::{MigratorTrait, RegionalMigrator};

    #[tokio::test]
    async fn existing_references_are_carried_over_sorted() {
        for test_db in crate::testing::test_databases().await.unwrap() {
            let db = Database::connect(test_db.url.as_str()).await.unwrap();
            // The schema just before this migration.
            let before = crate::position_of("m20261123_000009_snapshot_refs");
            RegionalMigrator::up(&db, Some(before)).await.unwrap();
            let (snapshot, company) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
            for id in [[9u8; 32], [1u8; 32], [5u8; 32]] {
                let insert = sea_orm_migration::prelude::Query::insert()
                    .into_table(super::SnapshotChunks::Table)
                    .columns([
                        super::SnapshotChunks::SnapshotId,
                        super::SnapshotChunks::ChunkId,
                        super::SnapshotChunks::CompanyId,
                    ])
                    .values_panic([snapshot.into(), id.to_vec().into(), company.into()])
                    .to_owned();
                db.execute(&insert).await.unwrap();
            }
            RegionalMigrator::up(&db, Some(1)).await.unwrap();
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT snapshot_id, company_id, chunk_ids FROM snapshot_refs",
                ))
                .await
                .unwrap()
                .unwrap();
            let got: Vec<u8> = row.try_get("", "chunk_ids").unwrap();
            assert_eq!(
                got,
                [[1u8; 32], [5u8; 32], [9u8; 32]].concat(),
                "{}",
                test_db.backend
            );
            let got: uuid::Uuid = row.try_get("", "snapshot_id").unwrap();
            assert_eq!(got, snapshot);
        }
    }
}
