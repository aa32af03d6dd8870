//! Compiles `proto/cairn/**.proto` with protox (no system `protoc`) and writes
//! the Rust code and a file descriptor set for server reflection.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "cairn/common/v1/common.proto",
    "cairn/directory/v1/directory.proto",
    "cairn/accounts/v1/accounts.proto",
    "cairn/accounts/v1/users.proto",
    "cairn/orgs/v1/orgs.proto",
    "cairn/backup/v1/backup.proto",
    "cairn/backup/v1/tree.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }
    let descriptors = protox::compile(PROTOS, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("cairn_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        // Pack data arrives as slices of the transport's buffers, and chunks
        // read for a restore go out as the buffers the bucket filled: no copies.
        .bytes(".cairn.backup.v1.UploadPackRequest.data")
        .bytes(".cairn.backup.v1.StoredChunk.data")
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
