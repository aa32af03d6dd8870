//! Deadlines: every call has one, kept on the client side.

use std::future::Future;
use std::time::Duration;

use crate::ClientError;

/// The deadline of a whole stream, chosen by the caller from the work it
/// carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(Duration);

impl Deadline {
    pub fn after(budget: Duration) -> Deadline {
        Deadline(budget)
    }

    /// Long enough to move `bytes` at `min_bytes_per_sec`, and never less
    /// than `floor`: a server slower than that is treated as stalled.
    pub fn for_transfer(bytes: u64, min_bytes_per_sec: u64, floor: Duration) -> Deadline {
        let secs = bytes / min_bytes_per_sec.max(1) + 1;
        Deadline(floor.max(Duration::from_secs(secs)))
    }

    pub fn budget(self) -> Duration {
        self.0
    }
}

/// Runs one call within `budget`, turning a passed deadline into
/// DEADLINE_EXCEEDED. The deadline is kept on this side rather than sent as
/// `grpc-timeout`: tonic answers an expired `grpc-timeout` as CANCELLED,
/// which would race this and hide the reason. Dropping the call on expiry
/// resets the HTTP/2 stream, which cancels the handler on the server.
pub(crate) async fn within<T, Fut>(budget: Duration, call: Fut) -> Result<T, ClientError>
where
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    match tokio::time::timeout(budget, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(ClientError::from(status)),
        Err(_elapsed) => Err(ClientError::deadline_exceeded(budget)),
    }
}
