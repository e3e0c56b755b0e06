//! Container mode, `init [OPTIONS] [--] CMD [ARGS...]`: the tini/catatonit job. Start CMD,
//! forward every signal to it, reap every zombie, exit with CMD's status.
//!
//! Options (tini's letters; `-w` is dumb-init's and tini's most requested missing feature
//! rather than tini's "warn on reap"):
//!
//! | option | effect |
//! |---|---|
//! | `-s` | register as child subreaper (also with `TINI_SUBREAPER` set) |
//! | `-g` | forward signals to CMD's process group (also with `TINI_KILL_PROCESS_GROUP` set) |
//! | `-p SIG` | init gets SIG when its parent dies (PR_SET_PDEATHSIG) |
//! | `-e CODE` | exit 0 when CMD exits with CODE (repeatable) |
//! | `-v` | one line per event on stderr |
//! | `-w` | after CMD exits, wait for every other child before exiting |
//! | `--dmz FILE` | start CMD through the dmz transition of FILE (CMD, if given, replaces the config's args) |
//!
//! Exit status: CMD's exit code, 128 + the signal that killed it, 127 when CMD was not found,
//! 126 when it could not be executed, 125 when init itself failed before CMD ran.

use crate::child::{self, FAILED};
use crate::events::{Event, Events, NEVER};
use crate::log::{Log, E, N, S, X};
use crate::sys::{self, Errno};
use core::ffi::CStr;
use init::text::eq;
use linker::sys::SigSet;
use linker::Args;

const USAGE: &[u8] =
    b"usage: init [-s] [-g] [-w] [-v] [-p SIGNAL] [-e CODE]... [--dmz FILE.pcfg] [--] CMD [ARGS...]
       init poweroff | reboot | halt
       init                (as PID 1, no arguments: system mode)
";

struct Opts {
    subreaper: bool,
    group: bool,
    wait_all: bool,
    verbose: bool,
    /// Parent-death signal, 0 for none.
    pdeathsig: u8,
    /// Exit codes remapped to 0, one bit each.
    expect: [u32; 8],
    dmz: Option<&'static CStr>,
    /// Index of CMD in argv; `args.len()` when there is none (only valid with --dmz).
    cmd: usize,
}

impl Opts {
    /// No options given: only `TINI_SUBREAPER` and `TINI_KILL_PROCESS_GROUP` count.
    fn new(args: &Args) -> Opts {
        Opts {
            subreaper: args.env(b"TINI_SUBREAPER").is_some(),
            group: args.env(b"TINI_KILL_PROCESS_GROUP").is_some(),
            wait_all: false,
            verbose: false,
            pdeathsig: 0,
            expect: [0; 8],
            dmz: None,
            cmd: args.len(),
        }
    }
}

/// A usage error: the message and the usage text on stderr, exit 125 (init failed before
/// CMD ran, like any other failure of its own).
fn usage_error(what: &[u8], arg: &[u8]) -> i32 {
    Log::new(false).error(b"%%", &[S(what), S(arg)]);
    usage(FAILED)
}

/// The usage text, on stdout for -h (status 0), else on stderr; returns `status`.
fn usage(status: i32) -> i32 {
    sys::write(sys::stdio(if status == 0 { sys::Stdio::Out } else { sys::Stdio::Err }), USAGE);
    status
}

/// A decimal exit code 0..=255.
fn parse_code(s: &[u8]) -> Option<u8> {
    init::text::number(s, 255).map(|n| n as u8)
}

/// The value of `-p` or `-e`.
fn option_value(o: &mut Opts, flag: u8, value: &[u8]) -> Result<(), i32> {
    if flag == b'p' {
        o.pdeathsig = init::signal::parse(value).ok_or_else(|| usage_error(b"-p: not a signal: ", value))?;
    } else {
        let c = parse_code(value).ok_or_else(|| usage_error(b"-e: not an exit code 0..255: ", value))?;
        o.expect[c as usize / 32] |= 1 << (c % 32);
    }
    Ok(())
}

/// Parses the options into `o`; `Err(status)` when init should exit right away (usage error,
/// -h).
#[inline(never)]
fn parse(args: &Args, o: &mut Opts) -> Result<(), i32> {
    let mut i = 1;
    while i < args.len() {
        let a = crate::arg(args, i);
        i += 1;
        if a.first() != Some(&b'-') {
            o.cmd = i - 1; // the command
            break;
        } else if eq(a, b"--") {
            o.cmd = i;
            break;
        } else if eq(a, b"--dmz") {
            o.dmz = Some(args.get(i).ok_or_else(|| usage_error(b"--dmz needs a file", b""))?);
            i += 1;
        } else if eq(a, b"--help") {
            return Err(usage(0));
        } else {
            // A cluster of short options; -p and -e take the rest of it or the next argument.
            let mut k = 1;
            while let Some(&flag) = a.get(k) {
                k += 1;
                match flag {
                    b's' => o.subreaper = true,
                    b'g' => o.group = true,
                    b'w' => o.wait_all = true,
                    b'v' => o.verbose = true,
                    b'h' => return Err(usage(0)),
                    b'p' | b'e' => {
                        let mut value = a.get(k..).unwrap_or_default();
                        if value.is_empty() {
                            value = crate::arg(args, i);
                            i += 1;
                        }
                        option_value(o, flag, value)?;
                        break;
                    }
                    _ => return Err(usage_error(b"unknown option: ", a)),
                }
            }
        }
    }
    if o.cmd >= args.len() && o.dmz.is_none() {
        return Err(usage_error(b"no command given", b""));
    }
    Ok(())
}

/// Reports a failure of init itself and returns [`FAILED`].
fn failed(log: &Log, what: &[u8], e: Errno) -> i32 {
    log.error_unable(what, e, None);
    FAILED
}

#[rustfmt::skip] // one step a line, the why beside it
#[inline(never)]
pub fn main(args: Args, pid1: bool) -> i32 {
    let ppid = sys::getppid();                              // for -p: the parent at start
    let mut o = Opts::new(&args);                           // the defaults, from the environment
    if let Err(status) = parse(&args, &mut o) {
        return status;
    }
    let log = Log::new(o.verbose);
    let (mut events, mask) = match Events::new() {          // every signal from a signalfd
        Ok(x) => x,
        Err((what, e)) => return failed(&log, what, e),
    };
    if o.pdeathsig != 0 {
        if let Err(e) = sys::set_parent_death_signal(o.pdeathsig) {
            return failed(&log, b"set parent death signal", e);
        }
        if sys::getppid() != ppid {
            let _ = sys::kill(sys::getpid(), o.pdeathsig);  // the parent died before prctl
        }
    }
    if o.subreaper {
        if let Err(e) = sys::set_child_subreaper() {        // orphans come to us, not PID 1
            return failed(&log, b"become child subreaper", e);
        }
    } else if !pid1 {
        log.warn(b"not PID 1 and not a child subreaper (use -s): orphaned processes will not be reaped", &[]);
    }
    let sigfd = events.fd();
    let child = match sys::fork() {
        Ok(0) => sys::exit(command(&args, &o, mask, sigfd)), // the child
        Ok(pid) => pid,
        Err(e) => return failed(&log, b"fork", e),
    };
    let _ = sys::new_process_group(child);                  // before any signal is forwarded
    log.info(b"command started pid %", &[N(child as u64)]);

    let mut status = None;
    loop {
        match events.next(NEVER) {
            Event::Exited(pid, exit) if pid == child => {
                log.info(b"command %", &[X(exit)]);
                status = Some(exit.shell_code());
                if !o.wait_all {
                    break;
                }
            }
            Event::Exited(pid, exit) => log.info(b"reaped pid % %", &[N(pid as u64), X(exit)]),
            Event::NoChildren => break,                     // only after the command was reaped
            Event::Signal(sig) => {
                // After the command exited (-w), what is left of its group gets the signal.
                let r = if o.group || status.is_some() {
                    sys::kill_group(child, sig)
                } else {
                    sys::kill(child, sig)
                };
                // One call: the template without ": %" leaves the errno out.
                let (template, e) = match r {
                    Ok(()) => (&b"forwarded signal %"[..], 0),
                    Err(e) => (&b"forwarded signal %: %"[..], e),
                };
                log.info(template, &[N(sig as u64), E(e)]);
            }
            Event::Timeout | Event::Request(_) | Event::Readable(_) => {} // no control socket, no unit fds
        }
    }
    let code = status.unwrap_or(FAILED as u8);
    if o.expect[code as usize / 32] & (1 << (code % 32)) != 0 {
        return 0;
    }
    code as i32
}

/// The child: tini's isolation, then CMD directly or through dmz.
#[inline(never)]
fn command(args: &Args, o: &Opts, mask: SigSet, sigfd: i32) -> i32 {
    if let Err(status) = child::isolate(mask, sigfd) {
        return status;
    }
    let Some(path) = o.dmz else {
        return child::exec_search(args, o.cmd);
    };
    let blob = match sys::load_file(path, dmz::config::MAX_CONFIG_LEN) {
        Ok(b) => b,
        Err(e) => {
            Log::new(false).error_unable(b"read dmz config", e, Some(path.to_bytes()));
            return FAILED;
        }
    };
    let cmd = match o.cmd < args.len() {
        false => None,
        true => match args.strings_from(o.cmd) {
            Some(s) => Some(s),
            None => return child::fail(b"collect command arguments", sys::EINVAL, b""),
        },
    };
    child::run_dmz(blob, cmd)
}
