use sea_orm::entity::prelude::*;

/// An invitation to join a company, mailed with a one-time code.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    /// Normalized (lowercase) address the invitation went to.
    pub email: String,
    /// `admin` or `member`.
    pub role: String,
    pub group_id: Option<Uuid>,
    /// BLAKE3 hash of the code; the code itself is never stored.
    #[sea_orm(unique)]
    pub code_hash: Vec<u8>,
    pub invited_by: Uuid,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub accepted_at: Option<DateTimeUtc>,
    pub accepted_user: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
