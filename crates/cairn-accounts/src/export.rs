//! Data export: everything Cairn holds about a user, or for the owner about
//! the whole company, as one JSON document. Metadata only: backup contents
//! are restored with the agent, not exported here.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use cairn_auth::{Claims, Role};
use cairn_core::Error;
use cairn_entity::regional::{agent, audit, company, snapshot, user};
use cairn_entity::{CompanyScope, db_err};

use crate::password::caller;

fn user_json(u: &user::Model) -> Value {
    json!({
        "id": u.id, "name": u.name, "title": u.title, "username": u.username, "email": u.email,
        "role": u.role, "created_at": u.created_at, "signup_ip": u.signup_ip,
        "email_confirmed_at": u.email_confirmed_at, "marketing_opt_out": u.marketing_opt_out,
    })
}

pub(crate) async fn export(
    db: &DatabaseConnection,
    claims: &Claims,
    whole_company: bool,
) -> Result<Vec<u8>, Error> {
    let me = caller(db, claims).await?;
    if whole_company {
        claims.require_role(&[Role::Owner])?;
    }
    let scope = CompanyScope::from_claims(claims)?;
    let company = company::Entity::find_by_id(scope.uuid())
        .one(db)
        .await
        .map_err(db_err("finding a company"))?
        .ok_or_else(|| Error::not_found(cairn_core::EntityKind::Company, scope.company()))?;
    let agents = agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .order_by_asc(agent::Column::EnrolledAt)
        .all(db)
        .await
        .map_err(db_err("listing agents"))?;
    let seats_used = agents.iter().filter(|a| a.revoked_at.is_none()).count();
    let mut audit_query = audit::Entity::find().filter(audit::Column::CompanyId.eq(scope.uuid()));
    if !whole_company {
        audit_query = audit_query.filter(audit::Column::Actor.eq(format!("user:{}", me.id)));
    }
    let audit_log: Vec<Value> = audit_query
        .order_by_asc(audit::Column::At)
        .all(db)
        .await
        .map_err(db_err("reading the audit log"))?
        .into_iter()
        .map(|a| json!({"at": a.at, "actor": a.actor, "action": a.action, "field": a.field, "ip": a.ip}))
        .collect();
    let mut doc = json!({
        "format": "cairn-export-v1",
        "exported_at": chrono::Utc::now(),
        "region": claims.region.as_str(),
        "user": user_json(&me),
        "company": {
            "id": company.id, "name": company.name, "industry": company.industry,
            "employees": company.employees, "country": company.country, "phone": company.phone,
            "city": company.city, "state": company.state, "postal_code": company.postal_code,
            "created_at": company.created_at,
        },
        "seats": {"total": company.seats, "used": seats_used},
        "audit_log": audit_log,
    });
    if whole_company {
        let users = user::Entity::find()
            .filter(user::Column::CompanyId.eq(scope.uuid()))
            .all(db)
            .await
            .map_err(db_err("listing users"))?;
        let snapshots = snapshot::Entity::find()
            .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
            .order_by_asc(snapshot::Column::CreatedAt)
            .all(db)
            .await
            .map_err(db_err("listing snapshots"))?;
        doc["company"]["signup_ip"] = json!(company.signup_ip);
        doc["users"] = users.iter().map(user_json).collect();
        doc["agents"] = agents
            .iter()
            .map(|a| json!({"id": a.id, "hostname": a.hostname, "enrolled_at": a.enrolled_at, "revoked_at": a.revoked_at}))
            .collect();
        doc["snapshots"] = snapshots
            .iter()
            .map(|s| {
                json!({
                    "id": s.id, "agent_id": s.agent_id, "hostname": s.hostname,
                    "paths": serde_json::from_str::<Value>(&s.paths).unwrap_or(Value::Null),
                    "started_at": s.started_at, "finished_at": s.finished_at,
                    "files": s.files, "dirs": s.dirs, "bytes": s.bytes,
                })
            })
            .collect();
    }
    serde_json::to_vec_pretty(&doc).map_err(|e| Error::internal_with("encoding an export", e))
}
