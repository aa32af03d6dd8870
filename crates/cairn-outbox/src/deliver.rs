use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lettre::message::Mailbox;
use lettre::transport::file::AsyncFileTransport;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use cairn_core::Error;
use cairn_entity::db_err;
use cairn_entity::regional::{outbox, user};

/// Mails handled per pass.
const BATCH: u64 = 50;
/// How long a claimed mail is reserved for one worker.
const LEASE_SECS: i64 = 120;
/// Give up after this many attempts.
const MAX_ATTEMPTS: i32 = 12;

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder, for setups without an SMTP server.
    Files(PathBuf),
}

impl Mailer {
    /// SMTP from a URL (`smtp://host:port`, `smtps://user:pass@host`, with
    /// `?tls=required` for STARTTLS), or files under `folder` when `None`.
    pub fn new(smtp_url: Option<&str>, folder: &Path) -> Result<Mailer, Error> {
        match smtp_url {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|b| Mailer::Smtp(b.build()))
                .map_err(|e| Error::invalid("smtp_url", e.to_string())),
            None => {
                // Mail carries one-time codes: the folder is the server's
                // alone (0700), even if an older server left it open.
                cairn_core::private::create_dir_all(folder)
                    .and_then(|()| cairn_core::private::restrict_dir(folder))
                    .map_err(|e| {
                        Error::invalid(
                            "data_dir",
                            format!("cannot create {}: {e}", folder.display()),
                        )
                    })?;
                Ok(Mailer::Files(folder.to_owned()))
            }
        }
    }

    async fn send(&self, message: Message) -> Result<(), String> {
        match self {
            Mailer::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Mailer::Files(folder) => {
                let id = AsyncFileTransport::<Tokio1Executor>::new(folder)
                    .send(message)
                    .await
                    .map_err(|e| e.to_string())?;
                // Readable by the server's user only (0600), like its folder.
                cairn_core::private::restrict_path(&folder.join(format!("{id}.eml")))
                    .map_err(|e| format!("making {id}.eml private: {e}"))
            }
        }
    }
}

pub struct OutboxWorker {
    db: DatabaseConnection,
    mailer: Mailer,
    from: Mailbox,
    wake: Arc<Notify>,
}

impl OutboxWorker {
    pub fn new(db: DatabaseConnection, mailer: Mailer, from: &str) -> Result<OutboxWorker, Error> {
        let from = from
            .parse()
            .map_err(|_| Error::invalid("mail_from", format!("`{from}` is not a mailbox")))?;
        Ok(OutboxWorker {
            db,
            mailer,
            from,
            wake: Arc::new(Notify::new()),
        })
    }

    /// Notify this after committing a queued mail to deliver it at once.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Delivers due mail until cancelled: at once when woken, else every few seconds.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            if let Err(err) = self.deliver_due().await {
                tracing::warn!(error = %err, "outbox pass failed");
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }

    /// One pass over due mail; returns how many were handled.
    pub async fn deliver_due(&self) -> Result<usize, Error> {
        let now = Utc::now();
        let due = outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .filter(outbox::Column::Attempts.lt(MAX_ATTEMPTS))
            .order_by_asc(outbox::Column::CreatedAt)
            .limit(BATCH)
            .all(&self.db)
            .await
            .map_err(db_err("reading the outbox"))?;
        let mut handled = 0;
        for mail in due {
            // Claim it: another replica may be looking at the same row.
            let claimed = outbox::Entity::update_many()
                .col_expr(
                    outbox::Column::NextAttemptAt,
                    Expr::value(now + chrono::Duration::seconds(LEASE_SECS)),
                )
                .filter(outbox::Column::Id.eq(mail.id))
                .filter(outbox::Column::NextAttemptAt.eq(mail.next_attempt_at))
                .exec(&self.db)
                .await
                .map_err(db_err("claiming a mail"))?;
            if claimed.rows_affected == 1 {
                self.deliver(mail).await?;
                handled += 1;
            }
        }
        Ok(handled)
    }

    async fn deliver(&self, mail: outbox::Model) -> Result<(), Error> {
        if mail.kind == "marketing" && self.opted_out(mail.user_id).await? {
            return self
                .finish(
                    mail.id,
                    Some("not sent: the user opted out of marketing mail"),
                )
                .await;
        }
        let message = mail
            .to_address
            .parse::<Mailbox>()
            .map_err(|e| e.to_string())
            .and_then(|to| {
                Message::builder()
                    .from(self.from.clone())
                    .to(to)
                    .subject(mail.subject.clone())
                    .body(mail.body.clone())
                    .map_err(|e| e.to_string())
            });
        let sent = match message {
            Ok(message) => self.mailer.send(message).await,
            Err(err) => Err(err),
        };
        match sent {
            Ok(()) => {
                if let Mailer::Files(folder) = &self.mailer {
                    tracing::info!(mail = %mail.id, folder = %folder.display(), "mail written as .eml (no SMTP server configured)");
                }
                self.finish(mail.id, None).await
            }
            Err(err) => {
                let attempts = mail.attempts + 1;
                let backoff = chrono::Duration::seconds(2_i64.pow(attempts.min(12) as u32));
                tracing::warn!(mail = %mail.id, attempts, error = %err, "mail delivery failed");
                outbox::Entity::update_many()
                    .col_expr(outbox::Column::Attempts, Expr::value(attempts))
                    .col_expr(
                        outbox::Column::NextAttemptAt,
                        Expr::value(Utc::now() + backoff),
                    )
                    .col_expr(outbox::Column::LastError, Expr::value(err))
                    .filter(outbox::Column::Id.eq(mail.id))
                    .exec(&self.db)
                    .await
                    .map_err(db_err("recording a failed delivery"))?;
                Ok(())
            }
        }
    }

    async fn opted_out(&self, user_id: Option<uuid::Uuid>) -> Result<bool, Error> {
        let Some(user_id) = user_id else {
            return Ok(false);
        };
        Ok(user::Entity::find_by_id(user_id)
            .one(&self.db)
            .await
            .map_err(db_err("reading mail preferences"))?
            .is_none_or(|u| u.marketing_opt_out))
    }

    async fn finish(&self, id: uuid::Uuid, note: Option<&str>) -> Result<(), Error> {
        // The body (codes, the names of who invited whom) is not needed
        // once the mail has gone.
        outbox::Entity::update_many()
            .col_expr(outbox::Column::SentAt, Expr::value(Utc::now()))
            .col_expr(outbox::Column::Body, Expr::value(""))
            .col_expr(
                outbox::Column::LastError,
                Expr::value(note.map(str::to_owned)),
            )
            .filter(outbox::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(db_err("marking a mail sent"))?;
        Ok(())
    }
}
