//! Validated facts about a person: their name and their job title. Each limit
//! is written here once; sign-up, invitations and profile updates all parse
//! through these types.

use crate::Error;
use crate::field::{optional_text, text};

/// A person's name: trimmed, 1 to [`PersonName::MAX_CHARS`] characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(field: &str, value: &str) -> Result<PersonName, Error> {
        text(field, value, Self::MAX_CHARS).map(PersonName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A job title: trimmed, at most [`JobTitle::MAX_CHARS`] characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobTitle(String);

impl JobTitle {
    pub const MAX_CHARS: usize = 100;

    /// A title that must be given.
    pub fn parse(field: &str, value: &str) -> Result<JobTitle, Error> {
        text(field, value, Self::MAX_CHARS).map(JobTitle)
    }

    /// A title that may be left empty.
    pub fn parse_optional(field: &str, value: &str) -> Result<JobTitle, Error> {
        optional_text(field, value, Self::MAX_CHARS).map(JobTitle)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_over_the_limit_is_refused_with_its_field() {
        let long = "a".repeat(PersonName::MAX_CHARS + 1);
        let err = PersonName::parse("name", &long).unwrap_err().to_string();
        assert!(err.contains("name"), "{err}");
        assert_eq!(
            PersonName::parse("name", "  Ada  ").unwrap().as_str(),
            "Ada"
        );
    }

    #[test]
    fn an_optional_title_may_be_empty_but_a_required_one_may_not() {
        assert_eq!(JobTitle::parse_optional("title", " ").unwrap().as_str(), "");
        assert!(JobTitle::parse("title", " ").is_err());
        let long = "t".repeat(JobTitle::MAX_CHARS + 1);
        assert!(JobTitle::parse_optional("title", &long).is_err());
    }
}
