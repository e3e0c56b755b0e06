//! init: system-mode config decode. What decodes, postcard re-encodes to the same bytes, and
//! every unit's dmz config runs through the checking kernel.
//!
//! Input: a control byte (bit 0 set keeps the header as it is, else its length and CRC are
//! made right), then the blob.
#![no_main]

use dmzkit_fuzz::{fix_header, Recorder};
use init::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, blob)) = data.split_first() else { return };
    let mut blob = blob.to_vec();
    if mode & 1 == 0 {
        fix_header(&mut blob);
    }
    let Ok(cfg) = Config::decode(&blob) else { return };
    let again = launcher::wire::Init::from_config(&cfg).blob().expect("a decoded config re-encodes");
    assert_eq!(again, blob, "a decoded config re-encodes to the same bytes (postcard)");
    assert_eq!(cfg.mounts.iter().count(), cfg.mounts.len());
    for list in [&cfg.tasks, &cfg.services] {
        assert_eq!(list.iter().count(), list.len());
        for unit in list.iter() {
            let mut k = Recorder::new(40);
            let code = dmzkit_fuzz::run_quiet(&mut k, unit.dmz);
            k.check_run(code);
        }
    }
});
