//! Small valid inputs for every target, the seeds of `fuzz/corpus/` (written
//! by `tests/tests/fuzz_corpora.rs`'s ignored `write_seed_corpora`): a fuzzer
//! that starts from well-formed messages reaches the checks behind the
//! decoding at once.

use prost::Message;

use cairn_core::policy::Policy;
use cairn_proto::accounts::v1 as accounts;
use cairn_proto::backup::v1 as backup;
use cairn_proto::orgs::v1 as orgs;

use crate::files::CACHE_COMPANY;

const UUID: &str = "0190f3a4-5b6c-7d8e-9f00-aabbccddeeff";

fn picked(pick: u8, message: impl Message) -> Vec<u8> {
    let mut out = vec![pick];
    out.extend(message.encode_to_vec());
    out
}

fn framed(pick: u8, messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![pick];
    for m in messages {
        out.extend((m.len() as u16).to_le_bytes());
        out.extend(m);
    }
    out
}

fn id(n: u8) -> Vec<u8> {
    vec![n; 32]
}

/// The seeds of `target`, or none for a name that is no target.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "backup_requests" => backup_seeds(),
        "orgs_requests" => orgs_seeds(),
        "accounts_requests" => accounts_seeds(),
        "pack" => pack_seeds(),
        "tree" => vec![tree_seed()],
        "parent_cache" => vec![cache_seed()],
        "agent_state" => vec![state_seed()],
        "config" => config_seeds(),
        _ => Vec::new(),
    }
}

fn backup_seeds() -> Vec<Vec<u8>> {
    use backup::{commit_snapshot_request, upload_pack_request};
    let header = backup::PackHeader {
        pack_id: Vec::new(),
        size: 64,
        chunks: vec![
            backup::ChunkRecord {
                id: id(1),
                offset: 0,
                length: 40,
                raw_length: 100,
            },
            backup::ChunkRecord {
                id: id(2),
                offset: 40,
                length: 24,
                raw_length: 24,
            },
        ],
    };
    let snapshot = backup::SnapshotHeader {
        tree_id: id(3),
        hostname: "laptop".into(),
        paths: vec!["/home/me".into()],
        started_at: 1_700_000_000,
        finished_at: 1_700_000_060,
        stats: Some(backup::SnapshotStats {
            files: 2,
            dirs: 1,
            bytes: 124,
        }),
    };
    let upload = [
        backup::UploadPackRequest {
            part: Some(upload_pack_request::Part::Header(header.clone())),
        }
        .encode_to_vec(),
        backup::UploadPackRequest {
            part: Some(upload_pack_request::Part::Data(vec![9; 64].into())),
        }
        .encode_to_vec(),
    ];
    let commit = [
        backup::CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::Header(snapshot.clone())),
        }
        .encode_to_vec(),
        backup::CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::ChunkIds(backup::ChunkIds {
                ids: vec![id(1), id(2), id(3)],
            })),
        }
        .encode_to_vec(),
    ];
    vec![
        picked(
            0,
            backup::FindMissingChunksRequest {
                chunk_ids: vec![id(1), id(2)],
                digests: vec![id(7), id(8)],
            },
        ),
        picked(
            1,
            backup::ReadChunksRequest {
                chunk_ids: vec![id(1)],
                snapshot_id: UUID.into(),
            },
        ),
        picked(2, header),
        picked(3, snapshot),
        framed(4, &upload),
        framed(5, &commit),
    ]
}

fn policy() -> orgs::Policy {
    orgs::Policy {
        include_paths: vec!["~/Documents".into()],
        include_patterns: vec!["*.docx".into()],
        exclude_patterns: vec!["**/node_modules".into()],
        schedule: "daily 02:30".into(),
        bandwidth_kbps: 512,
        ..Policy::default().to_proto()
    }
}

fn orgs_seeds() -> Vec<Vec<u8>> {
    vec![
        picked(
            0,
            orgs::UpdateCompanyRequest {
                name: Some("Alpha Ltd".into()),
                industry: Some("Accounting".into()),
                employees: Some(12),
                phone: Some("+353 1 555 0100".into()),
                city: Some("Cork".into()),
                state: Some("Munster".into()),
                postal_code: Some("T12 AB34".into()),
                idle_alert_days: Some(7),
            },
        ),
        picked(
            1,
            orgs::CreateEnrollmentKeyRequest {
                ttl_hours: 24,
                owner_user_id: UUID.into(),
                group_id: UUID.into(),
            },
        ),
        picked(
            2,
            orgs::RenameAgentRequest {
                agent_id: UUID.into(),
                hostname: "front-desk".into(),
            },
        ),
        picked(
            3,
            orgs::MoveAgentRequest {
                agent_id: UUID.into(),
                group_id: UUID.into(),
            },
        ),
        picked(
            4,
            orgs::RevokeAgentRequest {
                agent_id: UUID.into(),
            },
        ),
        picked(
            5,
            orgs::CreateGroupRequest {
                name: "Sales".into(),
                policy: Some(policy()),
                quota_bytes: 1 << 30,
            },
        ),
        picked(
            6,
            orgs::UpdateGroupRequest {
                group_id: UUID.into(),
                name: Some("Sales EU".into()),
                policy: Some(orgs::Policy {
                    schedule: "every 6h".into(),
                    ..policy()
                }),
                quota_bytes: Some(0),
            },
        ),
        picked(
            7,
            orgs::DeleteGroupRequest {
                group_id: UUID.into(),
            },
        ),
        picked(
            8,
            orgs::GetUsageRequest {
                from: "2026-01-01".into(),
                to: "2026-01-31".into(),
            },
        ),
    ]
}

fn accounts_seeds() -> Vec<Vec<u8>> {
    let code = format!("eu-{}", "ab".repeat(32));
    vec![
        picked(
            0,
            accounts::UpdateProfileRequest {
                name: Some("Ada Lovelace".into()),
                title: Some("Analyst".into()),
                username: Some("ada.l".into()),
                email: Some("ada@example.com".into()),
            },
        ),
        picked(
            1,
            accounts::InviteUserRequest {
                email: "new@example.com".into(),
                role: "admin".into(),
                group_id: UUID.into(),
            },
        ),
        picked(
            2,
            accounts::ChangeUserRoleRequest {
                user_id: UUID.into(),
                role: "member".into(),
            },
        ),
        picked(
            3,
            accounts::SetUserGroupRequest {
                user_id: UUID.into(),
                group_id: UUID.into(),
            },
        ),
        picked(
            4,
            accounts::AcceptInvitationRequest {
                code,
                name: "New Person".into(),
                title: "Clerk".into(),
                username: "new_person".into(),
                password: "correct horse battery".into(),
                age_confirmed: true,
            },
        ),
        picked(
            5,
            accounts::SignUpRequest {
                company_name: "Alpha Ltd".into(),
                industry: "Accounting".into(),
                employees: 25,
                country: "IE".into(),
                owner_name: "Owner Person".into(),
                email: "owner@alpha.ie".into(),
                password: "correct horse battery".into(),
                seats: 5,
                phone: "+353 1 555 0100".into(),
                owner_title: "Office Manager".into(),
                city: "Dublin".into(),
                state: String::new(),
                postal_code: "D01 F5P2".into(),
                username: "owner".into(),
                age_confirmed: true,
            },
        ),
    ]
}

fn pack_seeds() -> Vec<Vec<u8>> {
    let key = crate::stored::key();
    let id_key = key.chunk_id_key();
    let mut builder = cairn_engine::PackBuilder::new(1 << 20);
    let text = b"a chunk that compresses well ".repeat(40);
    for plaintext in [&text[..], b"short and raw"] {
        if let Ok(blob) = cairn_engine::encode_blob(&key, &id_key, plaintext) {
            builder.add(blob);
        }
    }
    let pack = builder.finish();
    let header = backup::PackHeader {
        pack_id: Vec::new(),
        size: pack.bytes.len() as u64,
        chunks: pack.chunks.clone(),
    }
    .encode_to_vec();
    let mut records = vec![0];
    records.extend((header.len() as u16).to_le_bytes());
    records.extend(header);
    records.extend(&pack.bytes);
    // The bodies the blobs sealed: a zstd frame and a raw chunk.
    let mut seeds = vec![records];
    for record in &pack.chunks {
        let start = record.offset as usize;
        let stored = &pack.bytes[start..start + record.length as usize];
        if let Ok(body) = key.open(&record.id, stored) {
            let mut seed = vec![1];
            seed.extend(body);
            seeds.push(seed);
        }
    }
    seeds
}

fn tree_seed() -> Vec<u8> {
    use backup::{Node, NodeKind, Tree};
    let mut tree = Tree {
        nodes: vec![
            Node {
                name: b"report.docx".to_vec(),
                kind: NodeKind::File as i32,
                mode: 0o644,
                mtime_secs: 1_700_000_000,
                size: 1234,
                content: vec![id(1), id(2)],
                ..Default::default()
            },
            Node {
                name: b"photos".to_vec(),
                kind: NodeKind::Dir as i32,
                mode: 0o755,
                subtree: id(3),
                ..Default::default()
            },
            Node {
                name: b"latest".to_vec(),
                kind: NodeKind::Symlink as i32,
                link_target: b"photos".to_vec(),
                ..Default::default()
            },
        ],
    };
    cairn_engine::sort_tree(&mut tree);
    cairn_engine::encode_tree(&tree)
}

/// A cache file as the agent writes it: version, company, two entries
/// (one with two chunk ids, one damaged), one tree id.
fn cache_seed() -> Vec<u8> {
    use prost::encoding::{bytes, int64, string, uint32, uint64};
    let entry = |path: &[u8], content: Vec<u8>| {
        let mut e = Vec::new();
        bytes::encode(1, &path.to_vec(), &mut e);
        uint64::encode(2, &1234, &mut e);
        int64::encode(3, &1_700_000_000_000_000_000, &mut e);
        int64::encode(4, &1_700_000_000_000_000_000, &mut e);
        uint64::encode(5, &42, &mut e);
        uint64::encode(6, &2049, &mut e);
        bytes::encode(8, &content, &mut e);
        e
    };
    let mut out = Vec::new();
    uint32::encode(1, &2, &mut out);
    string::encode(2, &CACHE_COMPANY.to_owned(), &mut out);
    bytes::encode(
        3,
        &entry(b"/home/me/a.txt", [id(1), id(2)].concat()),
        &mut out,
    );
    bytes::encode(3, &entry(b"/home/me/b.txt", vec![7; 31]), &mut out);
    bytes::encode(4, &id(3), &mut out);
    out
}

fn state_seed() -> Vec<u8> {
    format!(
        r#"{{"directory":"http://127.0.0.1:7400","endpoint":"http://127.0.0.1:7402","region":"eu","company_id":"{CACHE_COMPANY}","agent_id":"{UUID}","hostname":"laptop","credential":"cac_{}","data_key":"{}","personal_key":""}}"#,
        "0".repeat(64),
        "11".repeat(32)
    )
    .into_bytes()
}

fn config_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"data_dir = "/var/lib/cairn"

[directory]
listen = "127.0.0.1:7400"

[cells.us]
listen = "127.0.0.1:7401"
public_endpoint = "http://us.cairn.example"
bucket = "file:///var/lib/cairn/us/bucket"
smtp_url = "smtp://mail.example.com:587?tls=required"
maintenance_every_secs = 300

[cells.eu]
listen = "127.0.0.1:7402"
database_url = "postgres://cairn@db/eu"
"#
        .to_vec(),
        br#"[cells.eu]
listen = "[::1]:7402"
directory_endpoint = "http://directory.example:7400"
"#
        .to_vec(),
    ]
}
