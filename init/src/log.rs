//! Log lines, built without `core::fmt`: `init: <text>`, one line per event, to stderr (the
//! console in system mode) and, once /dev/kmsg is open, to the kernel log with a syslog
//! priority prefix (`<30>` daemon.info, `<28>` daemon.warning) so it shows in dmesg.
//!
//! A line is a template whose `%` are replaced by the arguments in order:
//! `log.info(b"service % started pid %", &[S(name), N(pid)])`. One call per line keeps every
//! log site a few bytes of code. The exact lines a harness may parse are listed in README.md.

use crate::sys;
use dmz::error::push_errno;
pub use dmz::error::Line;
use rustix::fd::IntoRawFd;

/// An argument of a log line.
pub enum Arg<'a> {
    /// Bytes up to a NUL, each control character shown as '?': a name or path from a config,
    /// the command line or the kernel cannot split a line or forge one.
    Str(&'a [u8]),
    /// A decimal number.
    Num(u64),
    /// An errno's symbolic name (`ENOENT`).
    Errno(u16),
    /// How a child ended: `exited status N` or `killed signal N`.
    Exit(sys::Exit),
}

pub use Arg::{Errno as E, Exit as X, Num as N, Str as S};

/// How a line starts: its syslog priority (`<30>` daemon.info, `<28>` daemon.warning), then
/// `init: ` and, for a warning, `warning: `. The priority prefixes have the same length, so a
/// line is built once with its prefix and the console gets it without the first [`PRIO_LEN`]
/// bytes.
const PRIO_LEN: usize = 4;
const INFO: &[u8] = b"<30>init: ";
const WARNING: &[u8] = b"<28>init: warning: ";
const ERROR: &[u8] = b"<28>init: ";

/// Where lines go.
pub struct Log {
    /// /dev/kmsg once open (-1 before): open for the rest of init's life, never closed.
    kmsg: i32,
    /// Informational lines are written only when set (container mode without -v is silent).
    pub verbose: bool,
}

impl Log {
    pub const fn new(verbose: bool) -> Self {
        Log { kmsg: -1, verbose }
    }

    /// Also write to the kernel log from now on (once open, it stays open: a second call
    /// does nothing). References: Documentation/ABI/testing/dev-kmsg.
    pub fn open_kmsg(&mut self) {
        if self.kmsg < 0 {
            self.kmsg = sys::open_write(c"/dev/kmsg").map_or(-1, IntoRawFd::into_raw_fd);
        }
    }

    /// An informational line (only when verbose).
    pub fn info(&self, template: &[u8], args: &[Arg]) {
        if self.verbose {
            self.write(INFO, template, args);
        }
    }

    /// `init: warning: ...`: something failed, init goes on.
    pub fn warn(&self, template: &[u8], args: &[Arg]) {
        self.write(WARNING, template, args);
    }

    /// `init: ...` at warning priority: something failed that stops what init was doing.
    pub fn error(&self, template: &[u8], args: &[Arg]) {
        self.write(ERROR, template, args);
    }

    /// `init: warning: unable to WHAT: ERRNO (DETAIL)`, without ` (DETAIL)` when it is None.
    #[inline(never)]
    pub fn warn_unable(&self, what: &[u8], e: u16, detail: Option<&[u8]>) {
        self.write_unable(WARNING, what, e, detail);
    }

    /// `init: unable to WHAT: ERRNO (DETAIL)`, without ` (DETAIL)` when it is None.
    #[inline(never)]
    pub fn error_unable(&self, what: &[u8], e: u16, detail: Option<&[u8]>) {
        self.write_unable(ERROR, what, e, detail);
    }

    /// The line of [`Log::warn_unable`] and [`Log::error_unable`], built here once.
    #[inline(never)]
    fn write_unable(&self, head: &[u8], what: &[u8], e: u16, detail: Option<&[u8]>) {
        self.write(head, unable_template(detail), &[S(what), E(e), S(detail.unwrap_or(b""))]);
    }

    /// `head` ([`INFO`], [`WARNING`] or [`ERROR`]), `template` with `args`, a newline.
    #[inline(never)]
    fn write(&self, head: &[u8], template: &[u8], args: &[Arg]) {
        let mut l = Line::default();
        l.push(head);
        format(&mut l, template, args);
        l.push(b"\n");
        let bytes = bytes(&l);
        sys::write(sys::stdio(sys::Stdio::Err), &bytes[PRIO_LEN..]);
        self.kmsg(bytes);
    }

    /// Writes `record`, its priority prefix included, to the kernel log (once open).
    pub fn kmsg(&self, record: &[u8]) {
        if self.kmsg >= 0 {
            linker::write_all(self.kmsg, record);
        }
    }
}

/// Appends `unable to WHAT: ERRNO (DETAIL)` to `l`, without ` (DETAIL)` when it is None: the
/// shape of most failure lines, built here once rather than at each call site.
#[inline(never)]
pub fn unable(l: &mut Line, what: &[u8], e: u16, detail: Option<&[u8]>) {
    format(l, unable_template(detail), &[S(what), E(e), S(detail.unwrap_or(b""))]);
}

fn unable_template(detail: Option<&[u8]>) -> &'static [u8] {
    if detail.is_some() {
        b"unable to %: % (%)"
    } else {
        b"unable to %: %"
    }
}

/// Appends `template` to `l`, each `%` replaced by the next of `args`.
#[inline(never)]
pub fn format(l: &mut Line, template: &[u8], args: &[Arg]) {
    let mut args = args.iter();
    for &b in template {
        let arg = if b == b'%' { args.next() } else { None };
        match arg {
            Some(Arg::Str(s)) => l.push_name(s),
            Some(&Arg::Num(n)) => num64(l, n),
            Some(&Arg::Errno(e)) => push_errno(l, e),
            Some(&Arg::Exit(x)) => {
                let (how, n) = match x {
                    sys::Exit::Code(c) => (b"exited status ", c),
                    sys::Exit::Signal(s) => (b"killed signal ", s),
                };
                l.push(how);
                l.num(n as u32);
            }
            None => l.push(&[b]),
        }
    }
}

/// Appends `n` in decimal, the leading digits first. `Line::num` takes a u32 (all dmz needs):
/// a digit at a time keeps a u64 whole.
fn num64(l: &mut Line, n: u64) {
    if n >= 10 {
        num64(l, n / 10);
    }
    l.num((n % 10) as u32);
}

/// `l`'s bytes, out of line: one copy in init rather than one per caller.
#[inline(never)]
pub fn bytes(l: &Line) -> &[u8] {
    l.as_bytes()
}
