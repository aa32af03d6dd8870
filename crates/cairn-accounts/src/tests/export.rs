//! Data export: a user gets what Cairn holds about them; only the owner
//! exports the whole company.

use serde_json::Value;

use cairn_core::Error;

use super::{cells, claims, invited, sign_up};
use crate::export::export;

#[tokio::test]
async fn a_member_exports_themself_and_only_the_owner_the_whole_company() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let bob = invited(&cell, &owner, "bob@acme.example.com", "member").await;

        let err = export(&cell.db, &claims(&bob), true).await.unwrap_err();
        assert!(matches!(err, Error::PermissionDenied(_)), "{err:?}");

        let own: Value =
            serde_json::from_slice(&export(&cell.db, &claims(&bob), false).await.unwrap()).unwrap();
        assert_eq!(own["format"], "cairn-export-v1", "{}", cell.backend);
        assert_eq!(own["user"]["email"], bob.email.as_str());
        assert!(own.get("users").is_none(), "{own}");

        let all: Value =
            serde_json::from_slice(&export(&cell.db, &claims(&owner), true).await.unwrap())
                .unwrap();
        let emails: Vec<&str> = all["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|u| u["email"].as_str())
            .collect();
        assert_eq!(emails.len(), 2, "{}: {emails:?}", cell.backend);
        assert!(emails.contains(&bob.email.as_str()));
        assert!(emails.contains(&owner.email.as_str()));
    }
}
