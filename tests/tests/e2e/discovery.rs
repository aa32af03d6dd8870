//! Every listener answers gRPC health checks and server reflection, so a
//! stock gRPC client can discover and call Cairn.

#![allow(clippy::unwrap_used)]

use cairn_e2e::{Backend, Cluster};
use futures::StreamExt;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

async fn services(endpoint: &str) -> Vec<String> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    match responses
        .next()
        .await
        .unwrap()
        .unwrap()
        .message_response
        .unwrap()
    {
        MessageResponse::ListServicesResponse(list) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

async fn serving(endpoint: &str, service: &str) -> bool {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    status == ServingStatus::Serving as i32
}

#[tokio::test]
async fn health_and_reflection_on_every_listener() {
    let cluster = Cluster::start(Backend::Sqlite).await;
    let directory = services(&cluster.directory).await;
    assert!(
        directory.contains(&"cairn.directory.v1.DirectoryService".to_owned()),
        "{directory:?}"
    );
    assert!(directory.contains(&"grpc.health.v1.Health".to_owned()));
    assert!(
        directory.contains(&"grpc.reflection.v1alpha.ServerReflection".to_owned()),
        "{directory:?}"
    );
    // Each listener advertises only what it serves.
    assert!(
        !directory.iter().any(|s| s.starts_with("cairn.backup")),
        "{directory:?}"
    );
    assert!(serving(&cluster.directory, "cairn.directory.v1.DirectoryService").await);
    for region in cairn_core::Region::ALL {
        let endpoint = cluster.cell_endpoint(region);
        let names = services(&endpoint).await;
        for service in [
            "cairn.accounts.v1.AccountsService",
            "cairn.orgs.v1.OrgsService",
            "cairn.backup.v1.BackupService",
        ] {
            assert!(names.contains(&service.to_owned()), "{region}: {names:?}");
            assert!(serving(&endpoint, service).await, "{region}: {service}");
        }
    }
    cluster.stop().await;
}
