//! Enrollment keys after they were made: who sees and revokes them, and
//! that a key dies with the people it belongs to.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use cairn_core::{EnrollmentKeyId, Error, Region, UserId};
use cairn_entity::regional::{audit, user};

use super::{by, company, databases, enroll, person};
use crate::enroll::{self as enrolling, KeyRequest};
use crate::keys::{self, KeyState};

/// A key `maker` creates for `owner`'s machine (their own when `None`);
/// returns its id and its secret.
async fn key_for(
    db: &sea_orm::DatabaseConnection,
    maker: &cairn_tenancy::access::UserCaller,
    owner: Option<UserId>,
) -> (EnrollmentKeyId, String) {
    let ask = KeyRequest {
        owner,
        ..KeyRequest::default()
    };
    let new = enrolling::create_key(db, &by(maker), Region::Us, ask)
        .await
        .unwrap();
    let secret = enrolling::parse_key(&new.key).unwrap().1.to_owned();
    (EnrollmentKeyId(new.id), secret)
}

fn failed_precondition<T>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::FailedPrecondition(message)) => message,
        Err(other) => panic!("expected a failed precondition, got {other:?}"),
        Ok(_) => panic!("expected a failed precondition, got success"),
    }
}

#[tokio::test]
async fn members_see_and_revoke_their_keys_and_admins_every_key() {
    for (db, test_db) in databases().await {
        let acme = company(&db, 5).await;
        let admin = person(&db, acme.id, "admin", true).await;
        let member = person(&db, acme.id, "member", true).await;
        let colleague = person(&db, acme.id, "member", true).await;
        let (own, own_secret) = key_for(&db, &member, None).await;
        let (for_member, _) = key_for(&db, &admin, Some(member.id())).await;
        let (admins, _) = key_for(&db, &admin, None).await;
        let (colleagues, _) = key_for(&db, &colleague, None).await;

        let ids = |views: Vec<keys::KeyView>| -> Vec<uuid::Uuid> {
            let mut ids: Vec<_> = views.into_iter().map(|v| v.key.id).collect();
            ids.sort();
            ids
        };
        let mut mine = vec![own.0, for_member.0];
        mine.sort();
        assert_eq!(
            ids(keys::list(&db, &by(&member)).await.unwrap()),
            mine,
            "{}",
            test_db.backend
        );
        let mut all = vec![own.0, for_member.0, admins.0, colleagues.0];
        all.sort();
        for who in [&acme.owner, &admin] {
            assert_eq!(ids(keys::list(&db, &by(who)).await.unwrap()), all);
        }
        // The creator is whoever made it; the owner whose machine it is.
        let listed = keys::list(&db, &by(&member)).await.unwrap();
        let made_for = listed.iter().find(|v| v.key.id == for_member.0).unwrap();
        assert_eq!(made_for.key.created_by, admin.id().0);
        assert_eq!(made_for.key.owner_user_id, Some(member.id().0));
        assert_eq!(made_for.state, KeyState::Unused);

        // A colleague's key is not even there for a member.
        let err = keys::revoke(&db, &by(&member), colleagues)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        // Their own key: revoked, it enrolls nothing, and revoking again changes nothing.
        let done = keys::revoke(&db, &by(&member), own).await.unwrap();
        assert_eq!(done.state, KeyState::Revoked);
        assert_eq!(
            failed_precondition(enroll(&db, &own_secret).await),
            "this enrollment key was revoked; create a new one"
        );
        let again = keys::revoke(&db, &by(&member), own).await.unwrap();
        assert_eq!(again.state, KeyState::Revoked);
        // Admins revoke anyone's.
        let done = keys::revoke(&db, &by(&admin), colleagues).await.unwrap();
        assert_eq!(done.state, KeyState::Revoked);
        // A used key is its agent's business.
        let (used, used_secret) = key_for(&db, &member, None).await;
        enroll(&db, &used_secret).await.unwrap();
        let message = failed_precondition(keys::revoke(&db, &by(&admin), used).await);
        assert!(message.contains("revoke the agent"), "{message}");
        // Each revocation is audited, once.
        let audited = audit::Entity::find()
            .filter(audit::Column::CompanyId.eq(acme.id.0))
            .filter(audit::Column::Action.eq("enrollment_key.revoke"))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(audited.len(), 2, "{}", test_db.backend);
        // Another company's owner finds nothing.
        let other = company(&db, 5).await;
        assert!(keys::list(&db, &by(&other.owner)).await.unwrap().is_empty());
        let err = keys::revoke(&db, &by(&other.owner), for_member)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    }
}

/// Keys of people removed before keys were revoked with them (their rows
/// are gone, the keys still unused) enroll nothing: neither a key the
/// person made nor one made for their machine.
#[tokio::test]
async fn a_key_of_someone_who_left_enrolls_nothing() {
    for (db, test_db) in databases().await {
        let acme = company(&db, 5).await;
        let admin = person(&db, acme.id, "admin", true).await;
        let member = person(&db, acme.id, "member", true).await;
        let (_, theirs) = key_for(&db, &member, None).await;
        let (_, for_them) = key_for(&db, &admin, Some(member.id())).await;
        let (_, by_admin) = key_for(&db, &admin, Some(acme.owner.id())).await;
        user::Entity::delete_by_id(member.id().0)
            .exec(&db)
            .await
            .unwrap();
        user::Entity::delete_by_id(admin.id().0)
            .exec(&db)
            .await
            .unwrap();
        for secret in [&theirs, &for_them, &by_admin] {
            let message = failed_precondition(enroll(&db, secret).await);
            assert!(
                message.contains("has left the company"),
                "{}: {message}",
                test_db.backend
            );
        }
        let view = crate::company::get(&db, &by(&acme.owner)).await.unwrap();
        assert_eq!(view.seats_used, 0);
    }
}
