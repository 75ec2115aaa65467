//! The built-in demo catalog, seeded into an empty data directory so the
//! first command answers something real. Titles, dates, identifiers and
//! broadcast rules come from bangumi-data (CC BY 4.0, credit "bangumi-data").

/// The demo catalog in the rouge export format.
pub const CATALOG: &str = include_str!("demo_catalog.json");
