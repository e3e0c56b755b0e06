//! System mode: PID 1 of an edge image, started by the kernel without a command.
//!
//! Boot: early mounts, console, kernel log, the compiled config (README.md: path and kernel
//! command line), extra mounts, hostname, loopback, tasks in order, watchdog, services.
//! Then one flat loop: start what is due, wait for the next event, react. A failure before
//! the loop is fatal (reported, then reboot or power-off after a delay); inside the loop
//! every failure is a warning. PID 1 never exits.

use crate::child;
use crate::events::{now, Event, Events, NEVER};
use crate::log::{Log, Msg};
use crate::sys::{self, Errno, Exit, Reboot};
use core::ffi::CStr;
use init::config::{Action, Config, Restart, Unit, MAX_CONFIG_LEN, MAX_UNITS, MIN_RESTART_DELAY_MS};
use init::signal::{SIGINT, SIGKILL, SIGTERM, SIGUSR1, SIGUSR2};
use linker::sys::SigSet;
use linker::Args;

/// Where the compiled config is installed on the image (`dmzkit.config=` overrides it).
pub const CONFIG_PATH: &CStr = c"/etc/dmzkit/init.pcfg";
/// Defaults until the config says otherwise (kernel command line first, then config).
const DEFAULT_ON_ERROR: Action = Action::Reboot;
const DEFAULT_ERROR_DELAY_S: u32 = 10;
const DEFAULT_GRACE_MS: u32 = 2000;
/// After SIGKILL, how long to wait for a process to be reaped (one stuck in an
/// uninterruptible sleep never is; shutdown goes on without it).
const KILL_WAIT_MS: u64 = 2000;

/// Early mounts: (fstype, target, parent, flags, data). devtmpfs first: the console and
/// /dev/kmsg live there. Skipped when something is already mounted on the target.
const EARLY: [(&CStr, &CStr, &CStr, u64, &CStr); 6] = [
    (c"devtmpfs", c"/dev", c"/", NOSUID, c"mode=0755"),
    (c"devpts", c"/dev/pts", c"/dev", NOSUID | NOEXEC, c"mode=0620,ptmxmode=0666"),
    (c"tmpfs", c"/dev/shm", c"/dev", NOSUID | NODEV, c"mode=1777"),
    (c"proc", c"/proc", c"/", NOSUID | NODEV | NOEXEC, c""),
    (c"sysfs", c"/sys", c"/", NOSUID | NODEV | NOEXEC, c""),
    (c"tmpfs", c"/run", c"/", NOSUID | NODEV, c"mode=0755"),
];
const NOSUID: u64 = 2; // MS_NOSUID
const NODEV: u64 = 4; // MS_NODEV
const NOEXEC: u64 = 8; // MS_NOEXEC

/// One service's supervision state.
#[derive(Clone, Copy)]
struct Svc {
    /// Running process (its own process group), 0 when not running.
    pid: i32,
    /// When to start it next, [`NEVER`] when not scheduled.
    due: u64,
    /// Consecutive restarts without a run of at least `restart_delay_max_ms`.
    restarts: u32,
    started: u64,
}

const IDLE: Svc = Svc { pid: 0, due: NEVER, restarts: 0, started: 0 };

/// What the kernel command line says (`dmzkit.*=` words).
struct Boot {
    config: [u8; 256],
    on_error: Option<Action>,
    error_delay_s: Option<u32>,
}

struct System {
    log: Log,
    events: Events,
    /// The signal mask init was started with; children restore it.
    mask: SigSet,
    on_error: Action,
    error_delay_s: u32,
    svcs: [Svc; MAX_UNITS],
}

/// The config in effect until one is loaded: no mounts, tasks or services.
static NONE: Config<'static> = Config {
    hostname: b"",
    ctrl_alt_del: Action::Reboot,
    on_error: DEFAULT_ON_ERROR,
    error_delay_s: DEFAULT_ERROR_DELAY_S,
    shutdown_grace_ms: DEFAULT_GRACE_MS,
    watchdog: None,
    mounts: heapless::Vec::new(),
    tasks: heapless::Vec::new(),
    services: heapless::Vec::new(),
};

#[rustfmt::skip] // one step a line, the why beside it
pub fn main(args: &Args) -> ! {
    let mut log = Log::new(true);
    let (events, mask) = match Events::new() {      // signals from a signalfd, from the start
        Ok(x) => x,
        Err((what, e)) => unrecoverable(&log, what, e),
    };
    mount_early(&log, &EARLY[..1]);                 // devtmpfs: /dev/console and /dev/kmsg
    if let Err(e) = sys::console_stdio() {          // fds 0-2, if the kernel could not open them
        log.emit(Msg::warn().unable(b"open /dev/console", e, b""));
    }
    log.open_kmsg();                                // events in dmesg too
    log.emit(Msg::info().s(b"dmzkit init starting"));
    mount_early(&log, &EARLY[1..]);                 // /dev/pts, /dev/shm, /proc, /sys, /run
    if args.len() > 1 {
        log.emit(Msg::warn().s(b"system mode ignores its arguments (use `init -- CMD` for container mode)"));
    }
    // Ctrl-alt-del becomes SIGINT to us. Only the initial pid namespace has one: elsewhere the
    // kernel refuses the request (EINVAL) and nothing needs disabling.
    if sys::in_initial_pid_namespace() {
        let e = sys::reboot(Reboot::CadOff);
        if e != 0 {
            log.emit(Msg::warn().unable(b"disable ctrl-alt-del", e, b""));
        }
    }
    let boot = boot_params();
    let mut sys = System {
        log, events, mask,
        on_error: boot.on_error.unwrap_or(DEFAULT_ON_ERROR),
        error_delay_s: boot.error_delay_s.unwrap_or(DEFAULT_ERROR_DELAY_S),
        svcs: [IDLE; MAX_UNITS],
    };
    let path = sys::cstr(&boot.config).filter(|p| !p.is_empty()).unwrap_or(CONFIG_PATH);
    let cfg = sys.load_config(path);                // fatal when missing or invalid
    sys.on_error = boot.on_error.unwrap_or(cfg.on_error);
    sys.error_delay_s = boot.error_delay_s.unwrap_or(cfg.error_delay_s);
    sys.mount_extra(&cfg);                          // fatal: services expect their filesystems
    if !cfg.hostname.is_empty() {
        if let Err(e) = sys::sethostname(cfg.hostname) {
            sys.log.emit(Msg::warn().unable(b"set hostname", e, cfg.hostname));
        }
    }
    if let Err(e) = sys::loopback_up() {
        sys.log.emit(Msg::warn().unable(b"bring up lo", e, b""));
    }
    for task in &cfg.tasks {
        sys.run_task(&cfg, task);                    // in order, each waited for
    }
    sys.arm_watchdog(&cfg);                         // after tasks: they may load its driver
    for s in sys.svcs.iter_mut().take(cfg.services.len()) {
        s.due = 0;                                   // every service starts now, in order
    }
    loop {
        let deadline = sys.start_due(&cfg);
        match sys.events.next(deadline) {
            Event::Exited(pid, exit) => sys.exited(&cfg, pid, exit),
            Event::Signal(sig) => sys.signal(&cfg, sig),
            Event::NoChildren | Event::Timeout => {}
        }
    }
}

/// Mounts each early filesystem not already mounted; failures are warnings.
fn mount_early(log: &Log, list: &[(&CStr, &CStr, &CStr, u64, &CStr)]) {
    for &(fstype, target, parent, flags, data) in list {
        if sys::is_mountpoint(target, parent) {
            continue;
        }
        let r =
            sys::mkdir(target, 0o755).and_then(|()| sys::mount(fstype, target, fstype, flags, Some(data)));
        if let Err(e) = r {
            log.emit(Msg::warn().unable(b"mount", e, target.to_bytes()));
        }
    }
}

/// Reads `dmzkit.config=PATH`, `dmzkit.on_error=reboot|poweroff|halt` and
/// `dmzkit.error_delay=SECONDS` from /proc/cmdline. (Kernel parameters with a dot are not
/// passed to init as arguments or environment: the kernel takes them for module parameters.)
#[inline(never)] // its 4 KB buffer must not stay in PID 1's main frame
fn boot_params() -> Boot {
    let mut boot = Boot { config: [0; 256], on_error: None, error_delay_s: None };
    let mut buf = [0u8; 4096]; // COMMAND_LINE_SIZE is at most 4096 on the supported targets
    let n = sys::read_file(c"/proc/cmdline", &mut buf).unwrap_or(0);
    for word in buf[..n].split(|&b| b == b' ' || b == b'\n') {
        if let Some(p) = word.strip_prefix(b"dmzkit.config=") {
            if !p.is_empty() && p.len() < boot.config.len() {
                boot.config[..p.len()].copy_from_slice(p);
            }
        } else if let Some(a) = word.strip_prefix(b"dmzkit.on_error=") {
            boot.on_error = Action::from_name(a).filter(|&a| a != Action::Ignore);
        } else if let Some(d) = word.strip_prefix(b"dmzkit.error_delay=") {
            if !d.is_empty() && d.len() <= 6 && d.iter().all(u8::is_ascii_digit) {
                boot.error_delay_s = Some(d.iter().fold(0, |n, &c| n * 10 + (c - b'0') as u32));
            }
        }
    }
    boot
}

/// Signals and the shutdown each asks for (busybox init's choice; SIGINT is ctrl-alt-del).
fn requested(sig: u8, cad: Action) -> Option<Action> {
    match sig {
        SIGTERM => Some(Action::Reboot),
        SIGUSR1 => Some(Action::Halt),
        SIGUSR2 => Some(Action::PowerOff),
        SIGINT if cad != Action::Ignore => Some(cad),
        _ => None,
    }
}

/// Nothing can be supervised without signals: say so, wait, reboot.
fn unrecoverable(log: &Log, what: &[u8], e: Errno) -> ! {
    log.emit(Msg::error().unable(what, e, b""));
    let _ = rustix::thread::nanosleep(&rustix::thread::Timespec {
        tv_sec: DEFAULT_ERROR_DELAY_S as _,
        tv_nsec: 0,
    });
    sys::sync();
    sys::reboot(Reboot::Restart);
    loop {
        let _ = rustix::thread::nanosleep(&rustix::thread::Timespec { tv_sec: 3600, tv_nsec: 0 });
    }
}

impl System {
    /// Loads and decodes the config; fatal on any error.
    fn load_config(&mut self, path: &CStr) -> Config<'static> {
        let blob = match sys::load_file(path, MAX_CONFIG_LEN) {
            Ok(b) => b,
            Err(e) => self.fatal(&NONE, Msg::error().unable(b"read config", e, path.to_bytes())),
        };
        let cfg = match Config::decode(blob) {
            Ok(c) => c,
            Err(bad) => {
                self.fatal(&NONE, Msg::error().unable(b"load config", sys::EINVAL, bad.text().as_bytes()))
            }
        };
        self.log.emit(
            Msg::info()
                .s(b"config ")
                .s(path.to_bytes())
                .s(b": ")
                .n(cfg.tasks.len() as u64)
                .s(b" tasks, ")
                .n(cfg.services.len() as u64)
                .s(b" services"),
        );
        cfg
    }

    /// The config's mounts, in order, each target created first; fatal on any error.
    fn mount_extra(&mut self, cfg: &Config) {
        for m in &cfg.mounts {
            let (Some(src), Some(target), Some(fstype)) =
                (sys::cstr(m.source), sys::cstr(m.target), sys::cstr(m.fstype))
            else {
                continue; // validated at decode
            };
            let data = sys::cstr(m.data);
            if let Err(e) =
                sys::mkdir(target, 0o755).and_then(|()| sys::mount(src, target, fstype, m.flags, data))
            {
                self.fatal(cfg, Msg::error().unable(b"mount", e, target.to_bytes()));
            }
            self.log.emit(Msg::info().s(b"mounted ").s(target.to_bytes()));
        }
    }

    /// Starts a task and waits for it; a shutdown signal meanwhile shuts down at once.
    fn run_task(&mut self, cfg: &Config, u: &Unit) {
        let mask = self.mask;
        let pid = match child::spawn(|| unit_child(u.dmz, mask)) {
            Ok(pid) => pid,
            Err(e) => {
                return self.log.emit(Msg::warn().s(b"task ").s(u.name).s(b": ").unable(b"fork", e, b""))
            }
        };
        self.log.emit(Msg::info().s(b"task ").s(u.name).s(b" started pid ").n(pid as u64));
        loop {
            match self.events.next(NEVER) {
                Event::Exited(p, exit) if p == pid => {
                    return self.log.emit(Msg::info().s(b"task ").s(u.name).exit(exit));
                }
                Event::Signal(sig) => self.signal(cfg, sig),
                Event::Exited(..) | Event::NoChildren | Event::Timeout => {}
            }
        }
    }

    /// Opens the watchdog, sets its timeout, and hands it to the event loop to keep alive.
    fn arm_watchdog(&mut self, cfg: &Config) {
        let Some(w) = &cfg.watchdog else { return };
        let dev = sys::cstr(w.device).unwrap_or(c"/dev/watchdog");
        let fd = match sys::watchdog_open(dev) {
            Ok(fd) => fd,
            Err(e) => return self.log.emit(Msg::warn().unable(b"open watchdog", e, dev.to_bytes())),
        };
        if w.timeout_s != 0 {
            if let Err(e) = sys::watchdog_set_timeout(rustix::fd::AsFd::as_fd(&fd), w.timeout_s) {
                self.log.emit(Msg::warn().unable(b"set watchdog timeout", e, dev.to_bytes()));
            }
        }
        self.events.watch(fd, w.interval_ms);
        self.log.emit(Msg::info().s(b"watchdog ").s(dev.to_bytes()).s(b" armed"));
    }

    /// Starts every service whose time has come; returns the next time one is due.
    fn start_due(&mut self, cfg: &Config) -> u64 {
        let t = now();
        let mut next = NEVER;
        for (u, s) in cfg.services.iter().zip(self.svcs.iter_mut()) {
            if s.due <= t {
                s.due = NEVER;
                s.started = t;
                let mask = self.mask;
                match child::spawn(|| unit_child(u.dmz, mask)) {
                    Ok(pid) => {
                        s.pid = pid;
                        self.log.emit(Msg::info().s(b"service ").s(u.name).s(b" started pid ").n(pid as u64));
                    }
                    Err(e) => {
                        self.log.emit(Msg::warn().s(b"service ").s(u.name).s(b": ").unable(b"fork", e, b""));
                        schedule(&self.log, u, s, t);
                    }
                }
            }
            next = next.min(s.due);
        }
        next
    }

    /// A child was reaped: if it was a service, log it and apply its restart policy.
    fn exited(&mut self, cfg: &Config, pid: i32, exit: Exit) {
        let t = now();
        let Some((u, s)) = cfg.services.iter().zip(self.svcs.iter_mut()).find(|(_, s)| s.pid == pid) else {
            return; // an orphan re-parented to init, or a task that outlived a shutdown signal
        };
        s.pid = 0;
        self.log.emit(Msg::info().s(b"service ").s(u.name).exit(exit));
        let again = match u.restart {
            Restart::Always => true,
            Restart::OnFailure => exit != Exit::Code(0),
            Restart::Never => false,
        };
        if again {
            if t - s.started >= u.restart_delay_max_ms as u64 {
                s.restarts = 0; // it ran long enough to count as healthy
            }
            schedule(&self.log, u, s, t);
        }
    }

    /// A signal in the loop: a shutdown request, or nothing.
    fn signal(&mut self, cfg: &Config, sig: u8) {
        match requested(sig, cfg.ctrl_alt_del) {
            Some(action) => self.shutdown(cfg, action),
            None => self.log.emit(Msg::info().s(b"ignoring signal ").n(sig as u64)),
        }
    }

    /// A failure before the loop: report it, wait the configured delay (still reaping), then
    /// the configured shutdown.
    fn fatal(&mut self, cfg: &Config, m: &mut Msg) -> ! {
        self.log.emit(m);
        let action = self.on_error;
        self.log
            .emit(Msg::error().s(action.name().as_bytes()).s(b" in ").n(self.error_delay_s as u64).s(b" s"));
        let deadline = now() + self.error_delay_s as u64 * 1000;
        while !matches!(self.events.next(deadline), Event::Timeout) {}
        self.shutdown(cfg, action)
    }

    /// The ordered shutdown: services in reverse order (stop signal, timeout, SIGKILL), then
    /// every other process (SIGTERM, grace, SIGKILL), sync, unmount or remount read-only,
    /// watchdog magic close, reboot(2). If reboot(2) fails, init stays up reaping.
    #[inline(never)]
    #[rustfmt::skip]
    fn shutdown(&mut self, cfg: &Config, action: Action) -> ! {
        self.log.emit(Msg::info().s(b"shutdown: ").s(action.name().as_bytes()));
        let services = &cfg.services[..];
        for s in self.svcs.iter_mut() {
            s.due = NEVER;                                      // nothing restarts from here on
        }
        for (i, u) in services.iter().enumerate().rev() {
            if self.svcs[i].pid != 0 {
                self.stop(services, i, u);                     // stop signal, timeout, SIGKILL
            }
        }
        let grace = cfg.shutdown_grace_ms as u64;
        self.kill_everyone(SIGTERM, grace);                    // the rest: TERM, grace,
        self.kill_everyone(SIGKILL, KILL_WAIT_MS);             // then KILL
        sys::sync();                                           // flush before unmounting
        unmount_all(&self.log);                                // or remount read-only
        sys::sync();
        if let Some(fd) = self.events.unwatch() {
            sys::watchdog_magic_close(fd);                     // 'V': an orderly stop
        }
        self.log.emit(Msg::info().s(action.name().as_bytes()).s(b" now"));
        let e = sys::reboot(match action {
            Action::PowerOff => Reboot::PowerOff,
            Action::Halt => Reboot::Halt,
            Action::Reboot | Action::Ignore => Reboot::Restart,
        });
        self.log.emit(Msg::error().unable(action.name().as_bytes(), e, b""));
        loop {
            self.events.next(NEVER);                           // PID 1 never exits
        }
    }

    /// Stops service `i`: its stop signal to its process group, up to its stop timeout, then
    /// SIGKILL. Other children reaped meanwhile are accounted for.
    fn stop(&mut self, services: &[Unit], i: usize, u: &Unit) {
        let pid = self.svcs[i].pid;
        self.log.emit(
            Msg::info()
                .s(b"service ")
                .s(u.name)
                .s(b" stopping pid ")
                .n(pid as u64)
                .s(b" signal ")
                .n(u.stop_signal as u64),
        );
        signal_service(pid, u.stop_signal);
        if self.wait_for(services, pid, now() + u.stop_timeout_ms as u64) {
            return;
        }
        self.log.emit(Msg::warn().s(b"service ").s(u.name).s(b" stop timeout, killing pid ").n(pid as u64));
        signal_service(pid, SIGKILL);
        self.wait_for(services, pid, now() + KILL_WAIT_MS);
    }

    /// Reaps until `pid` is gone (true) or the deadline passes (false).
    fn wait_for(&mut self, services: &[Unit], pid: i32, deadline: u64) -> bool {
        loop {
            match self.events.next(deadline) {
                Event::Exited(p, exit) => {
                    if let Some(k) = self.svcs.iter().position(|s| s.pid == p) {
                        self.svcs[k].pid = 0;
                        self.log.emit(Msg::info().s(b"service ").s(services[k].name).exit(exit));
                    }
                    if p == pid {
                        return true;
                    }
                }
                Event::Timeout => return false,
                Event::Signal(_) | Event::NoChildren => {}
            }
        }
    }

    /// `sig` to every process but init, then reaping until none is left or `wait_ms` passed.
    fn kill_everyone(&mut self, sig: u8, wait_ms: u64) {
        if sys::kill_all(sig).is_err() {
            return; // ESRCH: nobody left
        }
        self.log.emit(Msg::info().s(b"sent signal ").n(sig as u64).s(b" to all processes"));
        self.events.rescan();
        let deadline = now() + wait_ms;
        while !matches!(self.events.next(deadline), Event::NoChildren | Event::Timeout) {}
    }
}

/// Sets when service `s` starts again after a run that ended at `t`: the configured delay,
/// doubled for each consecutive restart, capped; or never, past the restart limit.
fn schedule(log: &Log, u: &Unit, s: &mut Svc, t: u64) {
    if u.restart_limit != 0 && s.restarts >= u.restart_limit {
        log.emit(Msg::warn().s(b"service ").s(u.name).s(b" failed: restart limit reached"));
        return;
    }
    let first = u.restart_delay_ms.max(MIN_RESTART_DELAY_MS) as u64;
    let delay = (first << s.restarts.min(31)).min((u.restart_delay_max_ms as u64).max(first));
    s.restarts += 1;
    s.due = t + delay;
    log.emit(
        Msg::info()
            .s(b"service ")
            .s(u.name)
            .s(b" restart ")
            .n(s.restarts as u64)
            .s(b" in ")
            .n(delay)
            .s(b" ms"),
    );
}

/// Signals a service's process group (it is the leader of its own session), or the process
/// alone if it has not called setsid yet.
fn signal_service(pid: i32, sig: u8) {
    if sys::kill_group(pid, sig).is_err() {
        let _ = sys::kill(pid, sig);
    }
}

/// The child of a task or service: its own session, init's signal mask, the dmz transition.
#[inline(never)]
fn unit_child(blob: &[u8], mask: SigSet) -> i32 {
    if let Err(status) = child::detach(mask) {
        return status;
    }
    dmz::run(&mut dmz::sys::Linux, blob)
}

/// Filesystems without a backing store: nothing to flush, nothing to unmount at shutdown.
const VIRTUAL: &[u8] =
    b"proc sysfs devtmpfs devpts tmpfs ramfs rootfs cgroup cgroup2 mqueue debugfs tracefs \
securityfs pstore bpf configfs fusectl hugetlbfs binfmt_misc efivarfs autofs nsfs selinuxfs";

/// Unmounts every filesystem with a backing store, last mounted first; one that cannot be
/// unmounted (the root, or busy) is remounted read-only instead, which flushes it too. The
/// read-only remount changes the filesystem everywhere it is mounted, so it is done only by
/// the initial pid namespace's init (the device's own shutdown), never by an init in a
/// container that shares filesystems with its host.
#[inline(never)]
fn unmount_all(log: &Log) {
    let mut buf = [0u8; 16384];
    let Ok(n) = sys::read_file(c"/proc/self/mounts", &mut buf) else { return };
    let initial_ns = sys::in_initial_pid_namespace();
    let mut path = [0u8; 512];
    for line in buf[..n].rsplit(|&b| b == b'\n') {
        let mut f = line.split(|&b| b == b' ');
        let (Some(_src), Some(target), Some(fstype)) = (f.next(), f.next(), f.next()) else { continue };
        if fstype.is_empty() || VIRTUAL.split(|&b| b == b' ').any(|v| v == fstype) {
            continue;
        }
        let Some(p) = unescape(target, &mut path) else { continue };
        match sys::unmount(p) {
            Ok(()) => log.emit(Msg::info().s(b"unmounted ").s(p.to_bytes())),
            Err(_) if initial_ns => match sys::remount_read_only(p) {
                Ok(()) => log.emit(Msg::info().s(b"remounted read-only ").s(p.to_bytes())),
                Err(e) => log.emit(Msg::warn().unable(b"remount read-only", e, p.to_bytes())),
            },
            Err(e) => log.emit(Msg::warn().unable(b"unmount", e, p.to_bytes())),
        }
    }
}

/// A mount point from /proc/self/mounts, where space, tab, newline and backslash appear as
/// octal escapes (`\040`), as a C string in `out`.
fn unescape<'o>(s: &[u8], out: &'o mut [u8]) -> Option<&'o CStr> {
    let (mut i, mut n) = (0, 0);
    while i < s.len() {
        let mut b = s[i];
        i += 1;
        if b == b'\\' && i + 3 <= s.len() {
            b = s[i..i + 3].iter().fold(0u8, |v, &d| v.wrapping_mul(8).wrapping_add(d.wrapping_sub(b'0')));
            i += 3;
        }
        *out.get_mut(n)? = b;
        n += 1;
    }
    *out.get_mut(n)? = 0;
    CStr::from_bytes_with_nul(&out[..=n]).ok()
}
