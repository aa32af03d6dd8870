//! A connection to one server and the calls made over it: every call gets
//! a deadline and the connection's credential; an idempotent one is retried
//! with backoff; a wrong-region answer is followed to the named cell once.

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tonic::transport::Channel;

use cairn_core::Reason;
use cairn_core::transport::MAX_MESSAGE_SIZE;

use crate::credentials::Header;
use crate::deadline::{Deadline, within};
use crate::{ClientConfig, ClientError, Credentials, retry};

/// Whether a call may run twice without harm. Only idempotent calls are
/// retried; every call may be sent again after a wrong-region answer or a
/// refused (then refreshed) token, because the server did nothing then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, and writes that leave the same state however often they run.
    Idempotent,
    /// Anything that creates, spends or counts.
    NotIdempotent,
}

/// A generated tonic client, built on a channel with the shared
/// message-size limits.
pub trait GrpcClient: Sized {
    fn build(channel: Channel) -> Self;
}

macro_rules! grpc_clients {
    ($($client:path),+ $(,)?) => {
        $(impl GrpcClient for $client {
            fn build(channel: Channel) -> Self {
                <$client>::new(channel)
                    .max_decoding_message_size(MAX_MESSAGE_SIZE)
                    .max_encoding_message_size(MAX_MESSAGE_SIZE)
            }
        })+
    };
}

grpc_clients!(
    cairn_proto::accounts::v1::accounts_service_client::AccountsServiceClient<Channel>,
    cairn_proto::accounts::v1::users_service_client::UsersServiceClient<Channel>,
    cairn_proto::orgs::v1::orgs_service_client::OrgsServiceClient<Channel>,
    cairn_proto::backup::v1::backup_service_client::BackupServiceClient<Channel>,
    cairn_proto::directory::v1::directory_service_client::DirectoryServiceClient<Channel>,
);

struct Target {
    endpoint: String,
    channel: Channel,
}

/// One server, its credential and the options of every call to it; cheap
/// to clone (clones share the channel and the credential).
#[derive(Clone)]
pub struct Connection {
    config: ClientConfig,
    target: Arc<RwLock<Target>>,
    credentials: Option<Credentials>,
}

impl Connection {
    /// Connects on first use: the server may start after this process.
    pub fn lazy(config: ClientConfig) -> Result<Connection, ClientError> {
        let channel = config.connect_lazy()?;
        Ok(Connection::on(config, channel))
    }

    /// Connects now, so that an unreachable server is reported at once.
    pub async fn connect(config: ClientConfig) -> Result<Connection, ClientError> {
        let channel = config.connect().await?;
        Ok(Connection::on(config, channel))
    }

    fn on(config: ClientConfig, channel: Channel) -> Connection {
        let target = Target {
            endpoint: config.endpoint.clone(),
            channel,
        };
        Connection {
            config,
            target: Arc::new(RwLock::new(target)),
            credentials: None,
        }
    }

    /// Every call sends (and refreshes) `credentials`.
    pub fn with_credentials(mut self, credentials: Credentials) -> Connection {
        self.credentials = Some(credentials);
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The server calls go to now (another cell's after a redirect).
    pub fn endpoint(&self) -> String {
        self.read_target().endpoint.clone()
    }

    /// The channel, for calls made with a generated client directly.
    pub fn channel(&self) -> Channel {
        self.read_target().channel.clone()
    }

    /// A generated client on this connection's channel, with the shared
    /// message-size limits (no deadline, no credential: see [`Self::unary`]).
    pub fn client<C: GrpcClient>(&self) -> C {
        C::build(self.channel())
    }

    fn read_target(&self) -> std::sync::RwLockReadGuard<'_, Target> {
        self.target.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `message` through `rpc` with the unary deadline: for example
    /// `conn.unary(Idempotency::Idempotent, req, |mut c: OrgsServiceClient<Channel>, r| async move { c.get_company(r).await })`.
    pub async fn unary<C, Req, Resp, F, Fut>(
        &self,
        idempotency: Idempotency,
        message: Req,
        rpc: F,
    ) -> Result<Resp, ClientError>
    where
        C: GrpcClient,
        Req: Clone,
        F: Fn(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let budget = self.config.unary_timeout;
        let attempt = || self.redirected_once(budget, &message, &rpc);
        match idempotency {
            Idempotency::Idempotent => retry::idempotent(&self.config.retry, attempt).await,
            Idempotency::NotIdempotent => attempt().await,
        }
    }

    /// A streaming call (its request or its answer a stream), sent once
    /// with the caller's deadline covering `rpc` as a whole: a stream cannot
    /// be replayed, so it is neither retried nor redirected. The credential
    /// is refreshed before the stream starts when it is close to expiry.
    pub async fn stream<C, Req, T, F, Fut>(
        &self,
        deadline: Deadline,
        message: Req,
        rpc: F,
    ) -> Result<T, ClientError>
    where
        C: GrpcClient,
        F: FnOnce(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let mut request = tonic::Request::new(message);
        if let Some(credentials) = &self.credentials {
            let header = credentials.header().await?;
            request.metadata_mut().insert("authorization", header.value);
        }
        let budget = deadline.budget();
        tokio::time::timeout(budget, rpc(self.client(), request))
            .await
            .unwrap_or_else(|_elapsed| Err(ClientError::deadline_exceeded(budget)))
    }

    /// One attempt, and one more at the cell a wrong-region answer names;
    /// a second redirect is returned as the error it is.
    async fn redirected_once<C, Req, Resp, F, Fut>(
        &self,
        budget: Duration,
        message: &Req,
        rpc: &F,
    ) -> Result<Resp, ClientError>
    where
        C: GrpcClient,
        Req: Clone,
        F: Fn(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        match self.authed(self.channel(), budget, message, rpc).await {
            Err(err) if err.reason() == Some(Reason::WrongRegion) => {
                let Some(endpoint) = err.redirect().map(str::to_owned) else {
                    return Err(err);
                };
                let channel = self.follow(&endpoint)?;
                self.authed(channel, budget, message, rpc).await
            }
            other => other,
        }
    }

    /// Points this connection (and its clones) at `endpoint` from now on.
    fn follow(&self, endpoint: &str) -> Result<Channel, ClientError> {
        let channel = self.config.for_endpoint(endpoint).connect_lazy()?;
        tracing::debug!(from = %self.endpoint(), to = %endpoint, "following wrong-region redirect");
        let mut target = self.target.write().unwrap_or_else(PoisonError::into_inner);
        *target = Target {
            endpoint: endpoint.to_owned(),
            channel: channel.clone(),
        };
        Ok(channel)
    }

    /// One attempt with the current token, and one more with a refreshed
    /// token when the server refused it. When the refresh fails too, the
    /// server's refusal is what the caller sees.
    async fn authed<C, Req, Resp, F, Fut>(
        &self,
        channel: Channel,
        budget: Duration,
        message: &Req,
        rpc: &F,
    ) -> Result<Resp, ClientError>
    where
        C: GrpcClient,
        Req: Clone,
        F: Fn(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let Some(credentials) = &self.credentials else {
            return once(channel, None, budget, message, rpc).await;
        };
        let header = credentials.header().await?;
        let refused = match once(channel.clone(), Some(&header), budget, message, rpc).await {
            Err(err) if err.code() == tonic::Code::Unauthenticated => err,
            other => return other,
        };
        match credentials.refresh_after_rejection(&header).await {
            Ok(fresh) => once(channel, Some(&fresh), budget, message, rpc).await,
            Err(why) => {
                tracing::debug!(error = %why, "token refresh after refusal failed");
                Err(refused)
            }
        }
    }
}

async fn once<C, Req, Resp, F, Fut>(
    channel: Channel,
    header: Option<&Header>,
    budget: Duration,
    message: &Req,
    rpc: &F,
) -> Result<Resp, ClientError>
where
    C: GrpcClient,
    Req: Clone,
    F: Fn(C, tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
{
    let mut request = tonic::Request::new(message.clone());
    if let Some(header) = header {
        request
            .metadata_mut()
            .insert("authorization", header.value.clone());
    }
    within(budget, rpc(C::build(channel), request)).await
}
