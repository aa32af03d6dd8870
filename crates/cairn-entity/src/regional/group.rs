use sea_orm::entity::prelude::*;

/// A group of users and agents and the backup policy they follow. Every
/// company has one default group, which cannot be deleted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    /// Unique in the company.
    pub name: String,
    pub is_default: bool,
    /// JSON array of the paths to back up (`~` is the home directory).
    pub include_paths: String,
    /// JSON array of glob patterns; when not empty, only matching files are kept.
    pub include_patterns: String,
    /// JSON array of glob patterns of files and directories left out.
    pub exclude_patterns: String,
    /// `manual`, `every <N>m`, `every <N>h` or `daily HH:MM`.
    pub schedule: String,
    /// Snapshots kept per agent: the newest `keep_last` ...
    pub keep_last: i32,
    /// ... and every one younger than this many days.
    pub keep_within_days: i32,
    /// Upload limit in KiB/s; 0 is unlimited.
    pub bandwidth_kbps: i64,
    /// Stored bytes the group's agents may upload; none is no group limit.
    pub quota_bytes: Option<i64>,
    /// When the 90 percent alert went out; cleared when usage falls below.
    pub quota_alert_at: Option<DateTimeUtc>,
    /// Grows with every policy change; agents report the version they run.
    pub policy_version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
