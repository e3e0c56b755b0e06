//! Starting children: fork, the child's own setup, and the exec, either directly (container
//! mode) or through the dmz transition of a compiled config (one implementation of the
//! transition, docs/design.md §1).
//!
//! Everything a child runs is behind `#[inline(never)]`: the transition keeps ~16 KB of
//! argv/envp pointers on the stack, and if that frame were part of the parent's, the stack
//! probes on entry would make those pages resident in PID 1 for good.

use crate::log::{Log, E, S};
use crate::sys::{self, Errno};
use dmz::config::Bytes;
use dmz::sys::Linux;
use dmz::transition::{program, transition, validate, Prepared};
use linker::sys::SigSet;

/// Exit status of a child whose setup failed before exec (docs/design.md §4).
pub const FAILED: i32 = 125;

/// Forks; the child runs `child` and exits with its status. Returns the child's PID.
pub fn spawn(child: impl FnOnce() -> i32) -> Result<i32, Errno> {
    match sys::fork()? {
        0 => sys::exit(child()),
        pid => Ok(pid),
    }
}

/// Reports a failed setup step in the child and returns [`FAILED`].
fn fail(what: &[u8], e: Errno, detail: &[u8]) -> i32 {
    match detail {
        b"" => Log::new(false).error(b"unable to %: %", &[S(what), E(e)]),
        _ => Log::new(false).error(b"unable to %: % (%)", &[S(what), E(e), S(detail)]),
    }
    FAILED
}

/// Container mode's child setup, as tini's: its own process group, which becomes the
/// terminal's foreground group when stdin is a terminal (job control: ctrl-C and ctrl-Z reach
/// the command, not init), then init's original signal mask.
pub fn isolate(mask: SigSet) -> Result<(), i32> {
    sys::new_process_group(0).map_err(|e| fail(b"create process group", e, b""))?;
    match sys::foreground_stdin() {
        Ok(()) | Err(sys::ENOTTY) | Err(sys::ENXIO) => {}
        Err(e) => return Err(fail(b"set foreground process group", e, b"")),
    }
    sys::set_signal_mask(mask).map_err(|e| fail(b"restore signal mask", e, b""))
}

/// System mode's child setup: a session of its own (no controlling terminal; stoppable as a
/// process group), then init's original signal mask.
pub fn detach(mask: SigSet) -> Result<(), i32> {
    sys::setsid().map_err(|e| fail(b"create session", e, b""))?;
    sys::set_signal_mask(mask).map_err(|e| fail(b"restore signal mask", e, b""))
}

/// The search path when the environment has no PATH (the same default as dmz).
const DEFAULT_PATH: &[u8] = dmz::transition::DEFAULT_PATH;

/// Execs init's argument `from` with the arguments after it, like execvp(3): a name with '/' as is, otherwise each directory of PATH
/// (from `path`, else the default) in turn; a candidate that exists but cannot be executed
/// (EACCES) is remembered and the search goes on. Returns only on failure, after reporting
/// it: 127 when the program was not found, 126 when it could not be executed.
#[inline(never)]
pub fn exec_search(args: &linker::Args, from: usize) -> i32 {
    let name = args.get(from).map_or(&b""[..], |c| c.to_bytes());
    let path = args.env(b"PATH");
    const ENOENT: Errno = 2;
    const EACCES: Errno = 13;
    const ENOTDIR: Errno = 20;
    const ENAMETOOLONG: Errno = 36;
    let mut buf = [0u8; 4096]; // PATH_MAX, NUL included
    let mut try_exec = |parts: &[&[u8]]| -> Errno {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len >= buf.len() {
            return ENAMETOOLONG;
        }
        let mut at = 0;
        for p in parts {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        buf[len] = 0;
        sys::exec_args(sys::c(&buf[..=len]), args, from)
    };
    #[allow(clippy::manual_contains)] // slice::contains brings in memchr
    let err = 'search: {
        if name.is_empty() || name.iter().any(|&b| b == b'/') {
            break 'search try_exec(&[name]);
        }
        let mut seen_eacces = false;
        for dir in path.unwrap_or(DEFAULT_PATH).split(|&b| b == b':') {
            let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
            match try_exec(&[dir, b"/", name]) {
                EACCES => seen_eacces = true,
                // Not here: try the next directory (musl's and glibc's list).
                ENOENT | ENOTDIR | 19 /* ENODEV */ | 110 /* ETIMEDOUT */ | 116 /* ESTALE */ => {}
                e => break 'search e,
            }
        }
        if seen_eacces {
            EACCES
        } else {
            ENOENT
        }
    };
    Log::new(false).error(b"unable to exec: % (%)", &[E(err), S(name)]);
    match err {
        ENOENT | ENOTDIR => 127,
        _ => 126,
    }
}

/// The dmz transition of `blob`, with the program and arguments replaced by `args` (a
/// NUL-separated list) when given. Returns only on failure, after dmz reported it.
#[inline(never)]
pub fn run_dmz(blob: &[u8], args: Option<&[u8]>) -> i32 {
    let mut cfg = match dmz::Config::decode(blob) {
        Ok(c) => c,
        Err(e) => return dmz::fail(&mut Linux, e, b""),
    };
    if let Some(a) = args {
        cfg.args = Bytes(a);
    }
    let mut p = Prepared::default();
    let err = match validate(&mut Linux, &cfg, &mut p) {
        Err(e) => e,
        Ok(()) => transition(&mut Linux, &cfg, &p),
    };
    let name = match err.step {
        dmz::Step::Chdir => cfg.cwd.0,
        dmz::Step::LandlockPathRule => dmz::landlock::rule_path(&cfg, err.num),
        _ => program(&cfg),
    };
    dmz::fail(&mut Linux, err, name)
}
