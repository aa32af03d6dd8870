//! Fixtures the crate's tests share: sortable chunk ids, chunks in the
//! index, a commit as the adapter hands it on, the pages a snapshot left,
//! and companies with their people, machines and groups.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use chrono::Utc;
use sea_orm::ActiveModelTrait;

use cairn_auth::{Claims, PrincipalKind, Role};
use cairn_core::policy::Policy;
use cairn_core::{AgentId, ChunkId, CompanyId, Error, Region};
use cairn_entity::CompanyScope;
use cairn_entity::regional::{
    agent, chunk, chunk_holding, company, group, snapshot, snapshot_ref_page, user,
};
use cairn_migration::testing::TestDatabase;
use cairn_tenancy::access::{self, UserCaller};

use crate::holdings::Holder;
use crate::snapshots::{Machine, Retention, SnapshotCommit, SnapshotHeader, SnapshotStats};

/// Sortable ids: `n` big-endian first.
pub(crate) fn id(n: u32) -> ChunkId {
    let mut bytes = [7u8; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    ChunkId(bytes)
}

/// Indexes `ids` for the company, in a pack that is not there, held by
/// `holder` (with no digest: as chunks stored before digests were taken).
pub(crate) async fn store_chunks(
    db: &DatabaseConnection,
    scope: CompanyScope,
    holder: Holder,
    ids: &[ChunkId],
) {
    for batch in ids.chunks(500) {
        chunk::Entity::insert_many(batch.iter().map(|id| chunk::ActiveModel {
            company_id: Set(scope.uuid()),
            id: Set(id.0.to_vec()),
            pack_id: Set(vec![1; 32]),
            offset: Set(0),
            length: Set(1),
            raw_length: Set(1),
            digest: Set(None),
        }))
        .on_conflict(
            OnConflict::columns([chunk::Column::CompanyId, chunk::Column::Id])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .unwrap();
        chunk_holding::Entity::insert_many(batch.iter().map(|id| chunk_holding::ActiveModel {
            company_id: Set(scope.uuid()),
            holder: Set(holder.0),
            chunk_id: Set(id.0.to_vec()),
            digest: Set(None),
        }))
        .exec(db)
        .await
        .unwrap();
    }
}

/// A machine of nobody, by its id alone.
pub(crate) fn machine(agent: AgentId) -> Machine {
    Machine {
        agent,
        holder: Holder(agent.0),
    }
}

pub(crate) type Ids = futures::stream::Iter<std::vec::IntoIter<Result<Vec<ChunkId>, Error>>>;

/// A commit's header and its ids, a thousand per batch, as the adapter
/// hands them on.
pub(crate) fn requests(tree: ChunkId, ids: &[ChunkId]) -> SnapshotCommit<Ids> {
    let header = SnapshotHeader::new(
        tree,
        "ledger-1".into(),
        vec!["/data".into()],
        0,
        0,
        SnapshotStats::default(),
    )
    .unwrap();
    let batches: Vec<_> = ids.chunks(1000).map(|batch| Ok(batch.to_vec())).collect();
    SnapshotCommit {
        header,
        ids: futures::stream::iter(batches),
    }
}

/// The ids a snapshot's pages hold, in page order.
pub(crate) async fn pages_of(db: &DatabaseConnection, snapshot: uuid::Uuid) -> Vec<u8> {
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

/// How many pages the company's snapshots have.
pub(crate) async fn company_pages(db: &DatabaseConnection, scope: CompanyScope) -> u64 {
    snapshot_ref_page::Entity::find()
        .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
        .count(db)
        .await
        .unwrap()
}

/// A retention that forgets nothing in a test.
pub(crate) const KEEP: Retention = Retention {
    keep_last: 100,
    keep_within_days: 30,
};

/// A freshly migrated regional database per backend: SQLite, and
/// PostgreSQL when `CAIRN_TEST_DATABASE_URL` is set. The test database is
/// returned too: a SQLite file lives as long as it does.
pub(crate) async fn databases() -> Vec<(DatabaseConnection, TestDatabase)> {
    let mut out = Vec::new();
    for test_db in cairn_migration::testing::test_databases().await.unwrap() {
        let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
        out.push((db, test_db));
    }
    out
}

/// A company with `quota_bytes`, and no one in it yet.
pub(crate) async fn company(db: &DatabaseConnection, quota_bytes: Option<i64>) -> CompanyScope {
    let id = CompanyId::new();
    company::ActiveModel {
        id: Set(id.0),
        name: Set(format!("Company {id}")),
        industry: Set("retail".into()),
        employees: Set(10),
        country: Set("US".into()),
        region: Set("us".into()),
        seats: Set(5),
        wrapped_key: Set(vec![1, 2, 3]),
        created_at: Set(Utc::now()),
        phone: Set(String::new()),
        city: Set(String::new()),
        state: Set(String::new()),
        postal_code: Set(String::new()),
        signup_ip: Set("127.0.0.1".into()),
        quota_bytes: Set(quota_bytes),
        quota_alert_at: Set(None),
        idle_alert_days: Set(7),
        personal_key: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    CompanyScope::for_tests(id)
}

/// A user of the company with `role`, as the caller the database knows.
pub(crate) async fn user(db: &DatabaseConnection, scope: CompanyScope, role: Role) -> UserCaller {
    let id = uuid::Uuid::now_v7();
    let name = match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        _ => "member",
    };
    user::ActiveModel {
        id: Set(id),
        company_id: Set(scope.uuid()),
        name: Set(format!("{name} {id}")),
        email: Set(format!("{id}@example.com")),
        password_hash: Set(String::new()),
        role: Set(name.into()),
        created_at: Set(Utc::now()),
        title: Set(String::new()),
        username: Set(id.to_string()),
        signup_ip: Set("127.0.0.1".into()),
        email_confirmed_at: Set(Some(Utc::now())),
        marketing_opt_out: Set(false),
        group_id: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    let claims = Claims {
        sub: id.to_string(),
        company: scope.company().to_string(),
        region: Region::Us,
        roles: vec![role],
        kind: PrincipalKind::User,
        iss: "cairn-us".into(),
        aud: "cairn".into(),
        exp: i64::MAX,
        iat: 0,
        jti: uuid::Uuid::now_v7().to_string(),
    };
    access::user_from_claims(db, claims, access::EVERYONE)
        .await
        .unwrap()
}

/// An enrolled machine of the company, belonging to `owner` (a user id).
pub(crate) async fn agent(
    db: &DatabaseConnection,
    scope: CompanyScope,
    owner: Option<uuid::Uuid>,
    group: Option<&group::Model>,
) -> agent::Model {
    let id = uuid::Uuid::now_v7();
    agent::ActiveModel {
        id: Set(id),
        company_id: Set(scope.uuid()),
        hostname: Set(format!("host-{id}")),
        credential_hash: Set(id.as_bytes().to_vec()),
        enrolled_at: Set(Utc::now()),
        revoked_at: Set(None),
        owner_user_id: Set(owner),
        group_id: Set(group.map(|g| g.id)),
        last_seen_at: Set(None),
        last_attempt_at: Set(None),
        last_backup_at: Set(None),
        last_result: Set(String::new()),
        last_error: Set(String::new()),
        bytes_protected: Set(0),
        policy_version_seen: Set(0),
        idle_alert_at: Set(None),
    }
    .insert(db)
    .await
    .unwrap()
}

/// A group of the company with policy `policy` and `quota_bytes`.
pub(crate) async fn group(
    db: &DatabaseConnection,
    scope: CompanyScope,
    policy: &Policy,
    quota_bytes: Option<i64>,
) -> group::Model {
    let mut active = cairn_tenancy::groups::new_group(scope, "Ledger".into(), false, policy);
    active.quota_bytes = Set(quota_bytes);
    active.insert(db).await.unwrap()
}

/// Commits a snapshot of the agent referencing only its root tree, which
/// is indexed first.
pub(crate) async fn snapshot_of(
    db: &DatabaseConnection,
    scope: CompanyScope,
    agent: &agent::Model,
) -> snapshot::Model {
    let mut id = [0u8; 32];
    id[..16].copy_from_slice(uuid::Uuid::now_v7().as_bytes());
    let tree = ChunkId(id);
    store_chunks(db, scope, Holder::of(agent), &[tree]).await;
    crate::snapshots::commit_for_agent(db, scope, agent, requests(tree, &[]))
        .await
        .unwrap()
}
