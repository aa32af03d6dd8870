use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Companies {
    Table,
    Id,
    Name,
    Industry,
    Employees,
    Country,
    Region,
    Seats,
    WrappedKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    CompanyId,
    Name,
    Email,
    PasswordHash,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EnrollmentKeys {
    Table,
    Id,
    CompanyId,
    SecretHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    UsedByAgent,
}

#[derive(DeriveIden)]
enum Agents {
    Table,
    Id,
    CompanyId,
    Hostname,
    CredentialHash,
    EnrolledAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Packs {
    Table,
    CompanyId,
    Id,
    ObjectKey,
    Size,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Chunks {
    Table,
    CompanyId,
    Id,
    PackId,
    Offset,
    Length,
    RawLength,
}

#[derive(DeriveIden)]
enum Snapshots {
    Table,
    Id,
    CompanyId,
    AgentId,
    Hostname,
    Paths,
    StartedAt,
    FinishedAt,
    TreeId,
    Files,
    Dirs,
    Bytes,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SnapshotChunks {
    Table,
    SnapshotId,
    ChunkId,
    CompanyId,
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Companies::Table)
                    .col(uuid(Companies::Id).primary_key())
                    .col(string_len(Companies::Name, 200))
                    .col(string_len(Companies::Industry, 100))
                    .col(big_integer(Companies::Employees))
                    .col(string_len(Companies::Country, 2))
                    .col(string_len(Companies::Region, 8))
                    .col(big_integer(Companies::Seats))
                    .col(blob(Companies::WrappedKey))
                    .col(timestamp_with_time_zone(Companies::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(uuid(Users::Id).primary_key())
                    .col(uuid(Users::CompanyId))
                    .col(string_len(Users::Name, 200))
                    .col(string_len_uniq(Users::Email, 254))
                    .col(text(Users::PasswordHash))
                    .col(string_len(Users::Role, 32))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_users_company", Users::Table, &["company_id"]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EnrollmentKeys::Table)
                    .col(uuid(EnrollmentKeys::Id).primary_key())
                    .col(uuid(EnrollmentKeys::CompanyId))
                    .col(blob(EnrollmentKeys::SecretHash).unique_key())
                    .col(uuid(EnrollmentKeys::CreatedBy))
                    .col(timestamp_with_time_zone(EnrollmentKeys::CreatedAt))
                    .col(timestamp_with_time_zone(EnrollmentKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(EnrollmentKeys::UsedAt))
                    .col(uuid_null(EnrollmentKeys::UsedByAgent))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_enrollment_keys_company",
                EnrollmentKeys::Table,
                &["company_id"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Agents::Table)
                    .col(uuid(Agents::Id).primary_key())
                    .col(uuid(Agents::CompanyId))
                    .col(string_len(Agents::Hostname, 253))
                    .col(blob(Agents::CredentialHash))
                    .col(timestamp_with_time_zone(Agents::EnrolledAt))
                    .col(timestamp_with_time_zone_null(Agents::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_agents_company", Agents::Table, &["company_id"]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Packs::Table)
                    .col(uuid(Packs::CompanyId))
                    .col(blob(Packs::Id))
                    .col(text(Packs::ObjectKey))
                    .col(big_integer(Packs::Size))
                    .col(timestamp_with_time_zone(Packs::CreatedAt))
                    .primary_key(Index::create().col(Packs::CompanyId).col(Packs::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Chunks::Table)
                    .col(uuid(Chunks::CompanyId))
                    .col(blob(Chunks::Id))
                    .col(blob(Chunks::PackId))
                    .col(big_integer(Chunks::Offset))
                    .col(big_integer(Chunks::Length))
                    .col(big_integer(Chunks::RawLength))
                    .primary_key(Index::create().col(Chunks::CompanyId).col(Chunks::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_chunks_pack",
                Chunks::Table,
                &["company_id", "pack_id"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Snapshots::Table)
                    .col(uuid(Snapshots::Id).primary_key())
                    .col(uuid(Snapshots::CompanyId))
                    .col(uuid(Snapshots::AgentId))
                    .col(string_len(Snapshots::Hostname, 253))
                    .col(text(Snapshots::Paths))
                    .col(big_integer(Snapshots::StartedAt))
                    .col(big_integer(Snapshots::FinishedAt))
                    .col(blob(Snapshots::TreeId))
                    .col(big_integer(Snapshots::Files))
                    .col(big_integer(Snapshots::Dirs))
                    .col(big_integer(Snapshots::Bytes))
                    .col(timestamp_with_time_zone(Snapshots::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_snapshots_company",
                Snapshots::Table,
                &["company_id", "agent_id"],
            ))
            .await?;
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
            .create_index(index(
                "idx_snapshot_chunks_company",
                SnapshotChunks::Table,
                &["company_id", "chunk_id"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SnapshotChunks::Table.into_iden(),
            Snapshots::Table.into_iden(),
            Chunks::Table.into_iden(),
            Packs::Table.into_iden(),
            Agents::Table.into_iden(),
            EnrollmentKeys::Table.into_iden(),
            Users::Table.into_iden(),
            Companies::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
