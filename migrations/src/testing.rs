//! Fresh databases for tests: SQLite always, and PostgreSQL too when
//! `CAIRN_TEST_DATABASE_URL` points at a server (a new database is created
//! there per call), so the same test bodies run on both.

use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DbErr};

/// A database URL for one test; keeps its temporary directory alive.
pub struct TestDatabase {
    pub url: String,
    pub backend: &'static str,
    _dir: Option<tempfile::TempDir>,
}

/// The environment variable naming a PostgreSQL server for tests.
pub const TEST_DATABASE_ENV: &str = "CAIRN_TEST_DATABASE_URL";

/// A new, empty database on every backend available to tests.
pub async fn test_databases() -> Result<Vec<TestDatabase>, DbErr> {
    let mut dbs = vec![sqlite()?];
    if let Some(db) = postgres().await? {
        dbs.push(db);
    }
    Ok(dbs)
}

/// A new, empty SQLite database in a temporary directory.
pub fn sqlite() -> Result<TestDatabase, DbErr> {
    let dir = tempfile::tempdir().map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(TestDatabase {
        url: format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
        backend: "sqlite",
        _dir: Some(dir),
    })
}

/// A new, empty PostgreSQL database, when `CAIRN_TEST_DATABASE_URL` is set.
pub async fn postgres() -> Result<Option<TestDatabase>, DbErr> {
    let Ok(admin_url) = std::env::var(TEST_DATABASE_ENV) else {
        return Ok(None);
    };
    let name = format!("cairn_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(admin_url.as_str()).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await?;
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url.as_str(), String::new()),
    };
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    Ok(Some(TestDatabase {
        url: format!("{base}/{name}{query}"),
        backend: "postgres",
        _dir: None,
    }))
}
