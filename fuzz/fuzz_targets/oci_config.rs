//! launcher: OCI config.json (with its linux.seccomp) → compiled dmz config, as `launcher
//! compile --oci` builds it. What the launcher writes must be dmz's canonical encoding, decode,
//! validate and run through the checking kernel; every refusal is one line.
//!
//! Input: a control byte (the architecture the seccomp filter is compiled for), then the JSON.
#![no_main]

use dmzkit_fuzz::{compile_profile, one_line, run_compiled};
use launcher::{consistency, oci, seccomp::Arch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, text)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let arch = Arch::ALL[mode as usize % Arch::ALL.len()];
    let spec = match oci::parse("config.json", text) {
        Ok(s) => s,
        Err(e) => return one_line(&e),
    };
    let mut c = match oci::compile("config.json", &spec.process) {
        Ok(c) => c,
        Err(e) => return one_line(&e),
    };
    oci::add_home(&mut c);
    if let Some(p) = &spec.seccomp {
        c.seccomp = match compile_profile("config.json", "linux.seccomp", p, &c, arch) {
            Ok(s) => s,
            Err(e) => return one_line(&e),
        };
    }
    if let Err(e) = consistency::reconcile("config.json", &mut c, false, &mut |_| {}) {
        return one_line(&e);
    }
    match c.encode() {
        Ok(blob) => run_compiled(&blob),
        Err(e) => one_line(&e),
    }
});
