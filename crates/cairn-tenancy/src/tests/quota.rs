use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use cairn_core::Error;
use cairn_entity::CompanyScope;
use cairn_entity::regional::outbox;

use super::{agent, company, databases, group, pack, user};
use crate::quota::{alert_if_near, check_upload, company_stored_bytes, group_stored_bytes};

async fn mails(db: &DatabaseConnection, scope: CompanyScope) -> Vec<String> {
    outbox::Entity::find()
        .filter(outbox::Column::CompanyId.eq(scope.uuid()))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.to_address)
        .collect()
}

#[tokio::test]
async fn an_upload_past_the_company_quota_is_refused() {
    for (db, _keep) in databases().await {
        let scope = company(&db, Some(1000)).await;
        let a = agent(&db, scope, None).await;
        pack(&db, scope, &a, 600).await;
        assert_eq!(company_stored_bytes(&db, scope).await.unwrap(), 600);
        check_upload(&db, scope, &a, 400).await.unwrap();
        let refused = check_upload(&db, scope, &a, 401).await;
        assert!(
            matches!(refused, Err(Error::QuotaExceeded(_))),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn an_upload_past_the_group_quota_is_refused_and_other_groups_do_not_count() {
    for (db, _keep) in databases().await {
        let scope = company(&db, None).await;
        let sales = group(&db, scope, "Sales", Some(1000)).await;
        let seller = agent(&db, scope, Some(&sales)).await;
        let elsewhere = agent(&db, scope, None).await;
        pack(&db, scope, &seller, 900).await;
        pack(&db, scope, &elsewhere, 5000).await;
        assert_eq!(group_stored_bytes(&db, scope, &sales).await.unwrap(), 900);
        check_upload(&db, scope, &seller, 100).await.unwrap();
        let refused = check_upload(&db, scope, &seller, 101).await;
        assert!(
            matches!(refused, Err(Error::QuotaExceeded(_))),
            "{refused:?}"
        );
        // The default group has no quota: its agent uploads on.
        check_upload(&db, scope, &elsewhere, 1 << 30).await.unwrap();
    }
}

#[tokio::test]
async fn the_admins_are_mailed_once_when_90_percent_is_reached() {
    for (db, _keep) in databases().await {
        let scope = company(&db, Some(1000)).await;
        let owner = user(&db, scope, "owner").await;
        let admin = user(&db, scope, "admin").await;
        user(&db, scope, "member").await;
        let a = agent(&db, scope, None).await;
        pack(&db, scope, &a, 899).await;
        alert_if_near(&db, scope, &a).await.unwrap();
        assert!(mails(&db, scope).await.is_empty());

        pack(&db, scope, &a, 1).await;
        alert_if_near(&db, scope, &a).await.unwrap();
        let mut to = mails(&db, scope).await;
        to.sort();
        let mut admins = vec![owner.email, admin.email];
        admins.sort();
        assert_eq!(to, admins);

        pack(&db, scope, &a, 50).await;
        alert_if_near(&db, scope, &a).await.unwrap();
        assert_eq!(mails(&db, scope).await.len(), 2);
    }
}

#[tokio::test]
async fn a_group_near_its_quota_mails_once_too() {
    for (db, _keep) in databases().await {
        let scope = company(&db, None).await;
        user(&db, scope, "owner").await;
        let sales = group(&db, scope, "Sales", Some(100)).await;
        let a = agent(&db, scope, Some(&sales)).await;
        pack(&db, scope, &a, 95).await;
        alert_if_near(&db, scope, &a).await.unwrap();
        alert_if_near(&db, scope, &a).await.unwrap();
        let count = outbox::Entity::find()
            .filter(outbox::Column::CompanyId.eq(scope.uuid()))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(count, 1);
    }
}
