//! Integrity: every chunk is checked against its id after decryption. A
//! flipped byte in a pack fails the restore of exactly the files that need
//! the damaged chunk, names them, and every other file still restores.

#![allow(clippy::unwrap_used)]

use std::fs;

use sea_orm::EntityTrait;

use cairn_core::{ChunkId, Region};
use cairn_e2e::{Cluster, backends, noise};
use cairn_entity::regional::{chunk, pack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_fails_only_the_files_that_need_it() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, company) = cluster.signup("Golf", "US", "g@golf.example", 1).await;
        let state_dir = cluster.enroll(&session, "golf-1").await;
        let state = cairn_agent::AgentState::load(&state_dir).unwrap();

        let data = cluster.path("data");
        fs::create_dir_all(data.join("finance")).unwrap();
        let payroll = noise(3 << 20, 11);
        // Two files sharing content share its chunks: both need the damaged one.
        fs::write(data.join("finance/payroll.xlsx"), &payroll).unwrap();
        fs::write(data.join("finance/payroll-copy.xlsx"), &payroll).unwrap();
        fs::write(data.join("notes.txt"), b"call the auditors on monday\n").unwrap();
        fs::write(data.join("video.bin"), noise(20 << 20, 12)).unwrap();
        let backed_up = cairn_agent::backup(&state, std::slice::from_ref(&data))
            .await
            .unwrap();

        // Find the first chunk of payroll.xlsx in the bucket and flip a byte in it.
        let ids = state.data_key().unwrap().chunk_id_key();
        let first: ChunkId = ids.chunk_id(cairn_engine::chunk_slice(&payroll).next().unwrap());
        let db = cluster.cell_db(Region::Us).await;
        let company_uuid = uuid::Uuid::parse_str(&company).unwrap();
        let row = chunk::Entity::find_by_id((company_uuid, first.0.to_vec()))
            .one(&db)
            .await
            .unwrap()
            .expect("the chunk is indexed");
        let pack_row = pack::Entity::find_by_id((company_uuid, row.pack_id.clone()))
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        let object = cluster.bucket_dir(Region::Us).join(&pack_row.object_key);
        let mut bytes = fs::read(&object).unwrap();
        bytes[(row.offset + row.length / 2) as usize] ^= 0x01;
        fs::write(&object, bytes).unwrap();

        let target = cluster.path("restored");
        let err = cairn_agent::restore(&state, &backed_up.snapshot_id, &target)
            .await
            .unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains("2 items could not be restored"),
            "{message}"
        );
        for damaged in ["finance/payroll.xlsx", "finance/payroll-copy.xlsx"] {
            assert!(message.contains(damaged), "{message}");
            assert!(!target.join("data").join(damaged).exists(), "{damaged}");
        }
        assert!(message.contains("is damaged"), "{message}");
        assert!(!message.contains("notes.txt") && !message.contains("video.bin"));
        // Everything else restored byte for byte.
        assert_eq!(
            fs::read(target.join("data/notes.txt")).unwrap(),
            b"call the auditors on monday\n"
        );
        assert_eq!(
            fs::read(target.join("data/video.bin")).unwrap(),
            noise(20 << 20, 12)
        );

        // The agent's command line reports the same and exits with an error.
        let again = cluster.path("restored-cli");
        let cli = cluster
            .agent(
                &state_dir,
                &[
                    "restore",
                    &backed_up.snapshot_id,
                    "--target",
                    again.to_str().unwrap(),
                ],
            )
            .await
            .unwrap_err();
        assert!(format!("{cli:#}").contains("payroll.xlsx"), "{cli:#}");
        cluster.stop().await;
    }
}
