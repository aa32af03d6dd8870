use sea_orm::entity::prelude::*;

/// A pack object whose chunks are committed to the index.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "packs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Vec<u8>,
    /// Object key in the cell's bucket.
    pub object_key: String,
    pub size: i64,
    pub created_at: DateTimeUtc,
    /// The agent that uploaded it (for group quotas).
    pub agent_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
