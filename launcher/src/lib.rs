//! The launcher's compilers as a library, for the fuzz targets (fuzz/) and property tests:
//! the same modules the `launcher` binary is built from (src/main.rs declares them again for
//! itself), with no command-line handling.
#![allow(dead_code)] // items only the binary's command handling uses

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

/// A seccomp profile → (flags, BPF program) for `arch`, as the binary compiles `--seccomp`
/// and `linux.seccomp` (and init units' profiles through [`init_config`]). `at` is the
/// profile's JSON path inside `file`. Warnings go to stderr.
pub fn compile_seccomp(
    file: &str,
    at: &str,
    profile: &serde_json::Value,
    c: &oci::Compiled,
    arch: seccomp::Arch,
    kernel: Option<seccomp::KernelVersion>,
) -> Result<Option<(u32, Vec<u8>)>, String> {
    let kernel = match kernel {
        Some(k) => k,
        None => seccomp::KernelVersion::running()?,
    };
    let bounding = names::cap_names(c.caps.map_or(0, |k| k.bounding));
    let target = seccomp::Target { arch, kernel };
    let filter =
        seccomp::compile(file, at, profile, &bounding, &target, &mut |w| eprintln!("launcher: {w}"))?;
    Ok(filter.map(|f| (f.flags, f.program)))
}
