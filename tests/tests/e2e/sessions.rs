//! Sessions and sign-up records: rotating refresh tokens, logout, lockout
//! after repeated failures, and the sign-up details stored in the home cell.

use cairn_core::{RETRY_AFTER_METADATA, Region};
use cairn_e2e::{Cluster, backends, code_of};
use cairn_proto::accounts::v1::{
    LoginRequest, LogoutRequest, RefreshRequest, accounts_service_client::AccountsServiceClient,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

fn login(email: &str, password: &str) -> LoginRequest {
    LoginRequest {
        email: email.into(),
        password: password.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_and_logout_revokes() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        for (country, region) in [("US", Region::Us), ("IE", Region::Eu)] {
            let email = format!("g@golf-{}.example", country.to_lowercase());
            let email = email.as_str();
            let (session, company) = cluster.signup("Golf", country, email, 1).await;
            let mut accounts = AccountsServiceClient::new(cluster.channel(region).await);

            // The sign-up details and the address it came from are on record.
            let db = cluster.cell_db(region).await;
            let row = cairn_entity::regional::company::Entity::find_by_id(
                uuid::Uuid::parse_str(&company).unwrap(),
            )
            .one(&db)
            .await
            .unwrap()
            .unwrap();
            assert_eq!(
                (row.city.as_str(), row.postal_code.as_str()),
                ("Springfield", "12345")
            );
            assert_eq!(row.signup_ip, "127.0.0.1");
            let owner = cairn_entity::regional::user::Entity::find()
                .filter(cairn_entity::regional::user::Column::Email.eq(email))
                .one(&db)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (owner.title.as_str(), owner.username.as_str()),
                ("Office Manager", "owner")
            );

            let first = accounts
                .login(login(email, "correct horse battery"))
                .await
                .unwrap()
                .into_inner();
            assert!(first.refresh_token.starts_with("crt_"));
            let second = accounts
                .refresh(RefreshRequest {
                    refresh_token: first.refresh_token.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert!(second.access_token.is_some());
            assert_ne!(second.refresh_token, first.refresh_token);

            // Replaying a spent token revokes the whole session.
            let replay = accounts
                .refresh(RefreshRequest {
                    refresh_token: first.refresh_token.clone(),
                })
                .await;
            assert_eq!(code_of(replay), tonic::Code::Unauthenticated);
            let after_replay = accounts
                .refresh(RefreshRequest {
                    refresh_token: second.refresh_token.clone(),
                })
                .await;
            assert_eq!(code_of(after_replay), tonic::Code::Unauthenticated);

            // Logout ends a session; other sessions go on.
            let a = accounts
                .login(login(email, "correct horse battery"))
                .await
                .unwrap()
                .into_inner();
            let b = accounts
                .login(login(email, "correct horse battery"))
                .await
                .unwrap()
                .into_inner();
            accounts
                .logout(LogoutRequest {
                    refresh_token: a.refresh_token.clone(),
                })
                .await
                .unwrap();
            assert_eq!(
                code_of(
                    accounts
                        .refresh(RefreshRequest {
                            refresh_token: a.refresh_token
                        })
                        .await
                ),
                tonic::Code::Unauthenticated
            );
            accounts
                .refresh(RefreshRequest {
                    refresh_token: b.refresh_token,
                })
                .await
                .unwrap();
            let malformed = accounts
                .refresh(RefreshRequest {
                    refresh_token: "nope".into(),
                })
                .await
                .unwrap_err();
            assert_eq!(malformed.code(), tonic::Code::InvalidArgument);
            assert!(malformed.message().contains("refresh_token"));

            // The command line logs out too, and then needs a new login.
            cluster.ctl(&session, &["company"]).await.unwrap();
            cluster.ctl(&session, &["logout"]).await.unwrap();
            let err = cluster.ctl(&session, &["company"]).await.unwrap_err();
            assert!(format!("{err:#}").contains("not logged in"), "{err:#}");
        }
        cluster.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_refresh_tokens_are_refused_with_the_reason() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        cluster.signup("Juliett", "IE", "j@juliett.ie", 1).await;
        let mut accounts = AccountsServiceClient::new(cluster.channel(Region::Eu).await);
        let session = accounts
            .login(login("j@juliett.ie", "correct horse battery"))
            .await
            .unwrap()
            .into_inner();
        let db = cluster.cell_db(Region::Eu).await;
        cairn_entity::regional::refresh_token::Entity::update_many()
            .col_expr(
                cairn_entity::regional::refresh_token::Column::ExpiresAt,
                sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
            )
            .exec(&db)
            .await
            .unwrap();
        let status = accounts
            .refresh(RefreshRequest {
                refresh_token: session.refresh_token,
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(status.message().contains("expired"), "{}", status.message());
        cluster.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_failures_from_one_address_lock_that_address() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        cluster.signup("Kilo", "US", "k@kilo.com", 1).await;
        let mut accounts = AccountsServiceClient::new(cluster.channel(Region::Us).await);
        // Guessing across many accounts from one address.
        for i in 0..20 {
            let status = accounts
                .login(login(&format!("guess{i}@kilo.com"), "not the password"))
                .await
                .unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "attempt {i}");
        }
        let status = accounts
            .login(login("k@kilo.com", "correct horse battery"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
        assert!(status.metadata().get(RETRY_AFTER_METADATA).is_some());
        cluster.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_lock_the_account_for_a_while() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        for (country, region, email) in [
            ("US", Region::Us, "h@hotel.com"),
            ("IE", Region::Eu, "h@hotel.ie"),
        ] {
            cluster.signup("Hotel", country, email, 1).await;
            let mut accounts = AccountsServiceClient::new(cluster.channel(region).await);
            for _ in 0..4 {
                let status = accounts
                    .login(login(email, "not the password"))
                    .await
                    .unwrap_err();
                assert_eq!(status.code(), tonic::Code::Unauthenticated);
            }
            // The fifth failure locks the account; even the right password waits.
            accounts
                .login(login(email, "not the password"))
                .await
                .unwrap_err();
            let status = accounts
                .login(login(email, "correct horse battery"))
                .await
                .unwrap_err();
            assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
            let retry: u64 = status
                .metadata()
                .get(RETRY_AFTER_METADATA)
                .unwrap()
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry > 60 && retry <= 900, "{retry}");
            assert!(
                status.message().contains("too many failed logins"),
                "{}",
                status.message()
            );
        }
        cluster.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_ends_every_session() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        for (country, region, email) in [
            ("US", Region::Us, "l@lima.com"),
            ("IE", Region::Eu, "l@lima.ie"),
        ] {
            let (session, company) = cluster.signup("Lima", country, email, 1).await;
            let mut accounts = AccountsServiceClient::new(cluster.channel(region).await);
            let other = accounts
                .login(login(email, "correct horse battery"))
                .await
                .unwrap()
                .into_inner();

            let wrong = cluster
                .ctl(
                    &session,
                    &[
                        "account",
                        "change-password",
                        "--password",
                        "not it",
                        "--new-password",
                        "x",
                    ],
                )
                .await
                .unwrap_err();
            assert!(
                format!("{wrong:#}").contains("current_password"),
                "{wrong:#}"
            );
            let weak = cluster
                .ctl(
                    &session,
                    &[
                        "account",
                        "change-password",
                        "--password",
                        "correct horse battery",
                        "--new-password",
                        "lima12345",
                    ],
                )
                .await
                .unwrap_err();
            assert!(format!("{weak:#}").contains("new_password"), "{weak:#}");
            let new_password = "amber lighthouse winter parade";
            cluster
                .ctl(
                    &session,
                    &[
                        "account",
                        "change-password",
                        "--password",
                        "correct horse battery",
                        "--new-password",
                        new_password,
                    ],
                )
                .await
                .unwrap();

            // Every session ended, the old password is gone, the new one works.
            let refreshed = accounts
                .refresh(RefreshRequest {
                    refresh_token: other.refresh_token,
                })
                .await;
            assert_eq!(code_of(refreshed), tonic::Code::Unauthenticated);
            assert_eq!(
                code_of(accounts.login(login(email, "correct horse battery")).await),
                tonic::Code::Unauthenticated
            );
            accounts.login(login(email, new_password)).await.unwrap();

            // Audited by field name, never by value.
            let audit = cluster.audit_log(region, &company).await;
            let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
            assert_eq!(actions, vec!["email.confirm", "password.change"]);
            assert!(!format!("{audit:?}").contains("lighthouse"));
        }
        cluster.stop().await;
    }
}
