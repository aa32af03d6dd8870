//! Tests of the organisations rules through the domain functions, without a
//! gRPC server, on SQLite and on PostgreSQL when `CAIRN_TEST_DATABASE_URL`
//! is set (the same bodies on both); and the fixtures they share.

mod enroll;
mod groups;
mod keys;
mod roles;
mod seats;
mod usage;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};

use cairn_auth::{Claims, PrincipalKind, Role};
use cairn_core::{CompanyId, Error, Region};
use cairn_crypto::{DataKey, MasterKey};
use cairn_entity::CompanyScope;
use cairn_entity::regional::{company, user};
use cairn_tenancy::access::{EVERYONE, UserCaller, user_from_claims};

use crate::caller::Caller;
use crate::enroll::{self as enrolling, Enrolled, KeyRequest};

/// A freshly migrated regional database per backend, with the test database
/// kept alive beside it.
async fn databases() -> Vec<(DatabaseConnection, cairn_migration::testing::TestDatabase)> {
    let mut out = Vec::new();
    for test_db in cairn_migration::testing::test_databases().await.unwrap() {
        let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
        out.push((db, test_db));
    }
    out
}

fn master() -> MasterKey {
    MasterKey::from_bytes(&[7; 32]).unwrap()
}

/// A company with its owner.
struct Company {
    id: CompanyId,
    owner: UserCaller,
}

impl Company {
    fn scope(&self) -> CompanyScope {
        self.owner.scope
    }
}

/// A managed-key company of `seats` seats, with a confirmed owner.
async fn company(db: &DatabaseConnection, seats: i64) -> Company {
    let id = CompanyId::new();
    let wrapped = master()
        .wrap(&DataKey::generate().unwrap(), &id.to_string())
        .unwrap();
    company::ActiveModel {
        id: Set(id.0),
        name: Set(format!("Company {id}")),
        industry: Set("Retail".into()),
        employees: Set(10),
        country: Set("US".into()),
        region: Set("us".into()),
        seats: Set(seats),
        wrapped_key: Set(wrapped),
        created_at: Set(Utc::now()),
        phone: Set(String::new()),
        city: Set(String::new()),
        state: Set(String::new()),
        postal_code: Set(String::new()),
        signup_ip: Set("127.0.0.1".into()),
        quota_bytes: Set(None),
        quota_alert_at: Set(None),
        idle_alert_days: Set(7),
        personal_key: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    let owner = person(db, id, "owner", true).await;
    Company { id, owner }
}

/// A user of the company with `role`, as the database knows them at a call.
async fn person(
    db: &DatabaseConnection,
    company: CompanyId,
    role: &str,
    confirmed: bool,
) -> UserCaller {
    let id = uuid::Uuid::now_v7();
    user::ActiveModel {
        id: Set(id),
        company_id: Set(company.0),
        name: Set(format!("{role} {id}")),
        email: Set(format!("{id}@example.com")),
        password_hash: Set(String::new()),
        role: Set(role.into()),
        created_at: Set(Utc::now()),
        title: Set(String::new()),
        username: Set(id.to_string()),
        signup_ip: Set("127.0.0.1".into()),
        email_confirmed_at: Set(confirmed.then(Utc::now)),
        marketing_opt_out: Set(false),
        group_id: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    let roles = match role {
        "owner" => vec![Role::Owner],
        "admin" => vec![Role::Admin],
        _ => vec![Role::Member],
    };
    let claims = Claims {
        sub: id.to_string(),
        company: company.to_string(),
        region: Region::Us,
        roles,
        kind: PrincipalKind::User,
        iss: "cairn-us".into(),
        aud: "cairn".into(),
        exp: i64::MAX,
        iat: 0,
        jti: uuid::Uuid::now_v7().to_string(),
    };
    user_from_claims(db, claims, EVERYONE).await.unwrap()
}

fn by(user: &UserCaller) -> Caller<'_> {
    Caller::new(user, "192.0.2.1")
}

/// The secret of a new enrollment key `user` creates for their own machine.
async fn key(db: &DatabaseConnection, user: &UserCaller) -> String {
    let new = enrolling::create_key(db, &by(user), Region::Us, KeyRequest::default())
        .await
        .unwrap();
    let (region, secret) = enrolling::parse_key(&new.key).unwrap();
    assert_eq!(region, Region::Us);
    secret.to_owned()
}

async fn enroll(db: &DatabaseConnection, secret: &str) -> Result<Enrolled, Error> {
    let hostname = cairn_core::limits::Hostname::parse("hostname", "laptop").unwrap();
    enrolling::enroll(db, &master(), secret, hostname).await
}

/// A machine of `user`, enrolled with a key of theirs.
async fn machine(db: &DatabaseConnection, user: &UserCaller) -> Enrolled {
    let secret = key(db, user).await;
    enroll(db, &secret).await.unwrap()
}

/// The request field an invalid-argument error names.
fn field_of<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::InvalidArgument { field, .. }) => field,
        other => panic!("expected an invalid argument, got {other:?}"),
    }
}

fn is_denied<T: std::fmt::Debug>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::PermissionDenied(_)))
}
