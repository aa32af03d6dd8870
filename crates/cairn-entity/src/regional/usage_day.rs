use sea_orm::entity::prelude::*;

/// A company's usage on one day (UTC), last recorded at `recorded_at`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_days")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: Uuid,
    /// `YYYY-MM-DD`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    pub seats_used: i64,
    /// Plaintext bytes of the newest snapshot of every agent.
    pub logical_bytes: i64,
    /// Bytes of the company's packs in the bucket, after dedup and compression.
    pub stored_bytes: i64,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
