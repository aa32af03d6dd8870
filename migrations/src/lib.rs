//! Schema migrations: [`RegionalMigrator`] for a cell's database and
//! [`DirectoryMigrator`] for the directory's. A migration is never edited
//! after it lands; changes come as new migrations.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_regional;
mod m20261123_000002_directory;
mod m20261123_000003_signup_details_sessions;
mod m20261123_000004_mail;
mod m20261123_000005_audit;
mod m20261123_000006_employee_counts;
mod m20261123_000007_administration;
mod m20261123_000008_personal_key;
mod m20261123_000009_snapshot_refs;
mod m20261124_000010_snapshot_ref_pages;

pub struct RegionalMigrator;

#[async_trait::async_trait]
impl MigratorTrait for RegionalMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_regional::Migration),
            Box::new(m20261123_000003_signup_details_sessions::Migration),
            Box::new(m20261123_000004_mail::Migration),
            Box::new(m20261123_000005_audit::Migration),
            Box::new(m20261123_000006_employee_counts::Migration),
            Box::new(m20261123_000007_administration::Migration),
            Box::new(m20261123_000008_personal_key::Migration),
            Box::new(m20261123_000009_snapshot_refs::Migration),
            Box::new(m20261124_000010_snapshot_ref_pages::Migration),
        ]
    }
}

pub struct DirectoryMigrator;

#[async_trait::async_trait]
impl MigratorTrait for DirectoryMigrator {
    fn migration_table_name() -> DynIden {
        "seaql_migrations_directory".into_iden()
    }

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261123_000002_directory::Migration)]
    }
}

use sea_orm_migration::sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm_migration::sea_orm::{ConnectOptions, Database, DatabaseConnection};

/// Page cache of each SQLite connection, in KiB. SQLite's own default
/// (2 MiB) is a fraction of a busy cell's chunk index, so every new chunk's
/// row meant reading pages back from the file.
const SQLITE_CACHE_KIB: u32 = 16 * 1024;

async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = std::path::Path::new(path.split('?').next().unwrap_or(path));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbErr::Custom(format!("creating {}: {e}", dir.display())))?;
        }
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false).map_sqlx_sqlite_opts(|sqlite| {
        // Set on every connection of the pool, not only the first: readers
        // never block the writer, a commit waits for the log and not the
        // disk, and the chunk index's hot pages stay in memory (pages are
        // taken as needed, up to the limit).
        sqlite
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .pragma("cache_size", format!("-{}", SQLITE_CACHE_KIB))
    });
    Database::connect(options).await
}

/// Connects to a cell's database and brings its schema up to date.
pub async fn open_regional(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url).await?;
    RegionalMigrator::up(&db, None).await?;
    Ok(db)
}

/// Connects to the directory's database and brings its schema up to date.
pub async fn open_directory(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url).await?;
    DirectoryMigrator::up(&db, None).await?;
    Ok(db)
}

pub mod testing;

/// How many regional migrations come before `name` (for tests that stop
/// the schema just before one).
#[cfg(test)]
fn position_of(name: &str) -> u32 {
    RegionalMigrator::migrations()
        .iter()
        .position(|m| m.name() == name)
        .expect("a known migration") as u32
}
