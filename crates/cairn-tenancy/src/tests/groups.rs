use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use cairn_entity::regional::group;

use super::{company, databases};
use crate::groups::{DEFAULT_GROUP, default_group, find_or_default, policy_of, resolve};

#[tokio::test]
async fn the_default_group_is_created_once_when_first_needed() {
    for (db, _keep) in databases().await {
        let scope = company(&db, None).await;
        let count = || {
            group::Entity::find()
                .filter(group::Column::CompanyId.eq(scope.uuid()))
                .count(&db)
        };
        assert_eq!(count().await.unwrap(), 0);
        let first = resolve(&db, scope, None).await.unwrap();
        assert!(first.is_default);
        assert_eq!(first.name, DEFAULT_GROUP);
        assert_eq!(policy_of(&first).unwrap(), Default::default());
        let again = default_group(&db, scope).await.unwrap();
        let by_empty_field = find_or_default(&db, scope, "group_id", "").await.unwrap();
        assert_eq!((again.id, by_empty_field.id), (first.id, first.id));
        assert_eq!(count().await.unwrap(), 1);
    }
}

#[tokio::test]
async fn a_row_resolves_to_its_group_and_a_gone_or_foreign_group_to_the_default() {
    for (db, _keep) in databases().await {
        let scope = company(&db, None).await;
        let other = company(&db, None).await;
        let sales = super::group(&db, scope, "Sales", None).await;
        let theirs = super::group(&db, other, "Theirs", None).await;
        assert_eq!(
            resolve(&db, scope, Some(sales.id)).await.unwrap().id,
            sales.id
        );
        let default = default_group(&db, scope).await.unwrap();
        let gone = uuid::Uuid::now_v7();
        assert_eq!(
            resolve(&db, scope, Some(gone)).await.unwrap().id,
            default.id
        );
        assert_eq!(
            resolve(&db, scope, Some(theirs.id)).await.unwrap().id,
            default.id
        );
        let field = theirs.id.to_string();
        assert!(
            find_or_default(&db, scope, "group_id", &field)
                .await
                .is_err()
        );
    }
}
