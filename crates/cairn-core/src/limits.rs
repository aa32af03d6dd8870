//! The bounded numbers and names of Cairn's requests: seats, employee counts,
//! idle-alert days, enrollment-key lifetimes, quotas and the names of
//! companies, groups and machines. Each limit is written once, here, on its
//! newtype; its `TryFrom` (or `parse`, where the request field's name varies)
//! is the only place that knows the bound, and its error names the field.
//!
//! Nothing here reads a database or knows a service.

use crate::Error;
use crate::field::{count, optional_text, text};

/// Declares a newtype over an integer in `min..=max`, checked by `TryFrom`
/// with an error naming `field`.
macro_rules! bounded {
    ($(#[$doc:meta])* $name:ident($int:ty), $field:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name($int);

        impl $name {
            pub const FIELD: &'static str = $field;
            pub const MIN: $int = $min;
            pub const MAX: $int = $max;

            pub fn get(self) -> $int {
                self.0
            }
        }

        impl TryFrom<$int> for $name {
            type Error = Error;

            fn try_from(value: $int) -> Result<Self, Error> {
                count(
                    Self::FIELD,
                    i64::from(value),
                    i64::from(Self::MIN),
                    i64::from(Self::MAX),
                )?;
                Ok($name(value))
            }
        }
    };
}

bounded!(
    /// The seats a company bought: one per enrolled machine.
    Seats(i64),
    "seats",
    1,
    100_000
);

bounded!(
    /// A company's number of employees.
    Employees(i64),
    "employees",
    1,
    10_000_000
);

bounded!(
    /// Days without a completed backup after which an agent is idle and its
    /// company's admins are mailed.
    IdleAlertDays(i32),
    "idle_alert_days",
    1,
    365
);

/// How long an enrollment key stays usable, in hours: 1 to 720, 72 when the
/// request says 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnrollmentKeyHours(u32);

impl EnrollmentKeyHours {
    pub const FIELD: &'static str = "ttl_hours";
    pub const DEFAULT: u32 = 72;
    pub const MAX: u32 = 720;

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for EnrollmentKeyHours {
    fn default() -> Self {
        EnrollmentKeyHours(Self::DEFAULT)
    }
}

impl TryFrom<u32> for EnrollmentKeyHours {
    type Error = Error;

    fn try_from(hours: u32) -> Result<Self, Error> {
        match hours {
            0 => Ok(Self::default()),
            1..=Self::MAX => Ok(EnrollmentKeyHours(hours)),
            _ => Err(Error::invalid(
                Self::FIELD,
                format!("must be between 1 and {}", Self::MAX),
            )),
        }
    }
}

/// A storage quota in bytes, or none: the wire says 0 for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaBytes(Option<i64>);

impl QuotaBytes {
    pub const FIELD: &'static str = "quota_bytes";
    pub const NONE: QuotaBytes = QuotaBytes(None);

    /// The limit in bytes; `None` for no quota.
    pub fn limit(self) -> Option<i64> {
        self.0
    }

    /// As the wire carries it: 0 for no quota.
    pub fn to_wire(limit: Option<i64>) -> i64 {
        limit.unwrap_or(0)
    }
}

impl TryFrom<i64> for QuotaBytes {
    type Error = Error;

    fn try_from(bytes: i64) -> Result<Self, Error> {
        match bytes {
            0 => Ok(QuotaBytes(None)),
            b if b > 0 => Ok(QuotaBytes(Some(b))),
            _ => Err(Error::invalid(
                Self::FIELD,
                "must be a number of bytes, or 0 for no quota",
            )),
        }
    }
}

/// Declares a newtype over a trimmed, printable text of at most `max`
/// characters, checked by `parse(field, value)`.
macro_rules! name {
    ($(#[$doc:meta])* $name:ident, $max:expr, $check:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            /// Checks `value` as the request field `field`.
            pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
                $check(field, value, Self::MAX_LEN).map($name)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }
    };
}

name!(
    /// A company's name.
    CompanyName,
    200,
    text
);
name!(
    /// A group's name, unique in its company.
    GroupName,
    100,
    text
);
name!(
    /// A machine's host name as its agent reports it.
    Hostname,
    253,
    text
);
name!(
    /// The city of a company's address.
    City,
    100,
    text
);
name!(
    /// The state or province of a company's address; may be empty.
    StateName,
    100,
    optional_text
);

#[cfg(test)]
mod tests {
    use super::*;

    fn field(err: Error) -> String {
        match err {
            Error::InvalidArgument { field, .. } => field,
            other => panic!("expected invalid argument, got {other:?}"),
        }
    }

    #[test]
    fn seats_are_between_one_and_a_hundred_thousand() {
        assert_eq!(Seats::try_from(1).map(Seats::get).ok(), Some(1));
        assert_eq!(Seats::try_from(100_000).map(Seats::get).ok(), Some(100_000));
        for bad in [0, -1, 100_001] {
            let err = Seats::try_from(bad).err().map(field);
            assert_eq!(err.as_deref(), Some("seats"), "{bad}");
        }
    }

    #[test]
    fn counts_name_their_field() {
        let err = Employees::try_from(0).err().map(field);
        assert_eq!(err.as_deref(), Some("employees"));
        let err = IdleAlertDays::try_from(366).err().map(field);
        assert_eq!(err.as_deref(), Some("idle_alert_days"));
        assert!(IdleAlertDays::try_from(365).is_ok());
    }

    #[test]
    fn an_enrollment_key_lives_72_hours_unless_told() {
        assert_eq!(
            EnrollmentKeyHours::try_from(0).map(|h| h.get()).ok(),
            Some(72)
        );
        assert_eq!(
            EnrollmentKeyHours::try_from(720).map(|h| h.get()).ok(),
            Some(720)
        );
        let err = EnrollmentKeyHours::try_from(721).err().map(field);
        assert_eq!(err.as_deref(), Some("ttl_hours"));
    }

    #[test]
    fn a_zero_quota_is_no_quota_and_a_negative_one_is_refused() {
        assert_eq!(
            QuotaBytes::try_from(0).map(QuotaBytes::limit).ok(),
            Some(None)
        );
        assert_eq!(
            QuotaBytes::try_from(5).map(QuotaBytes::limit).ok(),
            Some(Some(5))
        );
        let err = QuotaBytes::try_from(-1).err().map(field);
        assert_eq!(err.as_deref(), Some("quota_bytes"));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        let name = GroupName::parse("name", "  Sales ").map(GroupName::into_string);
        assert_eq!(name.ok().as_deref(), Some("Sales"));
        let err = GroupName::parse("name", &"x".repeat(101)).err().map(field);
        assert_eq!(err.as_deref(), Some("name"));
        assert!(Hostname::parse("hostname", "").is_err());
        assert_eq!(
            StateName::parse("state", " ").ok().map(|s| s.into_string()),
            Some(String::new())
        );
    }
}
