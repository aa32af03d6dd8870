//! A person leaving: their machines revoked, their unused keys revoked,
//! their backups kept or deleted; nobody else's touched.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    Set,
};

use cairn_core::UserId;
use cairn_entity::CompanyScope;
use cairn_entity::regional::{agent, enrollment_key, snapshot, snapshot_ref_page, user};

use super::{agent as new_agent, company, databases, user as new_user};
use crate::members::{Backups, Retired, retire};

/// `a` becomes `owner`'s machine.
async fn owned(db: &DatabaseConnection, a: agent::Model, owner: &user::Model) -> agent::Model {
    let mut active = a.into_active_model();
    active.owner_user_id = Set(Some(owner.id));
    active.update(db).await.unwrap()
}

/// A snapshot of `a` with one page of chunk references.
async fn snapshot(db: &DatabaseConnection, scope: CompanyScope, a: &agent::Model) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    snapshot::ActiveModel {
        id: Set(id),
        company_id: Set(scope.uuid()),
        agent_id: Set(a.id),
        hostname: Set(a.hostname.clone()),
        paths: Set("[\"/home\"]".into()),
        started_at: Set(0),
        finished_at: Set(1),
        tree_id: Set(vec![7; 32]),
        files: Set(1),
        dirs: Set(1),
        bytes: Set(10),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap();
    snapshot_ref_page::ActiveModel {
        snapshot_id: Set(id),
        page: Set(0),
        company_id: Set(scope.uuid()),
        chunk_ids: Set(vec![7; 32]),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap();
    id
}

/// An unused key `maker` made for `owner`'s machine.
async fn key(
    db: &DatabaseConnection,
    scope: CompanyScope,
    maker: &user::Model,
    owner: &user::Model,
) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    enrollment_key::ActiveModel {
        id: Set(id),
        company_id: Set(scope.uuid()),
        secret_hash: Set(id.as_bytes().to_vec()),
        created_by: Set(maker.id),
        created_at: Set(Utc::now()),
        expires_at: Set(Utc::now() + Duration::hours(720)),
        used_at: Set(None),
        used_by_agent: Set(None),
        owner_user_id: Set(Some(owner.id)),
        group_id: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    id
}

async fn revoked_agents(db: &DatabaseConnection, scope: CompanyScope) -> Vec<uuid::Uuid> {
    let mut ids: Vec<_> = agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::RevokedAt.is_not_null())
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    ids.sort();
    ids
}

async fn revoked_keys(db: &DatabaseConnection) -> Vec<uuid::Uuid> {
    let mut ids: Vec<_> = enrollment_key::Entity::find()
        .filter(enrollment_key::Column::RevokedAt.is_not_null())
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    ids.sort();
    ids
}

async fn snapshots(db: &DatabaseConnection) -> (Vec<uuid::Uuid>, Vec<uuid::Uuid>) {
    let mut rows: Vec<_> = snapshot::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut pages: Vec<_> = snapshot_ref_page::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.snapshot_id)
        .collect();
    rows.sort();
    pages.sort();
    (rows, pages)
}

#[tokio::test]
async fn leaving_revokes_machines_and_keys_and_keeps_or_deletes_backups() {
    for backups in [Backups::Keep, Backups::Delete] {
        for (db, test_db) in databases().await {
            let acme = company(&db, None).await;
            let admin = new_user(&db, acme, "admin").await;
            let leaver = new_user(&db, acme, "member").await;
            let stayer = new_user(&db, acme, "member").await;
            let laptop = owned(&db, new_agent(&db, acme, None).await, &leaver).await;
            let desktop = owned(&db, new_agent(&db, acme, None).await, &leaver).await;
            let theirs = owned(&db, new_agent(&db, acme, None).await, &stayer).await;
            let gone = [
                snapshot(&db, acme, &laptop).await,
                snapshot(&db, acme, &laptop).await,
                snapshot(&db, acme, &desktop).await,
            ];
            let kept = snapshot(&db, acme, &theirs).await;
            let made = key(&db, acme, &leaver, &leaver).await;
            let made_for = key(&db, acme, &admin, &leaver).await;
            let others = key(&db, acme, &admin, &stayer).await;
            // Another company with a user of the same role and machines.
            let globex = company(&db, None).await;
            let outsider = new_user(&db, globex, "member").await;
            let far = owned(&db, new_agent(&db, globex, None).await, &outsider).await;
            let far_snapshot = snapshot(&db, globex, &far).await;

            let txn = cairn_entity::begin_write(&db).await.unwrap();
            let done = retire(&txn, acme, UserId(leaver.id), backups)
                .await
                .unwrap();
            txn.commit().await.unwrap();

            let (expected_kept, expected_deleted) = match backups {
                Backups::Keep => (3, 0),
                Backups::Delete => (0, 3),
            };
            assert_eq!(
                done,
                Retired {
                    agents_revoked: 2,
                    keys_revoked: 2,
                    snapshots_kept: expected_kept,
                    snapshots_deleted: expected_deleted,
                },
                "{}",
                test_db.backend
            );
            let mut machines = vec![laptop.id, desktop.id];
            machines.sort();
            assert_eq!(revoked_agents(&db, acme).await, machines);
            assert!(revoked_agents(&db, globex).await.is_empty());
            let mut keys = vec![made, made_for];
            keys.sort();
            assert_eq!(revoked_keys(&db).await, keys);
            assert!(!revoked_keys(&db).await.contains(&others));
            let (rows, pages) = snapshots(&db).await;
            for id in gone {
                let present = rows.contains(&id) && pages.contains(&id);
                let absent = !rows.contains(&id) && !pages.contains(&id);
                match backups {
                    Backups::Keep => assert!(present, "{}", test_db.backend),
                    Backups::Delete => assert!(absent, "{}", test_db.backend),
                }
            }
            for id in [kept, far_snapshot] {
                assert!(rows.contains(&id) && pages.contains(&id));
            }
            // Leaving twice changes nothing more.
            let again = retire(&db, acme, UserId(leaver.id), backups).await.unwrap();
            assert_eq!((again.agents_revoked, again.keys_revoked), (0, 0));
        }
    }
}
