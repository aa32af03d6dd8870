//! The encoders: compress and encrypt the missing chunks that are not
//! encoded yet (the trees).

use cairn_engine::{EncodedBlob, encode_named_blob};

use crate::budget::Permit;

use super::stage::{Pipeline, Plain, Stopped};

impl Pipeline {
    /// Compresses and encrypts.
    pub(super) fn encode(
        &self,
        missing: flume::Receiver<Plain>,
        blobs: flume::Sender<Vec<(EncodedBlob, Permit)>>,
    ) -> anyhow::Result<()> {
        for Plain {
            id,
            data,
            mut permit,
            ..
        } in missing.iter()
        {
            let blob = encode_named_blob(&self.key, id, &data)?;
            drop(data);
            // Packs fill by stored bytes: hold what the blob takes, or a
            // pack of well-compressed chunks would hold more than the budget.
            permit.shrink_to(blob.stored.len());
            blobs.send(vec![(blob, permit)]).map_err(|_| Stopped)?;
        }
        Ok(())
    }
}
