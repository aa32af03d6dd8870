//! A member's machine sees only the same person's machines; admins see all;
//! another company's snapshot is NOT_FOUND, to look at and to delete.

use std::collections::BTreeSet;

use cairn_auth::Role;
use cairn_core::{AgentId, Error, Reason, SnapshotId};
use cairn_entity::regional::snapshot;

use crate::snapshots::{self, Caller, Visible, visible};
use crate::testing::{agent, company, databases, snapshot_of, user};

fn agents_of(rows: &[snapshot::Model]) -> BTreeSet<uuid::Uuid> {
    rows.iter().map(|r| r.agent_id).collect()
}

#[tokio::test]
async fn a_caller_sees_the_same_persons_machines_and_admins_see_all() {
    for (db, test_db) in databases().await {
        let backend = test_db.backend;
        let scope = company(&db, None).await;
        let admin = user(&db, scope, Role::Admin).await;
        let alice = user(&db, scope, Role::Member).await;
        let bob = user(&db, scope, Role::Member).await;
        let laptop = agent(&db, scope, Some(alice.user.id), None).await;
        let desktop = agent(&db, scope, Some(alice.user.id), None).await;
        let bobs = agent(&db, scope, Some(bob.user.id), None).await;
        let server = agent(&db, scope, None, None).await;
        for machine in [&laptop, &desktop, &bobs, &server] {
            snapshot_of(&db, scope, machine).await;
        }
        let bobs_snapshot = snapshots::list(&db, scope, &Visible::All, Some(AgentId(bobs.id)))
            .await
            .unwrap()
            .remove(0);

        let sees = |caller: Caller| {
            let db = &db;
            async move {
                let visible = visible(db, scope, &caller).await.unwrap();
                let rows = snapshots::list(db, scope, &visible, None).await.unwrap();
                (visible, agents_of(&rows))
            }
        };
        let (_, all) = sees(Caller::User(admin)).await;
        assert_eq!(
            all,
            BTreeSet::from([laptop.id, desktop.id, bobs.id, server.id]),
            "{backend}"
        );
        let alices = BTreeSet::from([laptop.id, desktop.id]);
        let (as_alice, seen) = sees(Caller::User(alice)).await;
        assert_eq!(seen, alices, "{backend}");
        let (as_laptop, seen) = sees(Caller::Agent(laptop.clone())).await;
        assert_eq!(seen, alices, "{backend}");
        let (_, seen) = sees(Caller::Agent(server.clone())).await;
        assert_eq!(seen, BTreeSet::from([server.id]), "{backend}");

        // A colleague's machine and snapshot are NOT_FOUND, not an empty
        // answer.
        for visible in [&as_alice, &as_laptop] {
            let err = snapshots::list(&db, scope, visible, Some(AgentId(bobs.id)))
                .await
                .unwrap_err();
            assert_eq!(err.reason(), Reason::NotFound, "{backend}: {err}");
            let id = SnapshotId(bobs_snapshot.id);
            let err = snapshots::get(&db, scope, visible, id).await.unwrap_err();
            assert!(matches!(err, Error::NotFound { .. }), "{backend}: {err}");
        }
        let still = snapshots::get(&db, scope, &Visible::All, SnapshotId(bobs_snapshot.id)).await;
        assert!(still.is_ok(), "{backend}");
    }
}

#[tokio::test]
async fn another_companys_snapshot_is_not_found_and_stays() {
    for (db, test_db) in databases().await {
        let backend = test_db.backend;
        let ours = company(&db, None).await;
        let our_admin = Caller::User(user(&db, ours, Role::Owner).await);
        let theirs = company(&db, None).await;
        let their_machine = agent(&db, theirs, None, None).await;
        let their_snapshot = snapshot_of(&db, theirs, &their_machine).await;
        let id = SnapshotId(their_snapshot.id);

        // Even an admin's view of all machines stops at the company.
        let err = snapshots::delete(&db, ours, &our_admin, "", id)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::NotFound, "{backend}: {err}");
        let err = snapshots::get(&db, ours, &Visible::All, id)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{backend}: {err}");
        let err = snapshots::list(&db, ours, &Visible::All, Some(AgentId(their_machine.id)))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{backend}: {err}");
        assert!(
            snapshots::list(&db, ours, &Visible::All, None)
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );

        let kept = snapshots::get(&db, theirs, &Visible::All, id)
            .await
            .unwrap();
        assert_eq!(kept.id, their_snapshot.id, "{backend}");
        assert!(
            !crate::testing::pages_of(&db, their_snapshot.id)
                .await
                .is_empty(),
            "{backend}"
        );
    }
}
