//! Entry points for the fuzz targets (`fuzz/`, and the corpora replayed by
//! `tests/tests/fuzz_corpora.rs`): each runs one request conversion of this
//! adapter on a message decoded from arbitrary bytes. Not an API.

use std::pin::pin;
use std::task::{Context, Poll, Waker};

use futures::StreamExt;

use cairn_core::Error;
use cairn_proto::backup::v1 as pb;

use super::convert::{pack_upload, parse_ids, snapshot_commit};
use crate::ingest::PackHeader;
use crate::snapshots::SnapshotHeader;

/// Runs a future whose streams are always ready (`futures::stream::iter`).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// `FindMissingChunks` and `ReadChunks` ids.
pub fn chunk_ids(ids: &[Vec<u8>]) -> Result<usize, Error> {
    parse_ids("chunk_ids", ids).map(|ids| ids.len())
}

pub fn pack_header(header: pb::PackHeader) -> Result<usize, Error> {
    PackHeader::try_from(header).map(|h| h.chunks.len())
}

pub fn snapshot_header(header: pb::SnapshotHeader) -> Result<(), Error> {
    SnapshotHeader::try_from(header).map(drop)
}

/// An `UploadPack` request stream, decoded and drained as the service reads it.
pub fn upload_stream(messages: Vec<pb::UploadPackRequest>) -> Result<u64, Error> {
    ready(async {
        let stream = futures::stream::iter(messages.into_iter().map(Ok));
        let mut upload = pack_upload(stream).await?;
        let mut bytes = 0u64;
        while let Some(part) = upload.parts.next().await {
            bytes += part?.len() as u64;
        }
        Ok(bytes)
    })
}

/// A `CommitSnapshot` request stream, decoded and drained as the service reads it.
pub fn commit_stream(messages: Vec<pb::CommitSnapshotRequest>) -> Result<usize, Error> {
    ready(async {
        let stream = futures::stream::iter(messages.into_iter().map(Ok));
        let mut commit = snapshot_commit(stream).await?;
        let mut ids = 0;
        while let Some(batch) = commit.ids.next().await {
            ids += batch?.len();
        }
        Ok(ids)
    })
}
