use sea_orm::entity::prelude::*;

/// A login (keyed hash of the email) and its company (keyed hash of the id),
/// homed in a region. No personal data.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "directory_logins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub login_hash: Vec<u8>,
    pub company_hash: Vec<u8>,
    pub region: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
