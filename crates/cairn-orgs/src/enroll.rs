//! Enrollment keys and enrolling a machine.

use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
};

use cairn_core::limits::{EnrollmentKeyHours, Hostname};
use cairn_core::{AgentId, CompanyId, EntityKind, Error, GroupId, Region, UserId};
use cairn_crypto::{DataKey, MasterKey};
use cairn_entity::regional::{agent, company, enrollment_key, user};
use cairn_entity::{CompanyScope, db_err};

use crate::caller::{Caller, EVERYONE};

/// A secret's stored form: its BLAKE3 hash (secrets carry 192 random bits).
pub(crate) fn secret_hash(secret: &str) -> Vec<u8> {
    blake3::hash(secret.as_bytes()).as_bytes().to_vec()
}

fn random_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What a user asks an enrollment key for.
#[derive(Debug, Default)]
pub(crate) struct KeyRequest {
    /// Whose machine it enrolls; the caller's when `None`.
    pub(crate) owner: Option<UserId>,
    /// The group its agent joins; the owner's when `None`.
    pub(crate) group: Option<GroupId>,
    pub(crate) ttl: EnrollmentKeyHours,
}

/// A key as it is shown, once.
#[derive(Debug)]
pub(crate) struct NewKey {
    pub(crate) id: uuid::Uuid,
    pub(crate) key: String,
    pub(crate) expires_at: i64,
}

/// Creates a one-time key `<region>-<secret>`; the region prefix tells an
/// agent which cell to enroll with. Members enroll their own machines into
/// their own group; admins anyone's, into any group (setting up a colleague's
/// laptop), and the key then belongs to both: it is revoked when either
/// leaves. The creator is always the caller; nothing changes a key's creator
/// or owner later. Only a confirmed email address may enroll machines.
pub(crate) async fn create_key(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    region: Region,
    ask: KeyRequest,
) -> Result<NewKey, Error> {
    caller.require(EVERYONE)?;
    let scope = caller.scope();
    require_confirmed(db, scope, caller.id()).await?;
    let owner = match ask.owner {
        None => caller.id(),
        Some(owner) => {
            if owner != caller.id() && !caller.is_admin() {
                return Err(Error::PermissionDenied(
                    "members can only enroll their own machines".into(),
                ));
            }
            cairn_tenancy::access::find_user(db, scope, owner).await?;
            owner
        }
    };
    let group = match ask.group {
        None => None,
        Some(_) if !caller.is_admin() => {
            return Err(Error::PermissionDenied(
                "only owners and admins choose an agent's group".into(),
            ));
        }
        Some(id) => Some(cairn_tenancy::groups::find(db, scope, id).await?.id),
    };
    let secret = random_secret();
    let now = Utc::now();
    let expires = now + Duration::hours(i64::from(ask.ttl.get()));
    let id = uuid::Uuid::now_v7();
    enrollment_key::ActiveModel {
        id: Set(id),
        company_id: Set(scope.uuid()),
        secret_hash: Set(secret_hash(&secret)),
        created_by: Set(caller.id().0),
        created_at: Set(now),
        expires_at: Set(expires),
        used_at: Set(None),
        used_by_agent: Set(None),
        owner_user_id: Set(Some(owner.0)),
        group_id: Set(group),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(db_err("creating an enrollment key"))?;
    Ok(NewKey {
        id,
        key: format!("{region}-{secret}"),
        expires_at: expires.timestamp(),
    })
}

/// Only users who confirmed their email address may enroll machines.
async fn require_confirmed(
    db: &DatabaseConnection,
    scope: CompanyScope,
    user_id: UserId,
) -> Result<(), Error> {
    let found = user::Entity::find_by_id(user_id.0)
        .filter(user::Column::CompanyId.eq(scope.uuid()))
        .one(db)
        .await
        .map_err(db_err("finding a user"))?
        .ok_or_else(|| Error::Unauthenticated("this account no longer exists".into()))?;
    if found.email_confirmed_at.is_none() {
        return Err(Error::FailedPrecondition(
            "confirm your email address before enrolling machines: run `cairnctl account confirm --token CODE` with the code from the confirmation mail".into(),
        ));
    }
    Ok(())
}

/// Splits a key into its region and secret.
pub(crate) fn parse_key(key: &str) -> Result<(Region, &str), Error> {
    let bad = || {
        Error::invalid(
            "enrollment_key",
            "is not a Cairn enrollment key (`<region>-<secret>`)",
        )
    };
    let (region, secret) = key.trim().split_once('-').ok_or_else(bad)?;
    let region: Region = region.parse().map_err(|_| bad())?;
    if secret.len() != 48 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok((region, secret))
}

/// A machine that enrolled, with what it needs to back up.
pub(crate) struct Enrolled {
    pub(crate) agent: AgentId,
    pub(crate) company: CompanyId,
    pub(crate) credential: String,
    pub(crate) key: CompanyKey,
}

/// What an agent receives to encrypt with.
pub(crate) enum CompanyKey {
    /// The data key itself.
    Managed(DataKey),
    /// The data key sealed with the company's passphrase.
    Personal(Vec<u8>),
}

/// Uses a key once: checks it, takes a seat, registers the machine.
pub(crate) async fn enroll(
    db: &DatabaseConnection,
    master: &MasterKey,
    secret: &str,
    hostname: Hostname,
) -> Result<Enrolled, Error> {
    let hostname = hostname.into_string();
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting enrollment"))?;
    let key = enrollment_key::Entity::find()
        .filter(enrollment_key::Column::SecretHash.eq(secret_hash(secret)))
        .one(&txn)
        .await
        .map_err(db_err("finding an enrollment key"))?
        .ok_or_else(|| Error::not_found(EntityKind::EnrollmentKey, "with this secret"))?;
    let now = Utc::now();
    if key.used_at.is_some() {
        return Err(Error::FailedPrecondition(
            "this enrollment key was already used; create a new one".into(),
        ));
    }
    if key.revoked_at.is_some() {
        return Err(Error::FailedPrecondition(
            "this enrollment key was revoked; create a new one".into(),
        ));
    }
    if key.expires_at < now {
        return Err(Error::FailedPrecondition(
            "this enrollment key has expired; create a new one".into(),
        ));
    }
    // Lock the company row (PostgreSQL) so concurrent enrollments count
    // seats one after the other; SQLite serializes writers on its own.
    let company = company::Entity::find_by_id(key.company_id)
        .lock_exclusive()
        .one(&txn)
        .await
        .map_err(db_err("finding a company"))?
        .ok_or_else(|| Error::not_found(EntityKind::Company, key.company_id))?;
    let used =
        cairn_tenancy::agents::seats_used(&txn, CompanyScope::from_secret(CompanyId(company.id)))
            .await?;
    if used >= company.seats {
        return Err(Error::NoSeatLeft {
            used,
            seats: company.seats,
        });
    }
    let agent_id = AgentId::new();
    // Conditional update: of two racing enrollments with one key, one wins.
    let claimed = enrollment_key::Entity::update_many()
        .col_expr(enrollment_key::Column::UsedAt, Expr::value(now))
        .col_expr(enrollment_key::Column::UsedByAgent, Expr::value(agent_id.0))
        .filter(enrollment_key::Column::Id.eq(key.id))
        .filter(enrollment_key::Column::UsedAt.is_null())
        .filter(enrollment_key::Column::RevokedAt.is_null())
        .exec(&txn)
        .await
        .map_err(db_err("using an enrollment key"))?;
    if claimed.rows_affected != 1 {
        return Err(Error::FailedPrecondition(
            "this enrollment key was already used; create a new one".into(),
        ));
    }
    let credential = random_secret();
    // A key dies with the people it belongs to: whoever made it and whoever
    // the machine is for (keys left by removals before keys were revoked
    // with their people are refused here).
    let owner = key.owner_user_id.unwrap_or(key.created_by);
    let left = || {
        Error::FailedPrecondition(
            "the person this enrollment key belongs to has left the company; create a new one"
                .into(),
        )
    };
    let machine_owner = user::Entity::find_by_id(owner)
        .filter(user::Column::CompanyId.eq(company.id))
        .one(&txn)
        .await
        .map_err(db_err("finding a machine's owner"))?
        .ok_or_else(left)?;
    if key.created_by != owner {
        user::Entity::find_by_id(key.created_by)
            .filter(user::Column::CompanyId.eq(company.id))
            .one(&txn)
            .await
            .map_err(db_err("finding a key's creator"))?
            .ok_or_else(left)?;
    }
    // The key's group, else the owner's.
    let group = key.group_id.or(machine_owner.group_id);
    agent::ActiveModel {
        id: Set(agent_id.0),
        company_id: Set(company.id),
        hostname: Set(hostname),
        credential_hash: Set(secret_hash(&credential)),
        enrolled_at: Set(now),
        revoked_at: Set(None),
        owner_user_id: Set(Some(owner)),
        group_id: Set(group),
        last_seen_at: Set(None),
        last_attempt_at: Set(None),
        last_backup_at: Set(None),
        last_result: Set(String::new()),
        last_error: Set(String::new()),
        bytes_protected: Set(0),
        policy_version_seen: Set(0),
        idle_alert_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(db_err("registering an agent"))?;
    // In personal-key mode the server holds no key it can open.
    let key = match &company.personal_key {
        Some(sealed) => CompanyKey::Personal(sealed.clone()),
        None => CompanyKey::Managed(
            master
                .unwrap(&company.wrapped_key, &company.id.to_string())
                .map_err(|e| Error::internal_with("unwrapping a company key", e))?,
        ),
    };
    txn.commit()
        .await
        .map_err(db_err("committing enrollment"))?;
    tracing::info!(company = %company.id, agent = %agent_id, "agent enrolled");
    Ok(Enrolled {
        agent: agent_id,
        company: CompanyId(company.id),
        credential,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_only_in_their_form() {
        let secret = "a".repeat(48);
        let key = format!("eu-{secret}");
        let (region, s) = parse_key(&key).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(region, Region::Eu);
        assert_eq!(s, secret);
        for bad in [
            "",
            "eu",
            "xx-aaaa",
            "eu-short",
            &format!("us-{}", "z".repeat(48)),
        ] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }
}
