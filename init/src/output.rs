//! Captured output (`output = "capture"`): a task's or service's stdout and stderr go through
//! one pipe to init, which writes each line to the kernel log as `<30>NAME[PID]: line`
//! (daemon.info) and, with a `log_file`, to that file, renamed to `FILE.1` before it would
//! grow past `log_max_bytes` (init/README.md, "Captured output").
//!
//! init never waits for a unit's output: the read end is non-blocking and read once per
//! readiness, at most [`LINE`] bytes; the event loop hands each readable fd out once per poll,
//! so a flooding unit gets one bounded read per round and cannot starve the other units, the
//! control socket or the watchdog. A line longer than [`LINE`] bytes is split there. A partial
//! line at the end of a read waits in the unit's [`LINE`] bytes of one mapping (taken with the
//! first pipe; a page becomes resident only once a capturing unit's bytes are written to it)
//! until its newline, or the pipe's end. A reload moves the pipes with their units.
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
/// Output slots: services, then tasks.
const UNITS: usize = 2 * MAX_UNITS;
/// The partial lines' mapping: two banks of [`LINE`] bytes per output slot (a reload copies
/// the partial lines from one to the other, in their new places).
const BANK: usize = UNITS * LINE;
/// Reads of an earlier run's pipe before it is closed: more than its 64 KiB of capacity.
const DRAIN: usize = 256;

pub struct Captured {
    /// A /dev/kmsg of its own: the kernel rate-limits each open file on its own
    /// (printk.devkmsg), so a chatty unit cannot get init's own lines suppressed.
    kmsg: Log,
    /// The partial lines, once a unit captured its output.
    buf: Option<Mapping>,
    /// The bank in use: 0 or [`BANK`].
    bank: usize,
    len: [u16; UNITS],
    /// The pid each pipe's lines are logged with.
    pid: [i32; UNITS],
}

/// Output slot `k`'s [`Slot`], and back.
fn slot(k: usize) -> Slot {
    match k.checked_sub(MAX_UNITS) {
        None => Slot::Output(k),
        Some(i) => Slot::TaskOutput(i),
    }
}

fn index(s: Slot) -> usize {
    match s {
        Slot::TaskOutput(i) => MAX_UNITS + i,
        Slot::Output(i) | Slot::Ready(i) => i,
    }
}

/// `path`'s first `at` bytes, then `tail`, then NULs.
fn variant(path: &[u8], at: usize, tail: &[u8]) -> [u8; MAX_LOG_FILE + 2] {
    let mut b = [0; MAX_LOG_FILE + 2];
    for (d, s) in b.iter_mut().zip(path.iter().take(at).chain(tail)) {
        *d = *s;
    }
    b
}

impl Captured {
    pub const fn new() -> Self {
        Captured { kmsg: Log::new(false), buf: None, bank: 0, len: [0; UNITS], pid: [0; UNITS] }
    }

    /// Before unit `u` starts at `slot`: with `output = "capture"`, a new pipe whose read end
    /// is watched there (an earlier run's is closed first) and the log file's directory;
    /// returns the write end for the child. `None`: the child keeps init's stdout and stderr
    /// (the console), also when no pipe could be made (a warning says so).
    #[inline(never)]
    pub fn pipe(&mut self, ev: &mut Events, slot: Slot, u: &Unit) -> Option<OwnedFd> {
        if u.output != Output::Capture {
            return None;
        }
        self.close(ev, slot, u);
        let mut made = Ok(());
        if self.buf.is_none() {
            made = Mapping::new(2 * BANK).map(|m| self.buf = Some(m));
            self.kmsg.open_kmsg();
        }
        match made.and_then(|()| sys::pipe()) {
            Ok((r, w)) => {
                ev.watch_fd(slot, r);
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

    /// The unit at `slot` started as `pid`.
    pub fn started(&mut self, slot: Slot, pid: i32) {
        self.pid[index(slot)] = pid;
    }

    /// The pipe at `slot` is readable: one read, its complete lines written out. At its end
    /// (EOF, or an error) the partial line is written out too and the pipe closed. Returns
    /// whether it is still open.
    #[inline(never)]
    pub fn read(&mut self, ev: &mut Events, slot: Slot, u: &Unit) -> bool {
        let k = index(slot);
        let (Some(fd), Some(buf)) = (ev.fd_at(slot), &mut self.buf) else {
            drop(ev.unwatch_fd(slot));
            return false;
        };
        let part = &mut buf[self.bank + k * LINE..][..LINE];
        let had = self.len[k] as usize;
        let (n, open) = match sys::read(fd, &mut part[had..]) {
            Err(EAGAIN) => return true,
            Ok(m) if m > 0 => (had + m, true),
            _ => (had, false),
        };
        let mut file = None;
        let mut start = 0;
        for i in 0..n {
            let newline = part[i] == b'\n';
            if newline || i + 1 == n && (!open || start == 0 && n == LINE) {
                line(&self.kmsg, &mut file, u, self.pid[k], &part[start..i + !newline as usize]);
                start = i + 1;
            }
        }
        part.copy_within(start..n, 0);
        self.len[k] = (n - start) as u16;
        if !open {
            drop(ev.unwatch_fd(slot));
        }
        open
    }

    /// Reads what the pipe at `slot` holds (at most [`DRAIN`] reads), writes out its partial
    /// line and closes it.
    pub fn close(&mut self, ev: &mut Events, slot: Slot, u: &Unit) {
        let mut reads = DRAIN;
        while ev.fd_at(slot).is_some() && reads > 0 && self.read(ev, slot, u) {
            reads -= 1;
        }
        drop(ev.unwatch_fd(slot));
        self.len[index(slot)] = 0;
    }

    /// A reload renumbered the units: the pipe at output slot k moves to slot `to[k]`, with
    /// its partial line and pid; it is closed when `to[k]` is out of range.
    #[inline(never)]
    pub fn renumber(&mut self, ev: &mut Events, to: &[u8; UNITS]) {
        let Some(buf) = &mut self.buf else { return };
        let mut fds = [const { None }; UNITS];
        for (k, f) in fds.iter_mut().enumerate() {
            *f = ev.unwatch_fd(slot(k));
        }
        let (len, pid, from) = (self.len, self.pid, self.bank);
        self.bank ^= BANK;
        for (k, f) in fds.into_iter().enumerate() {
            let j = to[k] as usize;
            let (Some(fd), true) = (f, j < UNITS) else { continue };
            ev.watch_fd(slot(j), fd);
            self.pid[j] = pid[k];
            self.len[j] = len[k];
            buf.copy_within(from + k * LINE..from + k * LINE + len[k] as usize, self.bank + j * LINE);
        }
    }
}

/// One line of unit `u`: `<30>NAME[PID]: TEXT` to the kernel log and, without the priority,
/// to its log file, which `file` keeps open for the rest of the read. TEXT's control
/// characters show as '?' (as in init's own lines: a unit cannot forge lines or send
/// terminal controls to whoever reads the log) and it ends at a NUL. Before the file would
/// grow past its maximum it is renamed to `FILE.1` (replacing it) and a new one started.
/// Failures lose the line for the file only.
#[inline(never)]
fn line(kmsg: &Log, file: &mut Option<(OwnedFd, u64)>, u: &Unit, pid: i32, text: &[u8]) {
    let mut l = Line::default();
    format(&mut l, b"<30>%[%]: %\n", &[S(u.name), N(pid as u64), S(text)]);
    let record = l.as_bytes();
    kmsg.kmsg(record);
    let (path, record) = (u.log_file, &record[4..]);
    if path.is_empty() {
        return;
    }
    let n = record.len() as u64;
    if matches!(file, Some((_, size)) if *size > 0 && *size + n > u.log_max_bytes as u64) {
        *file = None;
        let _ = sys::rename(sys::c(path), sys::c(&variant(path, path.len() - 1, b".1")));
    }
    if file.is_none() {
        *file = sys::open_append(sys::c(path)).ok();
    }
    if let Some((f, size)) = file {
        sys::write(f.as_fd(), record);
        *size += n;
    }
}

/// In the child, before the transition: its stdout and stderr become the pipe's write end.
pub fn redirect(out: Option<&OwnedFd>) -> Result<(), i32> {
    match out {
        Some(w) => sys::dup_stdout_stderr(w.as_fd()).map_err(|e| fail(b"capture output", e, b"")),
        None => Ok(()),
    }
}
