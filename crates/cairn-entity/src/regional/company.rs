use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "companies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub industry: String,
    pub employees: i64,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub region: String,
    /// Seats bought.
    pub seats: i64,
    /// The company's data key, wrapped by the cell's master key; empty in
    /// personal-key mode.
    pub wrapped_key: Vec<u8>,
    pub created_at: DateTimeUtc,
    pub phone: String,
    pub city: String,
    /// State or region; may be empty.
    pub state: String,
    pub postal_code: String,
    /// Address the sign-up came from.
    pub signup_ip: String,
    /// Stored bytes the company may hold; none is unlimited.
    pub quota_bytes: Option<i64>,
    /// When the 90 percent alert went out; cleared when usage falls below.
    pub quota_alert_at: Option<DateTimeUtc>,
    /// Days without a completed backup before an agent counts as idle.
    pub idle_alert_days: i32,
    /// Personal-key mode: the data key sealed with a key derived from a
    /// passphrase only the company knows (`cairn_crypto::PersonalKey`).
    pub personal_key: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
