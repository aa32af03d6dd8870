use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum DirectoryLogins {
    Table,
    LoginHash,
    CompanyHash,
    Region,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DirectoryLogins::Table)
                    .col(blob(DirectoryLogins::LoginHash).primary_key())
                    .col(blob(DirectoryLogins::CompanyHash))
                    .col(string_len(DirectoryLogins::Region, 8))
                    .col(timestamp_with_time_zone(DirectoryLogins::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_directory_logins_company")
                    .table(DirectoryLogins::Table)
                    .col(DirectoryLogins::CompanyHash)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DirectoryLogins::Table).to_owned())
            .await
    }
}
