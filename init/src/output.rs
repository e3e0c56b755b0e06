//! Captured output (`output = "capture"`): a task's or service's stdout and stderr go through
//! one pipe to init, which writes each line to the kernel log as `<30>NAME[PID]: line`
//! (daemon.info) and, with a `log_file`, to that file, renamed to `FILE.1` before it would
//! grow past `log_max_bytes` (init/README.md, "Captured output").
//!
//! init never waits for a unit's output: the read end is non-blocking and read once per
//! readiness, at most [`LINE`] bytes; the event loop hands each readable fd out once per poll,
//! so a flooding unit gets one bounded read per round and cannot starve the other units, the
//! control socket or the watchdog. A line longer than [`LINE`] bytes is split there. A partial
//! line at the end of a read waits in its pipe's [`LINE`] bytes of one mapping (taken with the
//! first pipe; a page becomes resident only once bytes of a pipe in use are written to it)
//! until its newline, or the pipe's end. A reload hands each pipe to its unit's new place.
//!
//! A pipe belongs to one run: the next start of the unit reads what an earlier run's pipe
//! still holds (bounded), writes out its partial line and closes it; a process that run left
//! behind and that still writes gets EPIPE then. Until then its lines are logged with the pid
//! of the run that started it.

use crate::child::fail;
use crate::events::{Events, Slot};
use crate::log::{format, Line, Log, E, N, S};
use crate::sys::{self, Mapping, EAGAIN};
use init::config::{Output, Unit, MAX_LOG_FILE, MAX_UNITS};
use rustix::fd::{AsFd, OwnedFd};

/// Longest piece of a line; a longer line is split after this many bytes. A log line is
/// built in a 512-byte [`Line`]: this leaves 64 for `<30>NAME[PID]: ` and the newline (and
/// /dev/kmsg takes a record of up to 1 KiB).
pub const LINE: usize = 448;
/// Pipes: one per unit at most (a unit's output index: service i is i, task i is
/// `MAX_UNITS + i`).
pub const UNITS: usize = 2 * MAX_UNITS;
/// No unit: a free pipe number, or a unit a reload removed.
pub const NONE: u8 = u8::MAX;
/// Reads of an earlier run's pipe before it is closed: more than its 64 KiB of capacity.
const DRAIN: usize = 256;

/// The pipes, each known by its number p, watched at [`Slot::Output`]`(p)`. A pipe stays at its
/// number for its life: a reload only changes which unit it belongs to.
pub struct Captured {
    /// A /dev/kmsg of its own: the kernel rate-limits each open file on its own
    /// (printk.devkmsg), so a chatty unit cannot get init's own lines suppressed.
    kmsg: Log,
    /// [`LINE`] bytes per pipe: its partial line. Taken with the first pipe.
    buf: Option<Mapping>,
    /// Per pipe: the output index of its unit ([`NONE`]: free), the length of its partial
    /// line, the pid its lines are logged with.
    unit: [u8; UNITS],
    len: [u16; UNITS],
    pid: [i32; UNITS],
}

/// `path`'s first `at` bytes, then `tail`, then NULs.
fn variant(path: &[u8], at: usize, tail: &[u8]) -> [u8; MAX_LOG_FILE + 2] {
    let mut b = [0; MAX_LOG_FILE + 2];
    let head = &path[..at.min(path.len())];
    for (n, &c) in head.iter().chain(tail).enumerate() {
        if n == b.len() {
            break;
        }
        b[n] = c;
    }
    b
}

impl Captured {
    pub const fn new() -> Self {
        Captured { kmsg: Log::new(false), buf: None, unit: [NONE; UNITS], len: [0; UNITS], pid: [0; UNITS] }
    }

    /// The pipe of the unit with output index `k`.
    fn find(&self, k: usize) -> Option<usize> {
        self.unit.iter().position(|&o| o as usize == k)
    }

    /// The output index of the unit whose pipe is watched at `s` (out of range: none).
    pub fn owner(&self, s: Slot) -> usize {
        self.unit.get(s.pipe_number()).map_or(NONE as usize, |&o| o as usize)
    }

    /// Before unit `u` (output index `k`) starts: with `output = "capture"`, a new pipe (an
    /// earlier run's is closed first) and the log file's directory; returns the write end for
    /// the child. `None`: the child keeps init's stdout and stderr (the console), also when
    /// no pipe could be made (a warning says so).
    #[inline(never)]
    pub fn pipe(&mut self, ev: &mut Events, k: usize, u: &Unit) -> Option<OwnedFd> {
        if u.output != Output::Capture {
            return None;
        }
        self.close(ev, k, u);
        let mut made = Ok(());
        if self.buf.is_none() {
            made = Mapping::new(UNITS * LINE).map(|m| self.buf = Some(m));
            self.kmsg.open_kmsg();
        }
        match made.and_then(|()| sys::pipe()) {
            Ok((r, w)) => {
                let p = self.find(NONE as usize)?; // one pipe per unit at most: always found
                ev.watch_fd(Slot::Output(p), r);
                (self.unit[p], self.len[p]) = (k as u8, 0);
                let path = u.log_file;
                let dir = path.iter().rposition(|&b| b == b'/').unwrap_or(0);
                let _ = sys::mkdir(sys::c(&variant(path, dir, b"")), 0o755);
                Some(w)
            }
            Err(e) => {
                self.kmsg.warn(b"% unable to capture output: %", &[S(u.name), E(e)]);
                None
            }
        }
    }

    /// The unit with output index `k` started as `pid`.
    pub fn started(&mut self, k: usize, pid: i32) {
        if let Some(p) = self.find(k) {
            self.pid[p] = pid;
        }
    }

    /// The pipe at `s`, of unit `u`, is readable: one read, its complete lines written out.
    /// At its end (EOF, an error, or no longer watched) the partial line is written out too
    /// and the pipe closed. Returns whether bytes were read and it is still open.
    #[inline(never)]
    pub fn read(&mut self, ev: &mut Events, s: Slot, u: &Unit) -> bool {
        let p = s.pipe_number();
        let Some(part) = self.buf.as_mut().and_then(|b| b.get_mut(p * LINE..)?.get_mut(..LINE)) else {
            return false;
        };
        let had = self.len[p] as usize;
        let got = match ev.fd_at(s) {
            Some(fd) => sys::read(fd, part.get_mut(had..).unwrap_or_default()),
            None => Ok(0),
        };
        // (at most LINE bytes: the read fills only the room after the partial line)
        let (n, open) = match got {
            Err(EAGAIN) => return false,
            Ok(m) if m > 0 => ((had + m).min(LINE), true),
            _ => (had.min(LINE), false),
        };
        let mut start = 0;
        for i in 0..n {
            if part[i] == b'\n' {
                line(&self.kmsg, u, self.pid[p], &part[start..i]);
                start = i + 1;
            }
        }
        // What follows the last newline waits for the rest of its line, unless the pipe
        // ended or it fills the buffer.
        if start < n && (!open || n - start == LINE) {
            line(&self.kmsg, u, self.pid[p], &part[start..n]);
            start = n;
        }
        part.copy_within(start..n, 0);
        self.len[p] = (n - start) as u16;
        if !open {
            drop(ev.unwatch_fd(s));
            self.unit[p] = NONE;
        }
        open
    }

    /// Reads what the pipe of unit `u` (output index `k`) holds (at most [`DRAIN`] reads),
    /// writes out its partial line and closes it.
    pub fn close(&mut self, ev: &mut Events, k: usize, u: &Unit) {
        let Some(p) = self.find(k) else { return };
        let s = Slot::Output(p);
        let mut reads = DRAIN;
        while reads > 0 && self.read(ev, s, u) {
            reads -= 1;
        }
        drop(ev.unwatch_fd(s));
        self.read(ev, s, u); // not watched: its end
    }

    /// A reload renumbered the units: the pipe of output index k is now output index
    /// `to[k]`'s; it is closed when that is [`NONE`].
    pub fn renumber(&mut self, ev: &mut Events, to: &[u8; UNITS]) {
        for (p, o) in self.unit.iter_mut().enumerate() {
            if let Some(&j) = to.get(*o as usize) {
                *o = j;
                if j == NONE {
                    drop(ev.unwatch_fd(Slot::Output(p)));
                }
            }
        }
    }
}

/// One line of unit `u`: `<30>NAME[PID]: TEXT` to the kernel log and, without the priority,
/// to its log file (opened for each line: nothing to keep between reads, and a file removed
/// meanwhile is started again). TEXT's control characters show as '?' (as in init's own
/// lines: a unit cannot forge lines or send terminal controls to whoever reads the log) and
/// it ends at a NUL. Before the file would grow past its maximum it is renamed to `FILE.1`
/// (replacing it) and a new one started. Failures lose the line for the file only.
#[inline(never)]
fn line(kmsg: &Log, u: &Unit, pid: i32, text: &[u8]) {
    let mut l = Line::default();
    format(&mut l, b"<30>%[%]: %\n", &[S(u.name), N(pid as u64), S(text)]);
    let record = crate::log::bytes(&l);
    kmsg.kmsg(record);
    let (path, record) = (u.log_file, &record[4..]);
    if path.is_empty() {
        return;
    }
    let file = sys::c(path);
    for _ in 0..2 {
        let Ok((f, size)) = sys::open_append(file) else { return };
        if size == 0 || size + record.len() as u64 <= u.log_max_bytes as u64 {
            return sys::write(f.as_fd(), record);
        }
        let _ = sys::rename(file, sys::c(&variant(path, path.len() - 1, b".1")));
    }
}

/// In the child, before the transition: its stdout and stderr become the pipe's write end.
pub fn redirect(out: Option<&OwnedFd>) -> Result<(), i32> {
    match out {
        Some(w) => sys::dup_stdout_stderr(w.as_fd()).map_err(|e| fail(b"capture output", e, b"")),
        None => Ok(()),
    }
}
