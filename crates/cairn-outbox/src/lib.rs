//! The mail outbox of a region cell. A service writes a mail into the
//! `outbox` table in the same transaction as the change that causes it, so a
//! mail goes out if and only if the change committed. A worker delivers due
//! mails over SMTP, or into `.eml` files when no SMTP server is configured,
//! retrying with backoff. Marketing mail is skipped for users who opted out;
//! service mail always goes.
//!
//! Mail bodies never reach the logs.

mod deliver;
mod enqueue;

pub use deliver::{Mailer, OutboxWorker};
pub use enqueue::{MailKind, enqueue};
