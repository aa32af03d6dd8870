use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};

use cairn_entity::CompanyScope;

use super::{agent, company, databases, group, pack, user};
use crate::registry::{TENANT_TABLES, purge_rows, rows_per_table};

/// Tables of the migrated schema that have a `company_id` column.
async fn tables_with_company_id(db: &DatabaseConnection) -> BTreeSet<String> {
    let sql = match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            "SELECT m.name AS name FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND c.name = 'company_id'"
        }
        _ => {
            "SELECT table_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name = 'company_id'"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

#[tokio::test]
async fn every_table_with_company_rows_is_in_the_registry() {
    for (db, keep) in databases().await {
        let found = tables_with_company_id(&db).await;
        // Guards the query itself: it must see the tables it checks.
        assert!(found.contains("packs"), "{}: {found:?}", keep.backend);
        let registered: BTreeSet<String> =
            TENANT_TABLES.iter().map(|t| t.name.to_owned()).collect();
        let missing: Vec<_> = found.difference(&registered).collect();
        assert!(
            missing.is_empty(),
            "{}: tables with company rows missing from cairn_tenancy::registry: {missing:?}",
            keep.backend
        );
        assert!(registered.contains("companies"));
        // And every registered table exists: counting works for each.
        rows_per_table(&db, cairn_core::CompanyId::new())
            .await
            .unwrap();
    }
}

/// A company with rows in several tables.
async fn seeded(db: &DatabaseConnection) -> CompanyScope {
    let scope = company(db, Some(1000)).await;
    user(db, scope, "owner").await;
    user(db, scope, "member").await;
    let sales = group(db, scope, "Sales", None).await;
    let a = agent(db, scope, Some(&sales)).await;
    pack(db, scope, &a, 950).await;
    // Creates the default group and queues mail to the owner.
    crate::quota::alert_if_near(db, scope, &a).await.unwrap();
    scope
}

#[tokio::test]
async fn purging_a_company_leaves_none_of_its_rows_and_all_of_the_others() {
    for (db, _keep) in databases().await {
        let gone = seeded(&db).await;
        let kept = seeded(&db).await;
        let before = rows_per_table(&db, gone.company()).await.unwrap();
        for table in ["companies", "users", "groups", "agents", "packs", "outbox"] {
            assert!(before_count(&before, table) > 0, "{table}: {before:?}");
        }
        let others = rows_per_table(&db, kept.company()).await.unwrap();

        let txn = cairn_entity::begin_write(&db).await.unwrap();
        purge_rows(&txn, gone).await.unwrap();
        txn.commit().await.unwrap();

        let after = rows_per_table(&db, gone.company()).await.unwrap();
        assert!(after.iter().all(|(_, n)| *n == 0), "{after:?}");
        assert_eq!(after.len(), TENANT_TABLES.len());
        assert_eq!(rows_per_table(&db, kept.company()).await.unwrap(), others);
    }
}

fn before_count(rows: &[(&'static str, u64)], table: &str) -> u64 {
    rows.iter()
        .find(|(name, _)| *name == table)
        .map_or(0, |(_, n)| *n)
}
