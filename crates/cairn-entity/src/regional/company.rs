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
    /// The company's data key, wrapped by the cell's master key.
    pub wrapped_key: Vec<u8>,
    pub created_at: DateTimeUtc,
    pub phone: String,
    pub city: String,
    /// State or region; may be empty.
    pub state: String,
    pub postal_code: String,
    /// Address the sign-up came from.
    pub signup_ip: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
