//! The packer: appends the missing blobs to packs and hands each full one
//! to the uploader.

use tokio::sync::mpsc;

use cairn_engine::{EncodedBlob, PACK_TARGET, Pack, PackBuilder};

use crate::budget::Permit;

use super::stage::{Pipeline, Stopped};

impl Pipeline {
    /// Fills packs and hands each full one to the uploader, with the budget
    /// its chunks held.
    pub(super) fn pack(
        &self,
        blobs: flume::Receiver<Vec<(EncodedBlob, Permit)>>,
        packs: mpsc::Sender<(Pack, Permit)>,
    ) -> anyhow::Result<()> {
        let new_builder = || PackBuilder::with_buffer(PACK_TARGET, self.buffers.take());
        let mut builder = new_builder();
        let mut held: Option<Permit> = None;
        for (blob, permit) in blobs.iter().flatten() {
            builder.add(blob);
            match held.as_mut() {
                Some(held) => held.absorb(permit),
                None => held = Some(permit),
            }
            if builder.is_full()
                && let Some(permit) = held.take()
            {
                let full = std::mem::replace(&mut builder, new_builder());
                packs
                    .blocking_send((full.finish(), permit))
                    .map_err(|_| Stopped)?;
            }
        }
        if let Some(permit) = held.take() {
            packs
                .blocking_send((builder.finish(), permit))
                .map_err(|_| Stopped)?;
        }
        Ok(())
    }
}
