//! Serde helpers for answers we do not control: a field of the wrong type
//! becomes its default instead of failing the whole answer, and a list keeps
//! the items that parse (up to a bound) instead of none.
//!
//! Use them with `#[serde(default, deserialize_with = "…")]` on every field
//! of a response struct, so `null`, a missing field and a wrong type all
//! read as "the source says nothing".

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The most items read from any one list in an answer; the mappers keep
/// fewer, this only stops a huge list from being parsed item by item.
const MAX_ITEMS: usize = 256;

/// The value, or `T::default()` when it is null or of another type.
pub(super) fn value<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let raw = Value::deserialize(deserializer)?;
    Ok(T::deserialize(raw).unwrap_or_default())
}

/// The items that parse as `T`, at most [`MAX_ITEMS`]; anything but a list
/// is an empty list.
pub(super) fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let Value::Array(items) = Value::deserialize(deserializer)? else {
        return Ok(Vec::new());
    };
    Ok(items
        .into_iter()
        .take(MAX_ITEMS)
        .filter_map(|item| T::deserialize(item).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Default, Debug)]
    #[serde(default)]
    struct Record {
        #[serde(deserialize_with = "value")]
        episodes: Option<u32>,
        #[serde(deserialize_with = "value")]
        title: Option<String>,
        #[serde(deserialize_with = "list")]
        genres: Vec<String>,
    }

    #[test]
    fn wrong_types_are_skipped_not_fatal() {
        let r: Record = serde_json::from_str(
            r#"{"episodes": "twelve", "title": "Rouge", "genres": ["Action", 3, null, "Mecha"]}"#,
        )
        .expect("parses");
        assert_eq!(r.episodes, None);
        assert_eq!(r.title.as_deref(), Some("Rouge"));
        assert_eq!(r.genres, ["Action", "Mecha"]);
        let r: Record =
            serde_json::from_str(r#"{"episodes": -1, "genres": {"a": 1}}"#).expect("parses");
        assert_eq!(r.episodes, None);
        assert!(r.genres.is_empty());
        let r: Record = serde_json::from_str("{}").expect("parses");
        assert!(r.title.is_none());
    }
}
