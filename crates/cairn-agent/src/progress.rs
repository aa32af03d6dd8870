//! Progress on the terminal for `cairn-agent backup` and `restore`: files,
//! bytes, rate and time left, drawn on stderr only when it is a terminal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{BackupEvents, RestoreEvents};

pub(crate) struct Progress {
    bar: ProgressBar,
    files: AtomicU64,
    total_files: AtomicU64,
    uploaded: AtomicU64,
    verb: &'static str,
}

const COUNTING: &str = "{spinner} {elapsed_precise} {bytes} {bytes_per_sec} {msg}";
const KNOWN: &str = "{spinner} {elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} {eta} left {msg}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

impl Progress {
    pub(crate) fn new(verb: &'static str) -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(style(COUNTING));
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress {
            bar,
            files: AtomicU64::new(0),
            total_files: AtomicU64::new(0),
            uploaded: AtomicU64::new(0),
            verb,
        }
    }

    /// Removes the bar, leaving the terminal for the summary line.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn set_totals(&self, files: u64, bytes: u64) {
        self.total_files.store(files, Ordering::Relaxed);
        self.bar.set_length(bytes);
        self.bar.set_style(style(KNOWN));
        self.redraw_message();
    }

    fn count_file(&self) {
        // Every 64th file: the message is drawn a few times a second anyway.
        if self
            .files
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(64)
        {
            self.redraw_message();
        }
    }

    fn redraw_message(&self) {
        let files = self.files.load(Ordering::Relaxed);
        let total = self.total_files.load(Ordering::Relaxed);
        let uploaded = self.uploaded.load(Ordering::Relaxed);
        let mut message = if total > 0 {
            format!("{files}/{total} files {}", self.verb)
        } else {
            format!("{files} files {}", self.verb)
        };
        if uploaded > 0 {
            message.push_str(&format!(", {} uploaded", indicatif::BinaryBytes(uploaded)));
        }
        self.bar.set_message(message);
    }
}

impl BackupEvents for Progress {
    fn wants_totals(&self) -> bool {
        !self.bar.is_hidden()
    }

    fn totals(&self, files: u64, bytes: u64) {
        self.set_totals(files, bytes);
    }

    fn bytes_done(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn file_done(&self) {
        self.count_file();
    }

    fn pack_uploaded(&self, bytes: u64) {
        self.uploaded.fetch_add(bytes, Ordering::Relaxed);
        self.redraw_message();
    }
}

impl RestoreEvents for Progress {
    fn totals(&self, files: u64, bytes: u64) {
        self.set_totals(files, bytes);
    }

    fn bytes_done(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn file_done(&self) {
        self.count_file();
    }
}
