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
