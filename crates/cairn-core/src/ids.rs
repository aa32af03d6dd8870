//! Identifier newtypes. Entity ids are UUIDs; chunk and pack ids are 32-byte
//! hashes.

use std::fmt;
use std::str::FromStr;

use crate::Error;

macro_rules! uuid_id {
    ($name:ident, $field:literal) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            /// Parses a request field; `field` names it in the error.
            pub fn parse(value: &str, field: &str) -> Result<Self, Error> {
                uuid::Uuid::parse_str(value)
                    .map(Self)
                    .map_err(|_| Error::invalid(field, "must be a UUID"))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s, $field)
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(value: uuid::Uuid) -> Self {
                Self(value)
            }
        }

        /// As its string form, the one the API and saved files use.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        /// From its string form; a malformed one names the field.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::parse(&value, $field).map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id!(CompanyId, "company_id");
uuid_id!(UserId, "user_id");
uuid_id!(AgentId, "agent_id");
uuid_id!(SnapshotId, "snapshot_id");
uuid_id!(GroupId, "group_id");
uuid_id!(InvitationId, "invitation_id");
uuid_id!(EnrollmentKeyId, "key_id");

macro_rules! hash_id {
    ($name:ident) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            pub const LEN: usize = 32;

            /// Reads a 32-byte id from a request field; `field` names it in the error.
            pub fn from_slice(bytes: &[u8], field: &str) -> Result<Self, Error> {
                <[u8; 32]>::try_from(bytes).map(Self).map_err(|_| {
                    Error::invalid(field, format!("must be 32 bytes, got {}", bytes.len()))
                })
            }

            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            pub fn from_hex(value: &str, field: &str) -> Result<Self, Error> {
                let bytes =
                    hex::decode(value).map_err(|_| Error::invalid(field, "must be hexadecimal"))?;
                Self::from_slice(&bytes, field)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.to_hex())
            }
        }
    };
}

hash_id!(ChunkId);
hash_id!(PackId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_uuid_names_the_field() {
        let err = CompanyId::parse("nope", "company_id").unwrap_err();
        assert!(err.to_string().contains("company_id"));
    }

    #[test]
    fn a_saved_id_is_read_back_and_a_malformed_one_names_its_field() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as ValueError, StrDeserializer};

        let text = "0190a0b4-7c1e-7d2a-9f3b-1c2d3e4f5a6b";
        let read = |s: &'static str| {
            let input: StrDeserializer<'_, ValueError> = s.into_deserializer();
            AgentId::deserialize(input)
        };
        assert_eq!(read(text).unwrap().to_string(), text);
        let err = read("not-an-id").unwrap_err();
        assert!(err.to_string().contains("agent_id"), "{err}");
    }

    #[test]
    fn chunk_id_needs_32_bytes() {
        assert!(ChunkId::from_slice(&[0u8; 31], "chunk_ids").is_err());
        let id = ChunkId::from_slice(&[7u8; 32], "chunk_ids").unwrap();
        assert_eq!(ChunkId::from_hex(&id.to_hex(), "x").unwrap(), id);
    }
}
