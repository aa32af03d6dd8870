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
