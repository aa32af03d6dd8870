//! Roles: members are refused what owners and admins do; seats, the quota and
//! the key mode are the owner's alone; members enroll and see only their own
//! machines.

use cairn_core::Error;
use cairn_core::limits::{Employees, GroupName, QuotaBytes, Seats};

use super::{by, company, databases, is_denied, machine, person};
use crate::agents;
use crate::company::{self as companies, CompanyUpdate};
use crate::enroll::{self, KeyRequest};
use crate::groups::{self, NewGroup};
use crate::usage::{self, UsageQuery};

fn rename(name: &str) -> CompanyUpdate {
    CompanyUpdate {
        name: Some(cairn_core::limits::CompanyName::parse("name", name).unwrap()),
        ..Default::default()
    }
}

fn new_group(name: &str) -> NewGroup {
    NewGroup {
        name: GroupName::parse("name", name).unwrap(),
        policy: None,
        quota: QuotaBytes::NONE,
    }
}

#[tokio::test]
async fn members_are_refused_what_admins_do() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let member = person(&db, acme.id, "member", true).await;
        let member = by(&member);
        let laptop = machine(&db, &acme.owner).await;
        let default = groups::list(&db, &by(&acme.owner)).await.unwrap()[0].id;

        assert!(is_denied(
            &companies::update(&db, &member, rename("Mine")).await
        ));
        assert!(is_denied(&companies::employee_counts(&db, &member).await));
        assert!(is_denied(
            &groups::create(&db, &member, new_group("Sales")).await
        ));
        assert!(is_denied(&groups::delete(&db, &member, default).await));
        assert!(is_denied(&agents::revoke(&db, &member, laptop.agent).await));
        assert!(is_denied(
            &usage::get(&db, &member, UsageQuery::default()).await
        ));
        // What a member may do still works.
        companies::get(&db, &member).await.unwrap();
        groups::list(&db, &member).await.unwrap();
        // Nothing was changed by the refused calls.
        let view = companies::get(&db, &by(&acme.owner)).await.unwrap();
        assert_ne!(view.company.name, "Mine");
        assert_eq!(view.seats_used, 1);
    }
}

#[tokio::test]
async fn only_the_owner_changes_seats_quota_and_key_mode() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let admin = person(&db, acme.id, "admin", true).await;
        let admin = by(&admin);
        let seats = Seats::try_from(7).unwrap();
        let quota = QuotaBytes::try_from(1 << 30).unwrap();

        assert!(is_denied(&companies::set_seats(&db, &admin, seats).await));
        assert!(is_denied(&companies::set_quota(&db, &admin, quota).await));
        assert!(is_denied(
            &companies::set_personal_key(&db, &admin, &[0; 8]).await
        ));
        // Admins do correct the company's details.
        let employees = CompanyUpdate {
            employees: Some(Employees::try_from(40).unwrap()),
            ..Default::default()
        };
        let view = companies::update(&db, &admin, employees).await.unwrap();
        assert_eq!(view.company.employees, 40);

        let owner = by(&acme.owner);
        let view = companies::set_seats(&db, &owner, seats).await.unwrap();
        assert_eq!(view.company.seats, 7);
        let view = companies::set_quota(&db, &owner, quota).await.unwrap();
        assert_eq!(view.company.quota_bytes, Some(1 << 30));
        let view = companies::set_quota(&db, &owner, QuotaBytes::NONE)
            .await
            .unwrap();
        assert_eq!(view.company.quota_bytes, None);
    }
}

#[tokio::test]
async fn members_enroll_and_see_only_their_own_machines() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let alice = person(&db, acme.id, "member", true).await;
        let bob = person(&db, acme.id, "member", true).await;
        let sales = groups::create(&db, &by(&acme.owner), new_group("Sales"))
            .await
            .unwrap();

        let for_bob = KeyRequest {
            owner: Some(bob.id()),
            ..Default::default()
        };
        let refused = enroll::create_key(&db, &by(&alice), cairn_core::Region::Us, for_bob).await;
        match refused {
            Err(Error::PermissionDenied(message)) => {
                assert_eq!(message, "members can only enroll their own machines")
            }
            other => panic!("expected permission denied, got {other:?}"),
        }
        let into_sales = KeyRequest {
            group: Some(sales.id),
            ..Default::default()
        };
        let refused =
            enroll::create_key(&db, &by(&alice), cairn_core::Region::Us, into_sales).await;
        assert!(is_denied(&refused), "{refused:?}");
        // An admin enrolls Bob's machine into Sales.
        let admin_key = KeyRequest {
            owner: Some(bob.id()),
            group: Some(sales.id),
            ..Default::default()
        };
        let new = enroll::create_key(&db, &by(&acme.owner), cairn_core::Region::Us, admin_key)
            .await
            .unwrap();
        let (_, secret) = enroll::parse_key(&new.key).unwrap();
        let bobs = super::enroll(&db, secret).await.unwrap();
        let alices = machine(&db, &alice).await;

        let seen: Vec<_> = agents::list(&db, &by(&alice))
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.agent.id)
            .collect();
        assert_eq!(seen, vec![alices.agent.0]);
        let all = agents::list(&db, &by(&acme.owner)).await.unwrap();
        assert_eq!(all.len(), 2);
        let bobs = all.iter().find(|a| a.agent.id == bobs.agent.0).unwrap();
        assert_eq!(bobs.group_id, sales.id);
        assert_eq!(bobs.agent.owner_user_id, Some(bob.user.id));
        // Another company's group is not found, never used.
        let other = company(&db, 1).await;
        let foreign = KeyRequest {
            group: Some(sales.id),
            ..Default::default()
        };
        let refused =
            enroll::create_key(&db, &by(&other.owner), cairn_core::Region::Us, foreign).await;
        assert!(
            matches!(refused, Err(Error::NotFound { .. })),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn a_new_number_of_employees_is_kept_in_the_history() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let owner = by(&acme.owner);
        let employees = |n| CompanyUpdate {
            employees: Some(Employees::try_from(n).unwrap()),
            ..Default::default()
        };
        companies::update(&db, &owner, employees(25)).await.unwrap();
        // The same number again is no change.
        companies::update(&db, &owner, employees(25)).await.unwrap();
        companies::update(&db, &owner, employees(30)).await.unwrap();
        let history: Vec<_> = companies::employee_counts(&db, &owner)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.previous, c.employees, c.changed_by))
            .collect();
        let by_owner = acme.owner.actor_id();
        assert_eq!(
            history,
            vec![(10, 25, by_owner.clone()), (25, 30, by_owner)]
        );
    }
}

#[tokio::test]
async fn a_personal_key_is_chosen_only_before_the_first_machine() {
    for (db, _keep) in databases().await {
        let early = company(&db, 5).await;
        let sealed = cairn_crypto::PersonalKey::seal(
            &cairn_crypto::DataKey::generate().unwrap(),
            "correct horse battery staple",
        )
        .unwrap()
        .to_bytes();
        let view = companies::set_personal_key(&db, &by(&early.owner), &sealed)
            .await
            .unwrap();
        assert!(view.company.personal_key.is_some());
        let enrolled = machine(&db, &early.owner).await;
        assert!(matches!(
            enrolled.key,
            crate::enroll::CompanyKey::Personal(_)
        ));

        let late = company(&db, 5).await;
        machine(&db, &late.owner).await;
        let refused = companies::set_personal_key(&db, &by(&late.owner), &sealed).await;
        assert!(
            matches!(refused, Err(Error::FailedPrecondition(_))),
            "{:?}",
            refused.err()
        );
        let garbage = companies::set_personal_key(&db, &by(&late.owner), b"junk").await;
        assert_eq!(super::field_of(garbage), "personal_key");
    }
}
