//! Groups and their policies: one default group, never deleted; a deleted
//! group's people and machines go to it; each policy change raises the
//! policy version its agents see.

use sea_orm::EntityTrait;

use cairn_core::limits::{GroupName, QuotaBytes};
use cairn_core::policy::Policy;
use cairn_core::{EntityKind, Error};
use cairn_entity::regional::user;

use super::{by, company, databases, machine, person};
use crate::agents;
use crate::groups::{self, GroupChange, NewGroup};

fn name(value: &str) -> GroupName {
    GroupName::parse("name", value).unwrap()
}

fn new_group(value: &str) -> NewGroup {
    NewGroup {
        name: name(value),
        policy: None,
        quota: QuotaBytes::NONE,
    }
}

fn change(id: cairn_core::GroupId) -> GroupChange {
    GroupChange {
        id,
        name: None,
        policy: None,
        quota: None,
    }
}

#[tokio::test]
async fn the_default_group_is_made_once_and_never_deleted() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let owner = by(&acme.owner);
        groups::list(&db, &owner).await.unwrap();
        groups::create(&db, &owner, new_group("Sales"))
            .await
            .unwrap();
        let listed = groups::list(&db, &owner).await.unwrap();
        let defaults: Vec<_> = listed.iter().filter(|g| g.is_default).collect();
        assert_eq!(defaults.len(), 1, "one default group");
        assert_eq!(listed.len(), 2);
        assert!(listed[0].is_default, "the default group comes first");
        // A new group starts with the default group's policy.
        assert_eq!(listed[1].policy, defaults[0].policy);

        let refused = groups::delete(&db, &owner, defaults[0].id).await;
        match refused {
            Err(Error::FailedPrecondition(message)) => {
                assert_eq!(message, "the default group cannot be deleted")
            }
            other => panic!("expected a failed precondition, got {other:?}"),
        }
        assert_eq!(groups::list(&db, &owner).await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn a_deleted_groups_people_and_machines_go_to_the_default_group() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let owner = by(&acme.owner);
        let sales = groups::create(&db, &owner, new_group("Sales"))
            .await
            .unwrap();
        let seller = person(&db, acme.id, "member", true).await;
        let laptop = machine(&db, &acme.owner).await;
        agents::move_to(&db, &owner, laptop.agent, sales.id)
            .await
            .unwrap();
        let mut row: user::ActiveModel = user::Entity::find_by_id(seller.user.id)
            .one(&db)
            .await
            .unwrap()
            .unwrap()
            .into();
        row.group_id = sea_orm::Set(Some(sales.id.0));
        sea_orm::ActiveModelTrait::update(row, &db).await.unwrap();
        let counted = groups::list(&db, &owner).await.unwrap();
        let counted = counted.iter().find(|g| g.id == sales.id).unwrap();
        assert_eq!((counted.users, counted.agents), (1, 1));

        groups::delete(&db, &owner, sales.id).await.unwrap();
        let listed = groups::list(&db, &owner).await.unwrap();
        assert_eq!(listed.len(), 1);
        let default = &listed[0];
        assert!(default.is_default);
        assert_eq!(default.agents, 1);
        let agent = &agents::list(&db, &owner).await.unwrap()[0];
        assert_eq!(agent.group_id, default.id);
        let seller = user::Entity::find_by_id(seller.user.id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seller.group_id, None);
        let again = groups::delete(&db, &owner, sales.id).await;
        assert!(
            matches!(
                again,
                Err(Error::NotFound {
                    kind: EntityKind::Group,
                    ..
                })
            ),
            "{again:?}"
        );
    }
}

#[tokio::test]
async fn each_policy_change_raises_the_version_and_a_rename_does_not() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let owner = by(&acme.owner);
        let sales = groups::create(&db, &owner, new_group("Sales"))
            .await
            .unwrap();
        let start = sales.policy_version;
        let laptop = machine(&db, &acme.owner).await;
        agents::move_to(&db, &owner, laptop.agent, sales.id)
            .await
            .unwrap();

        let nightly = Policy {
            keep_last: 7,
            ..Policy::default()
        };
        let once = groups::update(
            &db,
            &owner,
            GroupChange {
                policy: Some(nightly.clone()),
                ..change(sales.id)
            },
        )
        .await
        .unwrap();
        assert_eq!(once.policy_version, start + 1);
        assert_eq!(once.policy, nightly);
        let twice = groups::update(
            &db,
            &owner,
            GroupChange {
                policy: Some(Policy::default()),
                ..change(sales.id)
            },
        )
        .await
        .unwrap();
        assert_eq!(twice.policy_version, start + 2);
        let renamed = groups::update(
            &db,
            &owner,
            GroupChange {
                name: Some(name("Field sales")),
                ..change(sales.id)
            },
        )
        .await
        .unwrap();
        assert_eq!(renamed.policy_version, start + 2);
        assert_eq!(renamed.name, "Field sales");

        // The agent shows the new version pending until it checks in.
        let listed = &agents::list(&db, &owner).await.unwrap()[0];
        assert_eq!(listed.policy_version, start + 2);
        assert_eq!(listed.agent.policy_version_seen, 0);
        let (found, scope) = (
            agents::find(&db, acme.scope(), laptop.agent).await.unwrap(),
            acme.scope(),
        );
        let checked = agents::check_in(&db, scope, found, start + 2)
            .await
            .unwrap();
        assert_eq!(checked.policy_version, start + 2);
        assert_eq!(checked.group_id, sales.id);
        assert_eq!(checked.policy, Policy::default());
        let listed = &agents::list(&db, &owner).await.unwrap()[0];
        assert_eq!(listed.agent.policy_version_seen, start + 2);
    }
}

#[tokio::test]
async fn group_names_are_unique_in_a_company() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let owner = by(&acme.owner);
        groups::create(&db, &owner, new_group("Sales"))
            .await
            .unwrap();
        let support = groups::create(&db, &owner, new_group("Support"))
            .await
            .unwrap();
        let taken = groups::create(&db, &owner, new_group("Sales")).await;
        assert!(
            matches!(
                taken,
                Err(Error::AlreadyExists {
                    kind: EntityKind::Group
                })
            ),
            "{taken:?}"
        );
        let renamed = groups::update(
            &db,
            &owner,
            GroupChange {
                name: Some(name("Sales")),
                ..change(support.id)
            },
        )
        .await;
        assert!(
            matches!(renamed, Err(Error::AlreadyExists { .. })),
            "{renamed:?}"
        );
        // Another company may use the name.
        let other = company(&db, 1).await;
        groups::create(&db, &by(&other.owner), new_group("Sales"))
            .await
            .unwrap();
    }
}
