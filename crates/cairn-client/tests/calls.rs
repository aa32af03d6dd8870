//! The client layer against real tonic servers on loopback: redirects,
//! retries, deadlines, credentials and typed reasons.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use cairn_client::{
    AccessToken, ClientConfig, Connection, Credentials, Directory, Idempotency, RetryPolicy,
};
use cairn_core::{ERROR_DOMAIN, REGION_ENDPOINT_METADATA, Reason};
use cairn_proto::directory::v1::{
    RegisterLoginRequest, directory_service_client::DirectoryServiceClient,
};

use support::{Answer, Script};

/// Retries without waiting long, so that tests stay quick.
fn quick(endpoint: &str) -> ClientConfig {
    ClientConfig::new(endpoint).with_retry(RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_total_delay: Duration::from_secs(5),
        max_server_delay: Duration::from_secs(5),
    })
}

/// A status as a Cairn server sends it: ErrorInfo, and RetryInfo if given.
fn cairn_status(
    code: Code,
    reason: Reason,
    retry: Option<Duration>,
    meta: &[(&str, &str)],
) -> Status {
    let metadata: HashMap<String, String> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut details = ErrorDetails::with_error_info(reason.as_str(), ERROR_DOMAIN, metadata);
    if let Some(delay) = retry {
        details.set_retry_info(Some(delay));
    }
    Status::with_error_details(code, format!("{reason} in a test"), details)
}

fn wrong_region(endpoint: &str) -> Status {
    let mut status = cairn_status(
        Code::FailedPrecondition,
        Reason::WrongRegion,
        None,
        &[(REGION_ENDPOINT_METADATA, endpoint)],
    );
    status
        .metadata_mut()
        .insert(REGION_ENDPOINT_METADATA, endpoint.parse().unwrap());
    status
}

fn register(conn: &Connection) -> impl Future<Output = Result<(), cairn_client::ClientError>> + '_ {
    let request = RegisterLoginRequest {
        login: "pat@example.com".into(),
        company_id: "c".into(),
    };
    async move {
        conn.unary(
            Idempotency::NotIdempotent,
            request,
            |mut c: DirectoryServiceClient<Channel>, r| async move { c.register_login(r).await },
        )
        .await
        .map(|_| ())
    }
}

#[tokio::test]
async fn a_wrong_region_redirect_is_followed_once() {
    let us = Arc::new(Script::default());
    let us_server = support::directory(us.clone()).await;
    let eu = Arc::new(Script::default());
    eu.then(Answer::Fail(wrong_region(&us_server.endpoint)));
    let eu_server = support::directory(eu.clone()).await;
    us.then(Answer::Cell("http://us-cell.example:7401".into()));

    let directory = Directory::lazy(quick(&eu_server.endpoint)).unwrap();
    let found = directory.locate_login("pat@example.com").await.unwrap();
    assert_eq!(found, "http://us-cell.example:7401");
    assert_eq!((eu.calls(), us.calls()), (1, 1));
    // Later calls go straight to the cell the redirect named.
    assert_eq!(directory.connection().endpoint(), us_server.endpoint);
}

#[tokio::test]
async fn a_second_redirect_is_not_followed() {
    let us = Arc::new(Script::default());
    let us_server = support::directory(us.clone()).await;
    let eu = Arc::new(Script::default());
    let eu_server = support::directory(eu.clone()).await;
    eu.then(Answer::Fail(wrong_region(&us_server.endpoint)));
    us.then(Answer::Fail(wrong_region(&eu_server.endpoint)));

    let directory = Directory::lazy(quick(&eu_server.endpoint)).unwrap();
    let err = directory.locate_login("pat@example.com").await.unwrap_err();
    assert_eq!(err.reason(), Some(Reason::WrongRegion));
    assert_eq!(err.redirect(), Some(eu_server.endpoint.as_str()));
    assert_eq!((eu.calls(), us.calls()), (1, 1));
}

#[tokio::test]
async fn an_idempotent_call_is_retried_after_unavailable() {
    let script = Arc::new(Script::default());
    script
        .then(Answer::Fail(Status::unavailable("restarting")))
        .then(Answer::Fail(Status::unavailable("restarting")))
        .then(Answer::Cell("http://eu-cell.example:7401".into()));
    let server = support::directory(script.clone()).await;

    let directory = Directory::lazy(quick(&server.endpoint)).unwrap();
    let found = directory.resolve_country("IE").await.unwrap();
    assert_eq!(found, "http://eu-cell.example:7401");
    assert_eq!(script.calls(), 3);
}

#[tokio::test]
async fn retries_stop_at_the_policy_bound() {
    let script = Arc::new(Script::default());
    for _ in 0..10 {
        script.then(Answer::Fail(Status::unavailable("down")));
    }
    let server = support::directory(script.clone()).await;

    let directory = Directory::lazy(quick(&server.endpoint)).unwrap();
    let err = directory.resolve_country("IE").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(script.calls(), 4, "the first attempt and 3 retries");
}

#[tokio::test]
async fn a_non_idempotent_call_is_not_retried() {
    let script = Arc::new(Script::default());
    script.then(Answer::Fail(Status::unavailable("restarting")));
    let server = support::directory(script.clone()).await;

    let conn = Connection::lazy(quick(&server.endpoint)).unwrap();
    let err = register(&conn).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.is_retryable());
    assert_eq!(script.calls(), 1);
}

#[tokio::test]
async fn rate_limited_waits_the_servers_delay_not_the_backoff() {
    let script = Arc::new(Script::default());
    script
        .then(Answer::Fail(cairn_status(
            Code::ResourceExhausted,
            Reason::RateLimited,
            Some(Duration::from_millis(20)),
            &[],
        )))
        .then(Answer::Cell("http://eu-cell.example:7401".into()));
    let server = support::directory(script.clone()).await;

    // The backoff alone would wait an hour before the retry: only the
    // server's 20 ms RetryInfo lets the second attempt happen in time.
    let config = ClientConfig::new(&server.endpoint).with_retry(RetryPolicy {
        max_retries: 2,
        min_delay: Duration::from_secs(3600),
        max_delay: Duration::from_secs(3600),
        max_total_delay: Duration::from_secs(7200),
        max_server_delay: Duration::from_secs(5),
    });
    let directory = Directory::lazy(config).unwrap();
    let found = tokio::time::timeout(
        Duration::from_secs(60),
        directory.locate_login("a@b.example"),
    )
    .await
    .expect("the retry waited for the backoff, not for RetryInfo")
    .unwrap();
    assert_eq!(found, "http://eu-cell.example:7401");
    assert_eq!(script.calls(), 2);
}

#[tokio::test]
async fn a_longer_server_delay_than_allowed_is_returned_not_slept() {
    let script = Arc::new(Script::default());
    script.then(Answer::Fail(cairn_status(
        Code::ResourceExhausted,
        Reason::RateLimited,
        Some(Duration::from_secs(900)),
        &[],
    )));
    let server = support::directory(script.clone()).await;

    let directory = Directory::lazy(quick(&server.endpoint)).unwrap();
    let err = directory.locate_login("a@b.example").await.unwrap_err();
    assert_eq!(err.reason(), Some(Reason::RateLimited));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(900)));
    assert_eq!(script.calls(), 1);
}

#[tokio::test]
async fn a_stalled_server_hits_the_deadline() {
    let script = Arc::new(Script::default());
    script.then(Answer::Stall);
    let server = support::directory(script.clone()).await;

    let config = quick(&server.endpoint).with_unary_timeout(Duration::from_millis(300));
    let directory = Directory::lazy(config).unwrap();
    let err = directory.locate_login("a@b.example").await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(!err.is_retryable());
    assert_eq!(script.calls(), 1);
}

#[tokio::test]
async fn a_token_close_to_expiry_is_refreshed_before_the_call() {
    let script = Arc::new(Script::default());
    let refreshes = Arc::new(support::Refreshes::default());
    let server = support::serve(script.clone(), refreshes.clone()).await;
    let rotated = Arc::new(Mutex::new(Vec::new()));
    let seen = rotated.clone();

    let config = quick(&server.endpoint);
    let credentials = Credentials::user_session(
        &config,
        AccessToken {
            token: "token-0".into(),
            expires_at: cairn_core::unix_now() + 5,
        },
        "refresh-0".into(),
        Some(Box::new(move |next: &cairn_client::SessionTokens| {
            seen.lock().unwrap().push(next.refresh_token.clone());
            Ok(())
        })),
    )
    .unwrap();
    let conn = Connection::lazy(config)
        .unwrap()
        .with_credentials(credentials);
    register(&conn).await.unwrap();
    register(&conn).await.unwrap();

    assert_eq!(*refreshes.spent.lock().unwrap(), ["refresh-0"]);
    assert_eq!(*rotated.lock().unwrap(), ["refresh-1"]);
    assert_eq!(
        *script.seen.lock().unwrap(),
        ["Bearer token-1", "Bearer token-1"]
    );
}

#[tokio::test]
async fn unauthenticated_triggers_one_refresh_and_one_retry() {
    let script = Arc::new(Script::default());
    *script.require.lock().unwrap() = Some("Bearer token-1".into());
    let refreshes = Arc::new(support::Refreshes::default());
    let server = support::serve(script.clone(), refreshes.clone()).await;

    let config = quick(&server.endpoint);
    let credentials = Credentials::user_session(
        &config,
        AccessToken {
            token: "token-0".into(),
            expires_at: cairn_core::unix_now() + 3600,
        },
        "refresh-0".into(),
        None,
    )
    .unwrap();
    let conn = Connection::lazy(config)
        .unwrap()
        .with_credentials(credentials);
    // Not idempotent: a refused token means the server did nothing.
    register(&conn).await.unwrap();
    assert_eq!(*refreshes.spent.lock().unwrap(), ["refresh-0"]);
    assert_eq!(
        *script.seen.lock().unwrap(),
        ["Bearer token-0", "Bearer token-1"]
    );

    // A server that refuses the new token too gets no third attempt.
    *script.require.lock().unwrap() = Some("Bearer nobody".into());
    let err = register(&conn).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(refreshes.spent.lock().unwrap().len(), 2);
    assert_eq!(script.calls(), 4);
}

#[tokio::test]
async fn minted_tokens_are_reused_until_close_to_expiry() {
    let script = Arc::new(Script::default());
    let server = support::directory(script.clone()).await;
    let minted = Arc::new(Mutex::new(0));
    let count = minted.clone();
    let credentials = Credentials::minted(move || {
        let mut n = count.lock().unwrap();
        *n += 1;
        Ok(AccessToken {
            token: format!("cell-{n}"),
            expires_at: cairn_core::unix_now() + 300,
        })
    })
    .unwrap();
    let conn = Connection::lazy(quick(&server.endpoint))
        .unwrap()
        .with_credentials(credentials);
    register(&conn).await.unwrap();
    register(&conn).await.unwrap();
    assert_eq!(*minted.lock().unwrap(), 1);
    assert_eq!(
        *script.seen.lock().unwrap(),
        ["Bearer cell-1", "Bearer cell-1"]
    );
}

#[tokio::test]
async fn the_typed_error_carries_the_reason() {
    let script = Arc::new(Script::default());
    script.then(Answer::Fail(cairn_status(
        Code::ResourceExhausted,
        Reason::QuotaExceeded,
        None,
        &[],
    )));
    let server = support::directory(script.clone()).await;

    let conn = Connection::lazy(quick(&server.endpoint)).unwrap();
    let err = register(&conn).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(err.reason(), Some(Reason::QuotaExceeded));
    assert_eq!(err.message(), "QUOTA_EXCEEDED in a test");
    assert!(!err.is_retryable());

    // The status the server sent still decodes as a Cairn status.
    let again = cairn_status(Code::ResourceExhausted, Reason::QuotaExceeded, None, &[]);
    assert!(again.get_details_error_info().is_some());
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let conn =
        Connection::lazy(ClientConfig::new(&endpoint).with_retry(RetryPolicy::never())).unwrap();
    let err = register(&conn).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
}

#[test]
fn tls_is_refused_until_it_is_built() {
    let err = ClientConfig::new("https://eu.cairn.example")
        .connect_lazy()
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
}
