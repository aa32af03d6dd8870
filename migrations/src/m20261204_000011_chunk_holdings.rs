//! Who holds which chunk, and every copy of a chunk the server stored.
//!
//! `chunk_holdings`: one row per person (the uploading machine's owner, or
//! the machine itself when it belongs to nobody) and chunk, with the digest
//! (BLAKE3 of the stored bytes) of the copy that person uploaded. A
//! machine is told a chunk is stored only when its person holds it with the
//! digest of its own sealed copy, and commits and restores only what its
//! person holds or its snapshots reference.
//!
//! `chunks.digest`: the digest of the first copy, the one the company
//! deduplicates against. `chunk_copies`: further copies of an id whose
//! bytes differ from the first (a damaged or forged upload, or the honest
//! one after it), each under its digest.
//!
//! Existing chunks have no digest (they match any copy) and are held by the
//! person whose machine uploaded the pack that indexed them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::Statement;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum ChunkHoldings {
    Table,
    CompanyId,
    Holder,
    ChunkId,
    Digest,
}

#[derive(DeriveIden)]
enum ChunkCopies {
    Table,
    CompanyId,
    ChunkId,
    Digest,
    PackId,
    Offset,
    Length,
    RawLength,
}

#[derive(DeriveIden)]
enum Chunks {
    Table,
    Digest,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChunkHoldings::Table)
                    .col(uuid(ChunkHoldings::CompanyId))
                    .col(uuid(ChunkHoldings::Holder))
                    .col(blob(ChunkHoldings::ChunkId))
                    .col(blob_null(ChunkHoldings::Digest))
                    .primary_key(
                        Index::create()
                            .col(ChunkHoldings::CompanyId)
                            .col(ChunkHoldings::Holder)
                            .col(ChunkHoldings::ChunkId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChunkCopies::Table)
                    .col(uuid(ChunkCopies::CompanyId))
                    .col(blob(ChunkCopies::ChunkId))
                    .col(blob(ChunkCopies::Digest))
                    .col(blob(ChunkCopies::PackId))
                    .col(big_integer(ChunkCopies::Offset))
                    .col(big_integer(ChunkCopies::Length))
                    .col(big_integer(ChunkCopies::RawLength))
                    .primary_key(
                        Index::create()
                            .col(ChunkCopies::CompanyId)
                            .col(ChunkCopies::ChunkId)
                            .col(ChunkCopies::Digest),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Chunks::Table)
                    .add_column(blob_null(Chunks::Digest))
                    .to_owned(),
            )
            .await?;
        // Existing chunks: held by the person whose machine uploaded them.
        let backend = manager.get_database_backend();
        manager
            .get_connection()
            .execute_raw(Statement::from_string(
                backend,
                "INSERT INTO chunk_holdings (company_id, holder, chunk_id, digest) \
                 SELECT c.company_id, COALESCE(a.owner_user_id, a.id), c.id, NULL \
                 FROM chunks c \
                 JOIN packs p ON p.company_id = c.company_id AND p.id = c.pack_id \
                 JOIN agents a ON a.company_id = c.company_id AND a.id = p.agent_id",
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Chunks::Table)
                    .drop_column(Chunks::Digest)
                    .to_owned(),
            )
            .await?;
        for table in [
            ChunkCopies::Table.into_iden(),
            ChunkHoldings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::MigratorTrait;
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::sea_orm::ConnectionTrait;

    use crate::RegionalMigrator;

    fn insert(table: &str, columns: &[&str], values: Vec<SimpleExpr>) -> InsertStatement {
        Query::insert()
            .into_table(Alias::new(table))
            .columns(columns.iter().map(|c| Alias::new(*c)))
            .values_panic(values)
            .to_owned()
    }

    #[tokio::test]
    async fn existing_chunks_are_held_by_the_person_whose_machine_uploaded_them() {
        for test_db in crate::testing::test_databases().await.unwrap() {
            let db = crate::connect(&test_db.url).await.unwrap();
            // Every migration before this one: the rows it must carry over.
            let before = RegionalMigrator::migrations()
                .iter()
                .position(|m| m.name() == super::Migration.name())
                .unwrap();
            RegionalMigrator::up(&db, Some(before as u32))
                .await
                .unwrap();
            let company = uuid::Uuid::now_v7();
            let person = uuid::Uuid::now_v7();
            let (owned, unowned) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
            let now = chrono::Utc::now();
            for (agent, owner) in [(owned, Some(person)), (unowned, None)] {
                db.execute(&insert(
                    "agents",
                    &[
                        "id",
                        "company_id",
                        "hostname",
                        "credential_hash",
                        "enrolled_at",
                        "owner_user_id",
                    ],
                    vec![
                        agent.into(),
                        company.into(),
                        "host".into(),
                        agent.as_bytes().to_vec().into(),
                        now.into(),
                        owner.into(),
                    ],
                ))
                .await
                .unwrap();
            }
            // One pack per machine, and one whose machine is not recorded.
            for (n, agent) in [(1u8, Some(owned)), (2, Some(unowned)), (3, None)] {
                db.execute(&insert(
                    "packs",
                    &[
                        "company_id",
                        "id",
                        "object_key",
                        "size",
                        "created_at",
                        "agent_id",
                    ],
                    vec![
                        company.into(),
                        vec![n; 32].into(),
                        format!("pack-{n}").into(),
                        10i64.into(),
                        now.into(),
                        agent.into(),
                    ],
                ))
                .await
                .unwrap();
                db.execute(&insert(
                    "chunks",
                    &[
                        "company_id",
                        "id",
                        "pack_id",
                        "offset",
                        "length",
                        "raw_length",
                    ],
                    vec![
                        company.into(),
                        vec![n + 100; 32].into(),
                        vec![n; 32].into(),
                        0i64.into(),
                        10i64.into(),
                        10i64.into(),
                    ],
                ))
                .await
                .unwrap();
            }
            RegionalMigrator::up(&db, None).await.unwrap();

            let select = Query::select()
                .columns([
                    Alias::new("holder"),
                    Alias::new("chunk_id"),
                    Alias::new("digest"),
                ])
                .from(Alias::new("chunk_holdings"))
                .and_where(Expr::col(Alias::new("company_id")).eq(company))
                .order_by(Alias::new("chunk_id"), Order::Asc)
                .to_owned();
            let rows = db.query_all(&select).await.unwrap();
            let held: Vec<(uuid::Uuid, Vec<u8>, Option<Vec<u8>>)> = rows
                .iter()
                .map(|r| {
                    (
                        r.try_get("", "holder").unwrap(),
                        r.try_get("", "chunk_id").unwrap(),
                        r.try_get("", "digest").unwrap(),
                    )
                })
                .collect();
            assert_eq!(
                held,
                [
                    (person, vec![101; 32], None),
                    (unowned, vec![102; 32], None)
                ],
                "{}",
                test_db.backend
            );
        }
    }
}
