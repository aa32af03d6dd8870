//! A member leaving, removed by an admin or deleting their own account:
//! their machines are revoked and their seats free, their unused keys
//! revoked, their backups kept or deleted as the admin chose (kept for the
//! company when they delete themself), and nothing personal of theirs stays
//! in the cell: no invitation with their address, no mail to them (rows or
//! `.eml` files), no client address in their audit entries.

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use cairn_core::{Region, UserId};
use cairn_entity::regional::{agent, audit, enrollment_key, invitation, outbox, snapshot, user};
use cairn_outbox::Mailer;
use cairn_tenancy::members::{Backups, Retired};

use super::{Cell, PASSWORD, caller, cells, claims, invited, remove_as, sign_up};

/// An enrolled machine of `owner` with one snapshot, and an unused key of theirs.
async fn equipped(cell: &Cell, owner: &user::Model) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    agent::ActiveModel {
        id: Set(id),
        company_id: Set(owner.company_id),
        hostname: Set(format!("laptop-{id}")),
        credential_hash: Set(id.as_bytes().to_vec()),
        enrolled_at: Set(Utc::now()),
        revoked_at: Set(None),
        owner_user_id: Set(Some(owner.id)),
        group_id: Set(None),
        last_seen_at: Set(None),
        last_attempt_at: Set(None),
        last_backup_at: Set(None),
        last_result: Set(String::new()),
        last_error: Set(String::new()),
        bytes_protected: Set(0),
        policy_version_seen: Set(0),
        idle_alert_at: Set(None),
    }
    .insert(&cell.db)
    .await
    .unwrap();
    snapshot::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        company_id: Set(owner.company_id),
        agent_id: Set(id),
        hostname: Set("laptop".into()),
        paths: Set("[]".into()),
        started_at: Set(0),
        finished_at: Set(1),
        tree_id: Set(vec![1; 32]),
        files: Set(0),
        dirs: Set(1),
        bytes: Set(0),
        created_at: Set(Utc::now()),
    }
    .insert(&cell.db)
    .await
    .unwrap();
    let key = uuid::Uuid::now_v7();
    enrollment_key::ActiveModel {
        id: Set(key),
        company_id: Set(owner.company_id),
        secret_hash: Set(key.as_bytes().to_vec()),
        created_by: Set(owner.id),
        created_at: Set(Utc::now()),
        expires_at: Set(Utc::now() + Duration::hours(720)),
        used_at: Set(None),
        used_by_agent: Set(None),
        owner_user_id: Set(Some(owner.id)),
        group_id: Set(None),
        revoked_at: Set(None),
    }
    .insert(&cell.db)
    .await
    .unwrap();
    id
}

async fn unrevoked_agents(cell: &Cell, company: uuid::Uuid) -> u64 {
    agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(company))
        .filter(agent::Column::RevokedAt.is_null())
        .count(&cell.db)
        .await
        .unwrap()
}

async fn snapshots(cell: &Cell, company: uuid::Uuid) -> u64 {
    snapshot::Entity::find()
        .filter(snapshot::Column::CompanyId.eq(company))
        .count(&cell.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn removing_a_member_revokes_their_machines_and_keys_and_does_what_the_admin_chose() {
    for backups in [Backups::Keep, Backups::Delete] {
        for cell in cells().await {
            let owner = sign_up(&cell, "Acme").await;
            let bob = invited(&cell, &owner, "bob@acme.example.com", "member").await;
            equipped(&cell, &bob).await;
            equipped(&cell, &owner).await;
            assert_eq!(unrevoked_agents(&cell, owner.company_id).await, 2);
            let by = caller(&cell, &owner).await;
            let done = remove_as(&cell, &by, UserId(bob.id), backups)
                .await
                .unwrap();
            let (kept, deleted) = match backups {
                Backups::Keep => (1, 0),
                Backups::Delete => (0, 1),
            };
            assert_eq!(
                done,
                Retired {
                    agents_revoked: 1,
                    keys_revoked: 1,
                    snapshots_kept: kept,
                    snapshots_deleted: deleted,
                },
                "{}",
                cell.backend
            );
            // The owner's machine and snapshot stay; the seat is free.
            assert_eq!(unrevoked_agents(&cell, owner.company_id).await, 1);
            assert_eq!(snapshots(&cell, owner.company_id).await, 1 + kept);
            let unused_keys = enrollment_key::Entity::find()
                .filter(enrollment_key::Column::CompanyId.eq(owner.company_id))
                .filter(enrollment_key::Column::RevokedAt.is_null())
                .all(&cell.db)
                .await
                .unwrap();
            assert_eq!(unused_keys.len(), 1);
            assert_eq!(unused_keys[0].created_by, owner.id);
            // Audited: who removed, with which choice, never whom by name.
            let entry = audit::Entity::find()
                .filter(audit::Column::CompanyId.eq(owner.company_id))
                .filter(audit::Column::Action.eq("user.remove"))
                .one(&cell.db)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(entry.actor, format!("user:{}", owner.id));
            assert_eq!(entry.field, format!("backups.{}", backups.as_str()));
        }
    }
}

#[tokio::test]
async fn a_member_deleting_themself_leaves_nothing_personal_behind() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let bob = invited(&cell, &owner, "bob@acme.example.com", "member").await;
        equipped(&cell, &bob).await;
        crate::password::request_reset(&cell.db, Region::Us, &bob.email, "198.51.100.7")
            .await
            .unwrap();
        let folder = tempfile_dir();
        std::fs::write(
            folder.join("bob.eml"),
            format!("To: {}\r\nSubject: Reset\r\n\r\ncode\r\n", bob.email),
        )
        .unwrap();
        std::fs::write(
            folder.join("owner.eml"),
            format!("To: {}\r\nSubject: Hi\r\n\r\nhi\r\n", owner.email),
        )
        .unwrap();
        let mailer = Mailer::Files(folder.clone());
        let before = outbox::Entity::find()
            .filter(outbox::Column::ToAddress.eq(bob.email.as_str()))
            .count(&cell.db)
            .await
            .unwrap();
        assert!(
            before >= 2,
            "{}: the invitation and the reset",
            cell.backend
        );

        let company_deleted = crate::delete::delete(
            &cell.db,
            &cell.store,
            Some(&mailer),
            &cell.logins,
            &claims(&bob),
            PASSWORD.into(),
            "",
        )
        .await
        .unwrap();
        assert!(!company_deleted);

        let mail = outbox::Entity::find()
            .filter(outbox::Column::ToAddress.eq(bob.email.as_str()))
            .count(&cell.db)
            .await
            .unwrap();
        assert_eq!(mail, 0, "{}", cell.backend);
        let invitations = invitation::Entity::find()
            .filter(invitation::Column::Email.eq(bob.email.as_str()))
            .count(&cell.db)
            .await
            .unwrap();
        assert_eq!(invitations, 0, "{}", cell.backend);
        let entries = audit::Entity::find()
            .filter(audit::Column::Actor.eq(format!("user:{}", bob.id)))
            .all(&cell.db)
            .await
            .unwrap();
        assert!(
            entries.iter().any(|e| e.action == "user.accept"),
            "the entries stay, by id: {entries:?}"
        );
        assert!(entries.iter().any(|e| e.action == "account.delete"));
        assert!(entries.iter().all(|e| e.ip.is_empty()), "{entries:?}");
        let all = format!("{:?}", audit::Entity::find().all(&cell.db).await.unwrap());
        assert!(!all.contains(&bob.email) && !all.contains(&bob.name));
        assert!(!folder.join("bob.eml").exists());
        assert!(folder.join("owner.eml").exists());
        // Their machine is revoked; its backups stay the company's.
        assert_eq!(unrevoked_agents(&cell, owner.company_id).await, 0);
        assert_eq!(snapshots(&cell, owner.company_id).await, 1);
        let keys = enrollment_key::Entity::find()
            .filter(enrollment_key::Column::CreatedBy.eq(bob.id))
            .filter(enrollment_key::Column::RevokedAt.is_null())
            .count(&cell.db)
            .await
            .unwrap();
        assert_eq!(keys, 0);
        // On SQLite, the file itself no longer holds the address or the name.
        if let Some(path) = sqlite_file(&cell) {
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            for needle in [bob.email.as_str(), bob.name.as_str()] {
                let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
                assert!(!found, "{needle} is still in {path}");
            }
            let kept = owner.email.as_bytes();
            assert!(
                bytes.windows(kept.len()).any(|w| w == kept),
                "the file was not read"
            );
        }
        std::fs::remove_dir_all(&folder).unwrap();
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cairn-leaving-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The database file of a SQLite cell.
fn sqlite_file(cell: &Cell) -> Option<String> {
    let url = cell._keep.url.strip_prefix("sqlite://")?;
    Some(url.split('?').next().unwrap_or(url).to_owned())
}
