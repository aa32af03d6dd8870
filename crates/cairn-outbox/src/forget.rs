//! Forgetting a person's mail when their account is deleted: the queued and
//! sent rows addressed to them, and the `.eml` files written for them when
//! the cell has no SMTP server (that folder stands in for the mail server).
//! Mail that went out over SMTP has left the cell.

use std::path::Path;

use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};

use cairn_core::Error;
use cairn_entity::regional::outbox;
use cairn_entity::{CompanyScope, db_err};

use crate::Mailer;

/// The most header bytes read from one `.eml` file to find its recipient.
const HEADER_LIMIT: usize = 64 * 1024;

/// Deletes the company's outbox rows for `user` or addressed to any of
/// `addresses`, inside the caller's transaction; returns how many.
pub async fn forget_rows<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    user: uuid::Uuid,
    addresses: &[&str],
) -> Result<u64, Error> {
    let mut whose = Condition::any().add(outbox::Column::UserId.eq(user));
    for address in addresses {
        whose = whose.add(outbox::Column::ToAddress.eq(*address));
    }
    let done = outbox::Entity::delete_many()
        .filter(outbox::Column::CompanyId.eq(scope.uuid()))
        .filter(whose)
        .exec(db)
        .await
        .map_err(db_err("deleting a user's mail"))?;
    Ok(done.rows_affected)
}

impl Mailer {
    /// Removes the `.eml` files addressed to any of `addresses`; returns how
    /// many. Nothing to do over SMTP.
    pub async fn forget_files(&self, addresses: &[&str]) -> Result<usize, Error> {
        match self {
            Mailer::Smtp(_) => Ok(0),
            Mailer::Files(folder) => {
                let folder = folder.clone();
                let addresses: Vec<String> =
                    addresses.iter().map(|a| a.to_ascii_lowercase()).collect();
                tokio::task::spawn_blocking(move || forget_in(&folder, &addresses))
                    .await
                    .map_err(|e| Error::internal_with("forgetting mail files", e))?
            }
        }
    }
}

fn forget_in(folder: &Path, addresses: &[String]) -> Result<usize, Error> {
    let io = |e: std::io::Error| Error::internal_with("forgetting mail files", e);
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(e)),
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry.map_err(io)?.path();
        if path.extension().is_none_or(|ext| ext != "eml") {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let head = &bytes[..bytes.len().min(HEADER_LIMIT)];
        if recipients(head).iter().any(|r| addresses.contains(r)) {
            std::fs::remove_file(&path).map_err(io)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The lowercase addresses of a message's `To:` header (with its folded
/// continuation lines), from its header block.
fn recipients(message: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(message);
    let mut value = String::new();
    let mut in_to = false;
    for line in text.split("\r\n").flat_map(|l| l.split('\n')) {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if in_to {
                value.push_str(line);
            }
            continue;
        }
        in_to = line
            .split_once(':')
            .is_some_and(|(name, _)| name.eq_ignore_ascii_case("to"));
        if in_to && let Some((_, rest)) = line.split_once(':') {
            value.push_str(rest);
            value.push(',');
        }
    }
    value
        .split(',')
        .filter_map(|one| {
            let one = one.trim();
            let address = match (one.rfind('<'), one.rfind('>')) {
                (Some(start), Some(end)) if start < end => &one[start + 1..end],
                _ => one,
            };
            (!address.is_empty()).then(|| address.trim().to_ascii_lowercase())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_come_from_the_to_header_only() {
        let mail = b"From: Cairn <no-reply@cairn.invalid>\r\nTo: Mo Member <Mo@Example.com>,\r\n ann@example.com\r\nSubject: to: bob@example.com\r\n\r\nTo: carl@example.com\r\n";
        assert_eq!(
            recipients(mail),
            vec!["mo@example.com".to_owned(), "ann@example.com".to_owned()]
        );
        assert_eq!(
            recipients(b"To: pat@papa.com\n\nbody"),
            vec!["pat@papa.com"]
        );
    }

    #[tokio::test]
    async fn only_files_addressed_to_the_person_go() {
        let dir = std::env::temp_dir().join(format!("cairn-forget-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.eml"), "To: mo@example.com\r\n\r\nhello Mo\r\n").unwrap();
        std::fs::write(
            dir.join("b.eml"),
            "To: ann@example.com\r\n\r\nmo@example.com\r\n",
        )
        .unwrap();
        std::fs::write(dir.join("c.json"), "To: mo@example.com\r\n").unwrap();
        let mailer = Mailer::Files(dir.clone());
        assert_eq!(mailer.forget_files(&["MO@example.com"]).await.unwrap(), 1);
        assert!(!dir.join("a.eml").exists());
        assert!(dir.join("b.eml").exists() && dir.join("c.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
