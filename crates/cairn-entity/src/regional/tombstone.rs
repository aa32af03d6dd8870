use sea_orm::entity::prelude::*;

/// What the law asks to keep after a deletion: that something was deleted,
/// and when. No personal data, no company or user id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tombstones")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `company` or `user`.
    pub kind: String,
    pub deleted_at: DateTimeUtc,
    pub region: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
