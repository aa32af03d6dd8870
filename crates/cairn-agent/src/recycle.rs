//! Pack buffers come back to the packer once their upload is done. A pack
//! takes 16 MiB and more; allocating one per pack made the allocator keep
//! freed packs in its arenas (tens of MiB that varied from run to run) and
//! the kernel fault in fresh pages for every pack.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::budget::Permit;

/// Buffers kept for reuse: the packs that can be in flight at once (one
/// filling, one queued, one uploading) and one spare.
const KEPT: usize = 4;

#[derive(Clone, Default)]
pub(crate) struct PackBuffers(Arc<Mutex<Vec<Vec<u8>>>>);

impl PackBuffers {
    /// A buffer a sent pack gave back, or an empty one.
    pub(crate) fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default()
    }

    /// `bytes` for the transport, which slices it into messages; the buffer
    /// comes back here when the last slice is dropped, and only then is the
    /// pack's share of the budget (`permit`) given back: the transport has
    /// copied every byte out by then.
    pub(crate) fn lend(&self, bytes: Vec<u8>, permit: Option<Permit>) -> Bytes {
        Bytes::from_owner(Lent {
            bytes,
            home: self.clone(),
            _permit: permit,
        })
    }

    fn give_back(&self, bytes: Vec<u8>) {
        let mut free = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < KEPT {
            free.push(bytes);
        }
    }
}

struct Lent {
    bytes: Vec<u8>,
    home: PackBuffers,
    /// Given back after the buffer (fields drop after `drop` runs).
    _permit: Option<Permit>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.home.give_back(std::mem::take(&mut self.bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_share_comes_back_with_the_buffer() {
        let budget = crate::budget::Budget::new(100);
        let buffers = PackBuffers::default();
        let permit = budget.take(60).unwrap();
        let lent = buffers.lend(vec![0; 60], Some(permit));
        let frame = lent.slice(..30);
        drop(lent);
        assert!(budget.try_take(60).unwrap().is_none(), "given back early");
        drop(frame);
        assert!(budget.try_take(60).unwrap().is_some());
    }

    #[test]
    fn a_buffer_comes_back_when_its_last_slice_is_dropped() {
        let buffers = PackBuffers::default();
        let mut buffer = Vec::with_capacity(4096);
        buffer.extend_from_slice(b"pack bytes");
        let at = buffer.as_ptr();
        let lent = buffers.lend(buffer, None);
        let slice = lent.slice(5..);
        drop(lent);
        assert_eq!(buffers.take().capacity(), 0, "given back too early");
        assert_eq!(&slice[..], b"bytes");
        drop(slice);
        let back = buffers.take();
        assert_eq!((back.as_ptr(), back.capacity()), (at, 4096));
    }

    #[test]
    fn at_most_a_few_buffers_are_kept() {
        let buffers = PackBuffers::default();
        let lent: Vec<_> = (0..KEPT + 3)
            .map(|_| buffers.lend(vec![1; 8], None))
            .collect();
        drop(lent);
        let kept = std::iter::from_fn(|| Some(buffers.take()))
            .take_while(|b| !b.is_empty())
            .count();
        assert_eq!(kept, KEPT);
    }
}
