//! The saved login: access token, refresh token and the cell that issued them.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use cairn_proto::accounts::v1::{RefreshRequest, accounts_service_client::AccountsServiceClient};

use crate::connect;

#[derive(Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) endpoint: String,
    pub(crate) token: String,
    pub(crate) expires_at: i64,
    pub(crate) company_id: String,
    pub(crate) refresh_token: String,
}

pub(crate) fn save_session(path: &Path, session: &Session) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(path);
    cairn_core::secret::write_private(path, &serde_json::to_vec(session)?)?;
    Ok(())
}

/// The saved session, refreshed (and saved again) when its access token is
/// about to expire.
pub(crate) async fn load_session(path: &Path) -> anyhow::Result<Session> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "not logged in ({} is missing): run `cairnctl login`",
            path.display()
        )
    })?;
    let mut session: Session =
        serde_json::from_str(&text).context("the session file is damaged: log in again")?;
    if session.expires_at > cairn_core::unix_now() + 30 {
        return Ok(session);
    }
    let next = AccountsServiceClient::new(connect(&session.endpoint).await?)
        .refresh(RefreshRequest {
            refresh_token: session.refresh_token.clone(),
        })
        .await
        .map_err(|s| {
            anyhow::anyhow!(
                "the session has ended ({}): run `cairnctl login`",
                s.message()
            )
        })?
        .into_inner();
    let token = next.access_token.context("the server returned no token")?;
    session.token = token.token;
    session.expires_at = token.expires_at;
    session.refresh_token = next.refresh_token;
    save_session(path, &session)?;
    Ok(session)
}

pub(crate) fn authed<T>(session: &Session, message: T) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", session.token).parse()?,
    );
    Ok(request)
}
