//! Directory rows: keyed hashes in, regions out.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, SqlErr,
};

use cairn_core::{CompanyId, EntityKind, Error, Region};
use cairn_entity::db_err;
use cairn_entity::directory::login;

/// Keyed hashing of logins and company ids with the directory's secret key.
#[derive(Clone)]
pub struct Hasher {
    key: [u8; 32],
}

impl Hasher {
    pub fn new(key: [u8; 32]) -> Hasher {
        Hasher { key }
    }

    /// Hash of a normalized login (email).
    pub fn login(&self, login: &str) -> Vec<u8> {
        self.hash(b"login\0", login.as_bytes())
    }

    pub fn company(&self, company: CompanyId) -> Vec<u8> {
        self.hash(b"company\0", company.0.as_bytes())
    }

    /// The region answered for a login nobody holds: one of `regions`,
    /// chosen by the login's keyed hash, so the same login always gets the
    /// same one and nobody without the directory's key can tell it from a
    /// real answer.
    pub fn stand_in(&self, login: &str, regions: &[Region]) -> Option<Region> {
        let hash = self.hash(b"stand-in\0", login.as_bytes());
        let pick = u64::from_le_bytes(hash[..8].try_into().ok()?);
        let count = u64::try_from(regions.len()).ok().filter(|n| *n > 0)?;
        regions.get(usize::try_from(pick % count).ok()?).copied()
    }

    fn hash(&self, domain: &[u8], value: &[u8]) -> Vec<u8> {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(domain);
        h.update(value);
        h.finalize().as_bytes().to_vec()
    }
}

#[derive(Clone)]
pub struct DirectoryRepo {
    db: DatabaseConnection,
    hasher: Hasher,
}

impl DirectoryRepo {
    pub fn new(db: DatabaseConnection, hasher: Hasher) -> DirectoryRepo {
        DirectoryRepo { db, hasher }
    }

    pub async fn register(
        &self,
        login: &str,
        company: CompanyId,
        region: Region,
    ) -> Result<(), Error> {
        let row = login::ActiveModel {
            login_hash: Set(self.hasher.login(login)),
            company_hash: Set(self.hasher.company(company)),
            region: Set(region.as_str().to_owned()),
            created_at: Set(chrono::Utc::now()),
        };
        match row.insert(&self.db).await {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Err(Error::AlreadyExists {
                    kind: EntityKind::Login,
                })
            }
            Err(err) => Err(db_err("registering a login")(err)),
        }
    }

    pub async fn locate(&self, login: &str) -> Result<Option<Region>, Error> {
        let row = login::Entity::find_by_id(self.hasher.login(login))
            .one(&self.db)
            .await
            .map_err(db_err("locating a login"))?;
        row.map(|r| r.region.parse()).transpose()
    }

    /// The region answered for a login nobody holds ([`Hasher::stand_in`]).
    pub fn stand_in(&self, login: &str, regions: &[Region]) -> Option<Region> {
        self.hasher.stand_in(login, regions)
    }

    /// Forgets a login, only if `region` owns it.
    pub async fn unregister(&self, login: &str, region: Region) -> Result<(), Error> {
        login::Entity::delete_many()
            .filter(login::Column::LoginHash.eq(self.hasher.login(login)))
            .filter(login::Column::Region.eq(region.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("unregistering a login"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn register_locate_and_forget_on_every_backend() {
        for test_db in cairn_migration::testing::test_databases().await.unwrap() {
            let db = cairn_migration::open_directory(&test_db.url).await.unwrap();
            let repo = DirectoryRepo::new(db.clone(), Hasher::new([1; 32]));
            let company = CompanyId::new();
            repo.register("a@example.ie", company, Region::Eu)
                .await
                .unwrap();
            assert_eq!(
                repo.locate("a@example.ie").await.unwrap(),
                Some(Region::Eu),
                "{}",
                test_db.backend
            );
            assert!(matches!(
                repo.register("a@example.ie", CompanyId::new(), Region::Us)
                    .await,
                Err(Error::AlreadyExists { .. })
            ));
            // Only the keyed hash is stored, never the email or the company id.
            let rows = login::Entity::find().all(&db).await.unwrap();
            assert_eq!(rows.len(), 1);
            let stored = format!("{:?}", rows[0]);
            assert!(!stored.contains("example"));
            assert!(
                !rows[0]
                    .company_hash
                    .windows(16)
                    .any(|w| w == company.0.as_bytes())
            );
            // Another region cannot remove it.
            repo.unregister("a@example.ie", Region::Us).await.unwrap();
            assert!(repo.locate("a@example.ie").await.unwrap().is_some());
            repo.unregister("a@example.ie", Region::Eu).await.unwrap();
            assert_eq!(repo.locate("a@example.ie").await.unwrap(), None);
        }
    }

    #[test]
    fn an_unknown_login_always_gets_the_same_stand_in() {
        let hasher = Hasher::new([1; 32]);
        let regions = [Region::Eu, Region::Us];
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..64 {
            let login = format!("nobody{i}@example.com");
            let first = hasher.stand_in(&login, &regions);
            assert_eq!(first, Hasher::new([1; 32]).stand_in(&login, &regions));
            seen.insert(first);
        }
        // Both regions come up: the choice does not single one out.
        assert_eq!(seen.len(), 2);
        assert_eq!(hasher.stand_in("x@example.com", &[]), None);
    }
}
