//! The catalog: entries and their fields ([`model`]), title folding
//! ([`text`]) and the typo-tolerant title index ([`search`]), the in-memory
//! catalog of every entry ([`index::Catalog`]), score summaries
//! ([`scores`]), typed field edits and their checks ([`edit`]), and the
//! built-in demo catalog ([`demo`]).

pub mod demo;
pub mod edit;
pub mod index;
pub mod model;
pub mod scores;
pub mod search;
pub mod text;

pub use index::Catalog;
