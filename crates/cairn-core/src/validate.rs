//! Validated input types. Each constructor names the request field it checks,
//! so a caller learns exactly what was wrong.

use cairn_proto::accounts::v1 as accounts_pb;

use crate::limits::{City, CompanyName, Employees, Seats, StateName};
use crate::people::{JobTitle, PersonName};
use crate::{Error, Region};

// The field checks every validated type builds on, here as before.
pub use crate::field::{count, optional_text, text};

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

/// A password long and hard enough to guess: at least 10 characters and a
/// zxcvbn score of 3 ("safely unguessable") given the person's other details.
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 10;
    pub const MAX_LEN: usize = 1024;

    /// `related` are the person's other details (email, names), which make a
    /// password weak when it contains them.
    pub fn parse(field: &str, value: &str, related: &[&str]) -> Result<Password, Error> {
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
        // zxcvbn's cost grows with length; its first 100 characters decide.
        let head: String = value.chars().take(100).collect();
        let estimate = zxcvbn::zxcvbn(&head, related);
        if estimate.score() < zxcvbn::Score::Three {
            let hint = estimate
                .feedback()
                .and_then(|f| f.warning().map(|w| w.to_string()))
                .unwrap_or_else(|| "it is easy to guess".to_owned());
            return Err(Error::invalid(
                field,
                format!("is too weak ({hint}); use a longer passphrase of unrelated words"),
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

/// The industries a company can pick at sign-up; anything else is "Other".
pub const INDUSTRIES: &[&str] = &[
    "Accounting",
    "Agriculture",
    "Architecture",
    "Construction",
    "Consulting",
    "Education",
    "Energy",
    "Engineering",
    "Finance",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "IT Services",
    "Legal",
    "Manufacturing",
    "Media",
    "Non-profit",
    "Real Estate",
    "Retail",
    "Software",
    "Telecommunications",
    "Transportation",
    "Other",
];

/// One of [`INDUSTRIES`], matched without regard to case, in its canonical spelling.
pub fn industry(field: &str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    INDUSTRIES
        .iter()
        .find(|i| i.eq_ignore_ascii_case(value))
        .map(|i| (*i).to_owned())
        .ok_or_else(|| Error::invalid(field, format!("must be one of: {}", INDUSTRIES.join(", "))))
}

/// A phone number: digits with optional + - ( ) and spaces, 7 to 20 characters.
pub fn phone(field: &str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_digit() || " +-()".contains(c));
    if !(7..=20).contains(&value.chars().count()) || !allowed || digits < 7 {
        return Err(Error::invalid(
            field,
            "must be a phone number: 7 to 20 digits, spaces and + - ( )",
        ));
    }
    Ok(value.to_owned())
}

/// A postal or ZIP code: 1 to 20 letters, digits, spaces or dashes.
pub fn postal_code(field: &str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    if value.is_empty()
        || value.len() > 20
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
    {
        return Err(Error::invalid(
            field,
            "must be 1 to 20 letters, digits, spaces or dashes",
        ));
    }
    Ok(value.to_uppercase())
}

/// A username: 3 to 64 of a-z, 0-9, `.`, `_` and `-`, stored in lower case.
pub fn username(field: &str, value: &str) -> Result<String, Error> {
    let value = value.trim().to_lowercase();
    if !(3..=64).contains(&value.len())
        || !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    {
        return Err(Error::invalid(
            field,
            "must be 3 to 64 of a-z, 0-9, `.`, `_` and `-`",
        ));
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
    pub phone: String,
    pub owner_title: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub username: String,
}

impl TryFrom<accounts_pb::SignUpRequest> for SignUp {
    type Error = Error;

    fn try_from(req: accounts_pb::SignUpRequest) -> Result<Self, Error> {
        if !req.age_confirmed {
            return Err(Error::invalid(
                "age_confirmed",
                "Cairn accounts are for people aged 13 or older; confirm your age to sign up",
            ));
        }
        let company_name = CompanyName::parse("company_name", &req.company_name)?.into_string();
        let owner_name = PersonName::parse("owner_name", &req.owner_name)?.into_string();
        let email = Email::parse("email", &req.email)?;
        let username = username("username", &req.username)?;
        let password = Password::parse(
            "password",
            &req.password,
            &[email.as_str(), &owner_name, &company_name, &username],
        )?;
        Ok(SignUp {
            industry: industry("industry", &req.industry)?,
            employees: Employees::try_from(req.employees)?.get(),
            country: Country::parse("country", &req.country)?,
            seats: Seats::try_from(req.seats)?.get(),
            phone: phone("phone", &req.phone)?,
            owner_title: JobTitle::parse("owner_title", &req.owner_title)?.into_string(),
            city: City::parse("city", &req.city)?.into_string(),
            state: StateName::parse("state", &req.state)?.into_string(),
            postal_code: postal_code("postal_code", &req.postal_code)?,
            company_name,
            owner_name,
            email,
            username,
            password,
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
            phone: "+353 1 555 0100".into(),
            owner_title: "Managing Partner".into(),
            city: "Dublin".into(),
            state: String::new(),
            postal_code: "D02 X285".into(),
            username: "aoife".into(),
            age_confirmed: true,
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
        assert_eq!(s.postal_code, "D02 X285");
        let s = SignUp::try_from(accounts_pb::SignUpRequest {
            industry: "it services".into(),
            ..good()
        })
        .unwrap();
        assert_eq!(s.industry, "IT Services");
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
