use sea_orm::entity::prelude::*;

/// Where a company's chunk is stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chunks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Vec<u8>,
    pub pack_id: Vec<u8>,
    /// Offset of the stored chunk in the pack, in bytes.
    pub offset: i64,
    /// Stored (compressed, encrypted) length, in bytes.
    pub length: i64,
    /// Plaintext length, in bytes.
    pub raw_length: i64,
    /// BLAKE3 of the stored bytes; none for chunks stored before digests
    /// were taken (they match any copy).
    pub digest: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
