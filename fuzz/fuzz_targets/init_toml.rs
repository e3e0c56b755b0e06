//! launcher: init's TOML → compiled init config (`launcher compile --init`). What the
//! launcher writes must be init's canonical encoding and decode, and each unit's dmz config
//! must validate and run through the checking kernel.
//!
//! Input: the TOML text. Units may name OCI files (`oci = "..."`), read relative to
//! testdata/oci; inputs that could name a file under /dev, /proc or /sys are skipped (reading
//! a device is not a compiler fault; TOML's \u escapes could spell one).
#![no_main]

use dmzkit_fuzz::run_compiled;
use launcher::init_config::{compile, Target};
use launcher::seccomp::{Arch, KernelVersion};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if ["/dev", "dev/", "/proc", "proc/", "/sys", "sys/", "\\u", "\\U"].iter().any(|d| text.contains(d)) {
        return;
    }
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/oci"));
    let target = Target { arch: Arch::native(), kernel: Some(KernelVersion(6, 1)) };
    let Ok(blob) = compile("init.toml", text, base, &target, &mut |_| {}) else { return };
    let cfg = init::config::Config::decode(&blob)
        .unwrap_or_else(|e| panic!("the launcher wrote an init config init refuses: {}", e.text()));
    let again = launcher::wire::Init::from_config(&cfg).blob().expect("re-encodes");
    assert_eq!(again, blob, "the launcher's blob is postcard's encoding of what init decodes");
    for list in [&cfg.tasks, &cfg.services] {
        for unit in list.iter() {
            run_compiled(unit.dmz);
        }
    }
});
