//! Retention, applied at commit from the agent's group policy: the newest
//! `keep_last` snapshots stay whatever their age, older ones stay while
//! they are younger than `keep_within_days`, the rest are forgotten with
//! their pages.

use std::collections::BTreeSet;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use cairn_core::AgentId;
use cairn_core::policy::Policy;
use cairn_entity::CompanyScope;
use cairn_entity::regional::snapshot;

use crate::snapshots::{self, Visible};
use crate::testing::{agent, company, company_pages, databases, group, snapshot_of};

/// Makes a snapshot look `days` old.
async fn age(db: &DatabaseConnection, row: &snapshot::Model, days: i64) {
    snapshot::Entity::update_many()
        .col_expr(
            snapshot::Column::CreatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(days)),
        )
        .filter(snapshot::Column::Id.eq(row.id))
        .exec(db)
        .await
        .unwrap();
}

async fn kept(
    db: &DatabaseConnection,
    scope: CompanyScope,
    machine: AgentId,
) -> BTreeSet<uuid::Uuid> {
    snapshots::list(db, scope, &Visible::All, Some(machine))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

#[tokio::test]
async fn a_commit_forgets_what_the_groups_policy_no_longer_keeps() {
    for (db, test_db) in databases().await {
        let backend = test_db.backend;
        let scope = company(&db, None).await;
        let policy = Policy {
            keep_last: 2,
            keep_within_days: 7,
            ..Policy::default()
        };
        let ledger = group(&db, scope, &policy, None).await;
        let machine = agent(&db, scope, None, Some(&ledger)).await;
        let id = AgentId(machine.id);

        let a = snapshot_of(&db, scope, &machine).await;
        let b = snapshot_of(&db, scope, &machine).await;
        let c = snapshot_of(&db, scope, &machine).await;
        assert_eq!(kept(&db, scope, id).await.len(), 3, "{backend}");
        age(&db, &a, 30).await;
        age(&db, &b, 20).await;
        age(&db, &c, 10).await;

        // The two newest stay, even the one ten days old; the older ones,
        // past seven days, go with their pages.
        let d = snapshot_of(&db, scope, &machine).await;
        assert_eq!(
            kept(&db, scope, id).await,
            BTreeSet::from([c.id, d.id]),
            "{backend}"
        );
        assert_eq!(company_pages(&db, scope).await, 2, "{backend}");

        // Past the newest two, a snapshot younger than seven days stays.
        let e = snapshot_of(&db, scope, &machine).await;
        assert_eq!(
            kept(&db, scope, id).await,
            BTreeSet::from([d.id, e.id]),
            "{backend}"
        );
        let f = snapshot_of(&db, scope, &machine).await;
        assert_eq!(
            kept(&db, scope, id).await,
            BTreeSet::from([d.id, e.id, f.id]),
            "{backend}"
        );
        assert_eq!(company_pages(&db, scope).await, 3, "{backend}");
    }
}

#[tokio::test]
async fn retention_counts_one_machine_at_a_time() {
    for (db, test_db) in databases().await {
        let backend = test_db.backend;
        let scope = company(&db, None).await;
        let policy = Policy {
            keep_last: 1,
            keep_within_days: 0,
            ..Policy::default()
        };
        let ledger = group(&db, scope, &policy, None).await;
        let first = agent(&db, scope, None, Some(&ledger)).await;
        let second = agent(&db, scope, None, Some(&ledger)).await;
        let old = snapshot_of(&db, scope, &first).await;
        let newer = snapshot_of(&db, scope, &first).await;
        let others = snapshot_of(&db, scope, &second).await;
        assert_eq!(
            kept(&db, scope, AgentId(first.id)).await,
            BTreeSet::from([newer.id]),
            "{backend}"
        );
        assert_eq!(
            kept(&db, scope, AgentId(second.id)).await,
            BTreeSet::from([others.id]),
            "{backend}"
        );
        assert!(!kept(&db, scope, AgentId(first.id)).await.contains(&old.id));
    }
}
