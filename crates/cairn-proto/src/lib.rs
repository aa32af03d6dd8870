//! Generated tonic/prost code for every Cairn protocol, and the encoded file
//! descriptor set that servers hand to gRPC reflection.
//!
//! Nothing but generated code lives here: validation of these messages into
//! domain types belongs to `cairn-core`.

#![allow(unreachable_pub, clippy::all)]

/// Encoded `FileDescriptorSet` of every Cairn proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cairn_descriptor.bin"));

pub mod common {
    pub mod v1 {
        tonic::include_proto!("cairn.common.v1");
    }
}

pub mod directory {
    pub mod v1 {
        tonic::include_proto!("cairn.directory.v1");
    }
}

pub mod accounts {
    pub mod v1 {
        tonic::include_proto!("cairn.accounts.v1");
    }
}

pub mod orgs {
    pub mod v1 {
        tonic::include_proto!("cairn.orgs.v1");
    }
}

pub mod backup {
    pub mod v1 {
        tonic::include_proto!("cairn.backup.v1");
    }
}
