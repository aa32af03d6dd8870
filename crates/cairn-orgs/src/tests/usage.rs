//! Usage per day: one row per company and day, the last measure winning.

use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use cairn_entity::regional::usage_day;

use super::{by, company, databases, field_of, machine};
use crate::usage::{self, UsageQuery};

#[tokio::test]
async fn a_day_recorded_twice_keeps_one_row_with_the_last_figures() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let first = usage::record(&db, acme.scope()).await.unwrap();
        assert_eq!(first.seats_used, 0);
        machine(&db, &acme.owner).await;
        let second = usage::record(&db, acme.scope()).await.unwrap();
        assert_eq!(second.day, first.day);
        let rows = usage_day::Entity::find()
            .filter(usage_day::Column::CompanyId.eq(acme.id.0))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(rows, 1);

        let days = usage::get(&db, &by(&acme.owner), UsageQuery::default())
            .await
            .unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].day, first.day);
        assert_eq!(days[0].seats_used, 1);
    }
}

#[tokio::test]
async fn a_range_backwards_or_over_ten_years_is_refused() {
    for (db, _keep) in databases().await {
        let acme = company(&db, 5).await;
        let owner = by(&acme.owner);
        let today = Utc::now().date_naive();
        let backwards = UsageQuery {
            from: Some(today),
            to: Some(today - Duration::days(1)),
        };
        assert_eq!(field_of(usage::get(&db, &owner, backwards).await), "from");
        let too_long = UsageQuery {
            from: Some(today - Duration::days(3661)),
            to: Some(today),
        };
        assert_eq!(field_of(usage::get(&db, &owner, too_long).await), "from");
        // A range in the past records nothing for today.
        let past = UsageQuery {
            from: Some(today - Duration::days(10)),
            to: Some(today - Duration::days(5)),
        };
        assert!(usage::get(&db, &owner, past).await.unwrap().is_empty());
        let rows = usage_day::Entity::find()
            .filter(usage_day::Column::CompanyId.eq(acme.id.0))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(rows, 0);
    }
}
