//! System mode: PID 1 of an edge image, started by the kernel without a command.
//!
//! Boot: early mounts, console, kernel log, the compiled config (README.md: path and kernel
//! command line), extra mounts, cgroup2 (src/cgroup.rs), hostname, loopback, tasks in order,
//! watchdog, services.
//! Then one flat loop: start what is due, wait for the next event, react. A failure before
//! the loop is fatal (reported, then reboot or power-off after a delay); inside the loop
//! every failure is a warning. PID 1 never exits.
//!
//! Control requests (src/control.rs) arrive as events in every wait. A reload (SIGHUP or
//! `init reload`) reads the config file again into a new mapping; the loop then goes on with
//! it and the previous one is unmapped.

use crate::cgroup;
use crate::child;
use crate::control::{self, Request, Server};
use crate::events::{now, Event, Events, Slot, NEVER};
use crate::log::{format, Arg, Line, Log, E, N, S, X};
use crate::output::{self, Captured};
use crate::sys::{self, Errno, Exit, Mapping, Reboot};
use core::ffi::CStr;
use init::config::{Action, Config, List, Restart, Unit, MAX_CONFIG_LEN, MAX_UNITS, MIN_RESTART_DELAY_MS};
use init::signal::{SIGHUP, SIGINT, SIGKILL, SIGTERM, SIGUSR1, SIGUSR2};
use init::text::{eq, strip};
use linker::sys::SigSet;
use linker::Args;
use rustix::fd::AsRawFd;

#[path = "ready.rs"]
mod ready;

/// Where the compiled config is installed on the image (`dmzkit.config=` overrides it).
pub const CONFIG_PATH: &CStr = c"/etc/dmzkit/init.pcfg";
/// Defaults until the config says otherwise (kernel command line first, then config).
const DEFAULT_ON_ERROR: Action = Action::Reboot;
const DEFAULT_ERROR_DELAY_S: u32 = 10;
const DEFAULT_GRACE_MS: u32 = 2000;
/// A run at least this long (and at least `restart_delay_max_ms`) counts as healthy and
/// resets the restart count: with a maximum delay of 0 every run would, and the restart limit
/// would never be reached.
const HEALTHY_RUN_MS: u32 = 1000;
/// After SIGKILL, how long to wait for a process to be reaped (one stuck in an
/// uninterruptible sleep never is; shutdown goes on without it).
const KILL_WAIT_MS: u64 = 2000;

/// Early mounts: (fstype, target, flags, data). devtmpfs first: the console and /dev/kmsg
/// live there. Skipped when something is already mounted on the target.
const EARLY: [(&CStr, &CStr, u64, &CStr); 6] = [
    (c"devtmpfs", c"/dev", NOSUID, c"mode=0755"),
    (c"devpts", c"/dev/pts", NOSUID | NOEXEC, c"mode=0620,ptmxmode=0666"),
    (c"tmpfs", c"/dev/shm", NOSUID | NODEV, c"mode=1777"),
    (c"proc", c"/proc", NOSUID | NODEV | NOEXEC, c""),
    (c"sysfs", c"/sys", NOSUID | NODEV | NOEXEC, c""),
    (c"tmpfs", c"/run", NOSUID | NODEV, c"mode=0755"),
];
const NOSUID: u64 = linux_raw_sys::general::MS_NOSUID as u64;
const NODEV: u64 = linux_raw_sys::general::MS_NODEV as u64;
const NOEXEC: u64 = linux_raw_sys::general::MS_NOEXEC as u64;

/// What a task or service is doing, as `init status` shows it (README.md).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum State {
    /// Not started yet (a service: also while a service it is after is not ready).
    Waiting,
    /// Running: for a task, until it exits; for a service with a readiness signal, until it
    /// signals.
    Starting,
    /// A service running (and ready).
    Ready,
    /// Its stop signal was sent (or it sent `STOPPING=1`); not reaped yet.
    Stopping,
    /// Not running: exited 0, stopped on request, or a task that never ran.
    Stopped,
    /// A restart is scheduled.
    Backoff,
    /// Not running after a failed run (exit status not 0, or killed), not restarted.
    Failed,
}

/// The words of [`State`], in order.
const STATES: [&[u8]; 7] =
    [b"waiting", b"starting", b"ready", b"stopping", b"stopped", b"backoff", b"failed"];

/// One task's or service's supervision state.
#[derive(Clone, Copy)]
struct Svc {
    /// Running process (its own process group), 0 when not running.
    pid: i32,
    /// When to start it next, [`NEVER`] when not scheduled.
    due: u64,
    /// Consecutive restarts without a run of at least `restart_delay_max_ms`.
    restarts: u32,
    /// Restarts by the restart policy since boot (what `status` shows).
    total: u32,
    started: u64,
    state: State,
    /// How the last run ended.
    last: Option<Exit>,
    /// `oom_kill` of its cgroup's memory.events as last seen.
    oom: u32,
    /// Readiness, dependencies, deadlines (src/ready.rs).
    rd: ready::Rd,
}

const IDLE: Svc = Svc {
    pid: 0,
    due: NEVER,
    restarts: 0,
    total: 0,
    started: 0,
    state: State::Waiting,
    last: None,
    oom: 0,
    rd: ready::IDLE,
};

/// A table of `s` for every unit (one loop, not one per table).
#[inline(never)]
fn table(s: Svc) -> [Svc; MAX_UNITS] {
    [s; MAX_UNITS]
}

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
    /// Shutdown has begun: no service starts again.
    stopping: bool,
    /// Signals that arrived while a stop request waited (bit n - 1: signal n), handled by
    /// the loop afterwards.
    deferred: u64,
    /// The config file (the kernel command line's, else [`CONFIG_PATH`]), read again on reload.
    path: [u8; 256],
    tasks: [Svc; MAX_UNITS],
    svcs: [Svc; MAX_UNITS],
    /// Each service's last `STATUS=` text (src/ready.rs).
    texts: [[u8; ready::TEXT_LEN]; MAX_UNITS],
    /// Captured output's pipes and partial lines.
    out: Captured,
    /// Services run in cgroups of their own (cgroup2 at /sys/fs/cgroup).
    cgroup: bool,
}

#[rustfmt::skip] // one step a line, the why beside it
pub fn main(args: &Args) -> ! {
    let mut log = Log::new(true);
    let mask = match Events::block() {              // signals pending for the signalfd, from
        Ok(m) => m,                                 // the start
        Err((what, e)) => unrecoverable(&log, what, e),
    };
    mount_early(&log, &EARLY[..1]);                 // devtmpfs: /dev/console and /dev/kmsg
    let stdio = sys::console_stdio();               // fds 0-2, if the kernel could not open
    let events = match Events::open() {             // them, before any fd of init's own
        Ok(x) => x,
        Err((what, e)) => unrecoverable(&log, what, e),
    };
    log.open_kmsg();                                // events in dmesg too
    if let Err(e) = stdio {
        log.warn_unable(b"open /dev/console", e, None);
    }
    log.info(b"dmzkit init starting", &[]);
    mount_early(&log, &EARLY[1..]);                 // /dev/pts, /dev/shm, /proc, /sys, /run
    if args.len() > 1 {
        log.warn(b"system mode ignores its arguments (use `init -- CMD` for container mode)", &[]);
    }
    // Ctrl-alt-del becomes SIGINT to us. Only the initial pid namespace has one: elsewhere the
    // kernel refuses the request (EINVAL; EPERM without CAP_SYS_BOOT there) and nothing needs
    // disabling. Asked unconditionally, as busybox init does: telling the namespaces apart by
    // /proc/self/ns/pid costs the boot more (a first walk of procfs and nsfs).
    match sys::reboot(Reboot::CadOff) {
        0 | sys::EINVAL | sys::EPERM => {}
        e => log.warn_unable(b"disable ctrl-alt-del", e, None),
    }
    let boot = boot_params();
    let mut sys = System {
        log, events, mask,
        on_error: boot.on_error.unwrap_or(DEFAULT_ON_ERROR),
        error_delay_s: boot.error_delay_s.unwrap_or(DEFAULT_ERROR_DELAY_S),
        stopping: false,
        deferred: 0,
        path: boot.config,
        tasks: table(IDLE),
        svcs: table(IDLE),
        texts: [[0; ready::TEXT_LEN]; MAX_UNITS],
        out: Captured::new(),
        cgroup: false,
    };
    match Server::open() {                          // on /run: `init status` from now on,
        Ok(c) => sys.events.serve(c),               // tasks included
        Err(e) => sys.log.warn_unable(b"listen", e, Some(control::SOCKET.to_bytes())),
    }
    let mut line = Line::default();
    let mut blob = match sys.read_config(&mut line) { // fatal when missing or invalid
        Some(m) => m,
        None => sys.fatal(None, b"%", &[S(crate::log::bytes(&line))]),
    };
    let cfg = sys.decoded(&blob);
    let (tasks, services) = (N(cfg.tasks.len() as u64), N(cfg.services.len() as u64));
    sys.log.info(b"config %: % tasks, % services", &[S(sys.config_path().to_bytes()), tasks, services]);
    sys.on_error = boot.on_error.unwrap_or(cfg.on_error);
    sys.error_delay_s = boot.error_delay_s.unwrap_or(cfg.error_delay_s);
    sys.mount_extra(&cfg);                          // fatal: services expect their filesystems
    sys.cgroup = cgroup::setup(&sys.log);           // after them: one on /sys/fs/cgroup wins
    sys.warn_unlimited(&cfg);
    if !cfg.hostname.is_empty() {
        if let Err(e) = sys::sethostname(cfg.hostname) {
            sys.log.warn_unable(b"set hostname", e, Some(cfg.hostname));
        }
    }
    if let Err(e) = sys::loopback_up() {
        sys.log.warn_unable(b"bring up lo", e, None);
    }
    for (i, task) in cfg.tasks.iter().enumerate() {
        sys.run_task(&cfg, i, &task);               // in order, each waited for
    }
    sys.arm_watchdog(&cfg);                         // after tasks: they may load its driver
    for s in sys.svcs.iter_mut().take(cfg.services.len()) {
        s.due = 0;                                   // every service starts now, in order
    }
    loop {
        let cfg = sys.decoded(&blob);               // checked when it was read
        blob = sys.supervise(&cfg);                 // until a reload: the previous mapping
    }                                               // is given back here
}

/// Mounts each early filesystem not already mounted; failures are warnings.
fn mount_early(log: &Log, list: &[(&CStr, &CStr, u64, &CStr)]) {
    for &(fstype, target, flags, data) in list {
        if sys::is_mountpoint(target) {
            continue;
        }
        let r =
            sys::mkdir(target, 0o755).and_then(|()| sys::mount(fstype, target, fstype, flags, Some(data)));
        if let Err(e) = r {
            log.warn_unable(b"mount", e, Some(target.to_bytes()));
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
        let Some(setting) = strip(word, b"dmzkit.") else { continue };
        let Some(eq_at) = setting.iter().position(|&b| b == b'=') else { continue };
        let (key, value) = (&setting[..eq_at], &setting[eq_at + 1..]);
        if eq(key, b"config") {
            if value.len() < boot.config.len() {
                boot.config[..value.len()].copy_from_slice(value);
            }
        } else if eq(key, b"on_error") {
            boot.on_error = Action::from_name(value).filter(|&a| a != Action::Ignore);
        } else if eq(key, b"error_delay") {
            boot.error_delay_s = init::text::number(value, 999_999);
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

/// Nothing can be supervised without signals: say so, wait, reboot (again and again, should
/// reboot(2) fail: PID 1 never exits).
fn unrecoverable(log: &Log, what: &[u8], e: Errno) -> ! {
    log.error_unable(what, e, None);
    loop {
        let delay = rustix::thread::Timespec { tv_sec: DEFAULT_ERROR_DELAY_S as _, tv_nsec: 0 };
        let _ = rustix::thread::nanosleep(&delay);
        sys::sync();
        sys::reboot(Reboot::Restart);
    }
}

impl System {
    /// The config file's path.
    fn config_path(&self) -> &CStr {
        sys::cstr(&self.path).filter(|p| !p.is_empty()).unwrap_or(CONFIG_PATH)
    }

    /// Reads the config file and checks it; else `l` says what is wrong.
    fn read_config(&self, l: &mut Line) -> Option<Mapping> {
        let path = self.config_path();
        match sys::load_mapping(path, MAX_CONFIG_LEN) {
            Err(e) => crate::log::unable(l, b"read config", e, Some(path.to_bytes())),
            Ok((m, n)) => match Config::decode(&m[..n]) {
                Ok(_) if n == m.len() => return Some(m),
                Ok(_) => crate::log::unable(l, b"read config", sys::EINVAL, Some(b"file changed")),
                Err(bad) => crate::log::unable(l, b"load config", sys::EINVAL, Some(bad.text().as_bytes())),
            },
        }
        None
    }

    /// The config of a mapping [`System::read_config`] checked.
    fn decoded<'b>(&mut self, blob: &'b [u8]) -> Config<'b> {
        match Config::decode(blob) {
            Ok(c) => c,
            Err(bad) => {
                self.fatal(None, b"unable to load config: % (%)", &[E(sys::EINVAL), S(bad.text().as_bytes())])
            }
        }
    }

    /// The config's mounts, in order, each target created first; fatal on any error.
    fn mount_extra(&mut self, cfg: &Config) {
        for m in cfg.mounts.iter() {
            // Decoding checked that each ends in its NUL.
            let (src, target, fstype) = (sys::c(m.source), sys::c(m.target), sys::c(m.fstype));
            let data = sys::cstr(m.data);
            if let Err(e) =
                sys::mkdir(target, 0o755).and_then(|()| sys::mount(src, target, fstype, m.flags, data))
            {
                self.fatal(Some(cfg), b"unable to mount: % (%)", &[E(e), S(target.to_bytes())]);
            }
            self.log.info(b"mounted %", &[S(target.to_bytes())]);
        }
    }

    /// Starts a task and waits for it, up to its timeout; then its process group gets
    /// SIGKILL and boot goes on once it is reaped (or after [`KILL_WAIT_MS`]: one stuck in
    /// an uninterruptible sleep never is). A shutdown signal meanwhile shuts down at once.
    fn run_task(&mut self, cfg: &Config, i: usize, u: &Unit) {
        let out = (&mut self.out, &mut self.events, MAX_UNITS + i); // its output index
        let Some(pid) = start(&self.log, b"task", u, self.mask, out, false, None) else {
            self.tasks[i].state = State::Failed;
            return;
        };
        self.tasks[i] = Svc { pid, started: now(), state: State::Starting, ..IDLE };
        let mut deadline = match u.timeout_ms {
            0 => NEVER,
            ms => now() + ms as u64,
        };
        let mut killed = false;
        loop {
            match self.events.next(deadline) {
                Event::Exited(p, exit) if p == pid => {
                    let t = &mut self.tasks[i];
                    *t = Svc { pid: 0, last: Some(exit), state: ended(exit), ..*t };
                    return self.log.info(b"task % %", &[S(u.name), X(exit)]);
                }
                Event::Signal(sig) => self.signal(cfg, sig), // a shutdown at once
                Event::Timeout if !killed => {
                    self.log.warn(b"task % timeout, killing pid %", &[S(u.name), N(pid as u64)]);
                    signal_service(pid, SIGKILL);
                    killed = true;
                    deadline = now() + KILL_WAIT_MS;
                }
                Event::Timeout => return self.tasks[i].state = State::Failed,
                event => {
                    self.handle(cfg, event, true);
                }
            }
        }
    }

    /// Opens the watchdog, sets its timeout, and hands it to the event loop to keep alive.
    fn arm_watchdog(&mut self, cfg: &Config) {
        let Some(w) = &cfg.watchdog else { return };
        let dev = sys::c(w.device);
        let fd = match sys::watchdog_open(dev) {
            Ok(fd) => fd,
            Err(e) => return self.log.warn_unable(b"open watchdog", e, Some(dev.to_bytes())),
        };
        let f = rustix::fd::AsFd::as_fd(&fd);
        if w.timeout_s != 0 {
            if let Err(e) = sys::watchdog_set_timeout(f, w.timeout_s) {
                self.log.warn_unable(b"set watchdog timeout", e, Some(dev.to_bytes()));
            }
        }
        // What the driver runs with, which may not be what was asked: it may refuse a timeout
        // above its maximum, or round it.
        let timeout_s = sys::watchdog_get_timeout(f);
        if let (Ok(t), true) = (timeout_s, w.timeout_s != 0) {
            if t != w.timeout_s {
                self.log.warn(b"watchdog timeout is % s, not % s", &[N(t as u64), N(w.timeout_s as u64)]);
            }
        }
        let interval_ms = w.keepalive_ms(timeout_s.ok());
        self.events.watch(fd, interval_ms);
        self.log
            .info(b"watchdog % armed, keep-alive every % ms", &[S(dev.to_bytes()), N(interval_ms as u64)]);
    }

    /// Stops what is overdue (ready timeouts, watchdogs), then starts every service whose
    /// time has come and whose dependencies are ready; returns the next time something is
    /// due. (A service waiting for a dependency is looked at again after the next event.)
    #[inline(never)]
    fn start_due(&mut self, cfg: &Config) -> u64 {
        let mut next = NEVER;
        let mut t = now();
        let (mut blocked, mut started) = (false, false);
        for (i, u) in cfg.services.iter().enumerate() {
            let due = self.overdue(cfg, i, &u, t);
            if due == 0 {
                t = now(); // it waited for a stop: starts from here on are stamped later
            }
            next = next.min(due);
            if self.svcs[i].due > t {
                next = next.min(self.svcs[i].due);
                continue;
            }
            if !self.may_start(cfg, i, &u) {
                blocked = true;
                continue;
            }
            let keep = self.channel(i, &u);
            let s = &mut self.svcs[i];
            s.due = NEVER;
            s.started = t;
            let out = (&mut self.out, &mut self.events, i);
            let keep = keep.as_ref().map(|(w, n)| (w.as_raw_fd(), *n));
            match start(&self.log, b"service", &u, self.mask, out, self.cgroup, keep) {
                Some(pid) => {
                    s.pid = pid;
                    if self.cgroup {
                        cgroup::check_oom(None, u.name, &mut s.oom); // an earlier run's
                    }
                    ready::Rd::started(s, &u, t);
                    started |= s.state == State::Ready; // may unblock one looked at before
                }
                None => schedule(&self.log, &u, s, t),
            }
            next = next.min(s.due);
        }
        if blocked && started {
            next = 0; // another turn at once
        }
        next
    }

    /// A child was reaped: if it was a service, log it and apply its restart policy.
    /// During shutdown (`stopping`) nothing is restarted.
    /// A service being stopped (shutdown, `init stop`, reload) is not restarted.
    fn exited(&mut self, cfg: &Config, pid: i32, exit: Exit) {
        let t = now();
        let Some(i) = self.svcs.iter().position(|s| s.pid == pid).filter(|&i| i < cfg.services.len()) else {
            return; // an orphan re-parented to init, or a task that outlived a shutdown signal
        };
        let (Some(u), s) = (cfg.services.get(i), &mut self.svcs[i]) else { return };
        s.pid = 0;
        s.last = Some(exit);
        self.log.info(b"service % %", &[S(u.name), X(exit)]);
        if self.cgroup {
            cgroup::kill(u.name); // the rest of the service: its main process is gone
            cgroup::check_oom(Some(&self.log), u.name, &mut s.oom);
        }
        if s.state == State::Stopping && s.rd.flags & ready::SELF_STOP == 0 {
            s.state = State::Stopped;
            return;
        }
        s.state = ended(exit);
        let again = match u.restart {
            Restart::Always => true,
            Restart::OnFailure => exit != Exit::Code(0),
            Restart::Never => false,
        };
        if again && !self.stopping {
            if t - s.started >= u.restart_delay_max_ms.max(HEALTHY_RUN_MS) as u64 {
                s.restarts = 0; // it ran long enough to count as healthy
            }
            schedule(&self.log, &u, s, t);
        }
        if s.state == State::Failed {
            self.stop_dependents(cfg, u.name); // failed for good
        }
    }

    /// Supervises the services of `cfg` until a reload replaces it: returns the new config's
    /// mapping, whose services are already in `svcs`.
    fn supervise(&mut self, cfg: &Config) -> Mapping {
        loop {
            let deadline = self.start_due(cfg);
            let event = match self.deferred.trailing_zeros() {
                64 => self.events.next(deadline),
                bit => {
                    self.deferred &= !(1 << bit);
                    Event::Signal(bit as u8 + 1)
                }
            };
            if let Some(m) = self.handle(cfg, event, false) {
                return m;
            }
        }
    }

    /// What every wait does with an event: a child reaped, a request answered (only `status`
    /// while `busy`), a watched fd read, a signal handled (while `busy`, kept for the loop:
    /// during shutdown there is nothing more to do for it). Returns the new config's mapping
    /// after a reload.
    #[inline(never)]
    fn handle(&mut self, cfg: &Config, event: Event, busy: bool) -> Option<Mapping> {
        match event {
            Event::Exited(pid, exit) => self.exited(cfg, pid, exit),
            Event::Signal(sig) if busy => self.deferred |= 1 << (sig.wrapping_sub(1) & 63),
            Event::Signal(SIGHUP) => return self.reload(cfg, None),
            Event::Signal(sig) => self.signal(cfg, sig),
            Event::Request(req) => return self.serve(cfg, req, busy),
            Event::Readable(slot) => self.readable(cfg, slot),
            Event::NoChildren | Event::Timeout => {}
        }
        None
    }

    /// Answers a control request. While init waits for something (a task, a stop) it is
    /// `busy`: only `status` is served then. Returns the new config's mapping after a reload.
    fn serve(&mut self, cfg: &Config, req: Request, busy: bool) -> Option<Mapping> {
        let Some((word, name)) = req.words() else {
            req.reply(control::FAILED, b"bad request", b"");
            return None;
        };
        // The reply's code and message, a template whose `%` is the name.
        let (code, message): (u8, &[u8]) = if eq(word, b"status") {
            if self.status(cfg, &req, name) {
                return None;
            }
            (control::FAILED, b"no such service or task: %")
        } else if busy {
            (control::FAILED, b"busy: tasks are running or a service is stopping")
        } else if eq(word, b"reload") {
            return self.reload(cfg, Some(&req));
        } else if let Some((i, u)) = find(cfg.services, name) {
            let stop = eq(word, b"stop");
            if stop || eq(word, b"restart") {
                self.stop(cfg, i, &u);
            }
            if stop {
                self.stop_dependents(cfg, u.name); // those that require it
            }
            let s = &mut self.svcs[i % MAX_UNITS]; // i < MAX_UNITS: no bounds check to pay
            if stop {
                s.due = NEVER;
                if s.pid == 0 {
                    s.state = State::Stopped;
                }
            } else if s.pid == 0 && s.state != State::Stopping {
                s.due = 0; // started by the loop, before it serves the next request
                s.restarts = 0;
                s.state = State::Waiting;
            }
            (control::OK, b"")
        } else {
            (control::FAILED, b"no such service: %")
        };
        let mut l = Line::default();
        format(&mut l, message, &[S(name)]);
        req.reply(code, crate::log::bytes(&l), b"");
        None
    }

    /// `status [NAME]`: a line per task, then per service (or the one named). False, with
    /// nothing sent, when NAME names none.
    fn status(&self, cfg: &Config, req: &Request, name: &[u8]) -> bool {
        let Ok(mut out) = Mapping::new(control::MAX_REPLY) else {
            req.reply(control::FAILED, b"out of memory", b"");
            return true;
        };
        let mut n = 0;
        let t = now();
        for service in [false, true] {
            let (kind, units, svcs): (&[u8], _, _) = if service {
                (b"service", cfg.services, &self.svcs)
            } else {
                (b"task", cfg.tasks, &self.tasks)
            };
            for (j, (u, s)) in units.iter().zip(svcs).enumerate() {
                if !name.is_empty() && !eq(name, u.name) {
                    continue;
                }
                let mut l = Line::default();
                let (how, what) = match s.last {
                    None => (S(b"-"), S(b"")),
                    Some(Exit::Code(c)) => (S(b"status:"), N(c as u64)),
                    Some(Exit::Signal(g)) => (S(b"signal:"), N(g as u64)),
                };
                let up = if s.pid != 0 { t - s.started } else { 0 };
                let (pid, restarts) = (N(s.pid as u64), N(s.total as u64));
                let mut m = [0; 24];
                let mem = cgroup::memory_current(self.cgroup && s.pid != 0 && service, u.name, &mut m);
                // A task has no text (its length stays 0), whichever entry this finds.
                let text = s.rd.status(&self.texts[j % MAX_UNITS]);
                format(
                    &mut l,
                    b"% % % pid=% uptime_ms=% restarts=% last=%% mem=%%\n",
                    &[
                        S(kind),
                        S(u.name),
                        S(STATES[s.state as usize]),
                        pid,
                        N(up),
                        restarts,
                        how,
                        what,
                        S(mem),
                        S(text),
                    ],
                );
                let b = crate::log::bytes(&l);
                if n + b.len() <= out.len() {
                    out[n..n + b.len()].copy_from_slice(b);
                    n += b.len();
                }
            }
        }
        if n == 0 && !name.is_empty() {
            return false;
        }
        req.reply(control::OK, b"", &out[..n]);
        true
    }

    /// Reads the config file again. Refused (one line, on the console and to the client)
    /// when it cannot be read or loaded: the running config stays. Otherwise each service is
    /// matched by name: a removed one is stopped, a changed one (any field or byte of its dmz
    /// config) stopped and started again, an added one started, an unchanged one left as it
    /// is. Tasks run at boot only; their lines are kept by name.
    #[inline(never)]
    fn reload(&mut self, cfg: &Config, req: Option<&Request>) -> Option<Mapping> {
        let mut l = Line::default();
        l.push(b"reload refused: ");
        let m = match self.read_config(&mut l) {
            Some(m) => m,
            None => {
                self.log.error(b"%", &[S(crate::log::bytes(&l))]);
                if let Some(r) = req {
                    r.reply(control::FAILED, crate::log::bytes(&l), b"");
                }
                return None;
            }
        };
        let new = self.decoded(&m);
        self.warn_unlimited(&new);
        // Each old service's index in the new config when it is unchanged there ([`output::NONE`]:
        // removed or changed, stopped first). Services that exit meanwhile are accounted for
        // (and rescheduled) in `svcs`, which is carried over only afterwards.
        let mut to = [output::NONE; output::UNITS]; // output indexes: services, then tasks
        let (mut changed, mut removed) = (0, 0);
        for (i, u) in cfg.services.iter().enumerate() {
            match unchanged_in(new.services, &u) {
                Ok(j) => to[i] = j as u8,
                Err(found) => {
                    if found {
                        changed += 1;
                    } else {
                        removed += 1;
                    }
                    self.stop(cfg, i, &u);
                    self.out.close(&mut self.events, i, &u);
                }
            }
        }
        let mut next = table(Svc { due: 0, ..IDLE }); // an added or changed one starts
        let mut moved = [const { None }; MAX_UNITS];
        let mut texts = [[0; ready::TEXT_LEN]; MAX_UNITS];
        let mut unchanged = 0;
        for (i, &j) in to[..MAX_UNITS].iter().enumerate() {
            let j = j as usize;
            if j < MAX_UNITS {
                next[j] = self.svcs[i];
                texts[j] = self.texts[i];
                moved[j] = self.events.unwatch_fd(Slot::Ready(i)); // fds move with it
                unchanged += 1;
            }
        }
        let mut tasks = table(Svc { state: State::Stopped, ..IDLE });
        for (j, v) in new.tasks.iter().enumerate() {
            if let Some((i, _)) = find(cfg.tasks, v.name) {
                tasks[j] = self.tasks[i];
                to[MAX_UNITS + i] = (MAX_UNITS + j) as u8;
            }
        }
        (self.svcs, self.tasks, self.texts) = (next, tasks, texts);
        self.out.renumber(&mut self.events, &to);
        for (j, fd) in moved.into_iter().enumerate() {
            drop(self.events.unwatch_fd(Slot::Ready(j))); // a changed or removed one's
            if let Some(fd) = fd {
                self.events.watch_fd(Slot::Ready(j), fd);
            }
        }
        // (Saturating: a hand-made config may name two services alike, which the launcher
        // refuses; each old one is counted, and the counts are then no more than a hint.)
        let added = (new.services.len() as u64).saturating_sub(unchanged + changed);
        let mut l = Line::default();
        format(
            &mut l,
            b"reloaded %: % added, % removed, % changed, % unchanged",
            &[S(self.config_path().to_bytes()), N(added), N(removed), N(changed), N(unchanged)],
        );
        self.log.info(b"%", &[S(crate::log::bytes(&l))]);
        if let Some(r) = req {
            l.push(b"\n");
            r.reply(control::OK, b"", crate::log::bytes(&l));
        }
        Some(m)
    }

    /// A watched fd of a task or service is readable.
    fn readable(&mut self, cfg: &Config, slot: Slot) {
        let done = match slot {
            Slot::Ready(i) => self.ready_readable(cfg, i),
            _ => {
                let k = self.out.owner(slot); // captured output: the pipe's unit
                let unit = if k < MAX_UNITS { cfg.services.get(k) } else { cfg.tasks.get(k - MAX_UNITS) };
                unit.map(|u| self.out.read(&mut self.events, slot, &u)).is_none()
            }
        };
        if done {
            drop(self.events.unwatch_fd(slot));
        }
    }

    /// Without cgroups, a warning for each service with cgroup limits.
    fn warn_unlimited(&self, cfg: &Config) {
        if !self.cgroup {
            cgroup::warn_unlimited(&self.log, cfg.services);
        }
    }

    /// A signal in the loop: a shutdown request, or nothing.
    fn signal(&mut self, cfg: &Config, sig: u8) {
        match requested(sig, cfg.ctrl_alt_del) {
            Some(action) => self.shutdown(Some(cfg), action),
            None => self.log.info(b"ignoring signal %", &[N(sig as u64)]),
        }
    }

    /// A failure before the loop: report it, wait the configured delay (still reaping), then
    /// the configured shutdown.
    fn fatal(&mut self, cfg: Option<&Config>, template: &[u8], args: &[Arg]) -> ! {
        self.log.error(template, args);
        let action = self.on_error;
        self.log.error(b"% in % s", &[S(action.name().as_bytes()), N(self.error_delay_s as u64)]);
        let deadline = now() + self.error_delay_s as u64 * 1000;
        while !matches!(self.events.next(deadline), Event::Timeout) {}
        self.shutdown(cfg, action)
    }

    /// The ordered shutdown: services in reverse order (stop signal, timeout, SIGKILL), then
    /// every other process (SIGTERM, grace, SIGKILL), sync, unmount or remount read-only,
    /// watchdog magic close, reboot(2). If reboot(2) fails, init stays up reaping.
    #[inline(never)]
    #[rustfmt::skip]
    fn shutdown(&mut self, cfg: Option<&Config>, action: Action) -> ! {
        self.log.info(b"shutdown: %", &[S(action.name().as_bytes())]);
        self.stopping = true;                                  // nothing restarts from here on
        if let Some(cfg) = cfg {
            for i in (0..cfg.services.len()).rev() {
                if let (Some(u), true) = (cfg.services.get(i), self.svcs[i].pid != 0) {
                    self.stop(cfg, i, &u);                     // stop signal, timeout, SIGKILL
                }
            }
        }
        let grace = cfg.map_or(DEFAULT_GRACE_MS, |c| c.shutdown_grace_ms) as u64;
        self.kill_everyone(cfg, SIGTERM, grace);               // the rest: TERM, grace,
        self.kill_everyone(cfg, SIGKILL, KILL_WAIT_MS);        // then KILL
        self.out.renumber(&mut self.events, &[output::NONE; output::UNITS]); // pipes closed
        sys::sync();                                           // flush before unmounting
        unmount_all(&self.log);                                // or remount read-only
        sys::sync();
        if let Some(fd) = self.events.unwatch() {
            sys::watchdog_magic_close(fd);                     // 'V': an orderly stop
        }
        self.log.info(b"% now", &[S(action.name().as_bytes())]);
        let e = sys::reboot(match action {
            Action::PowerOff => Reboot::PowerOff,
            Action::Halt => Reboot::Halt,
            Action::Reboot | Action::Ignore => Reboot::Restart,
        });
        self.log.error_unable(action.name().as_bytes(), e, None);
        loop {
            self.events.next(NEVER);                           // PID 1 never exits
        }
    }

    /// Stops service `i`: its stop signal to its process group, up to its stop timeout, then
    /// SIGKILL. Other children reaped meanwhile are accounted for.
    #[inline(never)]
    fn stop(&mut self, cfg: &Config, i: usize, u: &Unit) {
        let pid = self.svcs[i].pid;
        if pid == 0 {
            return;
        }
        self.svcs[i].state = State::Stopping;
        self.svcs[i].rd.flags &= !ready::SELF_STOP; // a stop by init, whatever it said
        let (name, sig) = (S(u.name), N(u.stop_signal as u64));
        self.log.info(b"service % stopping pid % signal %", &[name, N(pid as u64), sig]);
        self.end(cfg, pid, u, u.stop_signal);
    }

    /// Reaps until `pid` is gone (true) or the deadline passes (false).
    /// Control clients are answered meanwhile, as busy; signals wait for the loop (during
    /// shutdown there is nothing more to do for them).
    fn wait_for(&mut self, cfg: &Config, pid: i32, deadline: u64) -> bool {
        loop {
            let event = self.events.next(deadline);
            let gone = matches!(event, Event::Exited(p, _) if p == pid);
            if matches!(event, Event::Timeout) {
                return false;
            }
            self.handle(cfg, event, true);
            if gone {
                return true;
            }
        }
    }

    /// `sig` to every process but init, then reaping until none is left or `wait_ms` passed.
    /// Captured output meanwhile is read (with `cfg`; without, its pipes are closed).
    fn kill_everyone(&mut self, cfg: Option<&Config>, sig: u8, wait_ms: u64) {
        if sys::kill_all(sig).is_err() {
            return; // ESRCH: nobody left
        }
        self.log.info(b"sent signal % to all processes", &[N(sig as u64)]);
        self.events.rescan();
        let deadline = now() + wait_ms;
        loop {
            match (self.events.next(deadline), cfg) {
                (Event::NoChildren | Event::Timeout, _) => return,
                (Event::Readable(slot), Some(cfg)) => self.readable(cfg, slot),
                (Event::Readable(slot), None) => drop(self.events.unwatch_fd(slot)),
                _ => {}
            }
        }
    }
}

/// The unit named `name` and its index.
#[inline(never)]
fn find<'a>(units: List<'a, Unit<'a>>, name: &[u8]) -> Option<(usize, Unit<'a>)> {
    units.iter().enumerate().find(|(_, u)| eq(u.name, name))
}

/// The index of `u` among `units` if it is there unchanged; else whether one of its name is.
#[inline(never)]
fn unchanged_in(units: List<Unit>, u: &Unit) -> Result<usize, bool> {
    match find(units, u.name) {
        Some((j, v)) if v == *u => Ok(j),
        found => Err(found.is_some()),
    }
}

/// The state after a run that ended with `exit` and is not restarted.
fn ended(exit: Exit) -> State {
    match exit {
        Exit::Code(0) => State::Stopped,
        _ => State::Failed,
    }
}

/// Sets when service `s` starts again after a run that ended at `t`: the configured delay,
/// doubled for each consecutive restart, capped; or never, past the restart limit.
fn schedule(log: &Log, u: &Unit, s: &mut Svc, t: u64) {
    if u.restart_limit != 0 && s.restarts >= u.restart_limit {
        s.state = State::Failed;
        log.warn(b"service % failed: restart limit reached", &[S(u.name)]);
        return;
    }
    let first = u.restart_delay_ms.max(MIN_RESTART_DELAY_MS) as u64;
    let delay = (first << s.restarts.min(31)).min((u.restart_delay_max_ms as u64).max(first));
    s.restarts += 1;
    s.total += 1;
    s.state = State::Backoff;
    s.due = t + delay;
    log.info(b"service % restart % in % ms", &[S(u.name), N(s.restarts as u64), N(delay)]);
}

/// Signals a service's process group (it is the leader of its own session), or the process
/// alone if it has not called setsid yet.
fn signal_service(pid: i32, sig: u8) {
    if sys::kill_group(pid, sig).is_err() {
        let _ = sys::kill(pid, sig);
    }
}

/// Starts a task or service (`kind`), logging it, its output captured if it says so (`k`:
/// its output index); `None` if fork failed. `keep`: a fd the child puts on another number
/// and keeps (the readiness pipe).
#[inline(never)]
fn start(
    log: &Log,
    kind: &[u8],
    u: &Unit,
    mask: SigSet,
    (out, ev, k): (&mut Captured, &mut Events, usize),
    cgroup: bool,
    keep: Option<(i32, i32)>,
) -> Option<i32> {
    let pipe = out.pipe(ev, k, u);
    match child::spawn(|| unit_child(u, mask, pipe.as_ref(), cgroup, keep)) {
        Ok(pid) => {
            out.started(k, pid);
            log.info(b"% % started pid %", &[S(kind), S(u.name), N(pid as u64)]);
            Some(pid)
        }
        Err(e) => {
            log.warn(b"% %: unable to fork: %", &[S(kind), S(u.name), E(e)]);
            None
        }
    }
}

/// The child of a task or service: its output's pipe on fds 1 and 2 (when captured), its own
/// session, init's signal mask, its cgroup (a service, with cgroups), the dmz transition.
#[inline(never)]
fn unit_child(
    u: &Unit,
    mask: SigSet,
    out: Option<&rustix::fd::OwnedFd>,
    cgroup: bool,
    keep: Option<(i32, i32)>,
) -> i32 {
    let detached =
        output::redirect(out).and_then(|()| ready::child_fd(keep)).and_then(|keep| child::detach(mask, keep));
    if let Err(status) = detached {
        return status;
    }
    if cgroup {
        if let Err(status) = cgroup::enter(u.name, u.cgroup) {
            return status; // fails closed
        }
    }
    child::run_dmz(u.dmz, None)
}

/// Largest mount table read at shutdown: far above what the kernel's default mount limit
/// (fs.mount-max, 100000 mounts) makes of it with ordinary paths.
const MAX_MOUNT_TABLE: usize = 64 << 20;

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
    let (buf, mut end) = match sys::read_whole(c"/proc/self/mounts", MAX_MOUNT_TABLE) {
        Ok(x) => x,
        Err(e) => return log.warn_unable(b"read /proc/self/mounts", e, None),
    };
    let initial_ns = sys::in_initial_pid_namespace();
    let mut path = [0u8; PATH_MAX];
    while end > 0 {
        // The last line not yet handled: "source target fstype options 0 0".
        let start = buf[..end - 1].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut fields = buf[start..end].split(|&b| b == b' ');
        end = start;
        let (Some(_), Some(target), Some(fstype)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if VIRTUAL.split(|&c| c == b' ').any(|v| eq(v, fstype)) {
            continue;
        }
        let Some(p) = unescape(target, &mut path) else { continue };
        match sys::unmount(p) {
            Ok(()) => log.info(b"unmounted %", &[S(p.to_bytes())]),
            Err(_) if initial_ns => match sys::remount_read_only(p) {
                Ok(()) => log.info(b"remounted read-only %", &[S(p.to_bytes())]),
                Err(e) => log.warn_unable(b"remount read-only", e, Some(p.to_bytes())),
            },
            Err(e) => log.warn_unable(b"unmount", e, Some(p.to_bytes())),
        }
    }
}

/// The longest path the kernel takes, its NUL included (PATH_MAX in linux/limits.h).
const PATH_MAX: usize = linux_raw_sys::general::PATH_MAX as usize;

/// A mount point from /proc/self/mounts, where space, tab, newline and backslash appear as
/// octal escapes (`\040`), decoded into `path` as a C string; `None` when it does not fit
/// (umount2 would refuse it too: ENAMETOOLONG).
fn unescape<'p>(field: &[u8], path: &'p mut [u8; PATH_MAX]) -> Option<&'p CStr> {
    let (mut i, mut n) = (0, 0);
    while i < field.len() && n + 1 < path.len() {
        let mut b = field[i];
        i += 1;
        if b == b'\\' && i + 3 <= field.len() {
            b = field[i..i + 3]
                .iter()
                .fold(0u8, |v, &d| v.wrapping_mul(8).wrapping_add(d.wrapping_sub(b'0')));
            i += 3;
        }
        path[n] = b;
        n += 1;
    }
    path[n] = 0;
    sys::cstr(&path[..=n]).filter(|_| i == field.len())
}
