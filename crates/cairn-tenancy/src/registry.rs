//! Every place a cell keeps a company's data: the regional tables that hold
//! its rows and its prefix in the bucket. Company deletion, the residency
//! checks and the operator's residency report all read this one list, and a
//! test fails when a migrated table with a `company_id` column is missing
//! from it.

use sea_orm::sea_query::{Asterisk, DeleteStatement, Expr, Func, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait};

use cairn_core::{CompanyId, Error};
use cairn_entity::regional::{
    agent, audit, chunk, chunk_copy, chunk_holding, company, email_token, employee_count,
    enrollment_key, group, invitation, outbox, pack, refresh_token, snapshot, snapshot_ref_page,
    usage_day, user,
};
use cairn_entity::{CompanyScope, db_err};
use cairn_store::CellStore;

/// A regional table that holds rows of companies.
pub struct TenantTable {
    /// The table's name in the schema.
    pub name: &'static str,
    /// Counts one company's rows.
    count: fn(uuid::Uuid) -> SelectStatement,
    /// Deletes one company's rows.
    delete: fn(uuid::Uuid) -> DeleteStatement,
}

/// A table whose `$column` names the company.
macro_rules! tenant_table {
    ($name:literal, $entity:ident, $column:ident) => {
        TenantTable {
            name: $name,
            count: |company| {
                Query::select()
                    .expr_as(Func::count(Expr::col(Asterisk)), "n")
                    .from($entity::Entity)
                    .and_where($entity::Column::$column.eq(company))
                    .to_owned()
            },
            delete: |company| {
                Query::delete()
                    .from_table($entity::Entity)
                    .and_where($entity::Column::$column.eq(company))
                    .to_owned()
            },
        }
    };
}

/// Every regional table with rows of a company, in an order that deletes
/// rows before the rows they point at; the company itself comes last.
pub const TENANT_TABLES: &[TenantTable] = &[
    tenant_table!("snapshot_ref_pages", snapshot_ref_page, CompanyId),
    tenant_table!("snapshots", snapshot, CompanyId),
    tenant_table!("chunk_holdings", chunk_holding, CompanyId),
    tenant_table!("chunk_copies", chunk_copy, CompanyId),
    tenant_table!("chunks", chunk, CompanyId),
    tenant_table!("packs", pack, CompanyId),
    tenant_table!("agents", agent, CompanyId),
    tenant_table!("enrollment_keys", enrollment_key, CompanyId),
    tenant_table!("refresh_tokens", refresh_token, CompanyId),
    tenant_table!("email_tokens", email_token, CompanyId),
    tenant_table!("outbox", outbox, CompanyId),
    tenant_table!("audit_log", audit, CompanyId),
    tenant_table!("employee_counts", employee_count, CompanyId),
    tenant_table!("groups", group, CompanyId),
    tenant_table!("invitations", invitation, CompanyId),
    tenant_table!("usage_days", usage_day, CompanyId),
    tenant_table!("users", user, CompanyId),
    tenant_table!("companies", company, Id),
];

/// The company's prefix in the cell's bucket: every object of the company
/// lies under it.
pub fn object_prefix(company: CompanyId) -> String {
    format!("{}/", CellStore::company_prefix(company))
}

/// How many rows `table` holds for the company.
pub async fn count_rows<C: ConnectionTrait>(
    db: &C,
    table: &TenantTable,
    company: CompanyId,
) -> Result<u64, Error> {
    let row = db
        .query_one(&(table.count)(company.0))
        .await
        .map_err(db_err("counting a company's rows"))?
        .ok_or_else(|| {
            Error::internal(format!("counting rows of {} returned nothing", table.name))
        })?;
    let n: i64 = row
        .try_get("", "n")
        .map_err(db_err("reading a company's row count"))?;
    Ok(n.max(0) as u64)
}

/// Per table of [`TENANT_TABLES`], how many rows the company has: the
/// database half of a residency report.
pub async fn rows_per_table<C: ConnectionTrait>(
    db: &C,
    company: CompanyId,
) -> Result<Vec<(&'static str, u64)>, Error> {
    let mut out = Vec::with_capacity(TENANT_TABLES.len());
    for table in TENANT_TABLES {
        out.push((table.name, count_rows(db, table, company).await?));
    }
    Ok(out)
}

/// Deletes every row of the company, the company row last. Run it inside
/// one transaction, so a failure leaves the company whole.
pub async fn purge_rows<C: ConnectionTrait>(db: &C, scope: CompanyScope) -> Result<(), Error> {
    for table in TENANT_TABLES {
        db.execute(&(table.delete)(scope.uuid()))
            .await
            .map_err(|e| Error::internal_with(&format!("deleting {} rows", table.name), e))?;
    }
    Ok(())
}

/// Every object under the company's prefix with its size in bytes: the
/// bucket half of a residency report.
pub async fn objects(store: &CellStore, company: CompanyId) -> Result<Vec<(String, u64)>, Error> {
    store.list_company(company).await
}

/// Deletes every object under the company's prefix; returns how many went.
pub async fn purge_objects(store: &CellStore, scope: CompanyScope) -> Result<usize, Error> {
    store.delete_company(scope.company()).await
}
