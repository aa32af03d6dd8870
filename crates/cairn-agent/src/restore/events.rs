//! What a restore reports: its summary and the events of a running one.

#[derive(Debug, Default, Clone)]
pub struct RestoreSummary {
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
}

/// What a running restore reports.
pub trait RestoreEvents: Send + Sync {
    /// The snapshot holds `files` files of `bytes` bytes in all.
    fn totals(&self, _files: u64, _bytes: u64) {}
    /// `bytes` more were written.
    fn bytes_done(&self, _bytes: u64) {}
    /// One more file is restored.
    fn file_done(&self) {}
}

impl RestoreEvents for crate::Quiet {}
