//! Company administration: correcting the company record, the history of its
//! number of employees, and seats that never go below what agents hold.

#![allow(clippy::unwrap_used)]

use cairn_core::Region;
use cairn_e2e::{Cluster, backends};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn company_details_employee_history_and_seats() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        for (country, region, email) in [
            ("US", Region::Us, "m@mike.com"),
            ("IE", Region::Eu, "m@mike.ie"),
        ] {
            let (session, company) = cluster.signup("Mike", country, email, 2).await;
            cluster.enroll(&session, &format!("mike-{country}-1")).await;
            cluster.enroll(&session, &format!("mike-{country}-2")).await;

            // Seats never go below what agents hold; the message says what to do.
            let err = cluster
                .ctl(&session, &["company", "seats", "1"])
                .await
                .unwrap_err();
            let err = format!("{err:#}");
            assert!(
                err.contains("revoke 1 agent") && err.contains("FailedPrecondition"),
                "{err}"
            );
            let shown = cluster
                .ctl(&session, &["company", "seats", "5"])
                .await
                .unwrap();
            assert!(shown.contains("seats 2 used of 5"), "{shown}");
            let zero = cluster
                .ctl(&session, &["company", "seats", "0"])
                .await
                .unwrap_err();
            assert!(format!("{zero:#}").contains("seats"), "{zero:#}");

            // Corrections take effect at once; the employee count keeps its history.
            let shown = cluster
                .ctl(
                    &session,
                    &[
                        "company",
                        "update",
                        "--employees",
                        "30",
                        "--industry",
                        "software",
                        "--city",
                        "Cork",
                    ],
                )
                .await
                .unwrap();
            assert!(shown.contains("(Software), 30 employees"), "{shown}");
            cluster
                .ctl(&session, &["company", "update", "--employees", "32"])
                .await
                .unwrap();
            let history = cluster
                .ctl(&session, &["company", "employees"])
                .await
                .unwrap();
            let lines: Vec<&str> = history.lines().collect();
            assert_eq!(lines.len(), 2, "{history}");
            assert!(
                lines[0].contains("25 -> 30") && lines[1].contains("30 -> 32"),
                "{history}"
            );
            for (flag, value, field) in [
                ("--employees", "0", "employees"),
                ("--industry", "Piracy", "industry"),
                ("--phone", "none", "phone"),
            ] {
                let err = cluster
                    .ctl(&session, &["company", "update", flag, value])
                    .await
                    .unwrap_err();
                assert!(format!("{err:#}").contains(field), "{field}: {err:#}");
            }

            // Audited by field name.
            let audit = cluster.audit_log(region, &company).await;
            let fields: Vec<&str> = audit
                .iter()
                .filter(|a| a.action.starts_with("company."))
                .map(|a| a.field.as_str())
                .collect();
            assert_eq!(
                fields,
                vec!["seats", "city", "employees", "employees", "industry"]
            );
        }
        cluster.stop().await;
    }
}
