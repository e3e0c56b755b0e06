//! The one place init waits: signals read synchronously from a signalfd, children reaped
//! until none is left to reap, deadlines, and the hardware watchdog kept alive in every wait
//! (boot tasks, supervision and shutdown alike), and in system mode the control socket's
//! connections, so that a client is answered whatever init is waiting for, and the fds of
//! tasks and services init reads (their readiness, their output), each at its [`Slot`].
//!
//! No source starves another: a wait reaps first, keeps the watchdog alive, then hands out
//! the fds one poll found readable, each once, before it polls again.

use crate::control::{Request, Server, SLOTS};
use crate::sys::{self, Errno, Exit, PollFd, ECHILD};
use init::config::MAX_UNITS;
use init::signal::{SIGCHLD, SIGTTIN, SIGTTOU};
use linker::sys::SigSet;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Signals init leaves unblocked: the synchronous faults (blocking them would only turn a
/// crash into a hang; the kernel forces them anyway) and SIGKILL/SIGSTOP, which cannot be
/// blocked. Everything else is read from the signalfd.
const FAULTS: SigSet = sys::sig_bit(4) // SIGILL
    | sys::sig_bit(5) // SIGTRAP
    | sys::sig_bit(6) // SIGABRT
    | sys::sig_bit(7) // SIGBUS
    | sys::sig_bit(8) // SIGFPE
    | sys::sig_bit(9) // SIGKILL
    | sys::sig_bit(11) // SIGSEGV
    | sys::sig_bit(19) // SIGSTOP
    | sys::sig_bit(31); // SIGSYS

/// Every signal init reads.
pub const CAUGHT: SigSet = !FAULTS;

/// What a wait ended with.
pub enum Event {
    /// A child was reaped.
    Exited(i32, Exit),
    /// No child is left (wait returned ECHILD); reported once per reaping round.
    NoChildren,
    /// A signal other than SIGCHLD, SIGTTIN and SIGTTOU arrived.
    Signal(u8),
    /// The deadline passed.
    Timeout,
    /// A control client's request (system mode).
    Request(Request),
    /// The fd at this slot is readable, hung up or in error: the owner reads it (or takes
    /// it back with [`Events::unwatch_fd`]); it is reported again after the next poll.
    Readable(Slot),
}

/// Where a task's or service's fd is watched: the index is the unit's in its config list,
/// except for captured output, whose pipes src/output.rs numbers itself (0..2 * MAX_UNITS,
/// `Output` then `TaskOutput`) so that they stay where they are across a reload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Slot {
    /// Service i's readiness channel.
    Ready(usize),
    /// Captured-output pipe p (src/output.rs numbers them, below `2 * MAX_UNITS`).
    Output(usize),
}

/// Number of slots: a readiness channel per service, a pipe per task and per service.
const SLOTS_OF_UNITS: usize = 3 * MAX_UNITS;

/// The poll set's fixed places: 0 the signalfd, 1 the listener, 2 + k connection k; then,
/// from `UNITS` on, the units' slots by [`Slot::index`] (-1: none).
const UNITS: usize = 2 + SLOTS;

impl Slot {
    fn index(self) -> usize {
        match self {
            Slot::Ready(i) => i,
            Slot::Output(p) => MAX_UNITS + p,
        }
    }

    fn at(k: usize) -> Slot {
        match k.checked_sub(MAX_UNITS) {
            None => Slot::Ready(k),
            Some(p) => Slot::Output(p),
        }
    }

    /// The captured-output pipe watched here; for a readiness slot, a number past every pipe.
    pub fn pipe_number(self) -> usize {
        match self {
            Slot::Ready(_) => usize::MAX,
            Slot::Output(p) => p,
        }
    }
}

/// An open watchdog and when it is next due.
struct Dog {
    fd: OwnedFd,
    interval_ms: u64,
    due: u64,
}

pub struct Events {
    sigfd: OwnedFd,
    /// SIGCHLD was seen (or may have been missed): reap before waiting again.
    reap: bool,
    dog: Option<Dog>,
    /// The control socket, once system mode opened it.
    control: Option<Server>,
    /// The fds of tasks and services, by [`Slot::index`].
    units: [Option<OwnedFd>; SLOTS_OF_UNITS],
    /// The poll set, kept between waits: a unit's entry is set when its fd is watched and
    /// cleared when it is unwatched, and holds what the last poll found (readable, hung up
    /// or in error) until it is reported.
    fds: [PollFd; UNITS + SLOTS_OF_UNITS],
}

/// No deadline.
pub const NEVER: u64 = u64::MAX;

/// Milliseconds since boot.
pub fn now() -> u64 {
    linker::sys::monotonic_ms()
}

impl Events {
    /// Blocks every caught signal and opens the signalfd. Returns the previous signal mask,
    /// which children restore before they exec.
    pub fn new() -> Result<(Events, SigSet), (&'static [u8], Errno)> {
        let old = Events::block()?;
        Ok((Events::open()?, old))
    }

    /// Blocks every caught signal: from now on they stay pending until the signalfd of
    /// [`Events::open`] reads them. Returns the previous signal mask.
    pub fn block() -> Result<SigSet, (&'static [u8], Errno)> {
        sys::block_signals(CAUGHT).map_err(|e| (&b"block signals"[..], e))
    }

    /// Opens the signalfd for the signals [`Events::block`] blocked.
    pub fn open() -> Result<Events, (&'static [u8], Errno)> {
        let sigfd = sys::signalfd(CAUGHT).map_err(|e| (&b"create signalfd"[..], e))?;
        Ok(Events {
            sigfd,
            reap: true,
            dog: None,
            control: None,
            units: [const { None }; SLOTS_OF_UNITS],
            fds: [PollFd::NONE; UNITS + SLOTS_OF_UNITS],
        })
    }

    /// The signalfd's number, for a child to close: it is init's, never a child's.
    pub fn fd(&self) -> i32 {
        self.sigfd.as_raw_fd()
    }

    /// Keeps `fd` alive every `interval_ms` from now on, starting with a keep-alive now.
    pub fn watch(&mut self, fd: OwnedFd, interval_ms: u32) {
        sys::watchdog_keepalive(fd.as_fd());
        self.dog = Some(Dog { fd, interval_ms: interval_ms as u64, due: now() + interval_ms as u64 });
    }

    /// Serves control clients in every wait from now on.
    pub fn serve(&mut self, control: Server) {
        self.control = Some(control);
    }

    /// Watches `fd` at `slot` in every wait from now on (one there before is closed).
    pub fn watch_fd(&mut self, slot: Slot, fd: OwnedFd) {
        let k = slot.index();
        if let Some(u) = self.units.get_mut(k) {
            self.fds[UNITS + k] = PollFd::new(fd.as_raw_fd());
            *u = Some(fd);
        }
    }

    /// Stops watching the fd at `slot` and hands it back.
    pub fn unwatch_fd(&mut self, slot: Slot) -> Option<OwnedFd> {
        let k = slot.index();
        let fd = self.units.get_mut(k)?.take();
        self.fds[UNITS + k] = PollFd::NONE;
        fd
    }

    /// The fd watched at `slot`.
    pub fn fd_at(&self, slot: Slot) -> Option<BorrowedFd<'_>> {
        self.units.get(slot.index())?.as_ref().map(|f| f.as_fd())
    }

    /// Hands the watchdog back (for the magic close at shutdown).
    pub fn unwatch(&mut self) -> Option<OwnedFd> {
        self.dog.take().map(|d| d.fd)
    }

    /// Reap (or learn that no child is left) before the next wait, without a SIGCHLD.
    pub fn rescan(&mut self) {
        self.reap = true;
    }

    /// Waits for the next event, or until `deadline` (ms since boot, [`NEVER`] for none).
    pub fn next(&mut self, deadline: u64) -> Event {
        loop {
            if self.reap {
                match sys::reap() {
                    Ok(Some((pid, exit))) => return Event::Exited(pid, exit),
                    Ok(None) => self.reap = false,
                    Err(ECHILD) => {
                        self.reap = false;
                        return Event::NoChildren;
                    }
                    Err(_) => self.reap = false,
                }
            }
            let t = now();
            let mut wake = deadline;
            if let Some(d) = &mut self.dog {
                if t >= d.due {
                    sys::watchdog_keepalive(d.fd.as_fd());
                    d.due = t + d.interval_ms;
                }
                wake = wake.min(d.due);
            }
            if t >= deadline {
                return Event::Timeout;
            }
            for k in 0..SLOTS_OF_UNITS {
                if let (true, Some(f)) = (self.fds[UNITS + k].ready(), &self.units[k]) {
                    self.fds[UNITS + k] = PollFd::new(f.as_raw_fd()); // reported once
                    return Event::Readable(Slot::at(k));
                }
            }
            if let Some(c) = &mut self.control {
                c.expire(t);
                wake = wake.min(c.deadline());
            }
            let timeout = (wake != NEVER).then(|| wake - t);
            let fds = &mut self.fds;
            fds[0] = PollFd::new(self.sigfd.as_raw_fd());
            if let Some(c) = &self.control {
                c.poll_set(&mut fds[1..UNITS]);
            }
            if !sys::poll_readable(fds, timeout) {
                continue;
            }
            if fds[0].ready() {
                match sys::read_signal(self.sigfd.as_fd()) {
                    Some(SIGCHLD) => self.reap = true,
                    // Terminal stop signals for a background init (tini and catatonit ignore them).
                    Some(SIGTTIN | SIGTTOU) | None => {}
                    Some(sig) => return Event::Signal(sig),
                }
            }
            let Some(c) = &mut self.control else { continue };
            if fds[1].ready() {
                c.accept();
            }
            for k in 0..SLOTS {
                if fds[2 + k].ready() {
                    if let Some(req) = c.take(k) {
                        return Event::Request(req);
                    }
                }
            }
        }
    }
}
