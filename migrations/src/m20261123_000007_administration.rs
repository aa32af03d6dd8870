//! Company administration: groups with their backup policy, invitations,
//! agent status, quotas and daily usage.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    CompanyId,
    Name,
    IsDefault,
    IncludePaths,
    IncludePatterns,
    ExcludePatterns,
    Schedule,
    KeepLast,
    KeepWithinDays,
    BandwidthKbps,
    QuotaBytes,
    QuotaAlertAt,
    PolicyVersion,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    CompanyId,
    Email,
    Role,
    GroupId,
    CodeHash,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
    AcceptedAt,
    AcceptedUser,
}

#[derive(DeriveIden)]
enum UsageDays {
    Table,
    CompanyId,
    Day,
    SeatsUsed,
    LogicalBytes,
    StoredBytes,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    GroupId,
}

#[derive(DeriveIden)]
enum Agents {
    Table,
    OwnerUserId,
    GroupId,
    LastSeenAt,
    LastAttemptAt,
    LastBackupAt,
    LastResult,
    LastError,
    BytesProtected,
    PolicyVersionSeen,
    IdleAlertAt,
}

#[derive(DeriveIden)]
enum Companies {
    Table,
    QuotaBytes,
    QuotaAlertAt,
    IdleAlertDays,
}

#[derive(DeriveIden)]
enum EnrollmentKeys {
    Table,
    OwnerUserId,
    GroupId,
}

#[derive(DeriveIden)]
enum Packs {
    Table,
    AgentId,
}

async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    mut column: ColumnDef,
) -> Result<(), DbErr> {
    // SQLite adds one column per ALTER TABLE.
    manager
        .alter_table(
            Table::alter()
                .table(table)
                .add_column(&mut column)
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .col(uuid(Groups::Id).primary_key())
                    .col(uuid(Groups::CompanyId))
                    .col(string_len(Groups::Name, 100))
                    .col(boolean(Groups::IsDefault))
                    .col(text(Groups::IncludePaths))
                    .col(text(Groups::IncludePatterns))
                    .col(text(Groups::ExcludePatterns))
                    .col(string_len(Groups::Schedule, 32))
                    .col(integer(Groups::KeepLast))
                    .col(integer(Groups::KeepWithinDays))
                    .col(big_integer(Groups::BandwidthKbps))
                    .col(big_integer_null(Groups::QuotaBytes))
                    .col(timestamp_with_time_zone_null(Groups::QuotaAlertAt))
                    .col(big_integer(Groups::PolicyVersion))
                    .col(timestamp_with_time_zone(Groups::CreatedAt))
                    .col(timestamp_with_time_zone(Groups::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_groups_company_name")
                    .table(Groups::Table)
                    .col(Groups::CompanyId)
                    .col(Groups::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(uuid(Invitations::Id).primary_key())
                    .col(uuid(Invitations::CompanyId))
                    .col(string_len(Invitations::Email, 254))
                    .col(string_len(Invitations::Role, 16))
                    .col(uuid_null(Invitations::GroupId))
                    .col(blob(Invitations::CodeHash).unique_key())
                    .col(uuid(Invitations::InvitedBy))
                    .col(timestamp_with_time_zone(Invitations::CreatedAt))
                    .col(timestamp_with_time_zone(Invitations::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Invitations::AcceptedAt))
                    .col(uuid_null(Invitations::AcceptedUser))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_invitations_company")
                    .table(Invitations::Table)
                    .col(Invitations::CompanyId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsageDays::Table)
                    .col(uuid(UsageDays::CompanyId))
                    .col(string_len(UsageDays::Day, 10))
                    .col(big_integer(UsageDays::SeatsUsed))
                    .col(big_integer(UsageDays::LogicalBytes))
                    .col(big_integer(UsageDays::StoredBytes))
                    .col(timestamp_with_time_zone(UsageDays::RecordedAt))
                    .primary_key(
                        Index::create()
                            .col(UsageDays::CompanyId)
                            .col(UsageDays::Day),
                    )
                    .to_owned(),
            )
            .await?;
        add(manager, Users::Table, uuid_null(Users::GroupId)).await?;
        add(manager, Agents::Table, uuid_null(Agents::OwnerUserId)).await?;
        add(manager, Agents::Table, uuid_null(Agents::GroupId)).await?;
        for column in [
            Agents::LastSeenAt,
            Agents::LastAttemptAt,
            Agents::LastBackupAt,
            Agents::IdleAlertAt,
        ] {
            add(
                manager,
                Agents::Table,
                timestamp_with_time_zone_null(column),
            )
            .await?;
        }
        add(
            manager,
            Agents::Table,
            string_len(Agents::LastResult, 16).default("").to_owned(),
        )
        .await?;
        add(
            manager,
            Agents::Table,
            string_len(Agents::LastError, 500).default("").to_owned(),
        )
        .await?;
        for column in [Agents::BytesProtected, Agents::PolicyVersionSeen] {
            add(
                manager,
                Agents::Table,
                big_integer(column).default(0).to_owned(),
            )
            .await?;
        }
        add(
            manager,
            Companies::Table,
            big_integer_null(Companies::QuotaBytes),
        )
        .await?;
        add(
            manager,
            Companies::Table,
            timestamp_with_time_zone_null(Companies::QuotaAlertAt),
        )
        .await?;
        add(
            manager,
            Companies::Table,
            integer(Companies::IdleAlertDays).default(7).to_owned(),
        )
        .await?;
        add(
            manager,
            EnrollmentKeys::Table,
            uuid_null(EnrollmentKeys::OwnerUserId),
        )
        .await?;
        add(
            manager,
            EnrollmentKeys::Table,
            uuid_null(EnrollmentKeys::GroupId),
        )
        .await?;
        add(manager, Packs::Table, uuid_null(Packs::AgentId)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Groups::Table.into_iden(),
            Invitations::Table.into_iden(),
            UsageDays::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for (table, column) in [
            (Users::Table.into_iden(), Users::GroupId.into_iden()),
            (Agents::Table.into_iden(), Agents::OwnerUserId.into_iden()),
            (Agents::Table.into_iden(), Agents::GroupId.into_iden()),
            (Agents::Table.into_iden(), Agents::LastSeenAt.into_iden()),
            (Agents::Table.into_iden(), Agents::LastAttemptAt.into_iden()),
            (Agents::Table.into_iden(), Agents::LastBackupAt.into_iden()),
            (Agents::Table.into_iden(), Agents::IdleAlertAt.into_iden()),
            (Agents::Table.into_iden(), Agents::LastResult.into_iden()),
            (Agents::Table.into_iden(), Agents::LastError.into_iden()),
            (
                Agents::Table.into_iden(),
                Agents::BytesProtected.into_iden(),
            ),
            (
                Agents::Table.into_iden(),
                Agents::PolicyVersionSeen.into_iden(),
            ),
            (
                Companies::Table.into_iden(),
                Companies::QuotaBytes.into_iden(),
            ),
            (
                Companies::Table.into_iden(),
                Companies::QuotaAlertAt.into_iden(),
            ),
            (
                Companies::Table.into_iden(),
                Companies::IdleAlertDays.into_iden(),
            ),
            (Packs::Table.into_iden(), Packs::AgentId.into_iden()),
            (
                EnrollmentKeys::Table.into_iden(),
                EnrollmentKeys::OwnerUserId.into_iden(),
            ),
            (
                EnrollmentKeys::Table.into_iden(),
                EnrollmentKeys::GroupId.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
