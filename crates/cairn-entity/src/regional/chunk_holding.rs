use sea_orm::entity::prelude::*;

/// A person holds a chunk: a machine of theirs (or the machine itself, when
/// it belongs to nobody: `holder` is then the agent's id) uploaded it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chunk_holdings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: Uuid,
    /// The owner's user id, or the agent's id for a machine of nobody.
    #[sea_orm(primary_key, auto_increment = false)]
    pub holder: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub chunk_id: Vec<u8>,
    /// BLAKE3 of the stored bytes of the copy the holder uploaded; none for
    /// chunks stored before digests were taken (they match any copy).
    pub digest: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
