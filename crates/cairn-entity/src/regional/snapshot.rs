use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "snapshots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub agent_id: Uuid,
    pub hostname: String,
    /// JSON array of the backed-up paths.
    pub paths: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub tree_id: Vec<u8>,
    pub files: i64,
    pub dirs: i64,
    pub bytes: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
