use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum EmployeeCounts {
    Table,
    Id,
    CompanyId,
    Previous,
    Employees,
    ChangedAt,
    ChangedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmployeeCounts::Table)
                    .col(uuid(EmployeeCounts::Id).primary_key())
                    .col(uuid(EmployeeCounts::CompanyId))
                    .col(big_integer(EmployeeCounts::Previous))
                    .col(big_integer(EmployeeCounts::Employees))
                    .col(timestamp_with_time_zone(EmployeeCounts::ChangedAt))
                    .col(string_len(EmployeeCounts::ChangedBy, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_employee_counts_company")
                    .table(EmployeeCounts::Table)
                    .col(EmployeeCounts::CompanyId)
                    .col(EmployeeCounts::ChangedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmployeeCounts::Table).to_owned())
            .await
    }
}
