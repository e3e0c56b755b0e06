//! Log lines, built without `core::fmt`: `init: <text>`, one line per event, to stderr (the
//! console in system mode) and, once /dev/kmsg is open, to the kernel log with a syslog
//! priority prefix (`<30>` daemon.info, `<28>` daemon.warning) so it shows in dmesg.
//!
//! The exact lines a harness may parse are listed in README.md.

use crate::sys;
use dmz::error::{push_errno, Line};
use rustix::fd::{AsFd, OwnedFd};

/// The priority prefixes have the same length, so a line is built once with its prefix and
/// the console gets it without the first [`PRIO_LEN`] bytes.
const PRIO_LEN: usize = 4;
const INFO: &[u8; PRIO_LEN] = b"<30>";
const WARN: &[u8; PRIO_LEN] = b"<28>";

/// One line being built.
pub struct Msg(Line);

impl Msg {
    fn new(prio: &[u8; PRIO_LEN]) -> Self {
        let mut l = Line::default();
        l.push(prio);
        l.push(b"init: ");
        Msg(l)
    }

    /// An informational line: `init: ...`.
    pub fn info() -> Self {
        Msg::new(INFO)
    }

    /// A warning: `init: warning: ...`.
    pub fn warn() -> Self {
        let mut m = Msg::new(WARN);
        m.s(b"warning: ");
        m
    }

    /// An error that stops what init was doing: `init: ...` at warning priority.
    pub fn error() -> Self {
        Msg::new(WARN)
    }

    /// Appends bytes.
    pub fn s(&mut self, s: &[u8]) -> &mut Self {
        self.0.push(s);
        self
    }

    /// Appends a decimal number.
    pub fn n(&mut self, n: u64) -> &mut Self {
        self.0.num(n);
        self
    }

    /// Appends an errno's symbolic name (`ENOENT`).
    pub fn errno(&mut self, e: u16) -> &mut Self {
        push_errno(&mut self.0, e);
        self
    }

    /// Appends `unable to <what>: <ERRNO>` and ` (<detail>)` unless `detail` is empty:
    /// DESIGN §4's shape.
    pub fn unable(&mut self, what: &[u8], e: u16, detail: &[u8]) -> &mut Self {
        self.s(b"unable to ").s(what).s(b": ").errno(e);
        if !detail.is_empty() {
            self.s(b" (").s(detail).s(b")");
        }
        self
    }

    /// Appends ` exited status N` or ` killed signal N`.
    pub fn exit(&mut self, e: sys::Exit) -> &mut Self {
        match e {
            sys::Exit::Code(c) => self.s(b" exited status ").n(c as u64),
            sys::Exit::Signal(s) => self.s(b" killed signal ").n(s as u64),
        }
    }
}

/// Where lines go.
pub struct Log {
    kmsg: Option<OwnedFd>,
    /// Informational lines are written only when set (container mode without -v is silent).
    pub verbose: bool,
}

impl Log {
    pub const fn new(verbose: bool) -> Self {
        Log { kmsg: None, verbose }
    }

    /// Also write to the kernel log from now on. References: Documentation/ABI/testing/dev-kmsg.
    pub fn open_kmsg(&mut self) {
        self.kmsg = sys::open_write(c"/dev/kmsg").ok();
    }

    /// Writes `m` and a newline if it is a warning or error, or if verbose.
    pub fn emit(&self, m: &mut Msg) {
        let warning = m.0.as_bytes().starts_with(WARN);
        if !(warning || self.verbose) {
            return;
        }
        m.0.push(b"\n");
        let bytes = m.0.as_bytes();
        sys::write(sys::fd(2), &bytes[PRIO_LEN..]);
        if let Some(k) = &self.kmsg {
            sys::write(k.as_fd(), bytes);
        }
    }
}
