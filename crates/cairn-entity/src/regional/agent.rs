use sea_orm::entity::prelude::*;

/// An enrolled machine. An agent that is not revoked holds one seat.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub hostname: String,
    /// BLAKE3 hash of the machine credential.
    pub credential_hash: Vec<u8>,
    pub enrolled_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// The user whose machine this is (who made its enrollment key).
    pub owner_user_id: Option<Uuid>,
    /// The agent's group; none is the company's default group.
    pub group_id: Option<Uuid>,
    /// Last check-in.
    pub last_seen_at: Option<DateTimeUtc>,
    /// Last backup attempt that reported its result.
    pub last_attempt_at: Option<DateTimeUtc>,
    /// Last completed backup (a committed snapshot).
    pub last_backup_at: Option<DateTimeUtc>,
    /// `ok`, `failed` or empty before the first report.
    pub last_result: String,
    /// Why the last attempt failed.
    pub last_error: String,
    /// Plaintext bytes of the newest snapshot.
    pub bytes_protected: i64,
    /// Policy version the agent last fetched.
    pub policy_version_seen: i64,
    /// When the idle alert for the current idle spell went out.
    pub idle_alert_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
