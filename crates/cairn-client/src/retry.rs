//! Retrying idempotent calls: exponential backoff with jitter from
//! `backon`, bounded in attempts and total delay, the server's RetryInfo
//! (or `retry-after`) taking the place of the computed delay.

use std::future::Future;

use backon::Retryable;

use crate::{ClientError, RetryPolicy};

/// Runs `op` until it succeeds, fails with an error that is not
/// retryable, or the policy's bounds are reached. Only for calls that may
/// run twice without harm.
pub(crate) async fn idempotent<T, F, Fut>(policy: &RetryPolicy, op: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let max_server_delay = policy.max_server_delay;
    op.retry(policy.backoff())
        .when(move |err: &ClientError| {
            err.is_retryable()
                && err
                    .retry_after()
                    .is_none_or(|asked| asked <= max_server_delay)
        })
        .adjust(|err: &ClientError, computed| {
            computed.map(|computed| err.retry_after().unwrap_or(computed))
        })
        .notify(|err: &ClientError, delay| {
            tracing::debug!(
                code = ?err.code(),
                reason = ?err.reason(),
                delay_ms = delay.as_millis() as u64,
                "retrying idempotent call"
            );
        })
        .await
}
