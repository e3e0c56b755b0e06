//! Starting children: fork, the child's own setup, and the exec, either directly (container
//! mode) or through the dmz transition of a compiled config (one implementation of the
//! transition, docs/design.md §1).
//!
//! Everything a child runs is behind `#[inline(never)]`: its frames (the PATH search's 4 KiB
//! buffer, the transition's) must not be part of the parent's, or the stack probes on entry
//! would make those pages resident in PID 1 for good. The transition's argv/envp pointers are
//! in a mapping sized to the config ([`dmz::run_mapped`]), not on the stack.

use crate::log::Log;
use crate::sys::{self, Errno};
use dmz::sys::Linux;
use dmz::transition::{search_path, DEFAULT_PATH, PATH_MAX};
use linker::sys::SigSet;
use linux_raw_sys::errno;

/// Exit status of a child whose setup failed before exec (docs/design.md §4).
pub use linker::FAILED;

/// Forks; the child runs `child` and exits with its status. Returns the child's PID.
pub fn spawn(child: impl FnOnce() -> i32) -> Result<i32, Errno> {
    match sys::fork()? {
        0 => sys::exit(child()),
        pid => Ok(pid),
    }
}

/// Reports a failed setup step in the child and returns [`FAILED`].
pub fn fail(what: &[u8], e: Errno, detail: &[u8]) -> i32 {
    Log::new(false).error_unable(what, e, Some(detail).filter(|d| !d.is_empty()));
    FAILED
}

/// Container mode's child setup, as tini's: its own process group, which becomes the
/// terminal's foreground group when stdin is a terminal (job control: ctrl-C and ctrl-Z reach
/// the command, not init), then init's original signal mask. `sigfd`, init's own fd, is
/// closed: a `--dmz` config preserving its number must not get it.
pub fn isolate(mask: SigSet, sigfd: i32) -> Result<(), i32> {
    sys::close_fds(sigfd, sigfd).map_err(|e| fail(b"close init's fds", e, b""))?;
    sys::new_process_group(0).map_err(|e| fail(b"create process group", e, b""))?;
    match sys::foreground_stdin() {
        Ok(()) | Err(sys::ENOTTY) | Err(sys::ENXIO) => {}
        Err(e) => return Err(fail(b"set foreground process group", e, b"")),
    }
    sys::set_signal_mask(mask).map_err(|e| fail(b"restore signal mask", e, b""))
}

/// System mode's child setup: a session of its own (no controlling terminal; stoppable as a
/// process group), none of init's fds above stdio (init passes a unit none: a preserved fd
/// then fails the transition with EBADF instead of handing over init's signalfd, /dev/kmsg or
/// watchdog) but `keep` (a readiness fd; below 3: none), then init's original signal mask.
pub fn detach(mask: SigSet, keep: i32) -> Result<(), i32> {
    sys::setsid().map_err(|e| fail(b"create session", e, b""))?;
    let keep = keep.max(2);
    if keep > 3 {
        sys::close_fds(3, keep - 1).map_err(|e| fail(b"close init's fds", e, b""))?;
    }
    sys::close_fds(keep + 1, !0).map_err(|e| fail(b"close init's fds", e, b""))?;
    sys::set_signal_mask(mask).map_err(|e| fail(b"restore signal mask", e, b""))
}

/// Execs init's argument `from` with the arguments after it, like execvp(3): a name with '/'
/// as is, otherwise dmz's PATH search over `PATH` (else dmz's default). Returns only on
/// failure, after reporting it: 127 when the program was not found, 126 when it could not be
/// executed.
#[inline(never)]
pub fn exec_search(args: &linker::Args, from: usize) -> i32 {
    let name = args.get(from).unwrap_or(c"");
    let exec = |path: &core::ffi::CStr| sys::exec_args(path, args, from);
    let mut buf = [0u8; PATH_MAX];
    #[allow(clippy::manual_contains)] // slice::contains brings in memchr
    let err = if name.is_empty() || name.to_bytes().iter().any(|&b| b == b'/') {
        exec(name)
    } else {
        let path = args.env(b"PATH").unwrap_or(DEFAULT_PATH);
        search_path(name, path, &mut buf, exec)
    };
    Log::new(false).error_unable(b"exec", err, Some(name.to_bytes()));
    match err as u32 {
        errno::ENOENT | errno::ENOTDIR => 127,
        _ => 126,
    }
}

/// The dmz transition of `blob`, with the program and arguments replaced by `args` (a
/// NUL-separated list) when given. Returns only on failure, after dmz reported it.
#[inline(never)]
pub fn run_dmz(blob: &[u8], args: Option<&[u8]>) -> i32 {
    dmz::run_mapped(&mut Linux, blob, args)
}
