//! Machines are append-only: an agent never deletes a snapshot, not even
//! its own, and neither does a member; an owner or admin does, and the
//! audit log says who.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use cairn_auth::Role;
use cairn_core::{Reason, SnapshotId};
use cairn_entity::regional::audit;

use crate::snapshots::{self, Caller, Visible};
use crate::testing::{agent, company, databases, pages_of, snapshot_of, user};

#[tokio::test]
async fn only_owners_and_admins_delete_snapshots_and_each_delete_is_audited() {
    for (db, test_db) in databases().await {
        let backend = test_db.backend;
        let scope = company(&db, None).await;
        let member = user(&db, scope, Role::Member).await;
        let laptop = agent(&db, scope, Some(member.user.id), None).await;
        let server = agent(&db, scope, None, None).await;
        let mine = snapshot_of(&db, scope, &laptop).await;
        let unowned = snapshot_of(&db, scope, &server).await;

        // The machine that wrote it, a machine of nobody, and the person
        // whose machine it is: all refused, the snapshot kept.
        for (caller, id) in [
            (Caller::Agent(laptop.clone()), mine.id),
            (Caller::Agent(server.clone()), unowned.id),
            (Caller::User(member.clone()), mine.id),
        ] {
            let err = snapshots::delete(&db, scope, &caller, "10.0.0.9", SnapshotId(id))
                .await
                .unwrap_err();
            assert_eq!(err.reason(), Reason::PermissionDenied, "{backend}: {err}");
        }
        for id in [mine.id, unowned.id] {
            assert!(
                snapshots::get(&db, scope, &Visible::All, SnapshotId(id))
                    .await
                    .is_ok(),
                "{backend}"
            );
            assert!(!pages_of(&db, id).await.is_empty(), "{backend}");
        }
        let audited = |action: &'static str| {
            let db = &db;
            async move {
                audit::Entity::find()
                    .filter(audit::Column::CompanyId.eq(scope.uuid()))
                    .filter(audit::Column::Action.eq(action))
                    .all(db)
                    .await
                    .unwrap()
            }
        };
        assert!(audited("snapshot.delete").await.is_empty(), "{backend}");

        // An admin deletes the member's snapshot, the owner the other one.
        let admin = user(&db, scope, Role::Admin).await;
        let owner = user(&db, scope, Role::Owner).await;
        for (caller, id) in [(&admin, mine.id), (&owner, unowned.id)] {
            snapshots::delete(
                &db,
                scope,
                &Caller::User(caller.clone()),
                "10.0.0.7",
                SnapshotId(id),
            )
            .await
            .unwrap();
            assert!(pages_of(&db, id).await.is_empty(), "{backend}");
        }
        let entries = audited("snapshot.delete").await;
        let mut seen: Vec<(String, String, String)> = entries
            .into_iter()
            .map(|e| (e.actor, e.field, e.ip))
            .collect();
        seen.sort();
        let mut expected = vec![
            (
                admin.actor_id(),
                format!("snapshot:{}", mine.id),
                "10.0.0.7".to_owned(),
            ),
            (
                owner.actor_id(),
                format!("snapshot:{}", unowned.id),
                "10.0.0.7".to_owned(),
            ),
        ];
        expected.sort();
        assert_eq!(seen, expected, "{backend}");
    }
}
