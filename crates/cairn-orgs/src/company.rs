//! The company record: correcting its details, the history of its number of
//! employees, and the seats it bought.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use cairn_core::validate::{count, industry, optional_text, phone, postal_code, text};
use cairn_core::{EntityKind, Error};
use cairn_entity::audit_log::{Actor, record};
use cairn_entity::regional::{agent, company, employee_count};
use cairn_entity::{CompanyScope, db_err};
use cairn_proto::orgs::v1 as pb;

use cairn_tenancy::agents::seats_used;

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

pub(crate) async fn update(
    db: &DatabaseConnection,
    scope: CompanyScope,
    actor: &Actor<'_>,
    req: pb::UpdateCompanyRequest,
) -> Result<(), Error> {
    // Validate everything before touching anything.
    let name = req.name.map(|v| text("name", &v, 200)).transpose()?;
    let industry = req.industry.map(|v| industry("industry", &v)).transpose()?;
    let employees = req
        .employees
        .map(|v| count("employees", v, 1, 10_000_000))
        .transpose()?;
    let phone = req.phone.map(|v| phone("phone", &v)).transpose()?;
    let city = req.city.map(|v| text("city", &v, 100)).transpose()?;
    let state = req
        .state
        .map(|v| optional_text("state", &v, 100))
        .transpose()?;
    let postal_code = req
        .postal_code
        .map(|v| postal_code("postal_code", &v))
        .transpose()?;
    let idle_alert_days = req
        .idle_alert_days
        .map(|v| count("idle_alert_days", i64::from(v), 1, 365).map(|v| v as i32))
        .transpose()?;

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
        return Ok(());
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
        .map_err(db_err("committing a company update"))
}

pub(crate) async fn employee_counts(
    db: &DatabaseConnection,
    scope: CompanyScope,
) -> Result<Vec<employee_count::Model>, Error> {
    employee_count::Entity::find()
        .filter(employee_count::Column::CompanyId.eq(scope.uuid()))
        .order_by_asc(employee_count::Column::ChangedAt)
        .limit(10_000)
        .all(db)
        .await
        .map_err(db_err("reading employee counts"))
}

/// Sets the seats bought; never below the seats agents hold.
pub(crate) async fn set_seats(
    db: &DatabaseConnection,
    scope: CompanyScope,
    actor: &Actor<'_>,
    seats: i64,
) -> Result<(), Error> {
    let seats = count("seats", seats, 1, 100_000)?;
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
        .map_err(db_err("committing a seat change"))
}

/// Sets the company's storage quota (bytes; 0 for none).
pub(crate) async fn set_quota(
    db: &DatabaseConnection,
    scope: CompanyScope,
    actor: &Actor<'_>,
    quota_bytes: i64,
) -> Result<(), Error> {
    let quota = match quota_bytes {
        0 => None,
        b if b > 0 => Some(b),
        _ => {
            return Err(Error::invalid(
                "quota_bytes",
                "must be a number of bytes, or 0 for no quota",
            ));
        }
    };
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
        .map_err(db_err("committing a quota change"))
}

/// Personal-key mode: keeps only `sealed` (checked to be a well-formed
/// `PersonalKey`) and forgets the master-wrapped key. Only before any
/// machine is enrolled, so no chunk was ever sealed with the old key.
pub(crate) async fn set_personal_key(
    db: &DatabaseConnection,
    scope: CompanyScope,
    actor: &Actor<'_>,
    sealed: &[u8],
) -> Result<(), Error> {
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
        .map_err(db_err("committing a key change"))
}
