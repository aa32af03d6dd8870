//! The saved login: access token, refresh token and the cell that issued them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use cairn_client::{AccessToken, ClientConfig, Connection, Credentials, SessionTokens};

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) endpoint: String,
    pub(crate) token: String,
    pub(crate) expires_at: i64,
    pub(crate) company_id: String,
    pub(crate) refresh_token: String,
}

impl Session {
    fn rotated(&self, next: &SessionTokens) -> Session {
        Session {
            token: next.access.token.clone(),
            expires_at: next.access.expires_at,
            refresh_token: next.refresh_token.clone(),
            ..self.clone()
        }
    }
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
    let session: Session =
        serde_json::from_str(&text).context("the session file is damaged: log in again")?;
    if session.expires_at > cairn_core::unix_now() + 30 {
        return Ok(session);
    }
    let config = ClientConfig::new(&session.endpoint);
    let channel = config.connect().await?;
    let next = cairn_client::refresh_session(&config, channel, &session.refresh_token)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "the session has ended ({}): run `cairnctl login`",
                e.message()
            )
        })?;
    let session = session.rotated(&next);
    save_session(path, &session)?;
    Ok(session)
}

/// The saved session and a connection to its cell that sends its token,
/// refreshes it when the cell refuses it and saves every rotation.
pub(crate) async fn session_connection(path: &Path) -> anyhow::Result<(Session, Connection)> {
    let session = load_session(path).await?;
    let config = ClientConfig::new(&session.endpoint);
    let saved = session.clone();
    let file: PathBuf = path.to_owned();
    let credentials = Credentials::user_session(
        &config,
        AccessToken {
            token: session.token.clone(),
            expires_at: session.expires_at,
        },
        session.refresh_token.clone(),
        Some(Box::new(move |next: &SessionTokens| {
            save_session(&file, &saved.rotated(next)).map_err(|e| format!("{e:#}"))
        })),
    )?;
    let connection = Connection::connect(config)
        .await?
        .with_credentials(credentials);
    Ok((session, connection))
}
