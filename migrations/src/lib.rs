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
mod m20261204_000011_chunk_holdings;
mod m20261204_000012_member_lifecycle;

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
            Box::new(m20261204_000011_chunk_holdings::Migration),
            Box::new(m20261204_000012_member_lifecycle::Migration),
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

/// Page cache of each SQLite connection's main database, in KiB. Pages the
/// cache does not hold are read back from the system's file cache. The
/// caches fill as the chunk index grows, so this sets how the server's
/// memory grows with the data it holds. At 16 MiB a connection they took 80
/// of the server's 128 MiB of heap on the 6 GB benchmark corpus; at 4 MiB,
/// SQLite still held 25 MiB during a restore of the 1.5 GB corpus and
/// 40 MiB of the 6 GB one (heaptrack: the page caches, temporary tables
/// and statements of the cell's four connections); at 1 MiB, 10 MiB.
const SQLITE_CACHE_KIB: u32 = 1024;

/// The most a SQLite write-ahead log keeps on disk once a checkpoint has
/// emptied it. While readers keep checkpoints from reaching its end, the
/// log grows with every commit; without a limit the file then stays at its
/// largest size for good, with one it is cut back to this at the next
/// checkpoint that empties it.
const SQLITE_WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// Connections to a SQLite file. The driver's default is one, which puts
/// every query of the cell in a single line: a pack commit indexing ten
/// thousand small chunks (a fifth of a second) held up every agent's
/// `FindMissingChunks` and every sign-in behind it. In WAL mode readers run
/// beside the one writer, and writes take the lock first (`begin_write`)
/// and wait their turn for it (the busy timeout), as PostgreSQL's pool does.
const SQLITE_CONNECTIONS: u32 = 4;

/// How long a write waits for another connection's write to finish before
/// it gives up with "database is locked": as long as a request waited for
/// the one connection before.
const SQLITE_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = std::path::Path::new(path.split('?').next().unwrap_or(path));
        if path != std::path::Path::new(":memory:") {
            private_sqlite_file(path)
                .map_err(|e| DbErr::Custom(format!("creating {}: {e}", path.display())))?;
        }
    }
    let mut options = ConnectOptions::new(url.to_owned());
    if url.starts_with("sqlite:") {
        options.max_connections(SQLITE_CONNECTIONS);
    }
    options.sqlx_logging(false).map_sqlx_sqlite_opts(|sqlite| {
        // Set on every connection of the pool, not only the first: readers
        // never block the writer, a commit waits for the log and not the
        // disk, and the chunk index's hot pages stay in memory (pages are
        // taken as needed, up to the limit).
        sqlite
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .pragma("cache_size", format!("-{}", SQLITE_CACHE_KIB))
            .pragma("journal_size_limit", SQLITE_WAL_LIMIT_BYTES.to_string())
            // Deleted rows are overwritten with zeros, not left in free
            // pages and cells: an account deleted is gone from the file
            // once the write-ahead log is checkpointed
            // (`cairn_entity::checkpoint_deleted`).
            .pragma("secure_delete", "ON")
    });
    Database::connect(options).await
}

/// Makes a SQLite database readable by the server's user only, whatever the
/// umask: its folder 0700 when new, the file created (or reset) to 0600
/// before SQLite opens it. SQLite gives its `-wal` and `-shm` files the
/// database file's mode, so they are 0600 too; those an older server left
/// are reset as well.
fn private_sqlite_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let private = std::fs::Permissions::from_mode(0o600);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(private.clone())?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::set_permissions(std::path::Path::new(&side), private.clone()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm_migration::sea_orm::{
        ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode,
        TransactionOptions, TransactionTrait,
    };

    async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
        db.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
    }

    async fn rows(db: &impl ConnectionTrait) -> i64 {
        let row = db
            .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM rows_seen",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }

    /// A write transaction left open holds up neither a read (it sees what
    /// was committed) nor, for longer than the write lasts, a second writer,
    /// which waits for the lock instead of failing with "database is locked".
    #[tokio::test]
    async fn reads_run_beside_an_open_write_and_writers_take_turns() {
        for test_db in crate::testing::test_databases().await.unwrap() {
            let db = super::connect(&test_db.url).await.unwrap();
            db.execute_unprepared("CREATE TABLE rows_seen (v BIGINT)")
                .await
                .unwrap();
            let first = begin_write(&db).await.unwrap();
            first
                .execute_unprepared("INSERT INTO rows_seen VALUES (1)")
                .await
                .unwrap();
            let read = tokio::time::timeout(Duration::from_secs(10), rows(&db)).await;
            assert_eq!(read.ok(), Some(0), "{}: the read waited", test_db.backend);

            let second = tokio::spawn({
                let db = db.clone();
                async move {
                    let txn = begin_write(&db).await?;
                    txn.execute_unprepared("INSERT INTO rows_seen VALUES (2)")
                        .await?;
                    txn.commit().await
                }
            });
            tokio::time::sleep(Duration::from_millis(200)).await;
            if test_db.backend == "sqlite" {
                assert!(!second.is_finished(), "the second writer took the lock");
            }
            first.commit().await.unwrap();
            second.await.unwrap().unwrap();
            assert_eq!(rows(&db).await, 2, "{}", test_db.backend);
        }
    }

    /// Every connection of a SQLite pool caps its write-ahead log, not only
    /// the first one opened.
    #[tokio::test]
    async fn every_sqlite_connection_caps_the_write_ahead_log() {
        for test_db in crate::testing::test_databases().await.unwrap() {
            if test_db.backend != "sqlite" {
                continue;
            }
            let db = super::connect(&test_db.url).await.unwrap();
            // Holding a transaction open keeps its connection out of the
            // pool, so each of these is a different connection.
            let mut open = Vec::new();
            for _ in 0..super::SQLITE_CONNECTIONS {
                let txn = db.begin().await.unwrap();
                let row = txn
                    .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                        txn.get_database_backend(),
                        "PRAGMA journal_size_limit",
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                let limit = row.try_get_by_index::<i64>(0).unwrap();
                assert_eq!(limit as u64, super::SQLITE_WAL_LIMIT_BYTES);
                open.push(txn);
            }
        }
    }
    /// A deleted row leaves no trace in the SQLite file once the log is
    /// checkpointed: every connection zeroes what it deletes.
    #[tokio::test]
    async fn sqlite_deletes_leave_no_bytes_behind() {
        let test_db = crate::testing::sqlite().unwrap();
        let db = super::connect(&test_db.url).await.unwrap();
        let marker = "mo.member@forgotten.example.com";
        db.execute_unprepared("CREATE TABLE people (email TEXT)")
            .await
            .unwrap();
        db.execute_unprepared("INSERT INTO people VALUES ('someone@kept.example.com')")
            .await
            .unwrap();
        db.execute_unprepared(&format!("INSERT INTO people VALUES ('{marker}')"))
            .await
            .unwrap();
        db.execute_unprepared(&format!("DELETE FROM people WHERE email = '{marker}'"))
            .await
            .unwrap();
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .unwrap();
        let path = test_db.url.trim_start_matches("sqlite://");
        let path = path.split('?').next().unwrap();
        let mut bytes = std::fs::read(path).unwrap();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        let found = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(found("someone@kept.example.com"), "the file was not read");
        assert!(!found(marker), "the deleted row is still in the file");
        let mut open = Vec::new();
        for _ in 0..super::SQLITE_CONNECTIONS {
            let txn = db.begin().await.unwrap();
            let row = txn
                .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                    txn.get_database_backend(),
                    "PRAGMA secure_delete",
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 1);
            open.push(txn);
        }
    }

    /// The database, its write-ahead log and its shared-memory file are the
    /// server's alone (0600), in a folder of its own (0700), whatever the
    /// umask; a file an older server left readable is made private.
    #[tokio::test]
    async fn sqlite_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cell/cell.db");
        let db = super::open_regional(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        db.execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        for name in ["cell.db", "cell.db-wal", "cell.db-shm"] {
            let file = dir.path().join("cell").join(name);
            assert_eq!(mode(&file), 0o600, "{name}");
        }
        assert_eq!(mode(&dir.path().join("cell")), 0o700);
        db.close().await.unwrap();

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let db = super::open_regional(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        assert_eq!(mode(&path), 0o600, "an existing database is made private");
        db.close().await.unwrap();
    }
}
