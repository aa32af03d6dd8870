//! Pack upload: receive, check, store create-only, then index in one
//! transaction. A pack whose index commit never happened is garbage, not damage.

use bytes::Bytes;
use futures::{Stream, StreamExt};

use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};

use cairn_core::{Error, PackId};
use cairn_entity::regional::{agent, pack};
use cairn_entity::{CompanyScope, begin_write, db_err};
use cairn_store::CellStore;

pub(crate) use crate::pack_index::PackRecord;
use crate::pack_index::{RecordDigests, index_records};

/// A pack's header, checked: its size (1 byte to [`crate::MAX_PACK_SIZE`]),
/// the id the uploader names (which the bytes must then hash to), and its
/// chunk records (well-formed, sorted, non-overlapping, inside the pack).
#[derive(Clone, Debug)]
pub(crate) struct PackHeader {
    pub(crate) size: u64,
    pub(crate) claimed: Option<PackId>,
    pub(crate) chunks: Vec<PackRecord>,
}

/// An upload as it arrives: the header, then the pack's bytes in parts.
pub(crate) struct PackUpload<P> {
    pub(crate) header: PackHeader,
    pub(crate) parts: P,
}

/// Receives one pack upload and stores it: the header is checked (by the
/// adapter) and the quota, before anything is written, then each part is hashed and handed
/// to the bucket as it arrives, so neither the check nor the write waits for
/// the whole pack, and the pack is never held whole in memory here. A part
/// is one message: 2 MiB from Cairn's agent, at most the server's message
/// limit (16 MiB): milliseconds of hashing. The pack is stored under that
/// hash, its id (an id the header names must match it); then its chunks
/// are indexed. Returns how many chunks were new, and the pack's id.
pub(crate) async fn receive_and_store<P>(
    db: &DatabaseConnection,
    store: &CellStore,
    scope: CompanyScope,
    agent: &agent::Model,
    ip: &str,
    upload: PackUpload<P>,
) -> Result<(u32, PackId), Error>
where
    P: Stream<Item = Result<Bytes, Error>> + Unpin,
{
    let PackUpload { header, mut parts } = upload;
    let claimed = header.claimed;
    let company = scope.company();
    let size = header.size as i64;
    let known_pack = match &claimed {
        Some(id) => pack::Entity::find_by_id((scope.uuid(), id.0.to_vec()))
            .one(db)
            .await
            .map_err(db_err("finding a pack"))?
            .is_some(),
        None => false,
    };
    // Refuse before writing anything; checked again under lock below. An
    // unnamed pack is checked as a new one: a company at its quota cannot
    // send again a pack it already stored, which Cairn's agent does not do
    // (it asks which chunks are missing before it packs them).
    if !known_pack {
        cairn_tenancy::quota::check_upload(db, scope, agent, size).await?;
    }

    let mut writer = store.begin_pack(company)?;
    let mut records = RecordDigests::new(&header.chunks);
    let received = receive_parts(&mut parts, header.size, &mut writer, &mut records).await;
    let checked = received.and_then(|hashed| match claimed {
        Some(id) if id != hashed => Err(Error::invalid(
            "header.pack_id",
            "does not match the uploaded bytes",
        )),
        _ => Ok((hashed, records.finish()?)),
    });
    let (pack_id, digests) = match checked {
        Ok(id) => id,
        Err(err) => {
            // Nothing of a refused pack stays in the bucket.
            writer.abort().await;
            return Err(err);
        }
    };
    writer.finish(&pack_id).await?;
    let key = CellStore::pack_key(company, &pack_id);
    let stored = store.size_of(&key).await?;
    if stored != header.size {
        return Err(Error::internal(format!(
            "pack {key} stored {stored} bytes, expected {}",
            header.size
        )));
    }

    let txn = begin_write(db)
        .await
        .map_err(db_err("starting a pack commit"))?;
    let already_packed = pack::Entity::find_by_id((scope.uuid(), pack_id.0.to_vec()))
        .one(&txn)
        .await
        .map_err(db_err("finding a pack"))?
        .is_some();
    if !already_packed {
        cairn_tenancy::quota::check_upload(&txn, scope, agent, size).await?;
        pack::ActiveModel {
            company_id: Set(scope.uuid()),
            id: Set(pack_id.0.to_vec()),
            object_key: Set(key.to_string()),
            size: Set(header.size as i64),
            created_at: Set(chrono::Utc::now()),
            agent_id: Set(Some(agent.id)),
        }
        .insert(&txn)
        .await
        .map_err(db_err("recording a pack"))?;
    }
    let added = index_records(&txn, scope, agent, ip, &pack_id, &header.chunks, &digests).await?;
    txn.commit().await.map_err(db_err("committing a pack"))?;
    tracing::debug!(company = %company, pack = %pack_id, added, "pack committed");
    Ok((added, pack_id))
}

/// Reads exactly `size` bytes of pack data from the upload stream, hashing
/// each part (the pack, and each record's bytes) and handing it to `writer`
/// as it arrives; returns the pack's hash.
async fn receive_parts<P>(
    parts: &mut P,
    size: u64,
    writer: &mut cairn_store::PackWriter,
    records: &mut RecordDigests<'_>,
) -> Result<PackId, Error>
where
    P: Stream<Item = Result<Bytes, Error>> + Unpin,
{
    let mut len = 0u64;
    let mut hasher = cairn_crypto::PackHasher::default();
    while let Some(data) = parts.next().await {
        let data = data?;
        len += data.len() as u64;
        if len > size {
            return Err(Error::invalid("data", "more bytes than header.size"));
        }
        hasher.update(&data);
        records.update(&data);
        writer.write(data).await?;
    }
    if len != size {
        return Err(Error::invalid(
            "data",
            format!("upload ended after {len} of {size} bytes"),
        ));
    }
    Ok(hasher.finish())
}
