//! Bearer credentials and their refresh: a user's session (access token and
//! rotating refresh token), an agent's machine credential, or a token the
//! caller mints itself (a cell's token to the directory).
//!
//! The current token sits behind a `std::sync::RwLock` so that the
//! synchronous [`Bearer`] interceptor reads it without waiting; refreshing
//! is serialised by an async mutex so that concurrent calls refresh once.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::Channel;

use cairn_proto::accounts::v1::{RefreshRequest, accounts_service_client::AccountsServiceClient};
use cairn_proto::orgs::v1::{AgentTokenRequest, orgs_service_client::OrgsServiceClient};

use crate::{ClientConfig, ClientError, retry};

/// A token is replaced when it has less than this left: a call that starts
/// just before `exp` must not arrive just after it.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// An access token and its expiry (seconds since the Unix epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: i64,
}

impl AccessToken {
    fn from_proto(
        token: Option<cairn_proto::common::v1::AccessToken>,
    ) -> Result<Self, ClientError> {
        let token = token.ok_or(ClientError::MissingField {
            field: "access_token",
        })?;
        Ok(AccessToken {
            token: token.token,
            expires_at: token.expires_at,
        })
    }
}

/// What a session refresh returns: the new access token and the refresh
/// token that replaces the one just spent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionTokens {
    pub access: AccessToken,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
}

/// Spends `refresh_token` once through AccountsService.Refresh. Never
/// retried: the server may have rotated the token before an answer was lost.
pub async fn refresh_session(
    config: &ClientConfig,
    channel: Channel,
    refresh_token: &str,
) -> Result<SessionTokens, ClientError> {
    let request = tonic::Request::new(RefreshRequest {
        refresh_token: refresh_token.to_owned(),
    });
    let mut client = AccountsServiceClient::new(channel);
    let next = crate::deadline::within(config.unary_timeout, client.refresh(request)).await?;
    Ok(SessionTokens {
        access: AccessToken::from_proto(next.access_token)?,
        refresh_token: next.refresh_token,
        refresh_expires_at: next.refresh_expires_at,
    })
}

/// Told about every rotation, so that the caller can save the session.
pub type OnRotate = Box<dyn Fn(&SessionTokens) -> Result<(), String> + Send + Sync>;

/// Where new tokens come from.
enum Source {
    Session {
        config: ClientConfig,
        channel: Channel,
        refresh_token: Mutex<String>,
        on_rotate: Option<OnRotate>,
    },
    Agent {
        config: ClientConfig,
        channel: Channel,
        agent_id: String,
        credential: String,
    },
    Mint(Box<dyn Fn() -> Result<AccessToken, ClientError> + Send + Sync>),
}

impl Source {
    async fn fetch(&self) -> Result<AccessToken, ClientError> {
        match self {
            Source::Session {
                config,
                channel,
                refresh_token,
                on_rotate,
            } => {
                let spent = refresh_token
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                let next = refresh_session(config, channel.clone(), &spent).await?;
                *refresh_token.lock().unwrap_or_else(PoisonError::into_inner) =
                    next.refresh_token.clone();
                if let Some(hook) = on_rotate {
                    hook(&next).map_err(ClientError::Credential)?;
                }
                Ok(next.access)
            }
            Source::Agent {
                config,
                channel,
                agent_id,
                credential,
            } => {
                // Exchanging the machine credential changes nothing on the
                // server: safe to retry.
                retry::idempotent(&config.retry, || async {
                    let request = tonic::Request::new(AgentTokenRequest {
                        agent_id: agent_id.clone(),
                        credential: credential.clone(),
                    });
                    let mut client = OrgsServiceClient::new(channel.clone());
                    let answer =
                        crate::deadline::within(config.unary_timeout, client.agent_token(request))
                            .await?;
                    AccessToken::from_proto(answer.access_token)
                })
                .await
            }
            Source::Mint(mint) => mint(),
        }
    }
}

struct Current {
    header: MetadataValue<Ascii>,
    expires_at: i64,
    generation: u64,
}

struct Inner {
    source: Source,
    current: RwLock<Option<Current>>,
    refreshing: tokio::sync::Mutex<()>,
}

/// A credential shared by every call of a connection; cheap to clone.
#[derive(Clone)]
pub struct Credentials {
    inner: Arc<Inner>,
}

/// The token to send and which refresh produced it.
pub(crate) struct Header {
    pub(crate) value: MetadataValue<Ascii>,
    generation: u64,
}

impl Credentials {
    fn new(source: Source, initial: Option<AccessToken>) -> Result<Credentials, ClientError> {
        let current = initial
            .map(|token| {
                Ok::<_, ClientError>(Current {
                    header: bearer(&token.token)?,
                    expires_at: token.expires_at,
                    generation: 0,
                })
            })
            .transpose()?;
        Ok(Credentials {
            inner: Arc::new(Inner {
                source,
                current: RwLock::new(current),
                refreshing: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// A user's session at the cell `config` names: `access` is used until
    /// shortly before it expires, then `refresh_token` is spent for a new
    /// pair and `on_rotate` told about it.
    pub fn user_session(
        config: &ClientConfig,
        access: AccessToken,
        refresh_token: String,
        on_rotate: Option<OnRotate>,
    ) -> Result<Credentials, ClientError> {
        let source = Source::Session {
            config: config.clone(),
            channel: config.connect_lazy()?,
            refresh_token: Mutex::new(refresh_token),
            on_rotate,
        };
        Credentials::new(source, Some(access))
    }

    /// An enrolled agent: its machine credential is exchanged through
    /// OrgsService.AgentToken on first use and again before each expiry.
    pub fn agent(
        config: &ClientConfig,
        agent_id: String,
        credential: String,
    ) -> Result<Credentials, ClientError> {
        let source = Source::Agent {
            config: config.clone(),
            channel: config.connect_lazy()?,
            agent_id,
            credential,
        };
        Credentials::new(source, None)
    }

    /// Tokens the caller mints itself, e.g. a cell signing its own token
    /// for the directory.
    pub fn minted(
        mint: impl Fn() -> Result<AccessToken, ClientError> + Send + Sync + 'static,
    ) -> Result<Credentials, ClientError> {
        Credentials::new(Source::Mint(Box::new(mint)), None)
    }

    /// A fixed token that is never refreshed.
    pub fn fixed(token: &str) -> Result<Credentials, ClientError> {
        let token = AccessToken {
            token: token.to_owned(),
            expires_at: i64::MAX,
        };
        let source = Source::Mint(Box::new(|| {
            Err(ClientError::Credential(
                "a fixed token cannot be refreshed".into(),
            ))
        }));
        Credentials::new(source, Some(token))
    }

    /// The token to send now, refreshed first when it is about to expire.
    pub(crate) async fn header(&self) -> Result<Header, ClientError> {
        if let Some(header) = self.fresh() {
            return Ok(header);
        }
        let _one_refresh = self.inner.refreshing.lock().await;
        if let Some(header) = self.fresh() {
            return Ok(header);
        }
        self.replace().await
    }

    /// After the server refused the token `rejected` carried: refreshes,
    /// unless a concurrent call already did.
    pub(crate) async fn refresh_after_rejection(
        &self,
        rejected: &Header,
    ) -> Result<Header, ClientError> {
        let _one_refresh = self.inner.refreshing.lock().await;
        match self.read() {
            Some(header) if header.generation != rejected.generation => Ok(header),
            _ => self.replace().await,
        }
    }

    /// Makes sure a valid token is in place, for calls that go through the
    /// [`Bearer`] interceptor rather than through [`crate::Connection`].
    pub async fn ensure_fresh(&self) -> Result<(), ClientError> {
        self.header().await.map(|_| ())
    }

    /// A synchronous interceptor sending the current token.
    pub fn interceptor(&self) -> Bearer {
        Bearer {
            credentials: self.clone(),
        }
    }

    fn read(&self) -> Option<Header> {
        let current = self
            .inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map(|c| Header {
            value: c.header.clone(),
            generation: c.generation,
        })
    }

    fn fresh(&self) -> Option<Header> {
        let margin = REFRESH_MARGIN.as_secs() as i64;
        let current = self
            .inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|c| c.expires_at > cairn_core::unix_now().saturating_add(margin))
            .map(|c| Header {
                value: c.header.clone(),
                generation: c.generation,
            })
    }

    /// Fetches a new token; the caller holds `refreshing`.
    async fn replace(&self) -> Result<Header, ClientError> {
        let token = self.inner.source.fetch().await?;
        let header = bearer(&token.token)?;
        let mut current = self
            .inner
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let generation = current.as_ref().map_or(1, |c| c.generation + 1);
        tracing::debug!(expires_at = token.expires_at, "access token replaced");
        *current = Some(Current {
            header: header.clone(),
            expires_at: token.expires_at,
            generation,
        });
        Ok(Header {
            value: header,
            generation,
        })
    }
}

/// `authorization: Bearer <token>` as metadata.
pub fn bearer(token: &str) -> Result<MetadataValue<Ascii>, ClientError> {
    MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| ClientError::Credential("the token is not valid metadata".into()))
}

/// `message` as a request carrying `token`.
pub fn with_bearer<T>(token: &str, message: T) -> Result<tonic::Request<T>, ClientError> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer(token)?);
    Ok(request)
}

/// Sends the credential's current token. It never refreshes (it cannot
/// wait): call [`Credentials::ensure_fresh`] before a long stream.
#[derive(Clone)]
pub struct Bearer {
    credentials: Credentials,
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let header = self
            .credentials
            .read()
            .ok_or_else(|| tonic::Status::unauthenticated("no access token yet"))?;
        request.metadata_mut().insert("authorization", header.value);
        Ok(request)
    }
}
