//! A commit's header, the request stream's first message, checked.

use futures::{Stream, StreamExt};

use cairn_core::validate::text;
use cairn_core::{ChunkId, Error};
use cairn_proto::backup::v1::{self as pb, commit_snapshot_request::Part};

/// Reads and checks a commit's header, the stream's first message.
pub(crate) async fn receive_header<S>(
    stream: &mut S,
) -> Result<(pb::SnapshotHeader, ChunkId), Error>
where
    S: Stream<Item = Result<pb::CommitSnapshotRequest, tonic::Status>> + Unpin,
{
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
    let tree = ChunkId::from_slice(&header.tree_id, "header.tree_id")?;
    text("header.hostname", &header.hostname, 253)?;
    if header.paths.is_empty() || header.paths.len() > 1000 {
        return Err(Error::invalid("header.paths", "must name 1 to 1000 paths"));
    }
    for path in &header.paths {
        if path.is_empty() || path.len() > 4096 {
            return Err(Error::invalid(
                "header.paths",
                "each path must be 1 to 4096 bytes",
            ));
        }
    }
    Ok((header, tree))
}
