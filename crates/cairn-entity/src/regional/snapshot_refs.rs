use sea_orm::entity::prelude::*;

/// The chunks a snapshot references, so retention and garbage collection work
/// without keys: their 32-byte ids, sorted and concatenated, in one row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "snapshot_refs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub snapshot_id: Uuid,
    pub company_id: Uuid,
    pub chunk_ids: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
