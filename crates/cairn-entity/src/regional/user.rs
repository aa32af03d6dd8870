use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub name: String,
    /// Normalized (lowercase) email, unique in the cell.
    #[sea_orm(unique)]
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// owner, admin or member.
    pub role: String,
    pub created_at: DateTimeUtc,
    /// Job title.
    pub title: String,
    pub username: String,
    /// Address the account was created from.
    pub signup_ip: String,
    /// When the email address was confirmed; unconfirmed users cannot enroll agents.
    pub email_confirmed_at: Option<DateTimeUtc>,
    /// Marketing mail is not sent; service mail still is.
    pub marketing_opt_out: bool,
    /// The user's group; none is the company's default group.
    pub group_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
