use sea_orm::entity::prelude::*;

/// The chunks a snapshot references, so retention and garbage collection work
/// without keys: their 32-byte ids, concatenated, in pages numbered from 0
/// and sorted across them.
/// A page without its snapshot's row belongs to a commit under way, or to
/// one that never finished.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "snapshot_ref_pages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub snapshot_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub page: i32,
    pub company_id: Uuid,
    pub chunk_ids: Vec<u8>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
