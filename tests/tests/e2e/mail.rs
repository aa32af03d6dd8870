//! Mail through a real SMTP server: the confirmation gates enrollment, a
//! password reset works once, and a marketing opt-out is honoured by the
//! outbox while service mail still goes.

use cairn_core::Region;
use cairn_e2e::smtp::SmtpSink;
use cairn_e2e::{Cluster, backends, find_code};
use cairn_entity::CompanyScope;
use cairn_outbox::{MailKind, enqueue};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_reset_and_opt_out_over_smtp() {
    for backend in backends() {
        let sink = SmtpSink::start().await;
        let cluster = Cluster::start_with(backend, |config| {
            for cell in config.cells.values_mut() {
                cell.smtp_url = Some(sink.url.clone());
            }
        })
        .await;
        for (country, region, email) in [
            ("US", Region::Us, "ines@india.com"),
            ("IE", Region::Eu, "ines@india.ie"),
        ] {
            let session = cluster.path(&format!("ines-{country}.session"));
            let signup = [
                "signup",
                "--company",
                "India Lda",
                "--industry",
                "legal",
                "--employees",
                "8",
                "--country",
                country,
                "--name",
                "Inês Silva",
                "--title",
                "Partner",
                "--username",
                "ines",
                "--phone",
                "+351 21 555 0100",
                "--city",
                "Lisboa",
                "--postal-code",
                "1100-148",
                "--email",
                email,
                "--password",
                "correct horse battery",
                "--i-am-13-or-older",
            ];
            let out = cluster.ctl(&session, &signup).await.unwrap();
            let company = out.split_whitespace().nth(1).unwrap().to_owned();
            cluster
                .ctl(
                    &session,
                    &[
                        "login",
                        "--email",
                        email,
                        "--password",
                        "correct horse battery",
                    ],
                )
                .await
                .unwrap();

            // Unconfirmed: can log in, cannot enroll machines.
            let err = cluster
                .ctl(&session, &["enrollment-key", "create"])
                .await
                .unwrap_err();
            assert!(format!("{err:#}").contains("confirm your email"), "{err:#}");
            let mail = sink.wait_for(email, "Confirm your email").await;
            let code = find_code(&mail, region).unwrap_or_else(|| panic!("no code in {mail}"));
            cluster
                .ctl(&session, &["account", "confirm", "--token", &code])
                .await
                .unwrap();
            let again = cluster
                .ctl(&session, &["account", "confirm", "--token", &code])
                .await
                .unwrap_err();
            assert!(format!("{again:#}").contains("already used"), "{again:#}");
            cluster
                .ctl(&session, &["enrollment-key", "create"])
                .await
                .unwrap();

            // Password reset by mailed code: once, and every session ends.
            let out = cluster
                .ctl(&session, &["account", "forgot-password", "--email", email])
                .await
                .unwrap();
            let unknown = cluster
                .ctl(
                    &session,
                    &[
                        "account",
                        "forgot-password",
                        "--email",
                        "nobody@india.example",
                    ],
                )
                .await
                .unwrap();
            assert_eq!(
                out, unknown,
                "the answer must not tell which addresses exist"
            );
            let mail = sink.wait_for(email, "Reset your Cairn password").await;
            let code = find_code(&mail, region).unwrap();
            let weak = cluster
                .ctl(
                    &session,
                    &[
                        "account",
                        "reset-password",
                        "--token",
                        &code,
                        "--new-password",
                        "password1",
                    ],
                )
                .await
                .unwrap_err();
            assert!(format!("{weak:#}").contains("new_password"), "{weak:#}");
            // The refused attempt did not spend the code.
            let new_password = "violet harbour seventeen kites";
            cluster
                .ctl(
                    &session,
                    &[
                        "account",
                        "reset-password",
                        "--token",
                        &code,
                        "--new-password",
                        new_password,
                    ],
                )
                .await
                .unwrap();
            let reused = cluster
                .ctl(
                    &session,
                    &[
                        "account",
                        "reset-password",
                        "--token",
                        &code,
                        "--new-password",
                        new_password,
                    ],
                )
                .await
                .unwrap_err();
            assert!(format!("{reused:#}").contains("already used"), "{reused:#}");
            // Every session ended: the saved one cannot be refreshed any more.
            let saved: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&session).unwrap()).unwrap();
            let mut accounts =
                cairn_proto::accounts::v1::accounts_service_client::AccountsServiceClient::new(
                    cluster.channel(region).await,
                );
            let refresh = accounts
                .refresh(cairn_proto::accounts::v1::RefreshRequest {
                    refresh_token: saved["refresh_token"].as_str().unwrap().to_owned(),
                })
                .await;
            assert_eq!(refresh.unwrap_err().code(), tonic::Code::Unauthenticated);
            assert!(
                cluster
                    .ctl(
                        &session,
                        &[
                            "login",
                            "--email",
                            email,
                            "--password",
                            "correct horse battery"
                        ]
                    )
                    .await
                    .is_err()
            );
            cluster
                .ctl(
                    &session,
                    &["login", "--email", email, "--password", new_password],
                )
                .await
                .unwrap();

            // Marketing opt-out: the outbox skips marketing mail, service mail still goes.
            cluster
                .ctl(&session, &["account", "marketing", "--opt-out"])
                .await
                .unwrap();
            let db = cluster.cell_db(region).await;
            let owner = cairn_entity::regional::user::Entity::find()
                .filter(cairn_entity::regional::user::Column::Email.eq(email))
                .one(&db)
                .await
                .unwrap()
                .unwrap();
            let scope =
                CompanyScope::for_tests(cairn_core::CompanyId::parse(&company, "company").unwrap());
            enqueue(
                &db,
                scope,
                Some(owner.id),
                MailKind::Marketing,
                email,
                "Spring offers",
                "Buy more seats!",
            )
            .await
            .unwrap();
            enqueue(
                &db,
                scope,
                Some(owner.id),
                MailKind::Service,
                email,
                "Backup alert",
                "A laptop is idle.",
            )
            .await
            .unwrap();
            sink.wait_for(email, "Backup alert").await;
            assert!(!sink.messages().iter().any(|m| m.contains("Spring offers")));
            let skipped = cairn_entity::regional::outbox::Entity::find()
                .filter(cairn_entity::regional::outbox::Column::Subject.eq("Spring offers"))
                .filter(cairn_entity::regional::outbox::Column::ToAddress.eq(email))
                .one(&db)
                .await
                .unwrap()
                .unwrap();
            assert!(skipped.sent_at.is_some());
            assert!(skipped.last_error.unwrap().contains("opted out"));
        }
        cluster.stop().await;
    }
}
