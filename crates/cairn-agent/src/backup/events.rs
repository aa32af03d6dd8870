//! What a backup reports: its summary and the events of a running one.

#[derive(Debug, Default, Clone)]
pub struct BackupSummary {
    pub snapshot_id: String,
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
    /// Chunks the snapshot references.
    pub chunks: u64,
    /// Chunks this run uploaded (new to the company).
    pub chunks_uploaded: u64,
    /// Bytes this run uploaded (compressed and encrypted).
    pub bytes_uploaded: u64,
    /// Files taken from the parent snapshot without being read.
    pub files_unchanged: u64,
    /// Bytes read from disk.
    pub bytes_read: u64,
    /// Things that did not stop the backup but deserve a look.
    pub warnings: Vec<String>,
}

/// What a running backup reports, and how it is asked to stop early.
pub trait BackupEvents: Send + Sync {
    /// Whether to count the files and bytes to back up, alongside the
    /// backup, for [`BackupEvents::totals`] (costs a second walk).
    fn wants_totals(&self) -> bool {
        false
    }
    /// The paths hold `files` files of `bytes` bytes in all.
    fn totals(&self, _files: u64, _bytes: u64) {}
    /// `bytes` of file content were handled: read and chunked, or found
    /// unchanged since the last backup.
    fn bytes_done(&self, _bytes: u64) {}
    /// One more file is handled.
    fn file_done(&self) {}
    /// A pack of `bytes` reached the server and is committed there.
    fn pack_uploaded(&self, _bytes: u64) {}
    /// Checked before each file: true stops the backup without a snapshot.
    fn should_stop(&self) -> bool {
        false
    }
}

/// Reports nothing and never stops.
pub struct Quiet;

impl BackupEvents for Quiet {}
