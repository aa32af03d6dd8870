//! The uploader: sends full packs to the server, two at a time, within the
//! policy's bandwidth limit.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use tokio::sync::mpsc;

use cairn_client::ClientError;
use cairn_core::Reason;
use cairn_engine::Pack;
use cairn_proto::backup::v1::{ChunkRecord, PackHeader, UploadPackRequest, upload_pack_request};

use crate::AgentClient;
use crate::budget::Permit;
use crate::client::BackupRpc;
use crate::recycle::PackBuffers;

use super::events::BackupEvents;

/// Bytes per upload message.
const FRAME: usize = 2 * 1024 * 1024;
/// Packs uploading at once (one more waits, packed, in the queue): one
/// sending while the server makes the one before durable.
const UPLOADS: usize = 2;

pub(super) async fn upload_packs(
    client: AgentClient,
    buffers: PackBuffers,
    mut packs: mpsc::Receiver<(Pack, Permit)>,
    events: Arc<dyn BackupEvents>,
    bandwidth_kbps: i64,
) -> anyhow::Result<(u64, u64)> {
    let (mut chunks, mut bytes) = (0u64, 0u64);
    let mut started_bytes = 0u64;
    let started = tokio::time::Instant::now();
    let mut uploads = tokio::task::JoinSet::new();
    let mut count = |done: Result<anyhow::Result<(u32, u64)>, tokio::task::JoinError>| {
        let (added, size) = done.context("a pack upload stopped")??;
        chunks += u64::from(added);
        bytes += size;
        events.pack_uploaded(size);
        anyhow::Ok(())
    };
    while let Some((pack, permit)) = packs.recv().await {
        // Keep the average upload rate under the policy's limit.
        if bandwidth_kbps > 0 {
            let allowed =
                Duration::from_secs_f64(started_bytes as f64 / (bandwidth_kbps as f64 * 1024.0));
            tokio::time::sleep_until(started + allowed).await;
        }
        started_bytes += pack.bytes.len() as u64;
        if uploads.len() >= UPLOADS
            && let Some(done) = uploads.join_next().await
        {
            count(done)?;
        }
        let bytes = buffers.lend(pack.bytes, Some(permit));
        uploads.spawn(upload_pack(
            client.clone(),
            pack.chunks,
            bytes,
            bandwidth_kbps,
        ));
    }
    while let Some(done) = uploads.join_next().await {
        count(done)?;
    }
    Ok((chunks, bytes))
}

/// Uploads one pack; its frames are slices of `bytes` (no copies), made one
/// at a time as the transport asks for them. The header names no id: the
/// server hashes the bytes as they arrive and names the pack itself. The
/// pack's share of the budget goes back with its buffer once the last frame
/// is sent, not when the server answers: waiting for the answer (the server
/// makes the pack durable first) holds no memory here, so the next pack
/// goes out meanwhile.
///
/// Sent once, within a deadline sized to the pack (and to the policy's
/// bandwidth limit): a stalled cell fails the backup instead of holding
/// it. Resending would be safe (a pack's id is its content's and stores
/// are create-only) but would keep the buffer, and its share of the
/// budget, until the answer; the next backup resends what is missing.
async fn upload_pack(
    client: AgentClient,
    chunks: Vec<ChunkRecord>,
    bytes: Bytes,
    bandwidth_kbps: i64,
) -> anyhow::Result<(u32, u64)> {
    let size = bytes.len() as u64;
    let header = UploadPackRequest {
        part: Some(upload_pack_request::Part::Header(PackHeader {
            pack_id: Vec::new(),
            size,
            chunks,
        })),
    };
    let frames = (0..bytes.len().div_ceil(FRAME)).map(move |i| {
        let end = ((i + 1) * FRAME).min(bytes.len());
        UploadPackRequest {
            part: Some(upload_pack_request::Part::Data(bytes.slice(i * FRAME..end))),
        }
    });
    let messages = futures::stream::iter(std::iter::once(header).chain(frames));
    let deadline = client.transfer_deadline(size, bandwidth_kbps);
    let added = client
        .connection
        .stream(deadline, messages, |mut c: BackupRpc, r| async move {
            c.upload_pack(r)
                .await
                .map(tonic::Response::into_inner)
                .map_err(ClientError::from)
        })
        .await
        .map_err(|e| match e.reason() {
            // The quota's own words ("storage quota exceeded ...").
            Some(Reason::QuotaExceeded) => anyhow::Error::new(e),
            _ => anyhow::Error::new(e).context("pack upload failed"),
        })?
        .chunks_added;
    Ok((added, size))
}
