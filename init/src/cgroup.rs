//! cgroup v2 per service (README.md "cgroups"): init mounts the unified hierarchy at boot and
//! enables the controllers services are limited by; each service runs in
//! /sys/fs/cgroup/NAME.service (the suffix keeps a name such as `memory.max` from meeting
//! a control file), which its child creates, fills with its limits and joins before the dmz
//! transition; when its main process ends, init kills whatever is left in it.
//!
//! Each function is one kernel operation on one cgroup file. References: the kernel's
//! Documentation/admin-guide/cgroup-v2.rst, cgroups(7).

use crate::log::{Log, N, S};
use crate::sys::{self, Errno};
use core::ffi::CStr;
use init::config::CGROUP_FILES;
use init::signal::SIGKILL;
use init::text::strip;
use rustix::fd::AsFd;

const ROOT: &CStr = c"/sys/fs/cgroup";
/// Controllers enabled for the services: each asked for on its own, so that one the kernel
/// lacks (refused with EINVAL) does not keep the others off.
const CONTROLLERS: [&[u8]; 3] = [b"+memory", b"+pids", b"+cpu"];
/// What each of [`CGROUP_FILES`] gets when the config leaves it out: the kernel's default.
/// Written at every start, so that a limit a reload removed does not stay in the cgroup.
const DEFAULTS: [&[u8]; 4] = [b"max", b"max", b"100", b"max 100000"];
/// Rounds of reading cgroup.procs and killing what is listed, before Linux 5.14.
const KILL_ROUNDS: usize = 16;
const ENODEV: Errno = linux_raw_sys::errno::ENODEV as Errno;
const ENOENT: Errno = linux_raw_sys::errno::ENOENT as Errno;

/// A service's cgroup directory, `/sys/fs/cgroup/NAME.service/`, and room for the name of
/// one of its files (names are at most 32 bytes).
struct Dir {
    buf: [u8; 96],
    len: usize,
}

impl Dir {
    #[inline(never)]
    fn new(name: &[u8]) -> Dir {
        let mut d = Dir { buf: [0; 96], len: 0 };
        d.len = d.put(b"/sys/fs/cgroup/");
        d.len = d.put(name);
        d.len = d.put(b".service/");
        d
    }

    /// Writes `s` and a NUL after the directory's `len` bytes (as much as fits); returns
    /// where the NUL is.
    #[inline(never)]
    fn put(&mut self, s: &[u8]) -> usize {
        let mut n = self.len;
        for &b in s {
            if n < self.buf.len() - 1 {
                self.buf[n] = b;
                n += 1;
            }
        }
        self.buf[n.min(95)] = 0;
        n
    }

    /// The path of `file` in the directory (the directory itself for "").
    #[inline(never)]
    fn file(&mut self, file: &[u8]) -> &CStr {
        self.put(file);
        sys::c(&self.buf)
    }
}

/// Boot: mounts cgroup2 on /sys/fs/cgroup (`nsdelegate`: a cgroup namespace is a delegation
/// boundary) unless something is mounted there, then enables [`CONTROLLERS`] in the root's
/// cgroup.subtree_control. Returns whether services get cgroups: /sys/fs/cgroup is a cgroup2
/// root (it has cgroup.subtree_control). A kernel without cgroup2 refuses the mount with
/// ENODEV: no cgroups, no warning. References: mount(2), cgroup-v2.rst "Mounting",
/// "Enabling and Disabling".
pub fn setup(log: &Log) -> bool {
    if !sys::is_mountpoint(ROOT) {
        let flags = (linux_raw_sys::general::MS_NOSUID | linux_raw_sys::general::MS_NODEV) as u64;
        match sys::mount(c"cgroup2", ROOT, c"cgroup2", flags, Some(c"nsdelegate")) {
            Ok(()) | Err(ENODEV) => {}
            Err(e) => log.warn_unable(b"mount", e, Some(ROOT.to_bytes())),
        }
    }
    let mut ours = false;
    for c in &CONTROLLERS {
        ours |= write_file(c"/sys/fs/cgroup/cgroup.subtree_control", c) != Err(ENOENT);
    }
    ours
}

/// Without cgroups: one warning per service whose config has limits (it runs without them).
pub fn warn_unlimited(log: &Log, services: init::config::List<init::config::Unit>) {
    for u in services.iter() {
        if !u.cgroup.is_empty() {
            log.warn(b"service %: no cgroup2, limits not applied", &[S(u.name)]);
        }
    }
}

/// The child of service `name`, before its transition: creates its cgroup (or finds it),
/// writes its limits (`limits`: the config's values, see [`init::config::Unit::cgroup`];
/// the kernel's defaults for the rest), then moves itself in by writing "0" to
/// cgroup.procs. Any failure fails the start closed: a service must not run outside its
/// cgroup, or without a limit it was given: `init: unable to set up cgroup: ERRNO (PATH)` and
/// the setup-failure status. References: mkdir(2), cgroup-v2.rst "Processes".
pub fn enter(name: &[u8], limits: &[u8]) -> Result<(), i32> {
    let mut d = Dir::new(name);
    join(&mut d, limits).map_err(|e| crate::child::fail(b"set up cgroup", e, sys::c(&d.buf).to_bytes()))
}

fn join(d: &mut Dir, limits: &[u8]) -> Result<(), Errno> {
    sys::mkdir(d.file(b""), 0o755)?;
    let mut rest = limits;
    for i in 0..CGROUP_FILES.len() {
        let n = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let r = write_file(d.file(CGROUP_FILES[i].as_bytes()), if n == 0 { DEFAULTS[i] } else { &rest[..n] });
        if n != 0 {
            r?; // a default is refused (ENOENT) where that controller is not enabled
        }
        rest = rest.get(n + 1..).unwrap_or(b"");
    }
    write_file(d.file(b"cgroup.procs"), b"0")
}

/// Kills every process in service `name`'s cgroup: writes "1" to cgroup.kill (Linux 5.14),
/// else sends SIGKILL to each pid cgroup.procs lists, reading it again until it is empty
/// (a process forked meanwhile is listed the next time), for at most [`KILL_ROUNDS`].
/// References: cgroup-v2.rst "cgroup.kill", kill(2).
#[inline(never)]
pub fn kill(name: &[u8]) {
    if write_file(Dir::new(name).file(b"cgroup.kill"), b"1").is_ok() {
        return;
    }
    for _ in 0..KILL_ROUNDS {
        let mut buf = [0u8; 512];
        let n = read(name, b"cgroup.procs", &mut buf);
        if n == 0 {
            return;
        }
        let mut pid = 0;
        for &b in buf.get(..n).unwrap_or_default() {
            match b {
                b'\n' if pid > 1 => drop(sys::kill(core::mem::take(&mut pid), SIGKILL)), // not init's
                _ => pid = pid.wrapping_mul(10).wrapping_add(b.wrapping_sub(b'0') as i32),
            }
        }
    }
}

/// The decimal number `s` starts with (wrapping; the kernel writes them).
#[inline(never)]
fn digits(s: &[u8]) -> u32 {
    let n = s.iter().take_while(|b| b.is_ascii_digit());
    n.fold(0u32, |n, &d| n.wrapping_mul(10).wrapping_add((d - b'0') as u32))
}

/// Reads file `file` of service `name`'s cgroup into `buf`; its length, 0 when unreadable.
#[inline(never)]
fn read(name: &[u8], file: &[u8], buf: &mut [u8]) -> usize {
    sys::read_file(Dir::new(name).file(file), buf).unwrap_or(0)
}

/// Logs that the OOM killer killed a process of service `name` if `oom_kill` of its
/// memory.events (how many it killed since the cgroup was made) grew past `*seen`, which it
/// updates. `log` None: only updates. References: cgroup-v2.rst "memory.events".
#[inline(never)]
pub fn check_oom(log: Option<&Log>, name: &[u8], seen: &mut u32) {
    let mut buf = [0u8; 256];
    let n = read(name, b"memory.events", &mut buf);
    let mut now = 0;
    for line in buf.get(..n).unwrap_or_default().split(|&b| b == b'\n') {
        if let Some(v) = strip(line, b"oom_kill ") {
            now = digits(v);
            break;
        }
    }
    if let (Some(log), true) = (log, now > *seen) {
        log.warn(b"service % out of memory: % killed by the OOM killer", &[S(name), N((now - *seen) as u64)]);
    }
    *seen = now;
}

/// Service `name`'s memory.current (bytes, as the kernel writes them) into `buf`; `-` when
/// it cannot be read or `running` is false. References: cgroup-v2.rst "memory.current".
pub fn memory_current<'b>(running: bool, name: &[u8], buf: &'b mut [u8; 24]) -> &'b [u8] {
    match running.then(|| read(name, b"memory.current", buf)) {
        Some(n) if n > 1 => buf.get(..n - 1).unwrap_or(b"-"), // without its newline
        _ => b"-",
    }
}

/// `open(path, O_WRONLY)` + one `write(value)`: a cgroup file takes a value in one write,
/// and reports a bad one there. References: open(2), write(2).
#[inline(never)]
fn write_file(path: &CStr, value: &[u8]) -> Result<(), Errno> {
    let f = sys::open_write(path)?;
    rustix::io::write(f.as_fd(), value).map(drop).map_err(|e| e.raw_os_error() as Errno)
}
