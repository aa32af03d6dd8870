use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use cairn_auth::{PrincipalKind, Role};
use cairn_core::Error;
use cairn_entity::CompanyScope;
use cairn_entity::regional::{agent, user as user_row};

use super::{claims, company, databases, user};
use crate::access::{ADMINS, EVERYONE, agent_from_claims, user_from_claims};

#[tokio::test]
async fn a_member_is_refused_an_admin_call_and_passes_an_everyone_call() {
    for (db, _keep) in databases().await {
        let scope = company(&db, None).await;
        let member = user(&db, scope, "member").await;
        // The token may still say admin: the database decides.
        let token = claims(PrincipalKind::User, member.id, scope, vec![Role::Admin]);
        let refused = user_from_claims(&db, token.clone(), ADMINS).await;
        assert!(
            matches!(refused, Err(Error::PermissionDenied(_))),
            "{refused:?}"
        );
        let caller = user_from_claims(&db, token, EVERYONE).await.unwrap();
        assert_eq!(caller.role, Role::Member);
        assert!(caller.require_admin().is_err());
        assert_eq!(caller.scope, scope);
    }
}

#[tokio::test]
async fn a_removed_user_is_refused_at_once() {
    for (db, _keep) in databases().await {
        let scope = company(&db, None).await;
        let admin = user(&db, scope, "admin").await;
        let token = claims(PrincipalKind::User, admin.id, scope, vec![Role::Admin]);
        assert!(user_from_claims(&db, token.clone(), ADMINS).await.is_ok());
        user_row::Entity::delete_by_id(admin.id)
            .exec(&db)
            .await
            .unwrap();
        let refused = user_from_claims(&db, token, EVERYONE).await;
        assert!(
            matches!(refused, Err(Error::Unauthenticated(_))),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn a_user_token_for_another_company_finds_nobody() {
    for (db, _keep) in databases().await {
        let mine = company(&db, None).await;
        let other = company(&db, None).await;
        let admin = user(&db, mine, "owner").await;
        let token = claims(PrincipalKind::User, admin.id, other, vec![Role::Owner]);
        let refused = user_from_claims(&db, token, EVERYONE).await;
        assert!(
            matches!(refused, Err(Error::Unauthenticated(_))),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn a_revoked_agent_is_refused_and_a_user_token_is_no_agent() {
    for (db, _keep) in databases().await {
        let scope = company(&db, None).await;
        let a = super::agent(&db, scope, None).await;
        let token = claims(PrincipalKind::Agent, a.id, scope, vec![]);
        let (found, found_scope) = agent_from_claims(&db, &token).await.unwrap();
        assert_eq!((found.id, found_scope), (a.id, scope));

        let as_user = claims(PrincipalKind::User, a.id, scope, vec![Role::Owner]);
        assert!(agent_from_claims(&db, &as_user).await.is_err());

        agent::Entity::update_many()
            .col_expr(agent::Column::RevokedAt, Expr::value(chrono::Utc::now()))
            .filter(agent::Column::Id.eq(a.id))
            .exec(&db)
            .await
            .unwrap();
        let refused = agent_from_claims(&db, &token).await;
        assert!(
            matches!(refused, Err(Error::Unauthenticated(_))),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn claims_without_a_valid_company_give_no_scope() {
    for (db, _keep) in databases().await {
        let scope = company(&db, None).await;
        let owner = user(&db, scope, "owner").await;
        let mut token = claims(PrincipalKind::User, owner.id, scope, vec![Role::Owner]);
        assert_eq!(CompanyScope::from_claims(&token).unwrap(), scope);
        token.company = String::new();
        let refused = CompanyScope::from_claims(&token);
        assert!(
            matches!(refused, Err(Error::Unauthenticated(_))),
            "{refused:?}"
        );
        let refused = user_from_claims(&db, token, EVERYONE).await;
        assert!(
            matches!(refused, Err(Error::Unauthenticated(_))),
            "{refused:?}"
        );
    }
}
