//! Schema versions of the data directory and the forward migrations between them.

use sled::Db;

use super::StoreError;

/// The schema this build writes.
pub const CURRENT: u32 = 1;

/// Where the schema version is kept in `meta`.
pub const VERSION_KEY: &[u8] = b"schema_version";

/// A forward migration from `from` to `from + 1`.
type Migration = fn(&Db) -> Result<(), StoreError>;

/// Migrations by the version they start from. Version 1 is the first schema,
/// so there is nothing to migrate yet; a change to the stored shape adds a
/// function here and bumps [`CURRENT`].
const MIGRATIONS: &[(u32, Migration)] = &[];

/// Brings the store up to [`CURRENT`]; a fresh store is stamped directly.
pub fn run(db: &Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let found = match meta.get(VERSION_KEY)? {
        Some(bytes) => {
            Some(u32::from_be_bytes(bytes.as_ref().try_into().map_err(
                |_| StoreError::Corrupt("schema_version is not 4 bytes".into()),
            )?))
        }
        None => None,
    };
    let mut version = match found {
        None => CURRENT,
        Some(v) if v > CURRENT => {
            return Err(StoreError::TooNew {
                found: v,
                supported: CURRENT,
            });
        }
        Some(v) => v,
    };
    while version < CURRENT {
        let step = MIGRATIONS
            .iter()
            .find(|(from, _)| *from == version)
            .ok_or(StoreError::NoMigration { from: version })?;
        (step.1)(db)?;
        version += 1;
        tracing::info!(version, "migrated store schema");
        meta.insert(VERSION_KEY, &version.to_be_bytes())?;
    }
    meta.insert(VERSION_KEY, &version.to_be_bytes())?;
    Ok(())
}

/// The schema version recorded in the store.
pub fn version(meta: &sled::Tree) -> Result<Option<u32>, StoreError> {
    Ok(meta
        .get(VERSION_KEY)?
        .and_then(|b| b.as_ref().try_into().ok().map(u32::from_be_bytes)))
}
