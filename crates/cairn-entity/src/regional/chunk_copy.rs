use sea_orm::entity::prelude::*;

/// A further stored copy of a chunk id whose bytes differ from the first
/// one's (`chunks`): a damaged or forged upload, or the honest copy stored
/// after one.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chunk_copies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub chunk_id: Vec<u8>,
    /// BLAKE3 of this copy's stored bytes.
    #[sea_orm(primary_key, auto_increment = false)]
    pub digest: Vec<u8>,
    pub pack_id: Vec<u8>,
    /// Offset of the stored chunk in the pack, in bytes.
    pub offset: i64,
    /// Stored (compressed, encrypted) length, in bytes.
    pub length: i64,
    /// Plaintext length, in bytes.
    pub raw_length: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
