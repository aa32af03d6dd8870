//! The snapshot commit's chunk list: every referenced chunk id, in
//! ascending order, in batches, closed by an explicit end.

use tokio::sync::mpsc;

use cairn_proto::backup::v1::{ChunkIds, CommitSnapshotRequest, commit_snapshot_request};

use crate::idset::ReferencedIds;

/// Chunk ids per CommitSnapshot message.
const COMMIT_BATCH: usize = 10_000;

/// Sends a snapshot commit's header, its chunk ids in ascending order and
/// then the end of the list (`None`); returns how many ids were sent.
pub(super) fn send_chunk_list(
    requests: &mpsc::Sender<Option<CommitSnapshotRequest>>,
    header: CommitSnapshotRequest,
    referenced: ReferencedIds,
) -> anyhow::Result<u64> {
    let send = |request| {
        requests
            .blocking_send(request)
            .map_err(|_| anyhow::anyhow!("the snapshot commit ended before its chunk list"))
    };
    send(Some(header))?;
    let mut ids = referenced.into_sorted()?;
    let mut count = 0;
    loop {
        let batch = ids
            .by_ref()
            .take(COMMIT_BATCH)
            .map(|id| id.map(|id| id.0.to_vec()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if batch.is_empty() {
            break;
        }
        count += batch.len() as u64;
        send(Some(CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::ChunkIds(ChunkIds {
                ids: batch,
            })),
        }))?;
    }
    send(None)?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use cairn_core::ChunkId;
    use cairn_proto::backup::v1::SnapshotHeader;

    use super::*;

    fn header() -> CommitSnapshotRequest {
        CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::Header(
                SnapshotHeader::default(),
            )),
        }
    }

    fn spilled_set(dir: &Path, n: u64) -> ReferencedIds {
        let mut set = ReferencedIds::new(dir);
        for i in 0..n {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
            set.insert(ChunkId(bytes)).unwrap();
        }
        set
    }

    /// Everything the channel received, the end marker as `None`.
    fn drain(
        mut queued: mpsc::Receiver<Option<CommitSnapshotRequest>>,
    ) -> (usize, Vec<Option<CommitSnapshotRequest>>) {
        let mut got = Vec::new();
        let mut ids = 0;
        while let Ok(message) = queued.try_recv() {
            if let Some(CommitSnapshotRequest {
                part: Some(commit_snapshot_request::Part::ChunkIds(list)),
            }) = &message
            {
                ids += list.ids.len();
            }
            got.push(message);
        }
        (ids, got)
    }

    #[test]
    fn the_chunk_list_ends_with_an_explicit_end() {
        let dir = tempfile::tempdir().unwrap();
        let n = 300_000;
        let (requests, queued) = mpsc::channel(1024);
        let sent = send_chunk_list(&requests, header(), spilled_set(dir.path(), n)).unwrap();
        assert_eq!(sent, n);
        let (ids, got) = drain(queued);
        assert_eq!(ids as u64, n);
        assert!(got.last().unwrap().is_none());
        assert_eq!(got.iter().filter(|m| m.is_none()).count(), 1);
    }

    #[test]
    fn a_chunk_list_that_cannot_be_read_back_never_ends_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let set = spilled_set(dir.path(), 300_000);
        set.lose_spilled();
        let (requests, queued) = mpsc::channel(1024);
        let err = send_chunk_list(&requests, header(), set).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read back"), "{err:#}");
        let (_, got) = drain(queued);
        assert!(
            got.iter().all(Option::is_some),
            "the end of the list was sent after a failure"
        );
    }
}
