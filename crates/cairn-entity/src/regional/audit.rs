use sea_orm::entity::prelude::*;

/// Who changed what in a company, when, and from where. Field names only:
/// never old or new values, so no secret ends up here.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub at: DateTimeUtc,
    /// `user:<id>`, `agent:<id>` or `system`.
    pub actor: String,
    /// For example `profile.update`, `password.change`.
    pub action: String,
    /// The field changed, or empty.
    pub field: String,
    /// The client address of the request, or empty.
    pub ip: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
