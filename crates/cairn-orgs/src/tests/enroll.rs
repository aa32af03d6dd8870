//! Enrollment keys: one-time, expiring, and only for confirmed people.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use cairn_core::Error;
use cairn_entity::regional::enrollment_key;

use super::{by, company, databases, enroll, key, person};
use crate::company as companies;
use crate::enroll::{self as enrolling, CompanyKey, KeyRequest};

fn failed_precondition<T>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::FailedPrecondition(message)) => message,
        Err(other) => panic!("expected a failed precondition, got {other:?}"),
        Ok(_) => panic!("expected a failed precondition, got success"),
    }
}

#[tokio::test]
async fn of_two_racing_enrollments_with_one_key_one_wins() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let secret = key(&db, &acme.owner).await;
        let (a, b) = tokio::join!(enroll(&db, &secret), enroll(&db, &secret));
        let won = [&a, &b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "exactly one enrollment wins");
        let lost = if a.is_ok() { b } else { a };
        assert_eq!(
            failed_precondition(lost),
            "this enrollment key was already used; create a new one"
        );
        let view = companies::get(&db, &by(&acme.owner)).await.unwrap();
        assert_eq!(view.seats_used, 1);
    }
}

#[tokio::test]
async fn a_used_key_is_refused_and_the_machine_gets_the_company_key() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let secret = key(&db, &acme.owner).await;
        let done = enroll(&db, &secret).await.unwrap();
        assert_eq!(done.company, acme.id);
        assert!(matches!(done.key, CompanyKey::Managed(_)));
        assert_eq!(
            failed_precondition(enroll(&db, &secret).await),
            "this enrollment key was already used; create a new one"
        );
        let unknown = enroll(&db, &"0".repeat(48)).await;
        assert!(
            matches!(unknown, Err(Error::NotFound { .. })),
            "{:?}",
            unknown.err()
        );
    }
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let secret = key(&db, &acme.owner).await;
        enrollment_key::Entity::update_many()
            .col_expr(
                enrollment_key::Column::ExpiresAt,
                Expr::value(Utc::now() - Duration::minutes(1)),
            )
            .filter(enrollment_key::Column::CompanyId.eq(acme.id.0))
            .exec(&db)
            .await
            .unwrap();
        assert_eq!(
            failed_precondition(enroll(&db, &secret).await),
            "this enrollment key has expired; create a new one"
        );
        let view = companies::get(&db, &by(&acme.owner)).await.unwrap();
        assert_eq!(view.seats_used, 0);
    }
}

#[tokio::test]
async fn a_key_lives_as_long_as_asked() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let ask = KeyRequest {
            ttl: cairn_core::limits::EnrollmentKeyHours::try_from(5).unwrap(),
            ..Default::default()
        };
        let before = Utc::now().timestamp();
        let new = enrolling::create_key(&db, &by(&acme.owner), cairn_core::Region::Us, ask)
            .await
            .unwrap();
        let after = Utc::now().timestamp();
        assert!((before + 5 * 3600..=after + 5 * 3600).contains(&new.expires_at));
        assert!(new.key.starts_with("us-"));
    }
}

#[tokio::test]
async fn people_who_did_not_confirm_their_email_get_no_key() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let unconfirmed = person(&db, acme.id, "admin", false).await;
        let refused = enrolling::create_key(
            &db,
            &by(&unconfirmed),
            cairn_core::Region::Us,
            KeyRequest::default(),
        )
        .await;
        assert!(
            failed_precondition(refused).starts_with("confirm your email address"),
            "the message says what to do"
        );
    }
}
