//! Members' lifecycle: an enrollment key can be revoked before it is used
//! (by its creator, an admin, or the removal of the person it belongs to).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum EnrollmentKeys {
    Table,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(EnrollmentKeys::Table)
                    .add_column(timestamp_with_time_zone_null(EnrollmentKeys::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(EnrollmentKeys::Table)
                    .drop_column(EnrollmentKeys::RevokedAt)
                    .to_owned(),
            )
            .await
    }
}
