//! Readiness, ordering and the per-service watchdog (README.md, "Readiness and ordering").
//!
//! A service is ready once running (`started`), when it sends `READY=1` on its notify socket
//! (`notify`, the sd_notify protocol), or when it writes a newline to its readiness fd (`fd:N`,
//! s6's notification-fd). A service starts only when every service it is `after` (or
//! `requires`) is ready; one that `requires` a service is stopped when that one fails for good
//! or is stopped by `init stop`. A notify service with `watchdog_ms` that sends no
//! `WATCHDOG=1` for that long is aborted; one not ready within `ready_timeout_ms` is stopped;
//! either way its restart policy applies.
//!
//! The notify socket (one per service, bound by init before the service's first start) and
//! the readiness pipe's read end are watched at the service's [`Slot::Ready`].

use super::{find, signal_service, State, Svc, System, KILL_WAIT_MS};
use crate::events::{now, Slot, NEVER};
use crate::log::{Log, E, N, S};
use crate::sys;
use init::config::{Config, Unit, READY_NOTIFY, READY_STARTED};
use init::signal::SIGKILL;
use init::text::{eq, strip};
use rustix::fd::OwnedFd;

/// Longest `STATUS=` text kept (the rest is cut).
pub const STATUS_MAX: usize = 64;
/// What comes before a `STATUS=` text in the status line, kept with it.
const TAG: &[u8] = b" status=";
/// A service's entry in [`System::texts`]: [`TAG`], then the text.
pub const TEXT_LEN: usize = TAG.len() + STATUS_MAX;
/// Where each service's notify socket is, by name (the launcher sets `NOTIFY_SOCKET` to it).
const NOTIFY_DIR: &[u8] = b"/run/dmzkit/notify/";
/// SIGABRT: what a watchdog timeout sends first, as systemd does (a core dump shows where the
/// service hung); SIGKILL follows after the stop timeout.
const SIGABRT: u8 = linux_raw_sys::general::SIGABRT as u8;

/// [`Rd::flags`]: the line saying why the service waits was logged (until it starts).
const TOLD: u8 = 1;
/// A datagram from another pid was reported (once per run).
const WARNED: u8 = 2;
/// It sent `STOPPING=1`: its exit is not a stop by init, its restart policy applies.
pub const SELF_STOP: u8 = 4;

/// A service's readiness bookkeeping, part of its [`Svc`].
#[derive(Clone, Copy)]
pub struct Rd {
    /// When it is stopped if not ready by then ([`NEVER`]: no limit).
    ready_due: u64,
    /// When it is aborted without a `WATCHDOG=1` before ([`NEVER`]: no watchdog).
    dog_due: u64,
    pub flags: u8,
    /// The length of its `STATUS=` text, in [`System::texts`] (kept apart: tasks have none,
    /// and PID 1's tables stay small).
    status_len: u8,
}

pub const IDLE: Rd = Rd { ready_due: NEVER, dog_due: NEVER, flags: 0, status_len: 0 };

impl Rd {
    /// The last `STATUS=` text of this run, of those in `text`, after [`TAG`] (empty: none).
    pub fn status<'t>(&self, text: &'t [u8; TEXT_LEN]) -> &'t [u8] {
        &text[..self.status_len as usize]
    }

    /// A new run started at `t`: its state, deadlines and text.
    #[inline(never)]
    pub fn started(s: &mut Svc, u: &Unit, t: u64) {
        let after = |ms: u32| if ms == 0 { NEVER } else { t + ms as u64 };
        let started = u.ready == READY_STARTED;
        s.state = if started { State::Ready } else { State::Starting };
        s.rd = Rd {
            ready_due: if started { NEVER } else { after(u.ready_timeout_ms) },
            dog_due: after(u.watchdog_ms),
            ..IDLE
        };
    }
}

/// The names of a unit's `after` or `requires`, and empty ones (after the last space; no
/// service has an empty name, and `dep` never is one: they match nothing).
fn names(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| b == b' ')
}

/// The notify socket of service `name`, created anew (the directory first).
fn notify_socket(name: &[u8]) -> Result<OwnedFd, sys::Errno> {
    let mut path = [0u8; NOTIFY_DIR.len() + init::config::MAX_NAME + 1];
    path[..NOTIFY_DIR.len()].copy_from_slice(NOTIFY_DIR);
    path[NOTIFY_DIR.len()..][..name.len()].copy_from_slice(name);
    sys::mkdir(c"/run/dmzkit", 0o755)?;
    sys::mkdir(c"/run/dmzkit/notify", 0o755)?;
    sys::notify_socket(sys::c(&path))
}

/// In the child, before the others are closed: the readiness pipe's write end onto its fd.
/// Returns the fd to keep (0: none).
pub fn child_fd(keep: Option<(i32, i32)>) -> Result<i32, i32> {
    let Some((fd, to)) = keep else { return Ok(0) };
    sys::dup_to(fd, to).map_err(|e| crate::child::fail(b"set readiness fd", e, b""))?;
    Ok(to)
}

impl System {
    /// Whether service `i` may start: every service it is after is ready (`after` holds the
    /// names of `requires` too).
    /// Otherwise it is waiting, and a dependency that failed for good is logged once.
    pub(super) fn may_start(&mut self, cfg: &Config, i: usize, u: &Unit) -> bool {
        for dep in names(u.after) {
            let Some((j, _)) = find(cfg.services, dep) else { continue };
            let state = self.svcs[j].state;
            if state == State::Ready {
                continue;
            }
            let s = &mut self.svcs[i];
            s.state = State::Waiting;
            if state == State::Failed && s.rd.flags & TOLD == 0 {
                s.rd.flags |= TOLD;
                self.log.warn(b"service % waiting: % failed", &[S(u.name), S(dep)]);
            }
            return false;
        }
        true
    }

    /// The readiness channel of service `i` for its next run: its notify socket (created
    /// once), or a new pipe whose read end init watches; returns the write end and the fd
    /// the child puts it on. A failure is a warning: the service then never gets ready (a
    /// missing readiness fd fails its transition, EBADF).
    #[inline(never)]
    pub(super) fn channel(&mut self, i: usize, u: &Unit) -> Option<(OwnedFd, i32)> {
        let slot = Slot::Ready(i);
        let r = match u.ready {
            READY_STARTED => return None,
            READY_NOTIFY if self.events.fd_at(slot).is_some() => return None,
            READY_NOTIFY => notify_socket(u.name).map(|s| (s, None)),
            n => sys::pipe().map(|(r, w)| (r, Some((w, n as i32)))),
        };
        match r {
            Ok((fd, child)) => {
                self.events.watch_fd(slot, fd);
                child
            }
            Err(e) => {
                self.log.warn(b"service %: unable to create readiness channel: %", &[S(u.name), E(e)]);
                None
            }
        }
    }

    /// Service `i`'s readiness channel is readable: one datagram (notify), or what is in the
    /// pipe (fd: a newline is ready, end of file without one never is). Returns whether the
    /// channel is done with (the pipe after either; the caller closes it).
    pub(super) fn ready_readable(&mut self, cfg: &Config, i: usize) -> bool {
        let (Some(u), Some(fd)) = (cfg.services.get(i), self.events.fd_at(Slot::Ready(i))) else {
            return true;
        };
        let mut buf = [0u8; 256];
        let s = &mut self.svcs[i];
        if u.ready != READY_NOTIFY {
            match sys::read(fd, &mut buf) {
                Err(sys::EAGAIN) => return false,
                #[allow(clippy::manual_contains)] // slice::contains brings in memchr
                Ok(n) if n > 0 && !buf[..n].iter().any(|&b| b == b'\n') => return false,
                Ok(0) | Err(_) => {}
                Ok(_) => ready(&self.log, s, u.name),
            }
            return true;
        }
        let Ok((n, pid)) = sys::recv_credentials(fd, &mut buf) else { return false };
        if pid != s.pid || pid == 0 {
            if s.rd.flags & WARNED == 0 {
                s.rd.flags |= WARNED;
                self.log.warn(b"service % notify from pid % refused", &[S(u.name), N(pid as u64)]);
            }
            return false;
        }
        for line in buf[..n].split(|&b| b == b'\n') {
            if eq(line, b"READY=1") {
                ready(&self.log, s, u.name);
            } else if eq(line, b"WATCHDOG=1") && u.watchdog_ms != 0 {
                s.rd.dog_due = now() + u.watchdog_ms as u64;
            } else if eq(line, b"STOPPING=1") && s.state != State::Stopping {
                s.state = State::Stopping;
                s.rd.flags |= SELF_STOP;
            } else if let Some(text) = strip(line, b"STATUS=") {
                let k = text.len().min(STATUS_MAX);
                let t = &mut self.texts[i];
                t[..TAG.len()].copy_from_slice(TAG);
                t[TAG.len()..][..k].copy_from_slice(&text[..k]);
                s.rd.status_len = if k == 0 { 0 } else { (TAG.len() + k) as u8 };
            }
        }
        false
    }

    /// Stops (not ready in time) or aborts (watchdog) service `i` if it is past such a
    /// deadline at `t`; returns its next one (0 after a stop: look again at once).
    pub(super) fn overdue(&mut self, cfg: &Config, i: usize, u: &Unit, t: u64) -> u64 {
        let s = &mut self.svcs[i];
        let ready_due = if s.state == State::Starting { s.rd.ready_due } else { NEVER };
        let (due, pid) = (ready_due.min(s.rd.dog_due), s.pid);
        if pid == 0 || s.state == State::Stopping {
            return NEVER; // not running, or on its way out (stop timeout, or STOPPING=1)
        }
        if due > t {
            return due;
        }
        (s.rd.ready_due, s.rd.dog_due) = (NEVER, NEVER); // once
        let (what, sig) =
            if ready_due <= t { (&b"ready"[..], u.stop_signal) } else { (&b"watchdog"[..], SIGABRT) };
        let args = [S(u.name), S(what), N(sig as u64), N(pid as u64)];
        self.log.warn(b"service % % timeout, signal % to pid %", &args);
        self.end(cfg, pid, u, sig);
        0 // another turn at once: events were handled meanwhile
    }

    /// `sig` to service `u`'s process group (`pid`), up to its stop timeout, then SIGKILL.
    /// What happens afterwards is up to [`System::exited`] (its state says whether this was
    /// a stop).
    #[inline(never)]
    pub(super) fn end(&mut self, cfg: &Config, pid: i32, u: &Unit, sig: u8) {
        signal_service(pid, sig);
        if self.wait_for(cfg, pid, now() + u.stop_timeout_ms as u64) {
            return;
        }
        self.log.warn(b"service % stop timeout, killing pid %", &[S(u.name), N(pid as u64)]);
        signal_service(pid, SIGKILL);
        self.wait_for(cfg, pid, now() + KILL_WAIT_MS);
    }

    /// Service `dep` failed for good or was stopped: every service that requires
    /// it and is running or about to restart is stopped, and so on down the chain. (One that
    /// could not be stopped stays `stopping` and is not visited again: a config with a cycle,
    /// which the launcher refuses, cannot make this recurse for ever.)
    #[inline(never)]
    pub(super) fn stop_dependents(&mut self, cfg: &Config, dep: &[u8]) {
        for (j, u) in cfg.services.iter().enumerate() {
            let s = &self.svcs[j];
            let live = matches!(s.state, State::Starting | State::Ready | State::Backoff);
            if !live || self.stopping || !names(u.requires).any(|n| eq(n, dep)) {
                continue;
            }
            self.log.info(b"service % requires %, which stopped", &[S(u.name), S(dep)]);
            self.stop(cfg, j, &u);
            let s = &mut self.svcs[j];
            s.due = NEVER;
            if s.pid == 0 {
                s.state = State::Stopped;
            }
            self.stop_dependents(cfg, u.name);
        }
    }
}

/// `READY=1` or the newline: a starting service is ready.
#[inline(never)]
fn ready(log: &Log, s: &mut Svc, name: &[u8]) {
    if s.state == State::Starting {
        s.state = State::Ready;
        log.info(b"service % ready", &[S(name)]);
    }
}
