//! Personal-key mode: the company's data key sealed with a passphrase the
//! server never sees. Enrolling and restoring need it; a wrong one is a clear
//! error, never garbage.

#![allow(clippy::unwrap_used)]

use std::fs;

use sea_orm::EntityTrait;

use cairn_core::Region;
use cairn_e2e::{Cluster, backends};
use cairn_entity::regional::company;

const PASSPHRASE: &str = "granite harbour lanterns at dusk";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_needs_the_right_passphrase() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, company_id) = cluster.signup("Hotel", "DE", "h@hotel.de", 3).await;
        let right = cluster.path("right.pass");
        let wrong = cluster.path("wrong.pass");
        fs::write(&right, format!("{PASSPHRASE}\n")).unwrap();
        fs::write(&wrong, "granite harbour lanterns at dawn\n").unwrap();
        let short = cluster.path("short.pass");
        fs::write(&short, "too short").unwrap();
        let refused = cluster
            .ctl(
                &session,
                &[
                    "company",
                    "personal-key",
                    "--passphrase-file",
                    short.to_str().unwrap(),
                ],
            )
            .await
            .unwrap_err();
        assert!(
            format!("{refused:#}").contains("at least 12 characters"),
            "{refused:#}"
        );

        let shown = cluster
            .ctl(
                &session,
                &[
                    "company",
                    "personal-key",
                    "--passphrase-file",
                    right.to_str().unwrap(),
                ],
            )
            .await
            .unwrap();
        assert!(shown.contains("personal key"), "{shown}");
        // The server keeps no key it could open.
        let db = cluster.cell_db(Region::Eu).await;
        let row = company::Entity::find_by_id(uuid::Uuid::parse_str(&company_id).unwrap())
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert!(row.wrapped_key.is_empty());
        let sealed = row.personal_key.clone().unwrap();

        // Enrolling with the wrong passphrase leaves the machine locked.
        let key = cluster
            .ctl(&session, &["enrollment-key", "create"])
            .await
            .unwrap();
        let locked = cluster.path("locked.agent");
        let err = cluster
            .agent(
                &locked,
                &[
                    "enroll",
                    "--key",
                    key.trim(),
                    "--hostname",
                    "locked",
                    "--passphrase-file",
                    wrong.to_str().unwrap(),
                ],
            )
            .await
            .unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("passphrase does not open"), "{message}");
        assert!(message.contains("cairn-agent unlock"), "{message}");
        let data = cluster.path("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("contracts.txt"), "signed in Berlin\n").unwrap();
        let err = cluster
            .agent(&locked, &["backup", data.to_str().unwrap()])
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("locked"), "{err:#}");
        cluster
            .agent(
                &locked,
                &["unlock", "--passphrase-file", right.to_str().unwrap()],
            )
            .await
            .unwrap();

        // A machine enrolled with the right passphrase backs up.
        let key = cluster
            .ctl(&session, &["enrollment-key", "create"])
            .await
            .unwrap();
        let agent = cluster.path("hotel-1.agent");
        cluster
            .agent(
                &agent,
                &[
                    "enroll",
                    "--key",
                    key.trim(),
                    "--hostname",
                    "hotel-1",
                    "--passphrase-file",
                    right.to_str().unwrap(),
                ],
            )
            .await
            .unwrap();
        let state = cairn_agent::AgentState::load(&agent).unwrap();
        // The data key the agent holds appears nowhere in the server's row.
        let data_key = state.data_key().unwrap();
        assert!(!sealed.windows(32).any(|w| w == data_key.as_bytes()));
        let out = cluster
            .agent(&agent, &["backup", data.to_str().unwrap()])
            .await
            .unwrap();
        let snapshot = out.split_whitespace().nth(1).unwrap().to_owned();

        // Restoring needs the passphrase, and only the right one.
        let target = cluster.path("restored");
        let target_arg = target.to_str().unwrap();
        let none = cluster
            .agent(&agent, &["restore", &snapshot, "--target", target_arg])
            .await
            .unwrap_err();
        assert!(
            format!("{none:#}").contains("give its passphrase"),
            "{none:#}"
        );
        let bad = cluster
            .agent(
                &agent,
                &[
                    "restore",
                    &snapshot,
                    "--target",
                    target_arg,
                    "--passphrase-file",
                    wrong.to_str().unwrap(),
                ],
            )
            .await
            .unwrap_err();
        assert!(
            format!("{bad:#}").contains("the passphrase does not open this company's personal key"),
            "{bad:#}"
        );
        assert!(
            !target.exists(),
            "nothing is written with a wrong passphrase"
        );
        cluster
            .agent(
                &agent,
                &[
                    "restore",
                    &snapshot,
                    "--target",
                    target_arg,
                    "--passphrase-file",
                    right.to_str().unwrap(),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            fs::read(target.join("data/contracts.txt")).unwrap(),
            b"signed in Berlin\n"
        );

        // The key cannot be changed once machines are enrolled.
        let late = cluster
            .ctl(
                &session,
                &[
                    "company",
                    "personal-key",
                    "--passphrase-file",
                    right.to_str().unwrap(),
                ],
            )
            .await
            .unwrap_err();
        assert!(
            format!("{late:#}").contains("before the first machine"),
            "{late:#}"
        );
        cluster.stop().await;
    }
}
