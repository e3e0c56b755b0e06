//! launcher: seccomp profile (OCI linux.seccomp or Docker's format) → BPF, for each of dmz's
//! architectures. A compiled filter must be one dmz accepts and installs; every refusal is
//! one line.
//!
//! Input: a control byte (the architecture), a byte (the kernel's minor version, 5.x or 6.x
//! for Docker's minKernel conditions), then the profile's JSON.
#![no_main]

use dmzkit_fuzz::{one_line, run_compiled};
use launcher::names::cap_names;
use launcher::oci::Compiled;
use launcher::wire::Seccomp;
use launcher::seccomp::{self, Arch, KernelVersion, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[mode, minor], text)) = data.split_first_chunk::<2>() else { return };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(text) else { return };
    let arch = Arch::ALL[mode as usize % Arch::ALL.len()];
    let kernel = KernelVersion(5 + (minor >> 7) as u64, (minor & 0x7f) as u64 % 20);
    // Docker's capability conditions test the bounding set: all or none.
    let bounding = if mode & 0x80 != 0 { cap_names(!0 >> 23) } else { vec![] };
    let target = Target { arch, kernel };
    let filter = match seccomp::compile("profile.json", "", &value, &bounding, &target, &mut |w| one_line(&w))
    {
        Ok(Some(f)) => f,
        Ok(None) => return,
        Err(e) => return one_line(&e),
    };
    assert!(!filter.program.is_empty() && filter.program.len().is_multiple_of(8));
    assert!(filter.program.len() / 8 <= dmz::config::MAX_BPF_INSNS);
    // dmz takes it: the native architecture's program through the whole transition.
    if arch == Arch::native() {
        let c = Compiled {
            args: vec!["/bin/true".into()],
            uid: Some(1000),
            gid: Some(1000),
            no_new_privs: true,
            seccomp: Some(Seccomp { flags: filter.flags, program: filter.program }),
            ..Compiled::default()
        };
        run_compiled(&c.encode().expect("a filter within BPF_MAXINSNS fits a config"));
    }
});
