//! The mail outbox of a region cell. A service writes a mail into the
//! `outbox` table in the same transaction as the change that causes it, so a
//! mail goes out if and only if the change committed. A worker delivers due
//! mails over SMTP, or into `.eml` files when no SMTP server is configured,
//! retrying with backoff. Marketing mail is skipped for users who opted out;
//! service mail always goes.
//!
//! A mail's body is emptied once it is delivered (or skipped): the row stays
//! as the record that it went, without the codes and names it carried.
//! Deleting an account forgets the rows and `.eml` files addressed to it
//! ([`forget_rows`], [`Mailer::forget_files`]).
//!
//! Mail bodies never reach the logs.

mod deliver;
mod enqueue;
mod forget;

pub use deliver::{Mailer, OutboxWorker};
pub use enqueue::{MailKind, enqueue};
pub use forget::forget_rows;
