//! Tests of the shared rules, on SQLite and on PostgreSQL when
//! `CAIRN_TEST_DATABASE_URL` is set, without a gRPC server; and the fixtures
//! they share.

mod access;
mod groups;
mod members;
mod quota;
mod registry;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};

use cairn_auth::{Claims, PrincipalKind, Role};
use cairn_core::{CompanyId, Region};
use cairn_entity::CompanyScope;
use cairn_entity::regional::{agent, company, group, pack, user};

/// A freshly migrated regional database per backend.
async fn databases() -> Vec<(DatabaseConnection, cairn_migration::testing::TestDatabase)> {
    let mut out = Vec::new();
    for test_db in cairn_migration::testing::test_databases().await.unwrap() {
        let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
        out.push((db, test_db));
    }
    out
}

/// A company with `quota_bytes`, and no one in it yet.
async fn company(db: &DatabaseConnection, quota_bytes: Option<i64>) -> CompanyScope {
    let id = CompanyId::new();
    company::ActiveModel {
        id: Set(id.0),
        name: Set(format!("Company {id}")),
        industry: Set("retail".into()),
        employees: Set(10),
        country: Set("US".into()),
        region: Set("us".into()),
        seats: Set(5),
        wrapped_key: Set(vec![1, 2, 3]),
        created_at: Set(Utc::now()),
        phone: Set(String::new()),
        city: Set(String::new()),
        state: Set(String::new()),
        postal_code: Set(String::new()),
        signup_ip: Set("127.0.0.1".into()),
        quota_bytes: Set(quota_bytes),
        quota_alert_at: Set(None),
        idle_alert_days: Set(7),
        personal_key: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    CompanyScope::for_tests(id)
}

async fn user(db: &DatabaseConnection, scope: CompanyScope, role: &str) -> user::Model {
    let id = uuid::Uuid::now_v7();
    user::ActiveModel {
        id: Set(id),
        company_id: Set(scope.uuid()),
        name: Set(format!("{role} {id}")),
        email: Set(format!("{id}@example.com")),
        password_hash: Set(String::new()),
        role: Set(role.into()),
        created_at: Set(Utc::now()),
        title: Set(String::new()),
        username: Set(id.to_string()),
        signup_ip: Set("127.0.0.1".into()),
        email_confirmed_at: Set(Some(Utc::now())),
        marketing_opt_out: Set(false),
        group_id: Set(None),
    }
    .insert(db)
    .await
    .unwrap()
}

async fn agent(
    db: &DatabaseConnection,
    scope: CompanyScope,
    group: Option<&group::Model>,
) -> agent::Model {
    let id = uuid::Uuid::now_v7();
    agent::ActiveModel {
        id: Set(id),
        company_id: Set(scope.uuid()),
        hostname: Set(format!("host-{id}")),
        credential_hash: Set(id.as_bytes().to_vec()),
        enrolled_at: Set(Utc::now()),
        revoked_at: Set(None),
        owner_user_id: Set(None),
        group_id: Set(group.map(|g| g.id)),
        last_seen_at: Set(None),
        last_attempt_at: Set(None),
        last_backup_at: Set(None),
        last_result: Set(String::new()),
        last_error: Set(String::new()),
        bytes_protected: Set(0),
        policy_version_seen: Set(0),
        idle_alert_at: Set(None),
    }
    .insert(db)
    .await
    .unwrap()
}

/// A pack of `size` bytes the agent uploaded.
async fn pack(db: &DatabaseConnection, scope: CompanyScope, a: &agent::Model, size: i64) {
    let id = uuid::Uuid::now_v7();
    pack::ActiveModel {
        company_id: Set(scope.uuid()),
        id: Set(id.as_bytes().to_vec()),
        object_key: Set(format!("companies/{}/packs/{id}", scope.company())),
        size: Set(size),
        created_at: Set(Utc::now()),
        agent_id: Set(Some(a.id)),
    }
    .insert(db)
    .await
    .unwrap();
}

/// A non-default group of the company with `quota_bytes`.
async fn group(
    db: &DatabaseConnection,
    scope: CompanyScope,
    name: &str,
    quota_bytes: Option<i64>,
) -> group::Model {
    let mut active = crate::groups::new_group(scope, name.into(), false, &Default::default());
    active.quota_bytes = Set(quota_bytes);
    active.insert(db).await.unwrap()
}

fn claims(kind: PrincipalKind, sub: uuid::Uuid, scope: CompanyScope, roles: Vec<Role>) -> Claims {
    Claims {
        sub: sub.to_string(),
        company: scope.company().to_string(),
        region: Region::Us,
        roles,
        kind,
        iss: "cairn-us".into(),
        aud: "cairn".into(),
        exp: i64::MAX,
        iat: 0,
        jti: uuid::Uuid::now_v7().to_string(),
    }
}
