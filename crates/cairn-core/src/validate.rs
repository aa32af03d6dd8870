//! Validated input types. Each constructor names the request field it checks,
//! so a caller learns exactly what was wrong.

use cairn_proto::accounts::v1 as accounts_pb;

use crate::{Error, Region};

/// Checks a free-text field: trimmed, non-empty, at most `max` characters, no
/// control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, Error> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// A normalized (trimmed, lowercased) email address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(field: &str, value: &str) -> Result<Email, Error> {
        let value = value.trim().to_lowercase();
        if value.is_empty() {
            return Err(Error::invalid(field, "must not be empty"));
        }
        if value.len() > Self::MAX_LEN {
            return Err(Error::invalid(
                field,
                format!("must be at most {} characters", Self::MAX_LEN),
            ));
        }
        if !email_address::EmailAddress::is_valid(&value) {
            return Err(Error::invalid(field, "is not a valid email address"));
        }
        Ok(Email(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Country(isocountry::CountryCode);

impl Country {
    pub fn parse(field: &str, value: &str) -> Result<Country, Error> {
        let value = value.trim().to_uppercase();
        isocountry::CountryCode::for_alpha2(&value)
            .map(Country)
            .map_err(|_| {
                Error::invalid(
                    field,
                    format!("`{value}` is not an ISO 3166-1 alpha-2 country code"),
                )
            })
    }

    pub fn alpha2(&self) -> &'static str {
        self.0.alpha2()
    }

    pub fn region(&self) -> Region {
        Region::for_country(self.0)
    }
}

/// A password that meets the minimum length. Strength rules grow here.
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 10;
    pub const MAX_LEN: usize = 1024;

    pub fn parse(field: &str, value: &str) -> Result<Password, Error> {
        let len = value.chars().count();
        if len < Self::MIN_LEN {
            return Err(Error::invalid(
                field,
                format!("must be at least {} characters", Self::MIN_LEN),
            ));
        }
        if len > Self::MAX_LEN {
            return Err(Error::invalid(
                field,
                format!("must be at most {} characters", Self::MAX_LEN),
            ));
        }
        Ok(Password(value.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Checks an integer count in `min..=max`.
pub fn count(field: &str, value: i64, min: i64, max: i64) -> Result<i64, Error> {
    if value < min {
        return Err(Error::invalid(field, format!("must be at least {min}")));
    }
    if value > max {
        return Err(Error::invalid(field, format!("must be at most {max}")));
    }
    Ok(value)
}

/// A validated sign-up request.
#[derive(Debug)]
pub struct SignUp {
    pub company_name: String,
    pub industry: String,
    pub employees: i64,
    pub country: Country,
    pub owner_name: String,
    pub email: Email,
    pub password: Password,
    pub seats: i64,
}

impl TryFrom<accounts_pb::SignUpRequest> for SignUp {
    type Error = Error;

    fn try_from(req: accounts_pb::SignUpRequest) -> Result<Self, Error> {
        Ok(SignUp {
            company_name: text("company_name", &req.company_name, 200)?,
            industry: text("industry", &req.industry, 100)?,
            employees: count("employees", req.employees, 1, 10_000_000)?,
            country: Country::parse("country", &req.country)?,
            owner_name: text("owner_name", &req.owner_name, 200)?,
            email: Email::parse("email", &req.email)?,
            password: Password::parse("password", &req.password)?,
            seats: count("seats", req.seats, 1, 100_000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> accounts_pb::SignUpRequest {
        accounts_pb::SignUpRequest {
            company_name: "Acme".into(),
            industry: "Manufacturing".into(),
            employees: 12,
            country: "ie".into(),
            owner_name: "Aoife Byrne".into(),
            email: "Aoife@Example.IE".into(),
            password: "correct horse battery".into(),
            seats: 3,
        }
    }

    fn field_of(req: accounts_pb::SignUpRequest) -> String {
        match SignUp::try_from(req) {
            Err(Error::InvalidArgument { field, .. }) => field,
            other => panic!("expected invalid argument, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_is_normalized() {
        let s = SignUp::try_from(good()).unwrap();
        assert_eq!(s.email.as_str(), "aoife@example.ie");
        assert_eq!(s.country.alpha2(), "IE");
        assert_eq!(s.country.region(), Region::Eu);
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(
            field_of(accounts_pb::SignUpRequest {
                company_name: "  ".into(),
                ..good()
            }),
            "company_name"
        );
        assert_eq!(
            field_of(accounts_pb::SignUpRequest {
                employees: 0,
                ..good()
            }),
            "employees"
        );
        assert_eq!(
            field_of(accounts_pb::SignUpRequest {
                employees: -4,
                ..good()
            }),
            "employees"
        );
        assert_eq!(
            field_of(accounts_pb::SignUpRequest {
                country: "XX".into(),
                ..good()
            }),
            "country"
        );
        assert_eq!(
            field_of(accounts_pb::SignUpRequest {
                email: "not-an-email".into(),
                ..good()
            }),
            "email"
        );
        assert_eq!(
            field_of(accounts_pb::SignUpRequest {
                password: "short".into(),
                ..good()
            }),
            "password"
        );
        assert_eq!(
            field_of(accounts_pb::SignUpRequest { seats: 0, ..good() }),
            "seats"
        );
        assert_eq!(
            field_of(accounts_pb::SignUpRequest {
                owner_name: "a\u{0}b".into(),
                ..good()
            }),
            "owner_name"
        );
    }
}
