use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Companies {
    Table,
    Phone,
    City,
    State,
    PostalCode,
    SignupIp,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Title,
    Username,
    SignupIp,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    CompanyId,
    UserId,
    TokenHash,
    Family,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    Key,
    Failures,
    WindowStartedAt,
    LockedUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            Companies::Phone,
            Companies::City,
            Companies::State,
            Companies::PostalCode,
            Companies::SignupIp,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Companies::Table)
                        .add_column(string_len(column, 100).default(""))
                        .to_owned(),
                )
                .await?;
        }
        for column in [Users::Title, Users::Username, Users::SignupIp] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(string_len(column, 100).default(""))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(uuid(RefreshTokens::Id).primary_key())
                    .col(uuid(RefreshTokens::CompanyId))
                    .col(uuid(RefreshTokens::UserId))
                    .col(blob(RefreshTokens::TokenHash).unique_key())
                    .col(uuid(RefreshTokens::Family))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_user")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::CompanyId)
                    .col(RefreshTokens::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    .col(blob(LoginThrottle::Key).primary_key())
                    .col(integer(LoginThrottle::Failures))
                    .col(timestamp_with_time_zone(LoginThrottle::WindowStartedAt))
                    .col(timestamp_with_time_zone_null(LoginThrottle::LockedUntil))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginThrottle::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await?;
        for column in [Users::Title, Users::Username, Users::SignupIp] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            Companies::Phone,
            Companies::City,
            Companies::State,
            Companies::PostalCode,
            Companies::SignupIp,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Companies::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
