//! What the fuzz targets share: the recording kernel of dmz's transition tests, which checks
//! every value the transition hands it (dmz/tests/support/recorder.rs), and the blob helpers.

#[path = "../../dmz/tests/support/recorder.rs"]
mod recorder;

use dmz::config::{Config, HEADER_LEN};
pub use recorder::{validates, Call, Recorder};

/// `dmz::run` without its report: the same decode, validation and transition, and the exit
/// status of the error. Writing the message decodes dmz's packed texts from their start, which
/// under coverage instrumentation costs more than everything else; the targets run the real
/// `dmz::run` on a share of their inputs and this on the rest.
pub fn run_quiet<'b>(k: &mut Recorder<'b>, blob: &'b [u8]) -> i32 {
    k.blob = blob;
    let mut cfg = Config::default();
    let err = match cfg.decode_into(blob) {
        Err(e) => e,
        Ok(()) => {
            let mut ptrs = vec![core::ptr::null(); dmz::transition::PTR_SLOTS];
            let mut path = vec![0u8; dmz::transition::PATH_MAX];
            let mut p = dmz::Prepared::new(&mut ptrs, &mut path);
            match dmz::validate(k, &cfg, &mut p) {
                Err(e) => e,
                Ok(()) => dmz::transition(k, &cfg, &mut p),
            }
        }
    };
    err.exit_code()
}

/// `blob` with its header's length and CRC made right for its body (the magic and version
/// are kept), so mutations reach the body decoder instead of stopping at the CRC.
pub fn fix_header(blob: &mut [u8]) {
    if blob.len() >= HEADER_LEN {
        let (head, body) = blob.split_at_mut(HEADER_LEN);
        let (magic, version) =
            ([head[0], head[1], head[2], head[3]], u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        dmz::config::write_header(head, magic, version, body);
    }
}

/// Runs a compiled dmz config through `dmz::run` against the checking kernel (no failure
/// injected, last capability 40) and checks the run. For the compiler targets: what the
/// launcher writes must decode and validate.
pub fn run_compiled(blob: &[u8]) {
    let cfg =
        Config::decode(blob).unwrap_or_else(|e| panic!("the launcher wrote a config dmz refuses: {e:?}"));
    let again = launcher::wire::Dmz::from_config(&cfg).expect("the launcher writes strings").blob();
    let again = again.expect("re-encodes");
    assert_eq!(again, blob, "the launcher's blob is postcard's encoding of what dmz decodes");
    let mut k = Recorder::new(40);
    let code = k.run(blob);
    assert_eq!(k.reports.len(), 1, "dmz::run reports once");
    k.check_run(code);
}

/// A refusal or warning is one line (it is printed after "launcher: ").
pub fn one_line(msg: &str) {
    assert!(!msg.is_empty() && !msg.contains('\n'), "not one line: {msg:?}");
}

/// A seccomp profile → its flags and program for `arch`, as the launcher compiles `linux.seccomp`
/// (kernel 6.1 for Docker's minKernel conditions; warnings must be one line).
pub fn compile_profile(
    file: &str,
    at: &str,
    profile: &serde_json::Value,
    c: &launcher::oci::Compiled,
    arch: launcher::seccomp::Arch,
) -> Result<Option<launcher::wire::Seccomp>, String> {
    use launcher::seccomp::{compile, KernelVersion, Target};
    let bounding = launcher::names::cap_names(c.caps.map_or(0, |k| k.bounding));
    let target = Target { arch, kernel: KernelVersion(6, 1) };
    let filter = compile(file, at, profile, &bounding, &target, &mut |w| one_line(&w))?;
    Ok(filter.map(|f| launcher::wire::Seccomp { flags: f.flags, program: f.program }))
}
