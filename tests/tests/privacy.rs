//! The self-service privacy rights, for a US and an Irish company: profile
//! correction visible at once and audited without values, a complete export
//! limited to the requester's company, and deletion that leaves no row, no
//! object, no directory entry and no working credential. The server's logs
//! carry no password, token or email address throughout.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::sync::{Arc, Mutex};

use cairn_core::Region;
use cairn_e2e::authed;
use cairn_e2e::{Cluster, backends};
use cairn_proto::accounts::v1::{
    DeleteAccountRequest, LoginRequest, accounts_service_client::AccountsServiceClient,
};
use sea_orm::{EntityTrait, PaginatorTrait, Set};

/// Everything the server logs during the test.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_export_and_deletion() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            cairn_server::DEFAULT_LOG_FILTER,
        ))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let mut secrets = vec!["correct horse battery".to_owned()];

    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        for (country, region, email, other_email) in [
            ("US", Region::Us, "pat@papa.com", "quinn@quebec.com"),
            ("IE", Region::Eu, "niamh@papa.ie", "ronan@quebec.ie"),
        ] {
            secrets.push(email.to_owned());
            let (session, company) = cluster
                .signup(&format!("Papa {country}"), country, email, 2)
                .await;
            let (other_session, other_company) = cluster
                .signup(&format!("Quebec {country}"), country, other_email, 2)
                .await;
            let agent = cluster.enroll(&session, &format!("papa-{country}")).await;
            let other_agent = cluster
                .enroll(&other_session, &format!("quebec-{country}"))
                .await;
            let data = cluster.path(&format!("papa-{country}-files"));
            fs::create_dir_all(&data).unwrap();
            fs::write(data.join("minutes.txt"), "board minutes\n").unwrap();
            let backed_up = cluster
                .agent(&agent, &["backup", data.to_str().unwrap()])
                .await
                .unwrap();
            let snapshot = backed_up.split_whitespace().nth(1).unwrap().to_owned();
            cluster
                .agent(&other_agent, &["backup", data.to_str().unwrap()])
                .await
                .unwrap();

            // Correct the profile: visible at once, audited by field name only.
            cluster
                .ctl(
                    &session,
                    &[
                        "account",
                        "update",
                        "--name",
                        "Pat Corrected-Name",
                        "--title",
                        "CFO",
                    ],
                )
                .await
                .unwrap();
            let shown = cluster.ctl(&session, &["account", "show"]).await.unwrap();
            assert!(
                shown.contains("name: Pat Corrected-Name") && shown.contains("title: CFO"),
                "{shown}"
            );
            let db = cluster.cell_db(region).await;
            let audit = cluster.audit_log(region, &company).await;
            let fields: Vec<(&str, &str)> = audit
                .iter()
                .map(|a| (a.action.as_str(), a.field.as_str()))
                .collect();
            assert_eq!(
                fields,
                vec![
                    ("email.confirm", "email"),
                    ("profile.update", "name"),
                    ("profile.update", "title")
                ]
            );
            assert!(
                audit
                    .iter()
                    .all(|a| a.ip == "127.0.0.1" && !format!("{a:?}").contains("Corrected"))
            );

            // Export: complete for the company, nothing of the other one.
            let file = cluster.path(&format!("export-{country}.json"));
            cluster
                .ctl(
                    &session,
                    &[
                        "account",
                        "export",
                        "--company",
                        "--out",
                        file.to_str().unwrap(),
                    ],
                )
                .await
                .unwrap();
            let text = fs::read_to_string(&file).unwrap();
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(doc["user"]["email"], email);
            assert_eq!(doc["user"]["name"], "Pat Corrected-Name");
            assert_eq!(doc["company"]["id"], company.as_str());
            assert_eq!(doc["company"]["postal_code"], "12345");
            assert_eq!(doc["seats"]["used"], 1);
            assert_eq!(doc["agents"][0]["hostname"], format!("papa-{country}"));
            assert_eq!(doc["snapshots"][0]["id"], snapshot.as_str());
            assert_eq!(doc["audit_log"].as_array().unwrap().len(), 3);
            assert!(
                !text.contains(other_email)
                    && !text.contains(&other_company)
                    && !text.contains("quebec")
            );
            assert!(!text.contains("password_hash") && !text.contains("$argon2"));

            // A new email address: confirmed again, the login moves, the old one is gone.
            let new_email = format!("new-{email}");
            secrets.push(new_email.clone());
            cluster
                .ctl(&session, &["account", "update", "--email", &new_email])
                .await
                .unwrap();
            let shown = cluster.ctl(&session, &["account", "show"]).await.unwrap();
            assert!(
                shown.contains(&format!("email: {new_email} (not confirmed)")),
                "{shown}"
            );
            let refused = cluster
                .ctl(&session, &["enrollment-key", "create"])
                .await
                .unwrap_err();
            assert!(
                format!("{refused:#}").contains("confirm your email"),
                "{refused:#}"
            );
            let code = cluster
                .mailed_code(region, &new_email, "Confirm your email")
                .await;
            cluster
                .ctl(&session, &["account", "confirm", "--token", &code])
                .await
                .unwrap();
            cluster
                .mailed_code_or_notice(region, email, "Your Cairn email address was changed")
                .await;
            let old = cluster
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
                .unwrap_err();
            assert!(
                format!("{old:#}").contains("wrong email or password"),
                "{old:#}"
            );
            cluster
                .ctl(
                    &session,
                    &[
                        "login",
                        "--email",
                        &new_email,
                        "--password",
                        "correct horse battery",
                    ],
                )
                .await
                .unwrap();

            // A member deletes their own account; the company stays.
            let member_email = format!("member-{email}");
            secrets.push(member_email.clone());
            let member_id = uuid::Uuid::now_v7();
            <cairn_entity::regional::user::Entity as EntityTrait>::insert(
                cairn_entity::regional::user::ActiveModel {
                    id: Set(member_id),
                    company_id: Set(uuid::Uuid::parse_str(&company).unwrap()),
                    name: Set("Mo Member".into()),
                    email: Set(member_email.clone()),
                    password_hash: Set(cairn_auth::hash_password("member horse battery").unwrap()),
                    role: Set("member".into()),
                    created_at: Set(chrono::Utc::now()),
                    title: Set("Clerk".into()),
                    username: Set("mo".into()),
                    signup_ip: Set(String::new()),
                    email_confirmed_at: Set(None),
                    marketing_opt_out: Set(false),
                    group_id: Set(None),
                },
            )
            .exec(&db)
            .await
            .unwrap();
            let mut accounts = AccountsServiceClient::new(cluster.channel(region).await);
            let token = accounts
                .login(LoginRequest {
                    email: member_email.clone(),
                    password: "member horse battery".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .access_token
                .unwrap()
                .token;
            let done = accounts
                .delete_account(authed(
                    &token,
                    DeleteAccountRequest {
                        password: "member horse battery".into(),
                        confirm_company_name: String::new(),
                    },
                ))
                .await
                .unwrap()
                .into_inner();
            assert!(!done.company_deleted);
            let gone = <cairn_entity::regional::user::Entity as EntityTrait>::find_by_id(member_id)
                .one(&db)
                .await
                .unwrap();
            assert!(gone.is_none());
            cluster.ctl(&session, &["account", "show"]).await.unwrap();

            // Deletion is confirmed by password and, for the owner, the company name.
            let wrong = cluster
                .ctl(
                    &session,
                    &[
                        "account",
                        "delete",
                        "--password",
                        "not my password",
                        "--company-name",
                        &format!("Papa {country}"),
                    ],
                )
                .await
                .unwrap_err();
            assert!(format!("{wrong:#}").contains("password"), "{wrong:#}");
            let unnamed = cluster
                .ctl(
                    &session,
                    &["account", "delete", "--password", "correct horse battery"],
                )
                .await
                .unwrap_err();
            assert!(
                format!("{unnamed:#}").contains("confirm_company_name"),
                "{unnamed:#}"
            );
            let logins_before = <cairn_entity::directory::login::Entity as EntityTrait>::find()
                .count(&cluster.directory_db().await)
                .await
                .unwrap();
            cluster
                .ctl(
                    &session,
                    &[
                        "account",
                        "delete",
                        "--password",
                        "correct horse battery",
                        "--company-name",
                        &format!("Papa {country}"),
                    ],
                )
                .await
                .unwrap();

            // Nothing left: rows, objects, directory entry, credentials.
            assert_eq!(
                cluster.company_rows(region, &company).await,
                0,
                "{backend:?} {country}"
            );
            assert_eq!(cluster.company_objects(region, &company).await, (0, 0));
            // The directory forgot the owner's login (LocateLogin answers an
            // unknown login like a known one, so its rows are counted).
            assert_eq!(
                <cairn_entity::directory::login::Entity as EntityTrait>::find()
                    .count(&cluster.directory_db().await)
                    .await
                    .unwrap(),
                logins_before - 1,
                "{backend:?} {country}"
            );
            let err = cluster.agent(&agent, &["snapshots"]).await.unwrap_err();
            assert!(
                format!("{err:#}").contains("cannot sign the agent in"),
                "{err:#}"
            );
            let login = cluster
                .ctl(
                    &session,
                    &[
                        "login",
                        "--email",
                        &new_email,
                        "--password",
                        "correct horse battery",
                    ],
                )
                .await
                .unwrap_err();
            assert!(
                format!("{login:#}").contains("wrong email or password"),
                "{login:#}"
            );
            let tombstones = cairn_entity::regional::tombstone::Entity::find()
                .all(&db)
                .await
                .unwrap();
            assert!(tombstones.iter().any(|t| t.kind == "company"));
            assert!(!format!("{tombstones:?}").contains(&company));

            // The other company is untouched.
            let listing = cluster.agent(&other_agent, &["snapshots"]).await.unwrap();
            assert_eq!(listing.lines().count(), 2, "{listing}");
            assert!(cluster.company_rows(region, &other_company).await > 0);
        }
        cluster.stop().await;
    }

    // Tokens and codes are random; check the kinds of secret we know.
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("company deleted"),
        "the log capture saw nothing"
    );
    for secret in secrets {
        assert!(!logged.contains(&secret), "the log contains {secret}");
    }
    for marker in ["crt_", "Bearer ", "eyJ"] {
        assert!(
            !logged.contains(marker),
            "the log contains a token ({marker})"
        );
    }
}

/// Whether any of `needles` is in the bytes of `path`.
fn holds(path: &std::path::Path, needles: &[&str]) -> Option<String> {
    let bytes = fs::read(path).unwrap_or_default();
    needles
        .iter()
        .find(|n| bytes.windows(n.len()).any(|w| w == n.as_bytes()))
        .map(|n| format!("{n} in {}", path.display()))
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Invites `email` into the owner's company as a member named `name`,
/// accepts, logs in; returns the member's session.
async fn member(
    cluster: &Cluster,
    owner: &std::path::Path,
    email: &str,
    name: &str,
) -> std::path::PathBuf {
    cluster
        .ctl(owner, &["users", "invite", email, "--role", "member"])
        .await
        .unwrap();
    let code = cluster
        .mailed_code(Region::Us, email, "Lima invites you")
        .await;
    let session = cluster.path(&format!("{email}.session"));
    let username = format!("{}-member", email.split('@').next().unwrap());
    cluster
        .ctl(
            &session,
            &[
                "invitation",
                "accept",
                "--code",
                &code,
                "--name",
                name,
                "--username",
                &username,
                "--password",
                "member horse battery",
                "--i-am-13-or-older",
            ],
        )
        .await
        .unwrap();
    cluster
        .ctl(
            &session,
            &[
                "login",
                "--email",
                email,
                "--password",
                "member horse battery",
            ],
        )
        .await
        .unwrap();
    session
}

/// A member removed with `--delete-backups` and a member deleting their own
/// account: their machines are revoked, their unused keys enroll nothing,
/// the backups go or stay as decided, and neither the cell's database file
/// nor its mail folder holds their address or their name afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_leaves_leaves_no_trace() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (owner, company) = cluster.signup("Lima", "US", "lee@lima.com", 5).await;
        let data = cluster.path("lima-files");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("notes.txt"), "quarterly notes\n").unwrap();
        let people = [
            ("mo@lima.com", "Mo Membername"),
            ("nia@lima.com", "Nia Removedname"),
        ];
        let mut spare_keys = Vec::new();
        for (email, name) in people {
            let session = member(&cluster, &owner, email, name).await;
            let laptop = cluster
                .enroll(&session, &format!("{}-laptop", &email[..2]))
                .await;
            cluster
                .agent(&laptop, &["backup", data.to_str().unwrap()])
                .await
                .unwrap();
            let spare = cluster
                .ctl(
                    &session,
                    &["enrollment-key", "create", "--ttl-hours", "720"],
                )
                .await
                .unwrap();
            spare_keys.push((session, laptop, spare.trim().to_owned()));
        }
        let listed = cluster
            .ctl(&owner, &["enrollment-key", "list"])
            .await
            .unwrap();
        assert_eq!(listed.matches("  unused  ").count(), 2, "{listed}");
        assert_eq!(listed.matches("  used  ").count(), 2, "{listed}");

        // The admin removes Nia and must say what becomes of her backups.
        let users = cluster.ctl(&owner, &["users", "list"]).await.unwrap();
        let nia = users
            .lines()
            .find(|l| l.contains("nia@lima.com"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_owned();
        let refused = cluster.ctl(&owner, &["users", "remove", &nia]).await;
        assert!(refused.is_err(), "a removal without a choice went through");
        let removed = cluster
            .ctl(&owner, &["users", "remove", &nia, "--delete-backups"])
            .await
            .unwrap();
        assert!(
            removed.contains("1 machines revoked")
                && removed.contains("1 unused enrollment keys revoked")
                && removed.contains("1 snapshots deleted"),
            "{removed}"
        );

        // Mo deletes their own account: their backups stay the company's.
        let (mo_session, mo_laptop, _) = &spare_keys[0];
        cluster
            .ctl(
                mo_session,
                &["account", "delete", "--password", "member horse battery"],
            )
            .await
            .unwrap();

        // Machines revoked, spare keys dead, Mo's snapshot kept, Nia's gone.
        for (_, laptop, spare) in &spare_keys {
            let err = cluster.agent(laptop, &["snapshots"]).await.unwrap_err();
            assert!(
                format!("{err:#}").contains("cannot sign the agent in"),
                "{err:#}"
            );
            let state = cluster.path(&format!("spare-{}", &spare[3..11]));
            let err = cluster
                .agent(&state, &["enroll", "--key", spare, "--hostname", "stolen"])
                .await
                .unwrap_err();
            assert!(format!("{err:#}").contains("revoked"), "{err:#}");
        }
        let _ = mo_laptop;
        let db = cluster.cell_db(Region::Us).await;
        let snapshots = <cairn_entity::regional::snapshot::Entity as EntityTrait>::find()
            .all(&db)
            .await
            .unwrap();
        assert_eq!(snapshots.len(), 1, "{backend:?}");
        assert_eq!(snapshots[0].hostname, "mo-laptop");
        let listed = cluster
            .ctl(&owner, &["enrollment-key", "list"])
            .await
            .unwrap();
        assert_eq!(listed.matches("  revoked  ").count(), 2, "{listed}");
        assert!(cluster.company_rows(Region::Us, &company).await > 0);

        // Nothing of either in the database file or the mail folder.
        let needles: Vec<&str> = people.iter().flat_map(|(e, n)| [*e, *n]).collect();
        let mut found = Vec::new();
        let mail = cluster.config.cell_mail_folder(Region::Us);
        assert!(
            !files_under(&mail).is_empty(),
            "no mail in {}",
            mail.display()
        );
        for file in files_under(&mail) {
            found.extend(holds(&file, &needles));
        }
        if backend == cairn_e2e::Backend::Sqlite {
            let url = cluster
                .config
                .cell_database_url(Region::Us, &cluster.config.cells[&Region::Us]);
            let path = url.strip_prefix("sqlite://").unwrap();
            let path = std::path::PathBuf::from(path.split('?').next().unwrap());
            assert!(
                holds(&path, &["lee@lima.com"]).is_some(),
                "the file was not read"
            );
            for file in [path.clone(), path.with_extension("db-wal")] {
                found.extend(holds(&file, &needles));
            }
        }
        assert!(found.is_empty(), "{backend:?}: {found:?}");
        cluster.stop().await;
    }
}
