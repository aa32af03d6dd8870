//! Tests of the account rules, on SQLite and on PostgreSQL when
//! `CAIRN_TEST_DATABASE_URL` is set, without a gRPC server; and the fixtures
//! they share. The directory is replaced by [`MemoryLogins`], which keeps
//! logins unique the way the directory does.

mod deletion;
mod export;
mod invitations;
mod leaving;
mod mailing_limits;
mod profile;
mod roles;
mod sessions;
mod throttling;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use cairn_auth::{Claims, PrincipalKind, Role, SigningKey, TokenIssuer};
use cairn_core::validate::{Country, Email, Password, SignUp};
use cairn_core::{CompanyId, EntityKind, Error, Region};
use cairn_crypto::MasterKey;
use cairn_entity::regional::{outbox, user};
use cairn_store::CellStore;
use cairn_tenancy::access::{EVERYONE, UserCaller, user_from_claims};

use crate::Logins;

/// The password every fixture account has.
const PASSWORD: &str = "correct horse battery staple 42";

/// Logins claimed in memory, unique like the directory's.
#[derive(Clone, Default)]
struct MemoryLogins(Arc<Mutex<HashMap<String, CompanyId>>>);

impl MemoryLogins {
    fn holder(&self, login: &str) -> Option<CompanyId> {
        self.0.lock().unwrap().get(login).copied()
    }
}

impl Logins for MemoryLogins {
    async fn register_login(&self, login: &str, company: CompanyId) -> Result<(), Error> {
        let mut map = self.0.lock().unwrap();
        if map.contains_key(login) {
            return Err(Error::AlreadyExists {
                kind: EntityKind::Login,
            });
        }
        map.insert(login.to_owned(), company);
        Ok(())
    }

    async fn unregister_login(&self, login: &str) -> Result<(), Error> {
        self.0.lock().unwrap().remove(login);
        Ok(())
    }
}

/// One cell: its database, bucket, keys and a directory of logins.
struct Cell {
    db: DatabaseConnection,
    store: CellStore,
    logins: MemoryLogins,
    master: MasterKey,
    issuer: TokenIssuer,
    backend: String,
    _keep: cairn_migration::testing::TestDatabase,
}

/// A freshly migrated cell per database backend.
async fn cells() -> Vec<Cell> {
    let mut out = Vec::new();
    for test_db in cairn_migration::testing::test_databases().await.unwrap() {
        let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
        out.push(Cell {
            db,
            store: CellStore::memory(),
            logins: MemoryLogins::default(),
            master: MasterKey::from_bytes(&[7; 32]).unwrap(),
            issuer: TokenIssuer::new(SigningKey::from_seed(Region::Us, &[3; 32]).unwrap()),
            backend: test_db.backend.to_string(),
            _keep: test_db,
        });
    }
    out
}

/// The sign-up form of company `name` with owner `email`.
fn form(name: &str, email: &str) -> SignUp {
    let email = Email::parse("email", email).unwrap();
    let owner_name = format!("Owner of {name}");
    let username = format!("owner-{}", name.to_lowercase());
    let password = Password::parse(
        "password",
        PASSWORD,
        &[email.as_str(), &owner_name, name, &username],
    )
    .unwrap();
    SignUp {
        company_name: name.into(),
        industry: "retail".into(),
        employees: 12,
        country: Country::parse("country", "US").unwrap(),
        owner_name,
        email,
        password,
        seats: 5,
        phone: "+1 555 0100".into(),
        owner_title: "Founder".into(),
        city: "Springfield".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
        username,
    }
}

/// A company signed up in the US cell; returns its owner.
async fn sign_up(cell: &Cell, name: &str) -> user::Model {
    let email = format!("owner@{}.example.com", name.to_lowercase());
    let done = crate::signup::sign_up(
        &cell.db,
        Region::Us,
        &cell.master,
        &cell.logins,
        form(name, &email),
        "192.0.2.1",
    )
    .await
    .unwrap();
    user::Entity::find_by_id(done.user.0)
        .one(&cell.db)
        .await
        .unwrap()
        .unwrap()
}

/// Verified claims of `u`, as the authenticator would give them.
fn claims(u: &user::Model) -> Claims {
    let role = match u.role.as_str() {
        "owner" => Role::Owner,
        "admin" => Role::Admin,
        _ => Role::Member,
    };
    Claims {
        sub: u.id.to_string(),
        company: u.company_id.to_string(),
        region: Region::Us,
        roles: vec![role],
        kind: PrincipalKind::User,
        iss: "cairn-us".into(),
        aud: "cairn".into(),
        exp: i64::MAX,
        iat: 0,
        jti: uuid::Uuid::now_v7().to_string(),
    }
}

/// `u` as a caller, with the role the database gives them now.
async fn caller(cell: &Cell, u: &user::Model) -> UserCaller {
    user_from_claims(&cell.db, claims(u), EVERYONE)
        .await
        .unwrap()
}

/// The last code mailed to `to` (`<region>-<64 hex>`).
async fn mailed_code(cell: &Cell, to: &str) -> String {
    let mails = outbox::Entity::find()
        .filter(outbox::Column::ToAddress.eq(to))
        .all(&cell.db)
        .await
        .unwrap();
    let body = &mails.last().expect("a mail to the invitee").body;
    body.split_whitespace()
        .find(|w| w.starts_with("us-") && w.len() == 3 + 64)
        .expect("a code in the mail")
        .to_owned()
}

/// `owner` invites `email` as `role` and the invitee accepts; returns them.
async fn invited(cell: &Cell, owner: &user::Model, email: &str, role: &str) -> user::Model {
    use crate::users::AssignableRole;
    use crate::users::accept::accept;
    use crate::users::invite::{Invitee, invite};

    let by = caller(cell, owner).await;
    let invitee = Invitee {
        email: Email::parse("email", email).unwrap(),
        role: AssignableRole::parse("role", role).unwrap(),
        group: None,
    };
    invite(&cell.db, Region::Us, &by, invitee, "192.0.2.2")
        .await
        .unwrap();
    let code = mailed_code(cell, email).await;
    let done = accept(
        &cell.db,
        &cell.logins,
        acceptance(&code, email),
        "192.0.2.3",
    )
    .await
    .unwrap();
    user::Entity::find_by_id(done.user.0)
        .one(&cell.db)
        .await
        .unwrap()
        .unwrap()
}

/// `by` removes `user` with `backups`, from 192.0.2.9, without mail files.
async fn remove_as(
    cell: &Cell,
    by: &UserCaller,
    user: cairn_core::UserId,
    backups: cairn_tenancy::members::Backups,
) -> Result<cairn_tenancy::members::Retired, Error> {
    let removal = crate::users::remove::Removal { user, backups };
    crate::users::remove::remove(
        &cell.db,
        None,
        &cell.logins,
        Region::Us,
        by,
        removal,
        "192.0.2.9",
    )
    .await
}

/// What an invitee types to accept `code`.
fn acceptance(code: &str, email: &str) -> crate::users::accept::Acceptance {
    let local = email.split('@').next().unwrap_or("someone");
    crate::users::accept::Acceptance {
        code: crate::users::InvitationCode::parse(code).unwrap(),
        name: cairn_core::people::PersonName::parse("name", &format!("Person {local}")).unwrap(),
        title: cairn_core::people::JobTitle::parse_optional("title", "").unwrap(),
        username: cairn_core::validate::username("username", local).unwrap(),
        password: PASSWORD.into(),
    }
}
