//! The readers: read the changed files, cut them into chunks, name them,
//! and compress and encrypt the chunks new to this run.

use std::fs;
use std::path::Path;

use anyhow::Context;

use cairn_engine::{Chunker, encode_named_blob};

use super::stage::{Batcher, FileJob, FileRead, Pipeline, Plain};

/// Chunks a reader gathers before handing them on, so the next stage is
/// woken once per batch rather than once per chunk. A reader hands over
/// what it has before it would wait for anything.
const READ_BATCH_CHUNKS: usize = 32;
/// Stored bytes a reader gathers before handing them on.
const READ_BATCH_BYTES: u64 = 4 * 1024 * 1024;

impl Pipeline {
    pub(super) fn read_files(
        &self,
        jobs: flume::Receiver<Vec<FileJob>>,
        plain: flume::Sender<Vec<Plain>>,
    ) {
        let mut chunker = Chunker::new();
        let mut out = Batcher::new(plain, READ_BATCH_CHUNKS, READ_BATCH_BYTES);
        let mut replies = Vec::new();
        loop {
            let batch = match jobs.try_recv() {
                Ok(batch) => batch,
                // Hand over what is gathered before waiting for more files:
                // the walk may be waiting for it, through the budget.
                Err(flume::TryRecvError::Empty) => {
                    if out.flush().is_err() {
                        return;
                    }
                    match jobs.recv() {
                        Ok(batch) => batch,
                        Err(_) => return,
                    }
                }
                Err(flume::TryRecvError::Disconnected) => break,
            };
            for job in batch {
                let result = self.read_file(&mut chunker, &job.path, &mut out);
                replies.push((job.reply, result));
            }
            // The batch's answers together: the assembler, waiting for the
            // first, finds the others there. The walker has stopped if
            // nobody listens.
            for (reply, result) in replies.drain(..) {
                let _ = reply.send(result);
            }
        }
        let _ = out.flush();
    }

    fn read_file(
        &self,
        chunker: &mut Chunker,
        path: &Path,
        out: &mut Batcher<Plain>,
    ) -> anyhow::Result<FileRead> {
        let file =
            fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let (mut size, mut ids) = (0u64, Vec::new());
        chunker
            .for_each_chunk(&file, |chunk| -> anyhow::Result<()> {
                if self.events.should_stop() {
                    anyhow::bail!(
                        "backup interrupted while reading {}; no snapshot was saved",
                        path.display()
                    );
                }
                let id = self.ids.chunk_id(chunk);
                size += chunk.len() as u64;
                self.events.bytes_done(chunk.len() as u64);
                ids.push(id);
                if self.first_sight(id) {
                    let mut permit = match self.try_room(chunk.len())? {
                        Some(permit) => permit,
                        // Hand over the batch before waiting: its bytes
                        // may be the room this chunk waits for.
                        None => {
                            out.flush()?;
                            self.room(chunk.len())?
                        }
                    };
                    let blob = encode_named_blob(&self.key, id, chunk)?;
                    permit.shrink_to(blob.stored.len());
                    let stored = blob.stored.len() as u64;
                    out.push(
                        Plain {
                            id,
                            data: Vec::new(),
                            permit,
                            blob: Some(blob),
                        },
                        stored,
                    )?;
                }
                Ok(())
            })
            .with_context(|| format!("cannot read {}", path.display()))??;
        // The file as read, even if its path was replaced meanwhile: the
        // cache entry then names an inode the path no longer has.
        let after = file
            .metadata()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        Ok(FileRead { size, ids, after })
    }
}
