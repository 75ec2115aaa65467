//! Any file given to `rouge import`: each importer reads it or refuses it,
//! never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rouge::import::{self, Format};

fuzz_target!(|data: &[u8]| {
    for format in [Format::BangumiData, Format::OfflineDb, Format::Rouge] {
        let _ = import::parse(format, data);
    }
    let _ = rouge::store::backup::read(data);
});
