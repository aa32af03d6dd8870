//! The company record: reading it, correcting its details, the history of
//! its number of employees, the seats it bought, its quota and its key mode.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use cairn_core::limits::{
    City, CompanyName, Employees, IdleAlertDays, QuotaBytes, Seats, StateName,
};
use cairn_core::{EntityKind, Error};
use cairn_entity::audit_log::record;
use cairn_entity::regional::{agent, company, employee_count};
use cairn_entity::{CompanyScope, db_err};

use crate::caller::{ADMINS, Caller, EVERYONE, OWNER};
use cairn_tenancy::agents::seats_used;

/// A correction of the company's details; `None` leaves a field as it is.
/// Every field is validated before anything is written.
#[derive(Debug, Default)]
pub(crate) struct CompanyUpdate {
    pub(crate) name: Option<CompanyName>,
    pub(crate) industry: Option<String>,
    pub(crate) employees: Option<Employees>,
    pub(crate) phone: Option<String>,
    pub(crate) city: Option<City>,
    pub(crate) state: Option<StateName>,
    pub(crate) postal_code: Option<String>,
    pub(crate) idle_alert_days: Option<IdleAlertDays>,
}

/// The company as its people see it.
#[derive(Debug)]
pub(crate) struct CompanyView {
    pub(crate) company: company::Model,
    /// Seats unrevoked agents hold.
    pub(crate) seats_used: i64,
    pub(crate) stored_bytes: i64,
}

/// The caller's company; anyone of it may look.
pub(crate) async fn get(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
) -> Result<CompanyView, Error> {
    caller.require(EVERYONE)?;
    view(db, caller.scope()).await
}

async fn view(db: &DatabaseConnection, scope: CompanyScope) -> Result<CompanyView, Error> {
    let company = company::Entity::find_by_id(scope.uuid())
        .one(db)
        .await
        .map_err(db_err("finding a company"))?
        .ok_or_else(|| Error::not_found(EntityKind::Company, scope.company()))?;
    Ok(CompanyView {
        company,
        seats_used: seats_used(db, scope).await?,
        stored_bytes: cairn_tenancy::quota::company_stored_bytes(db, scope).await?,
    })
}

async fn locked(
    txn: &sea_orm::DatabaseTransaction,
    scope: CompanyScope,
) -> Result<company::Model, Error> {
    company::Entity::find_by_id(scope.uuid())
        .lock_exclusive()
        .one(txn)
        .await
        .map_err(db_err("finding a company"))?
        .ok_or_else(|| Error::not_found(EntityKind::Company, scope.company()))
}

/// Corrects the company's details (owners and admins); a new number of
/// employees is kept in the history.
pub(crate) async fn update(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    change: CompanyUpdate,
) -> Result<CompanyView, Error> {
    caller.require(ADMINS)?;
    let scope = caller.scope();
    let actor = &caller.actor();
    let CompanyUpdate {
        name,
        industry,
        employees,
        phone,
        city,
        state,
        postal_code,
        idle_alert_days,
    } = change;
    let name = name.map(CompanyName::into_string);
    let employees = employees.map(Employees::get);
    let city = city.map(City::into_string);
    let state = state.map(StateName::into_string);
    let idle_alert_days = idle_alert_days.map(IdleAlertDays::get);

    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a company update"))?;
    let found = locked(&txn, scope).await?;
    let previous_employees = found.employees;
    let mut active = found.into_active_model();
    let mut changed = Vec::new();
    macro_rules! apply {
        ($($field:ident),+) => {$(
            if let Some(value) = $field {
                active.$field = Set(value);
                changed.push(stringify!($field));
            }
        )+};
    }
    apply!(
        name,
        industry,
        employees,
        phone,
        city,
        state,
        postal_code,
        idle_alert_days
    );
    if changed.is_empty() {
        drop(txn);
        return view(db, scope).await;
    }
    active
        .update(&txn)
        .await
        .map_err(db_err("updating a company"))?;
    for field in &changed {
        record(&txn, scope, actor, "company.update", field).await?;
    }
    if let Some(employees) = employees.filter(|e| *e != previous_employees) {
        employee_count::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            company_id: Set(scope.uuid()),
            previous: Set(previous_employees),
            employees: Set(employees),
            changed_at: Set(Utc::now()),
            changed_by: Set(actor.id.clone()),
        }
        .insert(&txn)
        .await
        .map_err(db_err("recording an employee count"))?;
    }
    txn.commit()
        .await
        .map_err(db_err("committing a company update"))?;
    view(db, scope).await
}

/// The history of the company's number of employees, oldest first (owners
/// and admins).
pub(crate) async fn employee_counts(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
) -> Result<Vec<employee_count::Model>, Error> {
    caller.require(ADMINS)?;
    let scope = caller.scope();
    employee_count::Entity::find()
        .filter(employee_count::Column::CompanyId.eq(scope.uuid()))
        .order_by_asc(employee_count::Column::ChangedAt)
        .limit(10_000)
        .all(db)
        .await
        .map_err(db_err("reading employee counts"))
}

/// Sets the seats bought (seats are billing: the owner's call); never below
/// the seats agents hold.
pub(crate) async fn set_seats(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    seats: Seats,
) -> Result<CompanyView, Error> {
    caller.require(OWNER)?;
    let (scope, actor) = (caller.scope(), &caller.actor());
    let seats = seats.get();
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a seat change"))?;
    let found = locked(&txn, scope).await?;
    let used = seats_used(&txn, scope).await?;
    if seats < used {
        return Err(Error::FailedPrecondition(format!(
            "{used} agents hold seats: revoke {} agent(s) before going down to {seats} seats",
            used - seats
        )));
    }
    let mut active = found.into_active_model();
    active.seats = Set(seats);
    active.update(&txn).await.map_err(db_err("setting seats"))?;
    record(&txn, scope, actor, "company.seats", "seats").await?;
    txn.commit()
        .await
        .map_err(db_err("committing a seat change"))?;
    view(db, scope).await
}

/// Sets the company's storage quota, or none (what the company pays for: the
/// owner's call).
pub(crate) async fn set_quota(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    quota: QuotaBytes,
) -> Result<CompanyView, Error> {
    caller.require(OWNER)?;
    let (scope, actor) = (caller.scope(), &caller.actor());
    let quota = quota.limit();
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a quota change"))?;
    let found = locked(&txn, scope).await?;
    let raised = quota.unwrap_or(i64::MAX) > found.quota_bytes.unwrap_or(i64::MAX);
    let mut active = found.into_active_model();
    active.quota_bytes = Set(quota);
    if raised {
        // A higher quota gets a new alert when it is neared again.
        active.quota_alert_at = Set(None);
    }
    active
        .update(&txn)
        .await
        .map_err(db_err("setting a quota"))?;
    record(&txn, scope, actor, "company.quota", "quota_bytes").await?;
    txn.commit()
        .await
        .map_err(db_err("committing a quota change"))?;
    view(db, scope).await
}

/// Personal-key mode: keeps only `sealed` (checked to be a well-formed
/// `PersonalKey`) and forgets the master-wrapped key. Only before any
/// machine is enrolled, so no chunk was ever sealed with the old key. The
/// owner's call.
pub(crate) async fn set_personal_key(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    sealed: &[u8],
) -> Result<CompanyView, Error> {
    caller.require(OWNER)?;
    let (scope, actor) = (caller.scope(), &caller.actor());
    cairn_crypto::PersonalKey::from_bytes(sealed)
        .map_err(|e| Error::invalid("personal_key", e.to_string()))?;
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a key change"))?;
    let found = locked(&txn, scope).await?;
    let enrolled = agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .count(&txn)
        .await
        .map_err(db_err("counting agents"))?;
    if enrolled > 0 || found.personal_key.is_some() {
        return Err(Error::FailedPrecondition(
            "a personal key can only be chosen before the first machine is enrolled".into(),
        ));
    }
    let mut active = found.into_active_model();
    active.personal_key = Set(Some(sealed.to_vec()));
    active.wrapped_key = Set(Vec::new());
    active
        .update(&txn)
        .await
        .map_err(db_err("setting a personal key"))?;
    record(&txn, scope, actor, "company.personal_key", "personal_key").await?;
    txn.commit()
        .await
        .map_err(db_err("committing a key change"))?;
    view(db, scope).await
}
