//! Snapshots: commit (last, after every chunk is stored), list, get, delete.

use futures::{Stream, StreamExt};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use cairn_core::validate::text;
use cairn_core::{AgentId, ChunkId, EntityKind, Error, SnapshotId};
use cairn_entity::regional::{agent, snapshot, snapshot_ref_page};
use cairn_entity::{CompanyScope, begin_write, db_err};
use cairn_proto::backup::v1::{self as pb, commit_snapshot_request::Part};

use crate::index::{QUERY_BATCH, lacking_sorted, padded, parse_ids};

/// Chunk ids per page of a snapshot's references (128 KiB).
const PAGE_IDS: usize = 4096;

/// Pages of a commit that never finished (the server stopped midway) are
/// swept once they are this old; younger ones may belong to a commit still
/// under way on another server of the cell.
const UNFINISHED_PAGES_HOURS: i64 = 24;

/// Reads and checks a commit's header, the stream's first message.
pub(crate) async fn receive_header<S>(
    stream: &mut S,
) -> Result<(pb::SnapshotHeader, ChunkId), Error>
where
    S: Stream<Item = Result<pb::CommitSnapshotRequest, tonic::Status>> + Unpin,
{
    let header = match stream.next().await {
        Some(Ok(pb::CommitSnapshotRequest {
            part: Some(Part::Header(h)),
        })) => h,
        Some(Ok(_)) => {
            return Err(Error::invalid(
                "header",
                "the first message must be the snapshot header",
            ));
        }
        Some(Err(status)) => return Err(Error::from_request_stream(status)),
        None => return Err(Error::invalid("header", "empty commit")),
    };
    let tree = ChunkId::from_slice(&header.tree_id, "header.tree_id")?;
    text("header.hostname", &header.hostname, 253)?;
    if header.paths.is_empty() || header.paths.len() > 1000 {
        return Err(Error::invalid("header.paths", "must name 1 to 1000 paths"));
    }
    for path in &header.paths {
        if path.is_empty() || path.len() > 4096 {
            return Err(Error::invalid(
                "header.paths",
                "each path must be 1 to 4096 bytes",
            ));
        }
    }
    Ok((header, tree))
}

/// Which agents' snapshots a caller may see.
#[derive(Clone, Debug)]
pub(crate) enum Visible {
    All,
    Agents(Vec<uuid::Uuid>),
}

impl Visible {
    fn allows(&self, agent: uuid::Uuid) -> bool {
        match self {
            Visible::All => true,
            Visible::Agents(ids) => ids.contains(&agent),
        }
    }
}

/// How many snapshots of one agent are kept after a commit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retention {
    pub(crate) keep_last: usize,
    pub(crate) keep_within_days: i64,
}

/// Commits a snapshot whose header is read: its referenced chunk ids come
/// in ascending order, are checked and written a page at a time as they
/// arrive (so memory does not grow with the snapshot), and the snapshot's
/// row is written last, in one transaction with the retention it triggers.
/// A commit that fails leaves no pages behind.
pub(crate) async fn commit<S>(
    db: &DatabaseConnection,
    scope: CompanyScope,
    agent: AgentId,
    retention: Retention,
    (header, tree): (pb::SnapshotHeader, ChunkId),
    stream: S,
) -> Result<snapshot::Model, Error>
where
    S: Stream<Item = Result<pb::CommitSnapshotRequest, tonic::Status>> + Unpin,
{
    let id = SnapshotId::new();
    let outcome = async {
        write_refs(db, scope, agent, id, tree, stream).await?;
        record(db, scope, agent, retention, id, header, tree).await
    }
    .await;
    if outcome.is_err()
        && let Err(err) = snapshot_ref_page::Entity::delete_many()
            .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
            .filter(snapshot_ref_page::Column::SnapshotId.eq(id.0))
            .exec(db)
            .await
    {
        // Swept later (see `sweep_unfinished`).
        tracing::warn!(snapshot = %id, error = %err, "could not remove a failed commit's pages");
    }
    outcome
}

/// Reads the referenced ids, with the root tree among them, into pages.
async fn write_refs<S>(
    db: &DatabaseConnection,
    scope: CompanyScope,
    agent: AgentId,
    snapshot: SnapshotId,
    tree: ChunkId,
    mut stream: S,
) -> Result<(), Error>
where
    S: Stream<Item = Result<pb::CommitSnapshotRequest, tonic::Status>> + Unpin,
{
    let mut pages = RefPages {
        db,
        scope,
        snapshot,
        parent: ParentRefs::newest(db, scope, agent).await?,
        page: Vec::with_capacity(PAGE_IDS * 32),
        number: 0,
        fresh: Vec::new(),
        last: None,
        created_at: chrono::Utc::now(),
    };
    // The tree goes in its place among the ids, unless the agent sent it.
    let mut tree = Some(tree);
    while let Some(message) = stream.next().await {
        match message.map_err(Error::from_request_stream)?.part {
            Some(Part::ChunkIds(batch)) => {
                for id in parse_ids("chunk_ids.ids", &batch.ids)? {
                    if let Some(t) = tree.filter(|t| *t <= id) {
                        if t < id {
                            pages.push(t).await?;
                        }
                        tree = None;
                    }
                    pages.push(id).await?;
                }
            }
            Some(Part::Header(_)) => return Err(Error::invalid("header", "sent twice")),
            None => return Err(Error::invalid("part", "empty message")),
        }
    }
    if let Some(t) = tree {
        pages.push(t).await?;
    }
    pages.flush().await
}

/// Writes a snapshot's pages of referenced ids as they fill, each checked
/// first: every id must be stored for the company.
struct RefPages<'a> {
    db: &'a DatabaseConnection,
    scope: CompanyScope,
    snapshot: SnapshotId,
    parent: ParentRefs<'a>,
    page: Vec<u8>,
    number: i32,
    /// Ids of this page that the parent snapshot does not reference.
    fresh: Vec<ChunkId>,
    last: Option<ChunkId>,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl RefPages<'_> {
    async fn push(&mut self, id: ChunkId) -> Result<(), Error> {
        if let Some(last) = self.last.filter(|last| *last >= id) {
            return Err(Error::invalid(
                "chunk_ids",
                format!(
                    "must be in ascending order without repeats: {} came after {}",
                    id.to_hex(),
                    last.to_hex()
                ),
            ));
        }
        self.last = Some(id);
        // Chunks the agent's previous snapshot references are stored
        // (nothing removes chunks a snapshot references): only the others
        // are looked up.
        if !self.parent.contains(&id).await? {
            self.fresh.push(id);
        }
        self.page.extend_from_slice(&id.0);
        if self.page.len() >= PAGE_IDS * 32 {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Error> {
        if self.page.is_empty() {
            return Ok(());
        }
        let lacking = lacking_sorted(self.db, self.scope, &self.fresh).await?;
        if !lacking.is_empty() {
            return Err(Error::ChunksNotStored {
                lacking: lacking.len(),
                checked: self.fresh.len(),
                first: lacking[0],
            });
        }
        self.fresh.clear();
        let ids = std::mem::replace(&mut self.page, Vec::with_capacity(PAGE_IDS * 32));
        snapshot_ref_page::Entity::insert(snapshot_ref_page::ActiveModel {
            snapshot_id: Set(self.snapshot.0),
            page: Set(self.number),
            company_id: Set(self.scope.uuid()),
            chunk_ids: Set(ids),
            created_at: Set(self.created_at),
        })
        .exec_without_returning(self.db)
        .await
        .map_err(db_err("recording snapshot chunks"))?;
        self.number += 1;
        Ok(())
    }
}

/// The chunk ids the agent's newest snapshot references, read a page at a
/// time while the new snapshot's ids, also ascending, are matched against
/// them.
struct ParentRefs<'a> {
    db: &'a DatabaseConnection,
    scope: CompanyScope,
    snapshot: Option<uuid::Uuid>,
    page: Vec<u8>,
    pos: usize,
    next: i32,
}

impl<'a> ParentRefs<'a> {
    async fn newest(
        db: &'a DatabaseConnection,
        scope: CompanyScope,
        agent: AgentId,
    ) -> Result<ParentRefs<'a>, Error> {
        let snapshot: Option<uuid::Uuid> = snapshot::Entity::find()
            .select_only()
            .column(snapshot::Column::Id)
            .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
            .filter(snapshot::Column::AgentId.eq(agent.0))
            .order_by_desc(snapshot::Column::CreatedAt)
            .order_by_desc(snapshot::Column::Id)
            .into_tuple()
            .one(db)
            .await
            .map_err(db_err("finding an agent's newest snapshot"))?;
        Ok(ParentRefs {
            db,
            scope,
            snapshot,
            page: Vec::new(),
            pos: 0,
            next: 0,
        })
    }

    /// Whether the parent references `id`; each call must name a larger id
    /// than the one before.
    async fn contains(&mut self, id: &ChunkId) -> Result<bool, Error> {
        loop {
            while let Some(current) = self.page.get(self.pos..self.pos + 32) {
                match current.cmp(&id.0[..]) {
                    std::cmp::Ordering::Less => self.pos += 32,
                    std::cmp::Ordering::Equal => return Ok(true),
                    std::cmp::Ordering::Greater => return Ok(false),
                }
            }
            let Some(snapshot) = self.snapshot else {
                return Ok(false);
            };
            let page = snapshot_ref_page::Entity::find_by_id((snapshot, self.next))
                .filter(snapshot_ref_page::Column::CompanyId.eq(self.scope.uuid()))
                .one(self.db)
                .await
                .map_err(db_err("reading a snapshot's chunks"))?;
            match page {
                Some(page) => {
                    self.page = page.chunk_ids;
                    self.pos = 0;
                    self.next += 1;
                }
                None => {
                    self.snapshot = None;
                    return Ok(false);
                }
            }
        }
    }
}

/// Writes the snapshot's row, once all its pages are, and forgets what the
/// retention policy no longer keeps.
async fn record(
    db: &DatabaseConnection,
    scope: CompanyScope,
    agent: AgentId,
    retention: Retention,
    id: SnapshotId,
    header: pb::SnapshotHeader,
    tree: ChunkId,
) -> Result<snapshot::Model, Error> {
    let stats = header.stats.unwrap_or_default();
    let txn = begin_write(db)
        .await
        .map_err(db_err("starting a snapshot commit"))?;
    let row = snapshot::ActiveModel {
        id: Set(id.0),
        company_id: Set(scope.uuid()),
        agent_id: Set(agent.0),
        hostname: Set(header.hostname.trim().to_owned()),
        paths: Set(serde_json::to_string(&header.paths)
            .map_err(|e| Error::internal_with("encoding paths", e))?),
        started_at: Set(header.started_at),
        finished_at: Set(header.finished_at),
        tree_id: Set(tree.0.to_vec()),
        files: Set(stats.files as i64),
        dirs: Set(stats.dirs as i64),
        bytes: Set(stats.bytes as i64),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(db_err("recording a snapshot"))?;
    cairn_tenancy::agents::record_backup(&txn, agent, stats.bytes as i64).await?;
    let forgotten = apply_retention(&txn, scope, agent, retention).await?;
    txn.commit()
        .await
        .map_err(db_err("committing a snapshot"))?;
    tracing::info!(company = %scope.company(), snapshot = %id, forgotten, "snapshot committed");
    Ok(row)
}

/// Removes the pages of commits that never finished: those without their
/// snapshot's row, older than a day. Run when a cell starts.
pub async fn sweep_unfinished(db: &DatabaseConnection) -> Result<u64, Error> {
    let cutoff = chrono::Utc::now() - chrono::Duration::hours(UNFINISHED_PAGES_HOURS);
    let done = snapshot_ref_page::Entity::delete_many()
        .filter(snapshot_ref_page::Column::CreatedAt.lt(cutoff))
        .filter(
            snapshot_ref_page::Column::SnapshotId.not_in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(snapshot::Column::Id)
                    .from(snapshot::Entity)
                    .to_owned(),
            ),
        )
        .exec(db)
        .await
        .map_err(db_err("sweeping unfinished snapshot commits"))?;
    Ok(done.rows_affected)
}

/// Forgets the agent's snapshots the policy no longer keeps: all but the
/// newest `keep_last` that are older than `keep_within_days`.
async fn apply_retention<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    agent: AgentId,
    retention: Retention,
) -> Result<usize, Error> {
    let rows = snapshot::Entity::find()
        .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot::Column::AgentId.eq(agent.0))
        .order_by_desc(snapshot::Column::CreatedAt)
        .order_by_desc(snapshot::Column::Id)
        .all(db)
        .await
        .map_err(db_err("listing an agent's snapshots"))?;
    let cutoff = chrono::Utc::now() - chrono::Duration::days(retention.keep_within_days);
    let expired: Vec<uuid::Uuid> = rows
        .iter()
        .skip(retention.keep_last)
        .filter(|r| r.created_at < cutoff)
        .map(|r| r.id)
        .collect();
    for batch in expired.chunks(QUERY_BATCH) {
        snapshot_ref_page::Entity::delete_many()
            .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
            .filter(snapshot_ref_page::Column::SnapshotId.is_in(padded(batch)))
            .exec(db)
            .await
            .map_err(db_err("forgetting snapshot chunks"))?;
        snapshot::Entity::delete_many()
            .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
            .filter(snapshot::Column::Id.is_in(padded(batch)))
            .exec(db)
            .await
            .map_err(db_err("forgetting snapshots"))?;
    }
    Ok(expired.len())
}

pub(crate) async fn list(
    db: &DatabaseConnection,
    scope: CompanyScope,
    visible: &Visible,
    agent: Option<AgentId>,
) -> Result<Vec<snapshot::Model>, Error> {
    let mut query = snapshot::Entity::find().filter(snapshot::Column::CompanyId.eq(scope.uuid()));
    if let Visible::Agents(ids) = visible {
        query = query.filter(snapshot::Column::AgentId.is_in(ids.iter().copied()));
    }
    if let Some(agent) = agent {
        // Naming another company's agent is NOT_FOUND, not an empty list.
        let known = agent::Entity::find()
            .filter(agent::Column::CompanyId.eq(scope.uuid()))
            .filter(agent::Column::Id.eq(agent.0))
            .one(db)
            .await
            .map_err(db_err("finding an agent"))?;
        if known.is_none() || !visible.allows(agent.0) {
            return Err(Error::not_found(EntityKind::Agent, agent));
        }
        query = query.filter(snapshot::Column::AgentId.eq(agent.0));
    }
    query
        .order_by_asc(snapshot::Column::CreatedAt)
        .all(db)
        .await
        .map_err(db_err("listing snapshots"))
}

pub(crate) async fn get(
    db: &DatabaseConnection,
    scope: CompanyScope,
    visible: &Visible,
    id: SnapshotId,
) -> Result<snapshot::Model, Error> {
    snapshot::Entity::find()
        .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot::Column::Id.eq(id.0))
        .one(db)
        .await
        .map_err(db_err("finding a snapshot"))?
        .filter(|row| visible.allows(row.agent_id))
        .ok_or_else(|| Error::not_found(EntityKind::Snapshot, id))
}

/// Forgets a snapshot; its chunks stay until garbage collection.
pub(crate) async fn delete(
    db: &DatabaseConnection,
    scope: CompanyScope,
    visible: &Visible,
    id: SnapshotId,
) -> Result<(), Error> {
    get(db, scope, visible, id).await?;
    let txn = begin_write(db)
        .await
        .map_err(db_err("starting a snapshot delete"))?;
    let done = snapshot::Entity::delete_many()
        .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot::Column::Id.eq(id.0))
        .exec(&txn)
        .await
        .map_err(db_err("deleting a snapshot"))?;
    if done.rows_affected == 0 {
        return Err(Error::not_found(EntityKind::Snapshot, id));
    }
    snapshot_ref_page::Entity::delete_many()
        .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot_ref_page::Column::SnapshotId.eq(id.0))
        .exec(&txn)
        .await
        .map_err(db_err("deleting snapshot chunks"))?;
    txn.commit()
        .await
        .map_err(db_err("committing a snapshot delete"))
}

pub(crate) fn to_proto(row: snapshot::Model) -> pb::Snapshot {
    pb::Snapshot {
        snapshot_id: row.id.to_string(),
        agent_id: row.agent_id.to_string(),
        hostname: row.hostname,
        paths: serde_json::from_str(&row.paths).unwrap_or_default(),
        started_at: row.started_at,
        finished_at: row.finished_at,
        tree_id: row.tree_id,
        stats: Some(pb::SnapshotStats {
            files: row.files as u64,
            dirs: row.dirs as u64,
            bytes: row.bytes as u64,
        }),
    }
}

#[cfg(test)]
mod tests {
    use cairn_core::CompanyId;
    use cairn_entity::regional::chunk;
    use sea_orm::PaginatorTrait;

    use super::*;

    /// Sortable ids: `n` big-endian first.
    fn id(n: u32) -> ChunkId {
        let mut bytes = [7u8; 32];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        ChunkId(bytes)
    }

    async fn store_chunks(db: &DatabaseConnection, scope: CompanyScope, ids: &[ChunkId]) {
        for batch in ids.chunks(500) {
            chunk::Entity::insert_many(batch.iter().map(|id| chunk::ActiveModel {
                company_id: Set(scope.uuid()),
                id: Set(id.0.to_vec()),
                pack_id: Set(vec![1; 32]),
                offset: Set(0),
                length: Set(1),
                raw_length: Set(1),
            }))
            .exec(db)
            .await
            .unwrap();
        }
    }

    type Requests =
        futures::stream::Iter<std::vec::IntoIter<Result<pb::CommitSnapshotRequest, tonic::Status>>>;

    /// A commit's header and its ids, a thousand per message.
    fn requests(tree: ChunkId, ids: &[ChunkId]) -> ((pb::SnapshotHeader, ChunkId), Requests) {
        let header = pb::SnapshotHeader {
            tree_id: tree.0.to_vec(),
            hostname: "ledger-1".into(),
            paths: vec!["/data".into()],
            ..pb::SnapshotHeader::default()
        };
        let messages: Vec<_> = ids
            .chunks(1000)
            .map(|batch| {
                Ok(pb::CommitSnapshotRequest {
                    part: Some(Part::ChunkIds(pb::ChunkIds {
                        ids: batch.iter().map(|id| id.0.to_vec()).collect(),
                    })),
                })
            })
            .collect();
        ((header, tree), futures::stream::iter(messages))
    }

    async fn pages_of(db: &DatabaseConnection, snapshot: uuid::Uuid) -> Vec<u8> {
        snapshot_ref_page::Entity::find()
            .filter(snapshot_ref_page::Column::SnapshotId.eq(snapshot))
            .order_by_asc(snapshot_ref_page::Column::Page)
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .flat_map(|p| p.chunk_ids)
            .collect()
    }

    async fn company_pages(db: &DatabaseConnection, scope: CompanyScope) -> u64 {
        snapshot_ref_page::Entity::find()
            .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
            .count(db)
            .await
            .unwrap()
    }

    const KEEP: Retention = Retention {
        keep_last: 100,
        keep_within_days: 30,
    };

    #[tokio::test]
    async fn references_are_checked_and_written_a_page_at_a_time() {
        for test_db in cairn_migration::testing::test_databases().await.unwrap() {
            let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
            let scope = CompanyScope::for_tests(CompanyId::new());
            let agent = AgentId(uuid::Uuid::now_v7());
            // Two and a half pages of chunks, the tree in their midst.
            let ids: Vec<ChunkId> = (0..(PAGE_IDS * 5 / 2) as u32).map(|n| id(n * 2)).collect();
            let tree = id(2001);
            store_chunks(&db, scope, &ids).await;
            store_chunks(&db, scope, &[tree]).await;

            let (header, stream) = requests(tree, &ids);
            let first = commit(&db, scope, agent, KEEP, header, stream)
                .await
                .unwrap();
            let mut expected: Vec<ChunkId> = ids.clone();
            expected.push(tree);
            expected.sort();
            assert_eq!(
                pages_of(&db, first.id).await,
                expected.iter().flat_map(|id| id.0).collect::<Vec<u8>>(),
                "{}",
                test_db.backend
            );
            assert_eq!(company_pages(&db, scope).await, 3, "{}", test_db.backend);

            // The next snapshot: the parent's ids pass without a lookup, new
            // ones are looked up, and one the company lacks fails the
            // commit without leaving pages behind.
            let added: Vec<ChunkId> = (0..10).map(|n| id(n * 2 + 1)).collect();
            store_chunks(&db, scope, &added).await;
            let mut next: Vec<ChunkId> = ids.iter().chain(&added).copied().collect();
            next.sort();
            let (header, stream) = requests(tree, &next);
            let second = commit(&db, scope, agent, KEEP, header, stream)
                .await
                .unwrap();
            assert_eq!(
                pages_of(&db, second.id).await.len(),
                (next.len() + 1) * 32,
                "{}",
                test_db.backend
            );
            let mut lacking = next.clone();
            lacking.push(id(u32::MAX));
            let (header, stream) = requests(tree, &lacking);
            let err = commit(&db, scope, agent, KEEP, header, stream)
                .await
                .unwrap_err();
            assert!(
                err.to_string().contains("not stored for this company"),
                "{err}"
            );
            assert!(err.to_string().contains(&id(u32::MAX).to_hex()), "{err}");

            // Out of order, or repeated: refused, nothing left behind.
            let mut unsorted = ids.clone();
            unsorted.swap(10, PAGE_IDS + 10);
            let (header, stream) = requests(tree, &unsorted);
            let err = commit(&db, scope, agent, KEEP, header, stream)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("ascending order"), "{err}");
            let repeated = [ids[0], ids[0]];
            let (header, stream) = requests(tree, &repeated);
            let err = commit(&db, scope, agent, KEEP, header, stream)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("ascending order"), "{err}");
            assert_eq!(company_pages(&db, scope).await, 6, "{}", test_db.backend);

            // Deleting a snapshot removes its pages.
            delete(&db, scope, &Visible::All, SnapshotId(first.id))
                .await
                .unwrap();
            assert!(pages_of(&db, first.id).await.is_empty());
            assert_eq!(company_pages(&db, scope).await, 3, "{}", test_db.backend);
        }
    }

    #[tokio::test]
    async fn lacking_chunks_are_found_whether_or_not_one_scan_covers_the_span() {
        for test_db in cairn_migration::testing::test_databases().await.unwrap() {
            let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
            let scope = CompanyScope::for_tests(CompanyId::new());
            let other = CompanyScope::for_tests(CompanyId::new());
            // The company holds the even ids, another company the odd ones.
            let held: Vec<ChunkId> = (0..2000).map(|n| id(n * 2)).collect();
            let theirs: Vec<ChunkId> = (0..2000).map(|n| id(n * 2 + 1)).collect();
            store_chunks(&db, scope, &held).await;
            store_chunks(&db, other, &theirs).await;

            // Dense, as a snapshot page is: one scan reads the whole span.
            let mut asked: Vec<ChunkId> = held[..1000].to_vec();
            asked.extend([id(2001), id(2003)]);
            assert_eq!(
                lacking_sorted(&db, scope, &asked).await.unwrap(),
                [id(2001), id(2003)],
                "{}",
                test_db.backend
            );
            // Sparse: the span holds far more rows than the scan reads, so
            // the ids past its end are probed instead, and still found.
            let asked = [id(0), id(1999), id(3998)];
            assert_eq!(
                lacking_sorted(&db, scope, &asked).await.unwrap(),
                [id(1999)],
                "{}",
                test_db.backend
            );
            assert!(lacking_sorted(&db, scope, &[]).await.unwrap().is_empty());
            assert_eq!(
                lacking_sorted(&db, other, &[id(0), id(1)]).await.unwrap(),
                [id(0)],
                "{}",
                test_db.backend
            );
        }
    }

    #[tokio::test]
    async fn only_old_pages_of_unfinished_commits_are_swept() {
        for test_db in cairn_migration::testing::test_databases().await.unwrap() {
            let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
            let scope = CompanyScope::for_tests(CompanyId::new());
            let agent = AgentId(uuid::Uuid::now_v7());
            let tree = id(1);
            store_chunks(&db, scope, &[tree]).await;
            let (header, stream) = requests(tree, &[]);
            let committed = commit(&db, scope, agent, KEEP, header, stream)
                .await
                .unwrap();
            let old = chrono::Utc::now() - chrono::Duration::days(3);
            let (abandoned, under_way) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
            for (snapshot, created_at) in [(abandoned, old), (under_way, chrono::Utc::now())] {
                snapshot_ref_page::Entity::insert(snapshot_ref_page::ActiveModel {
                    snapshot_id: Set(snapshot),
                    page: Set(0),
                    company_id: Set(scope.uuid()),
                    chunk_ids: Set(tree.0.to_vec()),
                    created_at: Set(created_at),
                })
                .exec_without_returning(&db)
                .await
                .unwrap();
            }
            // The committed snapshot's page is old too, but has its row.
            snapshot_ref_page::Entity::update_many()
                .col_expr(
                    snapshot_ref_page::Column::CreatedAt,
                    sea_orm::sea_query::Expr::value(old),
                )
                .filter(snapshot_ref_page::Column::SnapshotId.eq(committed.id))
                .exec(&db)
                .await
                .unwrap();

            let swept = sweep_unfinished(&db).await.unwrap();
            assert_eq!(swept, 1, "{}", test_db.backend);
            assert!(pages_of(&db, abandoned).await.is_empty());
            assert!(!pages_of(&db, under_way).await.is_empty());
            assert_eq!(pages_of(&db, committed.id).await, tree.0.to_vec());
        }
    }
}
