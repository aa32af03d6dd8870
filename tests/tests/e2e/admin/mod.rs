//! Company administration: the role matrix, invitations, groups and their
//! policies (an excluded *.mp3 stays out of the snapshot), quotas refusing an
//! upload mid-backup with nothing partial committed, usage matching the
//! bucket, idle-agent alerts sent exactly once, and the agent daemon
//! following a changed policy at its next check-in.

#![allow(clippy::unwrap_used)]

mod policies;
mod roles;

use std::path::Path;

use tonic::Code;

use cairn_core::Region;
use cairn_e2e::Cluster;

const PASSWORD: &str = "correct horse battery";

/// Invites `email` as `role`, accepts the mailed invitation, logs in.
async fn invite(
    cluster: &Cluster,
    owner: &Path,
    region: Region,
    email: &str,
    role: &str,
) -> std::path::PathBuf {
    cluster
        .ctl(owner, &["users", "invite", email, "--role", role])
        .await
        .unwrap();
    let code = cluster
        .mailed_code(region, email, "Rolly invites you")
        .await;
    let session = cluster.path(&format!("{email}.session"));
    let username = email.split('@').next().unwrap();
    let accepted = cluster
        .ctl(
            &session,
            &[
                "invitation",
                "accept",
                "--code",
                &code,
                "--name",
                "Invited Person",
                "--username",
                username,
                "--password",
                PASSWORD,
                "--i-am-13-or-older",
            ],
        )
        .await
        .unwrap();
    assert!(accepted.contains("account"), "{accepted}");
    // The code is spent.
    let again = cluster
        .ctl(
            &session,
            &[
                "invitation",
                "accept",
                "--code",
                &code,
                "--name",
                "Someone Else",
                "--username",
                "other",
                "--password",
                PASSWORD,
                "--i-am-13-or-older",
            ],
        )
        .await
        .unwrap_err();
    assert!(
        format!("{again:#}").contains("FailedPrecondition"),
        "{again:#}"
    );
    cluster
        .ctl(
            &session,
            &["login", "--email", email, "--password", PASSWORD],
        )
        .await
        .unwrap();
    session
}

fn code<T: std::fmt::Debug>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}
