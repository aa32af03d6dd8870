use sea_orm::entity::prelude::*;

/// A one-time key that enrolls one machine.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrollment_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    /// BLAKE3 hash of the secret part; the key itself is never stored.
    #[sea_orm(unique)]
    pub secret_hash: Vec<u8>,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub used_by_agent: Option<Uuid>,
    /// Whose machine the enrolled agent is; none is `created_by`.
    pub owner_user_id: Option<Uuid>,
    /// The enrolled agent's group; none is the owner's group.
    pub group_id: Option<Uuid>,
    /// Revoked before use: it enrolls nothing.
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
