use sea_orm::entity::prelude::*;

/// A chunk a snapshot references, so retention and garbage collection work
/// without keys.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "snapshot_chunks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub snapshot_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub chunk_id: Vec<u8>,
    pub company_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
