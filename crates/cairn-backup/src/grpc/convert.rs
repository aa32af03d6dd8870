//! Conversions between the wire and the domain: requests are checked into
//! domain inputs (`TryFrom`), request streams decoded into streams of
//! domain items, results turned back into messages. The transport's
//! failures become the errors a cancelled or broken stream is
//! ([`Error::from_request_stream`]): CANCELLED or UNAVAILABLE, never bad input.

use bytes::Bytes;
use futures::{Stream, StreamExt};

use cairn_core::{ChunkId, Error, PackId};
use cairn_entity::regional::snapshot;
use cairn_proto::backup::v1::{self as pb, commit_snapshot_request, upload_pack_request};

use crate::holdings::Digest;
use crate::ingest::{PackHeader, PackRecord, PackUpload};
use crate::read::ChunkBatch;
use crate::snapshots::{SnapshotCommit, SnapshotHeader, SnapshotStats};
use crate::{MAX_IDS_PER_MESSAGE, MAX_PACK_SIZE};

/// Reads a repeated bytes field of chunk ids, refusing bad lengths and too many.
pub(crate) fn parse_ids(field: &str, raw: &[Vec<u8>]) -> Result<Vec<ChunkId>, Error> {
    if raw.len() > MAX_IDS_PER_MESSAGE {
        return Err(Error::invalid(
            field,
            format!(
                "at most {MAX_IDS_PER_MESSAGE} ids per message, got {}",
                raw.len()
            ),
        ));
    }
    raw.iter()
        .map(|id| ChunkId::from_slice(id, field))
        .collect()
}

/// A FindMissingChunks request, checked: the ids, each with the digest of
/// the caller's sealed copy when it sent digests.
pub(crate) fn missing_query(
    request: &pb::FindMissingChunksRequest,
) -> Result<Vec<(ChunkId, Option<Digest>)>, Error> {
    let ids = parse_ids("chunk_ids", &request.chunk_ids)?;
    if request.digests.is_empty() {
        return Ok(ids.into_iter().map(|id| (id, None)).collect());
    }
    if request.digests.len() != ids.len() {
        return Err(Error::invalid(
            "digests",
            format!(
                "one per chunk id or none: {} digests for {} ids",
                request.digests.len(),
                ids.len()
            ),
        ));
    }
    ids.into_iter()
        .zip(&request.digests)
        .map(|(id, digest)| {
            let digest = Digest::try_from(digest.as_slice())
                .map_err(|_| Error::invalid("digests", "each digest must be 32 bytes"))?;
            Ok((id, Some(digest)))
        })
        .collect()
}

impl TryFrom<pb::PackHeader> for PackHeader {
    type Error = Error;

    fn try_from(header: pb::PackHeader) -> Result<Self, Error> {
        if header.size == 0 || header.size > MAX_PACK_SIZE {
            return Err(Error::invalid(
                "header.size",
                format!("must be between 1 and {MAX_PACK_SIZE} bytes"),
            ));
        }
        let claimed = match header.pack_id.as_slice() {
            [] => None,
            id => Some(PackId::from_slice(id, "header.pack_id")?),
        };
        cairn_engine::validate_pack_records(header.size, &header.chunks)?;
        let chunks = header
            .chunks
            .iter()
            .map(|c| {
                Ok(PackRecord {
                    id: ChunkId::from_slice(&c.id, "header.chunks.id")?,
                    offset: c.offset,
                    length: c.length,
                    raw_length: c.raw_length,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(PackHeader {
            size: header.size,
            claimed,
            chunks,
        })
    }
}

/// Decodes an upload: the header, the first message, checked; then the
/// pack's bytes, each frame the transport's buffer itself (no copy).
pub(crate) async fn pack_upload<S>(
    mut stream: S,
) -> Result<PackUpload<impl Stream<Item = Result<Bytes, Error>> + Unpin>, Error>
where
    S: Stream<Item = Result<pb::UploadPackRequest, tonic::Status>> + Unpin,
{
    use upload_pack_request::Part;
    let header = match stream.next().await {
        Some(Ok(pb::UploadPackRequest {
            part: Some(Part::Header(h)),
        })) => h,
        Some(Ok(_)) => {
            return Err(Error::invalid(
                "header",
                "the first message must be the pack header",
            ));
        }
        Some(Err(status)) => return Err(Error::from_request_stream(status)),
        None => return Err(Error::invalid("header", "empty upload")),
    };
    let header = PackHeader::try_from(header)?;
    let parts = stream.map(
        |message| match message.map_err(Error::from_request_stream)?.part {
            Some(Part::Data(data)) => Ok(data),
            Some(Part::Header(_)) => Err(Error::invalid("header", "sent twice")),
            None => Err(Error::invalid("part", "empty message")),
        },
    );
    Ok(PackUpload { header, parts })
}

impl TryFrom<pb::SnapshotHeader> for SnapshotHeader {
    type Error = Error;

    fn try_from(header: pb::SnapshotHeader) -> Result<Self, Error> {
        let tree = ChunkId::from_slice(&header.tree_id, "header.tree_id")?;
        SnapshotHeader::new(
            tree,
            header.hostname,
            header.paths,
            header.started_at,
            header.finished_at,
            header
                .stats
                .map(|s| SnapshotStats {
                    files: s.files,
                    dirs: s.dirs,
                    bytes: s.bytes,
                })
                .unwrap_or_default(),
        )
    }
}

/// Decodes a commit: the header, the first message, checked; then the
/// referenced ids, one batch per message, each id decoded once.
pub(crate) async fn snapshot_commit<S>(
    mut stream: S,
) -> Result<SnapshotCommit<impl Stream<Item = Result<Vec<ChunkId>, Error>> + Unpin>, Error>
where
    S: Stream<Item = Result<pb::CommitSnapshotRequest, tonic::Status>> + Unpin,
{
    use commit_snapshot_request::Part;
    let header = match stream.next().await {
        Some(Ok(pb::CommitSnapshotRequest {
            part: Some(Part::Header(h)),
        })) => h,
        Some(Ok(_)) => {
            return Err(Error::invalid(
                "header",
                "the first message must be the snapshot header",
            ));
        }
        Some(Err(status)) => return Err(Error::from_request_stream(status)),
        None => return Err(Error::invalid("header", "empty commit")),
    };
    let header = SnapshotHeader::try_from(header)?;
    let ids = stream.map(
        |message| match message.map_err(Error::from_request_stream)?.part {
            Some(Part::ChunkIds(batch)) => parse_ids("chunk_ids.ids", &batch.ids),
            Some(Part::Header(_)) => Err(Error::invalid("header", "sent twice")),
            None => Err(Error::invalid("part", "empty message")),
        },
    );
    Ok(SnapshotCommit { header, ids })
}

pub(crate) fn snapshot_to_proto(row: snapshot::Model) -> pb::Snapshot {
    pb::Snapshot {
        snapshot_id: row.id.to_string(),
        agent_id: row.agent_id.to_string(),
        hostname: row.hostname,
        paths: serde_json::from_str(&row.paths).unwrap_or_default(),
        started_at: row.started_at,
        finished_at: row.finished_at,
        tree_id: row.tree_id,
        stats: Some(pb::SnapshotStats {
            files: row.files as u64,
            dirs: row.dirs as u64,
            bytes: row.bytes as u64,
        }),
    }
}

/// A batch of chunks read back, as one response; the chunks' buffers move
/// over as they are (no copy).
pub(crate) fn read_response(batch: ChunkBatch) -> Result<pb::ReadChunksResponse, tonic::Status> {
    let chunks = batch?
        .into_iter()
        .map(|c| pb::StoredChunk {
            id: c.id,
            data: c.data,
        })
        .collect();
    Ok(pb::ReadChunksResponse { chunks })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(raw_length: u32, length: u32) -> pb::PackHeader {
        pb::PackHeader {
            pack_id: Vec::new(),
            size: 64 * 1024 * 1024,
            chunks: vec![
                pb::ChunkRecord {
                    id: vec![1; 32],
                    offset: 0,
                    length: 100,
                    raw_length: 100,
                },
                pb::ChunkRecord {
                    id: vec![2; 32],
                    offset: 100,
                    length,
                    raw_length,
                },
            ],
        }
    }

    #[test]
    fn a_record_larger_than_any_chunk_is_refused_by_name() {
        // The largest blob is a directory's tree, which compresses well.
        let max = cairn_engine::MAX_BLOB_SIZE as u32;
        assert!(PackHeader::try_from(header(max, 1000)).is_ok());
        let file = cairn_engine::CHUNK_MAX;
        let sealed = cairn_engine::max_stored_len(file) as u32;
        assert!(PackHeader::try_from(header(file, sealed)).is_ok());
        for (raw, stored, says) in [
            (max + 1, 1000, "raw_length"),
            (file, sealed + 1, "more than sealing"),
            (10, 60 * 1024 * 1024, "more than sealing"),
        ] {
            let err = PackHeader::try_from(header(raw, stored)).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidArgument { field, .. } if field == "header.chunks"),
                "{err}"
            );
            assert_eq!(err.reason(), cairn_core::Reason::InvalidArgument);
            assert!(err.to_string().contains("pack record 1"), "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
