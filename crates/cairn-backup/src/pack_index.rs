//! Indexing a stored pack's records: the digest of each record's stored
//! bytes, taken as the pack arrives; the first copy of each id the company
//! meets goes into `chunks`, a copy whose bytes differ from it into
//! `chunk_copies` (reported to the admins), one equal to a stored copy
//! nowhere (its bytes stay in the pack, unindexed); and every record
//! becomes a holding of the uploading machine's person, with its digest.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use cairn_core::{ChunkId, Error, PackId};
use cairn_entity::audit_log::{Actor, record};
use cairn_entity::regional::{agent, chunk, chunk_copy, chunk_holding, pack};
use cairn_entity::{CompanyScope, db_err};

use crate::holdings::{Digest, Holder};
use crate::index::{QUERY_BATCH, padded, pieces};

/// Where one chunk sits in a pack.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PackRecord {
    pub(crate) id: ChunkId,
    pub(crate) offset: u64,
    /// Stored length, in bytes.
    pub(crate) length: u32,
    /// Plaintext length, in bytes.
    pub(crate) raw_length: u32,
}

/// Takes the digest of each record's stored bytes as the pack's parts go
/// by. Records are sorted and do not overlap (the header was checked).
pub(crate) struct RecordDigests<'a> {
    records: &'a [PackRecord],
    /// Pack bytes seen so far.
    pos: u64,
    /// The record being hashed (or next to start).
    next: usize,
    hasher: cairn_crypto::DigestHasher,
    digests: Vec<Digest>,
}

impl<'a> RecordDigests<'a> {
    pub(crate) fn new(records: &'a [PackRecord]) -> Self {
        RecordDigests {
            records,
            pos: 0,
            next: 0,
            hasher: cairn_crypto::DigestHasher::default(),
            digests: Vec::with_capacity(records.len()),
        }
    }

    pub(crate) fn update(&mut self, part: &[u8]) {
        let mut at = 0usize;
        while let Some(record) = self.records.get(self.next) {
            if at == part.len() {
                break;
            }
            let here = self.pos + at as u64;
            let left = (part.len() - at) as u64;
            let end = record.offset + u64::from(record.length);
            if here < record.offset {
                at += (record.offset - here).min(left) as usize;
                continue;
            }
            let take = (end - here).min(left) as usize;
            self.hasher.update(&part[at..at + take]);
            at += take;
            if here + take as u64 == end {
                self.digests.push(self.hasher.finish());
                self.hasher = cairn_crypto::DigestHasher::default();
                self.next += 1;
            }
        }
        self.pos += part.len() as u64;
    }

    /// The digests, one per record in header order, once every byte came.
    pub(crate) fn finish(self) -> Result<Vec<Digest>, Error> {
        if self.digests.len() != self.records.len() {
            return Err(Error::internal("a pack ended before its last record"));
        }
        Ok(self.digests)
    }
}

/// Indexes the records of a stored pack in the caller's transaction;
/// returns how many copies were new to the company.
pub(crate) async fn index_records<C: ConnectionTrait>(
    txn: &C,
    scope: CompanyScope,
    uploader: &agent::Model,
    ip: &str,
    pack_id: &PackId,
    records: &[PackRecord],
    digests: &[Digest],
) -> Result<u32, Error> {
    let mut unique: Vec<(&PackRecord, Digest)> = Vec::with_capacity(records.len());
    let mut seen = HashSet::with_capacity(records.len());
    for (record, digest) in records.iter().zip(digests) {
        if seen.insert(record.id) {
            unique.push((record, *digest));
        }
    }
    let ids: Vec<ChunkId> = unique.iter().map(|(r, _)| r.id).collect();
    let first = first_copies(txn, scope, &ids).await?;
    let differing: Vec<ChunkId> = unique
        .iter()
        .filter(|(r, d)| matches!(first.get(&r.id), Some(Some(e)) if e != d))
        .map(|(r, _)| r.id)
        .collect();
    let copies = other_copies(txn, scope, &differing).await?;

    let location = |record: &PackRecord| {
        (
            pack_id.0.to_vec(),
            record.offset as i64,
            i64::from(record.length),
            i64::from(record.raw_length),
        )
    };
    let holder = Holder::of(uploader);
    let (mut new_rows, mut copy_rows, mut holdings, mut conflicts) = (
        Vec::new(),
        Vec::new(),
        Vec::with_capacity(unique.len()),
        Vec::new(),
    );
    for (record, digest) in &unique {
        let (pack, offset, length, raw_length) = location(record);
        match first.get(&record.id) {
            None => new_rows.push(chunk::ActiveModel {
                company_id: Set(scope.uuid()),
                id: Set(record.id.0.to_vec()),
                pack_id: Set(pack),
                offset: Set(offset),
                length: Set(length),
                raw_length: Set(raw_length),
                digest: Set(Some(digest.to_vec())),
            }),
            // Stored before digests were taken: it matches any copy.
            Some(None) => {}
            Some(Some(stored)) if stored == digest => {}
            Some(Some(_)) if copies.contains(&(record.id, *digest)) => {}
            Some(Some(_)) => {
                conflicts.push(record.id);
                copy_rows.push(chunk_copy::ActiveModel {
                    company_id: Set(scope.uuid()),
                    chunk_id: Set(record.id.0.to_vec()),
                    digest: Set(digest.to_vec()),
                    pack_id: Set(pack),
                    offset: Set(offset),
                    length: Set(length),
                    raw_length: Set(raw_length),
                });
            }
        }
        holdings.push(chunk_holding::ActiveModel {
            company_id: Set(scope.uuid()),
            holder: Set(holder.0),
            chunk_id: Set(record.id.0.to_vec()),
            digest: Set(Some(digest.to_vec())),
        });
    }

    let mut added = 0u64;
    for batch in pieces(new_rows) {
        added += chunk::Entity::insert_many(batch)
            .on_conflict(
                OnConflict::columns([chunk::Column::CompanyId, chunk::Column::Id])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await
            .map_err(db_err("indexing chunks"))?;
    }
    for batch in pieces(copy_rows) {
        added += chunk_copy::Entity::insert_many(batch)
            .on_conflict(
                OnConflict::columns([
                    chunk_copy::Column::CompanyId,
                    chunk_copy::Column::ChunkId,
                    chunk_copy::Column::Digest,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await
            .map_err(db_err("indexing chunk copies"))?;
    }
    // The person holds the copy their machine sent last: an honest machine
    // sends a chunk again only when its person's copy differs from its own.
    for batch in pieces(holdings) {
        chunk_holding::Entity::insert_many(batch)
            .on_conflict(
                OnConflict::columns([
                    chunk_holding::Column::CompanyId,
                    chunk_holding::Column::Holder,
                    chunk_holding::Column::ChunkId,
                ])
                .update_column(chunk_holding::Column::Digest)
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await
            .map_err(db_err("recording chunk holdings"))?;
    }
    if !conflicts.is_empty() {
        report(txn, scope, uploader, ip, &conflicts).await?;
    }
    Ok(u32::try_from(added).unwrap_or(u32::MAX))
}

/// The digest of the first copy of each of `ids` the company holds (none
/// for a copy stored before digests were taken).
async fn first_copies<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    ids: &[ChunkId],
) -> Result<HashMap<ChunkId, Option<Digest>>, Error> {
    let mut found = HashMap::new();
    for batch in ids.chunks(QUERY_BATCH) {
        let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = chunk::Entity::find()
            .select_only()
            .column(chunk::Column::Id)
            .column(chunk::Column::Digest)
            .filter(chunk::Column::CompanyId.eq(scope.uuid()))
            .filter(chunk::Column::Id.is_in(padded(batch).iter().map(|id| id.0.to_vec())))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err("looking up chunks"))?;
        for (id, digest) in rows {
            let digest = digest.and_then(|d| Digest::try_from(d.as_slice()).ok());
            found.insert(ChunkId::from_slice(&id, "chunk id")?, digest);
        }
    }
    Ok(found)
}

/// The further copies stored of `ids`, by id and digest.
async fn other_copies<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    ids: &[ChunkId],
) -> Result<HashSet<(ChunkId, Digest)>, Error> {
    let mut found = HashSet::new();
    for batch in ids.chunks(QUERY_BATCH) {
        let rows: Vec<(Vec<u8>, Vec<u8>)> = chunk_copy::Entity::find()
            .select_only()
            .column(chunk_copy::Column::ChunkId)
            .column(chunk_copy::Column::Digest)
            .filter(chunk_copy::Column::CompanyId.eq(scope.uuid()))
            .filter(chunk_copy::Column::ChunkId.is_in(padded(batch).iter().map(|id| id.0.to_vec())))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err("looking up chunk copies"))?;
        for (id, digest) in rows {
            if let Ok(digest) = Digest::try_from(digest.as_slice()) {
                found.insert((ChunkId::from_slice(&id, "chunk id")?, digest));
            }
        }
    }
    Ok(found)
}

/// Tells the company's admins (an audit entry and a mail) that a machine
/// uploaded chunks whose bytes differ from the copies already stored: one
/// of the two copies is damaged or forged. Backups keep working: each
/// person's machines commit and restore the copy that person holds.
async fn report<C: ConnectionTrait>(
    txn: &C,
    scope: CompanyScope,
    uploader: &agent::Model,
    ip: &str,
    conflicts: &[ChunkId],
) -> Result<(), Error> {
    let first = conflicts[0];
    let earlier = first_uploader(txn, scope, &first).await?;
    tracing::warn!(
        company = %scope.company(),
        agent = %uploader.id,
        chunks = conflicts.len(),
        first = %first.to_hex(),
        "uploaded chunks differ from the stored copies"
    );
    let actor = Actor {
        id: format!("agent:{}", uploader.id),
        ip,
    };
    record(
        txn,
        scope,
        &actor,
        "chunk.conflict",
        // The field holds 64 characters: the first id's leading half.
        &format!("chunks:{} first:{}", conflicts.len(), &first.to_hex()[..32]),
    )
    .await?;
    let earlier = match earlier {
        Some(machine) => format!("machine {} ({})", machine.hostname, machine.id),
        None => "a machine no longer known".to_owned(),
    };
    let body = format!(
        "Machine {} ({}) uploaded {} chunk(s) whose stored bytes differ from the copy the \
         company already held (the first: {}, whose earlier copy came from {}).\n\n\
         Every honest machine seals a chunk to the same bytes, so one of the two copies is \
         damaged or was forged by a machine of the company. Both are kept: each person's \
         machines back up and restore the copy that person uploaded, so no backup is spoiled \
         by another's copy. Check both machines for malware.\n",
        uploader.hostname,
        uploader.id,
        conflicts.len(),
        first.to_hex(),
        earlier,
    );
    cairn_tenancy::mail::mail_admins(
        txn,
        scope,
        "A machine uploaded chunks that differ from stored copies",
        &body,
    )
    .await
}

/// The machine whose pack holds the first copy of `id`.
async fn first_uploader<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    id: &ChunkId,
) -> Result<Option<agent::Model>, Error> {
    let Some(row) = chunk::Entity::find_by_id((scope.uuid(), id.0.to_vec()))
        .one(db)
        .await
        .map_err(db_err("finding a chunk"))?
    else {
        return Ok(None);
    };
    let Some(agent_id) = pack::Entity::find_by_id((scope.uuid(), row.pack_id))
        .one(db)
        .await
        .map_err(db_err("finding a pack"))?
        .and_then(|p| p.agent_id)
    else {
        return Ok(None);
    };
    agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::Id.eq(agent_id))
        .one(db)
        .await
        .map_err(db_err("finding an agent"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_records_digest_is_taken_whatever_the_parts() {
        let pack: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let at = |offset: u64, length: u32| PackRecord {
            id: ChunkId([offset as u8; 32]),
            offset,
            length,
            raw_length: length,
        };
        // A gap before the first, between two, and after the last.
        let records = [at(3, 100), at(103, 1), at(200, 500), at(900, 50)];
        let expected: Vec<Digest> = records
            .iter()
            .map(|r| {
                let range = r.offset as usize..(r.offset + u64::from(r.length)) as usize;
                cairn_crypto::stored_digest(&pack[range])
            })
            .collect();
        for part in [1, 2, 7, 100, 333, 1000] {
            let mut digests = RecordDigests::new(&records);
            for slice in pack.chunks(part) {
                digests.update(slice);
            }
            assert_eq!(digests.finish().unwrap(), expected, "parts of {part}");
        }
        let mut short = RecordDigests::new(&records);
        short.update(&pack[..920]);
        assert!(short.finish().is_err());
    }
}
