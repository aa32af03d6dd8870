//! Seats: enrolling takes one, revoking frees one, and the seats bought never
//! go below what unrevoked agents hold.

use cairn_core::Error;
use cairn_core::limits::Seats;

use super::{by, company, databases, enroll, key, machine};
use crate::{agents, company as companies};

fn seats(n: i64) -> Seats {
    Seats::try_from(n).unwrap()
}

#[tokio::test]
async fn enrolling_takes_a_seat_until_none_is_left_and_revoking_frees_one() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 2).await;
        let owner = by(&acme.owner);
        let first = machine(&db, &acme.owner).await;
        machine(&db, &acme.owner).await;
        assert_eq!(companies::get(&db, &owner).await.unwrap().seats_used, 2);

        let third = key(&db, &acme.owner).await;
        let refused = enroll(&db, &third).await;
        assert!(
            matches!(refused, Err(Error::NoSeatLeft { used: 2, seats: 2 })),
            "{:?}",
            refused.err()
        );

        agents::revoke(&db, &owner, first.agent).await.unwrap();
        assert_eq!(companies::get(&db, &owner).await.unwrap().seats_used, 1);
        // The refused key was not used up: it enrolls into the freed seat.
        enroll(&db, &third).await.unwrap();
        assert_eq!(companies::get(&db, &owner).await.unwrap().seats_used, 2);
    }
}

#[tokio::test]
async fn seats_never_go_below_what_unrevoked_agents_hold() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let owner = by(&acme.owner);
        let gone = machine(&db, &acme.owner).await;
        machine(&db, &acme.owner).await;
        machine(&db, &acme.owner).await;
        agents::revoke(&db, &owner, gone.agent).await.unwrap();

        let refused = companies::set_seats(&db, &owner, seats(1)).await;
        match refused {
            Err(Error::FailedPrecondition(message)) => assert_eq!(
                message,
                "2 agents hold seats: revoke 1 agent(s) before going down to 1 seats"
            ),
            other => panic!("expected a failed precondition, got {:?}", other.err()),
        }
        assert_eq!(companies::get(&db, &owner).await.unwrap().company.seats, 5);

        let view = companies::set_seats(&db, &owner, seats(2)).await.unwrap();
        assert_eq!((view.company.seats, view.seats_used), (2, 2));
    }
}

#[tokio::test]
async fn a_revoked_agent_is_gone_and_cannot_be_revoked_twice() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 3).await;
        let owner = by(&acme.owner);
        let laptop = machine(&db, &acme.owner).await;
        agents::revoke(&db, &owner, laptop.agent).await.unwrap();
        assert!(agents::list(&db, &owner).await.unwrap().is_empty());
        let again = agents::revoke(&db, &owner, laptop.agent).await;
        assert!(matches!(again, Err(Error::NotFound { .. })), "{again:?}");
        let token = agents::check_credential(&db, laptop.agent, &laptop.credential).await;
        assert!(matches!(token, Err(Error::Unauthenticated(_))), "{token:?}");
    }
}
