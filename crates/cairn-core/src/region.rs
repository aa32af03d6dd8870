//! Home regions and the rule that picks one from a country.

use std::fmt;
use std::str::FromStr;

use cairn_proto::common::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The region cell a company is homed in. Every personal field and every backup
/// byte of a company lives only in its home cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// United States.
    Us,
    /// European Union, hosted in Ireland.
    Eu,
}

impl Region {
    pub const ALL: [Region; 2] = [Region::Us, Region::Eu];

    /// The home region for a company seated in `country` (ISO 3166-1 alpha-2):
    /// the United States go to `us`, every other country to `eu`.
    pub fn for_country(country: isocountry::CountryCode) -> Region {
        match country {
            isocountry::CountryCode::USA => Region::Us,
            _ => Region::Eu,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
        }
    }

    pub fn to_proto(self) -> i32 {
        match self {
            Region::Us => pb::Region::Us as i32,
            Region::Eu => pb::Region::Eu as i32,
        }
    }

    /// Reads a proto region; `field` names the request field for the error.
    pub fn from_proto(value: i32, field: &'static str) -> Result<Region, Error> {
        match pb::Region::try_from(value) {
            Ok(pb::Region::Us) => Ok(Region::Us),
            Ok(pb::Region::Eu) => Ok(Region::Eu),
            Ok(pb::Region::Unspecified) | Err(_) => {
                Err(Error::invalid(field, "must be a known region (us or eu)"))
            }
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Region {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "us" => Ok(Region::Us),
            "eu" => Ok(Region::Eu),
            _ => Err(Error::invalid("region", "must be `us` or `eu`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_goes_to_us_and_everyone_else_to_eu() {
        let us = isocountry::CountryCode::for_alpha2("US").unwrap();
        let ie = isocountry::CountryCode::for_alpha2("IE").unwrap();
        let ca = isocountry::CountryCode::for_alpha2("CA").unwrap();
        assert_eq!(Region::for_country(us), Region::Us);
        assert_eq!(Region::for_country(ie), Region::Eu);
        assert_eq!(Region::for_country(ca), Region::Eu);
    }

    #[test]
    fn proto_round_trip_and_unknown_value() {
        for r in Region::ALL {
            assert_eq!(Region::from_proto(r.to_proto(), "region").unwrap(), r);
        }
        assert!(Region::from_proto(0, "region").is_err());
        assert!(Region::from_proto(99, "region").is_err());
    }
}
