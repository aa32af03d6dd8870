//! A commit's referenced chunk ids, written a page at a time as they arrive,
//! each page checked first against the chunks the machine's person holds
//! (ids the agent's previous snapshot references pass without a lookup): a
//! machine cannot commit a snapshot pointing at a colleague's chunks to
//! restore them.

use futures::{Stream, StreamExt};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use cairn_core::{AgentId, ChunkId, Error, SnapshotId};
use cairn_entity::regional::{snapshot, snapshot_ref_page};
use cairn_entity::{CompanyScope, db_err};

use crate::holdings::{Holder, lacking_sorted};

/// Chunk ids per page of a snapshot's references (128 KiB).
pub(super) const PAGE_IDS: usize = 4096;

/// Reads the referenced ids, with the root tree among them, into pages.
pub(super) async fn write_refs<I>(
    db: &DatabaseConnection,
    scope: CompanyScope,
    agent: AgentId,
    holder: Holder,
    snapshot: SnapshotId,
    tree: ChunkId,
    mut ids: I,
) -> Result<(), Error>
where
    I: Stream<Item = Result<Vec<ChunkId>, Error>> + Unpin,
{
    let mut pages = RefPages {
        db,
        scope,
        holder,
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
    while let Some(batch) = ids.next().await {
        for id in batch? {
            if let Some(t) = tree.filter(|t| *t <= id) {
                if t < id {
                    pages.push(t).await?;
                }
                tree = None;
            }
            pages.push(id).await?;
        }
    }
    if let Some(t) = tree {
        pages.push(t).await?;
    }
    pages.flush().await
}

/// Writes a snapshot's pages of referenced ids as they fill, each checked
/// first: every id must be held by the machine's person or referenced by
/// its previous snapshot.
struct RefPages<'a> {
    db: &'a DatabaseConnection,
    scope: CompanyScope,
    holder: Holder,
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
        let lacking = lacking_sorted(self.db, self.scope, self.holder, &self.fresh).await?;
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
