//! The one place init waits: signals read synchronously from a signalfd, children reaped
//! until none is left to reap, deadlines, and the hardware watchdog kept alive in every wait
//! (boot tasks, supervision and shutdown alike), and in system mode the control socket's
//! connections, so that a client is answered whatever init is waiting for.

use crate::control::{Request, Server, SLOTS};
use crate::sys::{self, Errno, Exit, ECHILD};
use init::signal::{SIGCHLD, SIGTTIN, SIGTTOU};
use linker::sys::SigSet;
use rustix::fd::{AsFd, OwnedFd};

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
        Ok(Events { sigfd, reap: true, dog: None, control: None })
    }

    /// The signalfd's number, for a child to close: it is init's, never a child's.
    pub fn fd(&self) -> i32 {
        rustix::fd::AsRawFd::as_raw_fd(&self.sigfd)
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
            if let Some(c) = &mut self.control {
                c.expire(t);
                wake = wake.min(c.deadline());
            }
            let timeout = (wake != NEVER).then(|| wake - t);
            // Fixed places: 0 the signalfd, 1 the listener, 2 + k connection k (-1: none).
            let mut fds = [-1; 2 + SLOTS];
            fds[0] = self.fd();
            if let Some(c) = &self.control {
                c.poll_set(&mut fds[1..]);
            }
            let ready = sys::poll_readable(&fds, timeout);
            if ready & 1 != 0 {
                match sys::read_signal(self.sigfd.as_fd()) {
                    Some(SIGCHLD) => self.reap = true,
                    // Terminal stop signals for a background init (tini and catatonit ignore them).
                    Some(SIGTTIN | SIGTTOU) | None => {}
                    Some(sig) => return Event::Signal(sig),
                }
            }
            let Some(c) = &mut self.control else { continue };
            if ready & 2 != 0 {
                c.accept();
            }
            for k in 0..SLOTS {
                if ready & (4 << k) != 0 {
                    if let Some(req) = c.take(k) {
                        return Event::Request(req);
                    }
                }
            }
        }
    }
}
