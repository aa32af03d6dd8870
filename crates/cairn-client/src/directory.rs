//! Finding a region's cell through the global directory.

use tonic::transport::Channel;

use cairn_core::Region;
use cairn_proto::directory::v1::{
    Cell, ListCellsRequest, LocateLoginRequest, ResolveCountryRequest,
    directory_service_client::DirectoryServiceClient,
};

use crate::{ClientConfig, ClientError, Connection, Idempotency};

type Client = DirectoryServiceClient<Channel>;

/// The directory's public calls. Every one is a read, so every one is
/// retried when the directory is briefly unavailable.
#[derive(Clone)]
pub struct Directory {
    connection: Connection,
}

impl Directory {
    /// Connects on first use.
    pub fn lazy(config: ClientConfig) -> Result<Directory, ClientError> {
        Ok(Directory {
            connection: Connection::lazy(config)?,
        })
    }

    /// Over an existing connection (one connected eagerly, say).
    pub fn on(connection: Connection) -> Directory {
        Directory { connection }
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The endpoint of the cell holding `login`. An unknown login gets a
    /// cell too (logging in there is "wrong email or password"); servers
    /// before that answered NOT_FOUND.
    pub async fn locate_login(&self, login: &str) -> Result<String, ClientError> {
        let request = LocateLoginRequest {
            login: login.to_owned(),
        };
        let found = self
            .connection
            .unary(
                Idempotency::Idempotent,
                request,
                |mut c: Client, r| async move { c.locate_login(r).await },
            )
            .await?;
        endpoint(found.cell)
    }

    /// The endpoint of the cell a new company from `country` is homed in.
    pub async fn resolve_country(&self, country: &str) -> Result<String, ClientError> {
        let request = ResolveCountryRequest {
            country: country.to_owned(),
        };
        let found = self
            .connection
            .unary(
                Idempotency::Idempotent,
                request,
                |mut c: Client, r| async move { c.resolve_country(r).await },
            )
            .await?;
        endpoint(found.cell)
    }

    /// The endpoint of `region`'s cell.
    pub async fn cell_of(&self, region: Region) -> Result<String, ClientError> {
        let cells = self
            .connection
            .unary(
                Idempotency::Idempotent,
                ListCellsRequest {},
                |mut c: Client, r| async move { c.list_cells(r).await },
            )
            .await?
            .cells;
        cells
            .into_iter()
            .find(|c| c.region == region.to_proto())
            .map(|c| c.endpoint)
            .ok_or(ClientError::NoCell { region })
    }
}

fn endpoint(cell: Option<Cell>) -> Result<String, ClientError> {
    cell.map(|c| c.endpoint)
        .ok_or(ClientError::MissingField { field: "cell" })
}
