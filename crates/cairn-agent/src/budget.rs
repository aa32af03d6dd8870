//! A byte budget for the backup pipeline: every chunk read holds a share of
//! it from the moment it is read until its pack reaches the server (or until
//! it turns out the server has it already). Readers wait for room, so the
//! data in flight is bounded in bytes, whatever the sizes of the files and
//! chunks, instead of in queue slots.

use std::sync::{Arc, Condvar, Mutex};

/// The shared pool of bytes.
pub(crate) struct Budget {
    total: usize,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    free: usize,
    /// A stage failed: nobody waits for room any more.
    closed: bool,
    /// Threads waiting for room: only then does giving bytes back wake
    /// anyone (a wake-up is a system call even with nobody to wake).
    waiting: usize,
}

/// The budget was closed because the pipeline stopped.
#[derive(Debug)]
pub(crate) struct Closed;

impl Budget {
    pub(crate) fn new(total: usize) -> Arc<Budget> {
        Arc::new(Budget {
            total,
            state: Mutex::new(State {
                free: total,
                closed: false,
                waiting: 0,
            }),
            changed: Condvar::new(),
        })
    }

    /// Waits until `bytes` are free and takes them. A request larger than
    /// the whole budget takes the whole budget, so it never waits forever.
    pub(crate) fn take(self: &Arc<Self>, bytes: usize) -> Result<Permit, Closed> {
        let bytes = bytes.min(self.total);
        let mut state = self.lock();
        while !state.closed && state.free < bytes {
            state.waiting += 1;
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            state.waiting -= 1;
        }
        if state.closed {
            return Err(Closed);
        }
        state.free -= bytes;
        Ok(Permit {
            budget: Arc::clone(self),
            bytes,
        })
    }

    /// Takes `bytes` if they are free now; `None` if taking them would wait.
    pub(crate) fn try_take(self: &Arc<Self>, bytes: usize) -> Result<Option<Permit>, Closed> {
        let bytes = bytes.min(self.total);
        let mut state = self.lock();
        if state.closed {
            return Err(Closed);
        }
        if state.free < bytes {
            return Ok(None);
        }
        state.free -= bytes;
        Ok(Some(Permit {
            budget: Arc::clone(self),
            bytes,
        }))
    }

    /// Wakes every waiter with [`Closed`]: a stage failed and what it held
    /// may never be given back.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    fn give(&self, bytes: usize) {
        let mut state = self.lock();
        state.free += bytes;
        let waiting = state.waiting > 0;
        drop(state);
        if waiting {
            self.changed.notify_all();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Bytes taken from a [`Budget`], given back when dropped.
pub(crate) struct Permit {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Permit {
    /// Gives back all but `bytes`: the data it stands for got smaller.
    pub(crate) fn shrink_to(&mut self, bytes: usize) {
        if bytes < self.bytes {
            self.budget.give(self.bytes - bytes);
            self.bytes = bytes;
        }
    }

    /// Holds `other`'s bytes too, until this permit is dropped.
    pub(crate) fn absorb(&mut self, mut other: Permit) {
        self.bytes += std::mem::take(&mut other.bytes);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.budget.give(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::time::Duration;

    #[test]
    fn waits_for_room_and_gets_it_back() {
        let budget = Budget::new(10);
        let mut a = budget.take(8).unwrap();
        a.shrink_to(6);
        assert_eq!(
            budget.take(2).unwrap().bytes,
            2,
            "shrinking gave nothing back"
        );
        a.absorb(budget.take(4).unwrap());
        let waiter = {
            let budget = Arc::clone(&budget);
            std::thread::spawn(move || budget.take(3).map(|p| p.bytes))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "took bytes that were not free");
        drop(a);
        assert_eq!(waiter.join().unwrap().unwrap(), 3);
        // Everything came back: the whole budget can be taken again.
        assert_eq!(budget.take(10).unwrap().bytes, 10);
    }

    #[test]
    fn oversized_requests_take_everything_and_close_wakes_waiters() {
        let budget = Budget::new(8);
        let all = budget.take(100).unwrap();
        assert_eq!(all.bytes, 8);
        let waiter = {
            let budget = Arc::clone(&budget);
            std::thread::spawn(move || budget.take(1).is_err())
        };
        std::thread::sleep(Duration::from_millis(50));
        budget.close();
        assert!(
            waiter.join().unwrap(),
            "a closed budget still handed out bytes"
        );
        drop(all);
    }

    #[test]
    fn trying_never_waits_and_waiters_are_still_woken() {
        let budget = Budget::new(10);
        let a = budget.try_take(7).unwrap().unwrap();
        assert!(budget.try_take(4).unwrap().is_none(), "took bytes not free");
        let b = budget.try_take(3).unwrap().unwrap();
        // Two waiters, one given back at a time: each is woken in turn.
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let budget = Arc::clone(&budget);
                std::thread::spawn(move || budget.take(3).map(|p| p.bytes))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        drop(b);
        drop(a);
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap().unwrap(), 3);
        }
        budget.close();
        assert!(
            budget.try_take(1).is_err(),
            "a closed budget handed out bytes"
        );
    }
}
