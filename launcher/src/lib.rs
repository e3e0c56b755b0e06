//! The launcher's compilers as a library: the `launcher` binary (src/main.rs) is its
//! command-line handling, and the fuzz targets (fuzz/) and property tests call the same code.

pub mod check;
pub mod consistency;
pub mod flags;
pub mod init_config;
pub mod names;
pub mod oci;
pub mod passwd;
pub mod seccomp;
pub mod validate;
pub mod view;
pub mod wire;

/// One line on stderr, `launcher: TEXT`. A stderr nobody reads any more is not worth a panic.
pub fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "launcher: {text}");
}

/// A seccomp profile → its flags and BPF program for `arch` (launcher/src/seccomp, docs/seccomp.md),
/// as `--seccomp`, `linux.seccomp` and init units' profiles are compiled. `at` is the profile's
/// JSON path inside `file` ("linux.seccomp", or "" for a profile file). Docker profiles'
/// capability conditions test the final bounding set. Warnings go to stderr.
pub fn compile_seccomp(
    file: &str,
    at: &str,
    profile: &serde_json::Value,
    c: &oci::Compiled,
    arch: seccomp::Arch,
    kernel: Option<seccomp::KernelVersion>,
) -> Result<Option<wire::Seccomp>, String> {
    let kernel = match kernel {
        Some(k) => k,
        None => seccomp::KernelVersion::running()?,
    };
    let bounding = names::cap_names(c.caps.map_or(0, |k| k.bounding));
    let target = seccomp::Target { arch, kernel };
    let filter = seccomp::compile(file, at, profile, &bounding, &target, &mut |w| say(&w))?;
    Ok(filter.map(|f| wire::Seccomp { flags: f.flags, program: f.program }))
}
