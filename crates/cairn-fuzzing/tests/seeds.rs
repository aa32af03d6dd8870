//! The seeds are well-formed: each passes its conversion or loader, so a
//! fuzzer starting from them reaches the checks behind the decoding at once.

#![allow(clippy::unwrap_used)]
use prost::Message;
#[test]
fn every_seed_passes_its_parser() {
    let s = cairn_fuzzing::seeds("backup_requests");
    assert!(
        cairn_backup::fuzzing::pack_header(
            cairn_proto::backup::v1::PackHeader::decode(&s[2][1..]).unwrap()
        )
        .is_ok()
    );
    assert!(
        cairn_backup::fuzzing::snapshot_header(
            cairn_proto::backup::v1::SnapshotHeader::decode(&s[3][1..]).unwrap()
        )
        .is_ok()
    );
    let o = cairn_fuzzing::seeds("orgs_requests");
    assert!(
        cairn_orgs::fuzzing::update_company(
            cairn_proto::orgs::v1::UpdateCompanyRequest::decode(&o[0][1..]).unwrap()
        )
        .is_ok()
    );
    assert!(
        cairn_orgs::fuzzing::create_group(
            cairn_proto::orgs::v1::CreateGroupRequest::decode(&o[5][1..]).unwrap()
        )
        .is_ok()
    );
    assert!(
        cairn_orgs::fuzzing::get_usage(
            &cairn_proto::orgs::v1::GetUsageRequest::decode(&o[8][1..]).unwrap()
        )
        .is_ok()
    );
    let a = cairn_fuzzing::seeds("accounts_requests");
    assert!(
        cairn_accounts::fuzzing::update_profile(
            cairn_proto::accounts::v1::UpdateProfileRequest::decode(&a[0][1..]).unwrap()
        )
        .is_ok()
    );
    assert!(
        cairn_accounts::fuzzing::accept_invitation(
            cairn_proto::accounts::v1::AcceptInvitationRequest::decode(&a[4][1..]).unwrap()
        )
        .is_ok()
    );
    assert!(
        cairn_core::validate::SignUp::try_from(
            cairn_proto::accounts::v1::SignUpRequest::decode(&a[5][1..]).unwrap()
        )
        .map(drop)
        .is_ok()
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        cairn_agent::AgentState::file(dir.path()),
        &cairn_fuzzing::seeds("agent_state")[0],
    )
    .unwrap();
    assert!(cairn_agent::AgentState::load(dir.path()).map(drop).is_ok());
    std::fs::write(
        cairn_agent::fuzzing::parent_cache_path(dir.path()),
        &cairn_fuzzing::seeds("parent_cache")[0],
    )
    .unwrap();
    assert_eq!(
        cairn_agent::fuzzing::read_parent_cache(dir.path(), cairn_fuzzing::CACHE_COMPANY),
        (1, 2, 1)
    );
    for c in cairn_fuzzing::seeds("config") {
        std::fs::write(dir.path().join("c.toml"), &c).unwrap();
        assert!(
            cairn_core::config::ServerConfig::load(Some(&dir.path().join("c.toml")))
                .map(drop)
                .is_ok()
        );
    }
}
