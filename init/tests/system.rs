//! System mode on the host, inside new pid, mount, UTS, network and IPC namespaces, with a
//! fresh tmpfs as its root (static busybox for the services): early mounts, services with
//! their own uid and capabilities, restarts with backoff, a crash loop that stays cheap, the
//! ordered shutdown, and the end the kernel gives a pid namespace's init on reboot(2).
//!
//! The root holds only virtual filesystems, and init remounts filesystems read-only only in
//! the initial pid namespace, so nothing here can touch the host's filesystems.

mod common;

use common::*;
use init::config::{Action, Config, List, Mount, Output, Restart, Unit};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SIGHUP: i32 = 1;
const SIGINT: i32 = 2;
const NET_BIND_SERVICE: u64 = 1 << 10;

/// A unit running `sh -c script` as `uid` with `caps` (bounding = all sets), PATH=/bin.
struct Spec {
    name: &'static str,
    script: String,
    uid: u32,
    caps: Option<u64>,
    restart: Restart,
    delay_ms: u32,
    delay_max_ms: u32,
    limit: u32,
    stop_signal: u8,
    stop_timeout_ms: u32,
    /// Fds the unit's dmz config preserves.
    preserve_fds: Vec<u32>,
    /// A task's timeout (0: none).
    timeout_ms: u32,
    output: Output,
    /// With its NUL; empty: none.
    log_file: Vec<u8>,
    log_max_bytes: u32,
    /// A service's cgroup values (init::config::Unit::cgroup).
    cgroup: &'static [u8],
    /// Readiness (0 started, 1 notify, n: fd n), its timeout, the watchdog, dependencies
    /// (names, each followed by a space).
    ready: u32,
    ready_timeout_ms: u32,
    watchdog_ms: u32,
    after: &'static str,
    requires: &'static str,
}

fn spec(name: &'static str, script: &str) -> Spec {
    Spec {
        name,
        script: script.to_string(),
        uid: 0,
        caps: None,
        restart: Restart::Never,
        delay_ms: 100,
        delay_max_ms: 1000,
        limit: 0,
        stop_signal: 15,
        stop_timeout_ms: 2000,
        preserve_fds: vec![],
        timeout_ms: 0,
        output: Output::Console,
        log_file: vec![],
        log_max_bytes: 0,
        cgroup: b"",
        ready: 0,
        ready_timeout_ms: 0,
        watchdog_ms: 0,
        after: "",
        requires: "",
    }
}

/// [`spec`] with its output captured, to `log_file` (none if empty) rotated at `max` bytes.
fn captured(name: &'static str, script: &str, log_file: &str, max: u32) -> Spec {
    let log_file = if log_file.is_empty() { vec![] } else { z(log_file) };
    Spec { output: Output::Capture, log_file, log_max_bytes: max, ..spec(name, script) }
}

/// Everything a boot needs besides the units.
struct Setup {
    hostname: &'static str,
    on_error: Action,
    error_delay_s: u32,
    grace_ms: u32,
    mounts: Vec<(&'static str, &'static str, &'static str, u64, &'static str)>,
    tasks: Vec<Spec>,
    services: Vec<Spec>,
    /// Argument list for the dmz config of a unit: `sh -c script` unless replaced.
    raw_args: Vec<(&'static str, Vec<&'static str>)>,
}

fn setup() -> Setup {
    Setup {
        hostname: "dmzkit-test",
        on_error: Action::PowerOff,
        error_delay_s: 1,
        grace_ms: 500,
        // The host's cgroup2 hierarchy is not the tests' to change: with something mounted on
        // /sys/fs/cgroup, init runs without cgroups (the QEMU suite tests them).
        mounts: vec![("tmpfs", "/sys/fs/cgroup", "tmpfs", 0, "size=4k")],
        tasks: vec![],
        services: vec![],
        raw_args: vec![],
    }
}

fn z(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn unit<'a>(s: &'a Spec, b: &'a [u8]) -> Unit<'a> {
    Unit {
        name: s.name.as_bytes(),
        dmz: b,
        restart: s.restart,
        restart_delay_ms: s.delay_ms,
        restart_delay_max_ms: s.delay_max_ms,
        restart_limit: s.limit,
        stop_signal: s.stop_signal,
        stop_timeout_ms: s.stop_timeout_ms,
        timeout_ms: s.timeout_ms,
        output: s.output,
        log_file: &s.log_file,
        log_max_bytes: s.log_max_bytes,
        cgroup: s.cgroup,
        ready: s.ready,
        ready_timeout_ms: s.ready_timeout_ms,
        watchdog_ms: s.watchdog_ms,
        after: s.after.as_bytes(),
        requires: s.requires.as_bytes(),
    }
}

impl Setup {
    /// The compiled config, encoded with init's own encoder.
    fn encode(&self) -> Vec<u8> {
        let blob = |s: &Spec| {
            let args: Vec<&str> = match self.raw_args.iter().find(|(n, _)| *n == s.name) {
                Some((_, a)) => a.clone(),
                None => vec!["/bin/sh", "-c", &s.script],
            };
            // What the launcher adds for readiness: the notify socket in the env, the fd kept.
            let notify = format!("NOTIFY_SOCKET=/run/dmzkit/notify/{}", s.name);
            let dog = format!("WATCHDOG_USEC={}", s.watchdog_ms as u64 * 1000);
            let mut env = vec!["PATH=/bin:/sbin"];
            if s.ready == 1 {
                env.extend([notify.as_str(), dog.as_str()]);
            }
            let mut fds = s.preserve_fds.clone();
            if s.ready >= 3 {
                fds.push(s.ready);
            }
            dmz_blob_preserving(&args, &env, s.uid, s.uid, s.caps, false, &fds)
        };
        let task_blobs: Vec<Vec<u8>> = self.tasks.iter().map(blob).collect();
        let svc_blobs: Vec<Vec<u8>> = self.services.iter().map(blob).collect();
        let mount_strs: Vec<[Vec<u8>; 4]> = self
            .mounts
            .iter()
            .map(|&(src, target, fstype, _, data)| {
                [z(src), z(target), z(fstype), if data.is_empty() { vec![] } else { z(data) }]
            })
            .collect();
        let mounts: Vec<Mount> = self
            .mounts
            .iter()
            .zip(&mount_strs)
            .map(|(m, st)| Mount { source: &st[0], target: &st[1], fstype: &st[2], flags: m.3, data: &st[3] })
            .collect();
        let tasks: Vec<Unit> = self.tasks.iter().zip(&task_blobs).map(|(s, b)| unit(s, b)).collect();
        let services: Vec<Unit> = self.services.iter().zip(&svc_blobs).map(|(s, b)| unit(s, b)).collect();
        let cfg = Config {
            hostname: self.hostname.as_bytes(),
            ctrl_alt_del: Action::Reboot,
            on_error: self.on_error,
            error_delay_s: self.error_delay_s,
            shutdown_grace_ms: self.grace_ms,
            watchdog: None,
            mounts: List::Items(&mounts),
            tasks: List::Items(&tasks),
            services: List::Items(&services),
        };
        let mut buf = vec![0u8; 1 << 20];
        let n = cfg.encode(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }
}

/// A booted system: init as PID 1 of new namespaces on a tmpfs root, with its console
/// (stderr) and the services' stdout collected line by line.
struct Booted {
    child: Child,
    console: Arc<Mutex<Vec<(Instant, String)>>>,
    stdout: Arc<Mutex<String>>,
}

/// Stages the root: init, busybox, the config (unless `config` is None).
fn stage(name: &str, config: Option<&[u8]>) -> PathBuf {
    let dir = scratch(name);
    let root = dir.join("root");
    for d in ["bin", "sbin", "etc/dmzkit", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(init_bin(), root.join("sbin/init")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static is needed (/bin/busybox)");
    for applet in [
        "sh", "sleep", "cat", "echo", "grep", "hostname", "id", "kill", "true", "seq", "setsid", "awk", "wc",
        "ls", "trap", "mount", "mkdir", "readlink", "false", "printf", "yes",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    if let Some(c) = config {
        std::fs::write(root.join("etc/dmzkit/init.pcfg"), c).unwrap();
    }
    dir
}

fn boot(name: &str, config: Option<&[u8]>) -> Booted {
    boot_with(name, config, &[], false)
}

/// [`boot`] with `args` after `/sbin/init` (as the kernel passes words of its command line
/// on), and, with `no_stdio`, fds 0-2 closed (as the kernel starts init when it cannot open
/// /dev/console): then init's console is not the test's.
fn boot_with(name: &str, config: Option<&[u8]>, args: &[&str], no_stdio: bool) -> Booted {
    boot_usr(name, config, args, no_stdio, false)
}

/// [`boot_with`], and with `usr` the host's /usr mounted read-only in the root (for
/// python3, a notify sender).
fn boot_usr(name: &str, config: Option<&[u8]>, args: &[&str], no_stdio: bool, usr: bool) -> Booted {
    require_root();
    let dir = stage(name, config);
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    // A private mount namespace gets a tmpfs root with the staged files; the second unshare
    // makes init PID 1 of new pid/uts/net/ipc namespaces, chrooted there, and re-raises the
    // signal that ended init (util-linux does), so its exit status is init's end.
    let script = format!(
        "mount -t tmpfs -o mode=0755 dmzkit-root {m} && cp -a {r}/. {m}/ && {u}\
         exec unshare --pid --fork --uts --net --ipc --root={m} /sbin/init {a}{c}",
        m = mnt.display(),
        r = dir.join("root").display(),
        a = args.join(" "),
        c = if no_stdio { " 0<&- 1>&- 2>&-" } else { "" },
        u = if usr {
            format!(
                "mkdir {m}/usr && mount --bind /usr {m}/usr && mount -o remount,bind,ro {m}/usr && \
                 ln -s usr/lib {m}/lib && ln -s usr/lib64 {m}/lib64 && ",
                m = mnt.display()
            )
        } else {
            String::new()
        },
    );
    let mut child =
        start(Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c", &script]));
    let console = Arc::new(Mutex::new(Vec::new()));
    let stdout = Arc::new(Mutex::new(String::new()));
    let (c, e) = (console.clone(), child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in BufReader::new(e).lines().map_while(Result::ok) {
            c.lock().unwrap().push((Instant::now(), line));
        }
    });
    let (s, mut o) = (stdout.clone(), child.stdout.take().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = o.read(&mut buf) {
            if n == 0 {
                break;
            }
            s.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    Booted { child, console, stdout }
}

impl Booted {
    /// Waits for a console line satisfying `pred`; returns when it arrived.
    fn wait_line(&self, limit: Duration, pred: impl Fn(&str) -> bool) -> Instant {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((t, _)) = self.console.lock().unwrap().iter().find(|(_, l)| pred(l)) {
                return *t;
            }
            assert!(
                Instant::now() < deadline,
                "no such console line within {limit:?}; console:\n{}",
                self.console_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_for(&self, line: &str) -> Instant {
        self.wait_line(Duration::from_secs(15), |l| l == line)
    }

    fn console_text(&self) -> String {
        self.console.lock().unwrap().iter().map(|(_, l)| format!("{l}\n")).collect()
    }

    /// init's pid in the host's namespace: the only child of the (exec'd) unshare.
    fn init_pid(&self) -> i32 {
        let p = self.child.id();
        let mut kids = String::new();
        assert!(
            eventually(Duration::from_secs(5), || {
                kids = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
                !kids.trim().is_empty()
            }),
            "init did not start"
        );
        kids.trim().parse().unwrap()
    }

    /// Waits for init to end; returns how, and everything printed.
    fn end(&mut self, limit: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the system did not end within {limit:?}; console:\n{}", self.console_text());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        std::thread::sleep(Duration::from_millis(50)); // let the reader threads drain
        let out = self.stdout.lock().unwrap().clone();
        (status, out, self.console_text())
    }
}

impl Drop for Booted {
    /// A failed test must not leave a system running: SIGKILL to a pid namespace's init from
    /// an ancestor namespace ends the whole namespace.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let p = self.child.id();
            if let Ok(kids) = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")) {
                if let Ok(init) = kids.trim().parse::<i32>() {
                    kill(init, 9);
                }
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The console lines of one boot that every boot prints, in order.
fn assert_in_order(lines: &[String], expected: &[&str]) {
    let mut at = 0;
    for e in expected {
        match lines[at..].iter().position(|l| l == e) {
            Some(k) => at += k + 1,
            None => panic!("missing or out of order: {e:?}\nconsole:\n{}", lines.join("\n")),
        }
    }
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn boots_mounts_and_powers_off_like_a_pid_namespace_init() {
    let mut s = setup();
    s.mounts.push(("tmpfs", "/data", "tmpfs", 2 /* MS_NOSUID */, "size=1m,mode=0700"));
    s.tasks.push(spec(
        "probe",
        "cat /proc/self/mounts; echo hostname=$(hostname); echo lo=$(cat /sys/class/net/lo/flags); \
         echo fds=$(ls /proc/self/fd | wc -l); echo pid1=$(cat /proc/1/comm)",
    ));
    s.services.push(spec("stopper", "sleep 0.3; /sbin/init poweroff"));
    let mut b = boot("boot-poweroff", Some(&s.encode()));
    let (status, out, console) = b.end(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(SIGINT), "poweroff in a pid namespace ends init by SIGINT:\n{console}");
    for m in [
        "devtmpfs /dev devtmpfs rw,nosuid",
        "devpts /dev/pts devpts rw,nosuid,noexec",
        "tmpfs /dev/shm tmpfs rw,nosuid,nodev",
        "proc /proc proc rw,nosuid,nodev,noexec",
        "sysfs /sys sysfs rw,nosuid,nodev,noexec",
        "tmpfs /run tmpfs rw,nosuid,nodev",
        "tmpfs /data tmpfs rw,nosuid",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(m)),
            "no mount line starting {m:?}:\n{out}\nconsole:\n{console}"
        );
    }
    assert!(out.contains("size=1024k,mode=700"), "the mount's data reached the kernel:\n{out}");
    assert!(out.contains("hostname=dmzkit-test\n"), "{out}");
    assert!(out.contains("lo=0x9\n"), "lo is up (IFF_UP|IFF_LOOPBACK):\n{out}");
    assert!(out.contains("pid1=init\n"), "{out}");
    let lines: Vec<String> = console.lines().map(String::from).collect();
    assert_in_order(
        &lines,
        &[
            "init: dmzkit init starting",
            "init: config /etc/dmzkit/init.pcfg: 1 tasks, 1 services",
            "init: mounted /data",
            "init: task probe exited status 0",
            "init: shutdown: poweroff",
            "init: poweroff now",
        ],
    );
    assert!(lines.iter().any(|l| l.starts_with("init: task probe started pid ")), "{console}");
    assert!(lines.iter().any(|l| l.starts_with("init: service stopper started pid ")), "{console}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn reboot_and_halt_signals_end_it_as_the_kernel_does() {
    // SIGTERM: reboot → the kernel ends the namespace's init as if by SIGHUP.
    // SIGUSR1: halt → SIGINT.  SIGUSR2 is poweroff (above).  SIGINT is ctrl-alt-del → reboot.
    for (sig, action, ended_by) in [(15, "reboot", SIGHUP), (10, "halt", SIGINT), (2, "reboot", SIGHUP)] {
        let mut s = setup();
        s.services.push(spec("idle", "exec sleep 100"));
        let mut b = boot(&format!("boot-signal-{sig}"), Some(&s.encode()));
        b.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service idle started pid "));
        kill(b.init_pid(), sig);
        let (status, _, console) = b.end(Duration::from_secs(20));
        assert_eq!(status.signal(), Some(ended_by), "signal {sig}:\n{console}");
        assert!(console.contains(&format!("init: shutdown: {action}\n")), "{console}");
        assert!(console.contains("init: service idle stopping pid "), "{console}");
        assert!(console.contains("init: service idle killed signal 15\n"), "{console}");
    }
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn services_run_with_their_own_uid_and_capabilities() {
    let mut s = setup();
    let mut a = spec("web", "");
    a.uid = 1000;
    a.caps = Some(NET_BIND_SERVICE);
    let mut b = spec("worker", "");
    b.uid = 2000;
    b.caps = Some(0);
    let mut root = spec("rooty", "");
    root.caps = None;
    s.services = vec![a, b, root];
    // Each probe is cat itself (exec'd by dmz), so /proc/self is the service.
    for n in ["web", "worker", "rooty"] {
        s.raw_args.push((n, vec!["/bin/cat", "/proc/self/status"]));
    }
    s.services.push(spec("stopper", "sleep 0.5; /sbin/init poweroff"));
    let mut boot = boot("boot-creds", Some(&s.encode()));
    let (status, out, console) = boot.end(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(SIGINT), "{console}");
    let dumps: Vec<&str> = out.split("Name:").filter(|d| d.contains("Uid:")).collect();
    assert_eq!(dumps.len(), 3, "{out}");
    let by_uid = |uid: &str| {
        *dumps
            .iter()
            .find(|d| status_line(d, "Uid").unwrap() == format!("Uid: {uid} {uid} {uid} {uid}"))
            .unwrap_or_else(|| panic!("no probe ran as {uid}:\n{out}"))
    };
    let web = by_uid("1000");
    assert_eq!(status_line(web, "Gid").unwrap(), "Gid: 1000 1000 1000 1000");
    for k in ["CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_line(web, k).unwrap(), format!("{k}: 0000000000000400"));
    }
    let worker = by_uid("2000");
    for k in ["CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_line(worker, k).unwrap(), format!("{k}: 0000000000000000"));
    }
    let rooty = by_uid("0");
    assert_ne!(status_line(rooty, "CapEff").unwrap(), "CapEff: 0000000000000000");
    for d in [web, worker, rooty] {
        assert_eq!(status_line(d, "NoNewPrivs").unwrap(), "NoNewPrivs: 0");
        // Its own session: the service is not in init's process group or session.
        let sid: Vec<&str> =
            d.lines().filter(|l| l.starts_with("NSsid:") || l.starts_with("NSpgid:")).collect();
        let pid = status_line(d, "NSpid").unwrap();
        let pid = pid.rsplit(' ').next().unwrap();
        for l in sid {
            assert_eq!(l.split_whitespace().last().unwrap(), pid, "{l}");
        }
    }
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn failed_services_restart_with_exponential_backoff_up_to_the_limit() {
    let mut s = setup();
    let mut c = spec("crasher", "exit 3");
    c.restart = Restart::OnFailure;
    c.delay_ms = 200;
    c.delay_max_ms = 1600;
    c.limit = 4;
    let mut ok = spec("once", "exit 0");
    ok.restart = Restart::OnFailure;
    let mut always = spec("always", "exit 0");
    always.restart = Restart::Always;
    always.delay_ms = 300;
    always.delay_max_ms = 300;
    always.limit = 2;
    let mut never = spec("never", "exit 1");
    never.restart = Restart::Never;
    s.services = vec![c, ok, always, never];
    let mut b = boot("boot-backoff", Some(&s.encode()));
    b.wait_for("init: warning: service crasher failed: restart limit reached");
    kill(b.init_pid(), 12);
    let pid_line = |l: &str| l.starts_with("init: service crasher started pid ");
    let console = b.console.lock().unwrap().clone();
    let starts: Vec<Instant> = console.iter().filter(|(_, l)| pid_line(l)).map(|(t, _)| *t).collect();
    assert_eq!(starts.len(), 5, "first run and 4 restarts:\n{}", b.console_text());
    for (k, want) in [200u64, 400, 800, 1600].iter().enumerate() {
        let gap = starts[k + 1] - starts[k];
        assert!(
            gap >= Duration::from_millis(want - 30) && gap < Duration::from_millis(want + 700),
            "restart {}: {gap:?} after the previous start, expected {want} ms",
            k + 1
        );
    }
    let (status, _, text) = b.end(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(SIGINT));
    let lines: Vec<String> = text.lines().map(String::from).collect();
    assert_in_order(
        &lines,
        &[
            "init: service crasher exited status 3",
            "init: service crasher restart 1 in 200 ms",
            "init: service crasher restart 2 in 400 ms",
            "init: service crasher restart 3 in 800 ms",
            "init: service crasher restart 4 in 1600 ms",
            "init: warning: service crasher failed: restart limit reached",
        ],
    );
    let count = |l: &str| lines.iter().filter(|x| *x == l).count();
    assert_eq!(count("init: service once exited status 0"), 1, "on-failure does not restart a success");
    assert_eq!(count("init: service never exited status 1"), 1, "never does not restart");
    assert_eq!(
        count("init: service always exited status 0"),
        3,
        "always restarts a success, up to the limit"
    );
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_crash_looping_service_does_not_eat_the_cpu() {
    let mut s = setup();
    let mut c = spec("loop", "exit 1");
    c.restart = Restart::Always;
    c.delay_ms = 0; // init still waits its minimum of 100 ms, then backs off to the maximum
    c.delay_max_ms = 500;
    s.services.push(c);
    let mut b = boot("boot-crashloop", Some(&s.encode()));
    b.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service loop started pid "));
    let pid = b.init_pid();
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let f: Vec<u64> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|x| x.parse().unwrap())
            .collect();
        f[0] + f[1] // utime + stime, in clock ticks (100 per second)
    };
    let (c0, t0) = (cpu(), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let (ticks, wall) = (cpu() - c0, t0.elapsed());
    kill(pid, 12);
    let (_, _, console) = b.end(Duration::from_secs(20));
    let starts = console.lines().filter(|l| l.starts_with("init: service loop started pid ")).count();
    // 100, 200, 400, then 500 ms apart: about 8 starts in 3.5 s, never hundreds.
    assert!((5..=12).contains(&starts), "{starts} starts:\n{console}");
    assert!(ticks <= 15, "init used {ticks} ticks of CPU in {wall:?}");
    assert!(console.contains("init: service loop restart 1 in 100 ms\n"), "{console}");
    assert!(console.contains("in 500 ms\n"), "the backoff reaches its maximum:\n{console}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn ordered_shutdown_stops_services_in_reverse_with_timeouts() {
    let mut s = setup();
    s.grace_ms = 500;
    // "first" leaves a daemon in a session of its own that ignores SIGTERM: only the final
    // SIGKILL to everyone ends it.
    s.services.push(spec(
        "first",
        "setsid sh -c 'trap \"\" TERM; while :; do sleep 0.05; done' & \
         trap 'echo first got TERM; exit 0' TERM; while :; do sleep 0.05; done",
    ));
    let mut stubborn =
        spec("stubborn", "trap 'echo stubborn ignores TERM' TERM; while :; do sleep 0.05; done");
    stubborn.stop_timeout_ms = 1000;
    let mut hup = spec("hupper", "trap 'echo hupper got HUP; exit 0' HUP; while :; do sleep 0.05; done");
    hup.stop_signal = 1;
    s.services = vec![s.services.remove(0), stubborn, hup];
    let mut b = boot("boot-shutdown", Some(&s.encode()));
    b.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service hupper started pid "));
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    kill(b.init_pid(), 12);
    let (status, out, console) = b.end(Duration::from_secs(20));
    let took = t0.elapsed();
    assert_eq!(status.signal(), Some(SIGINT), "{console}");
    let lines: Vec<String> = console.lines().map(String::from).collect();
    let find = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?}:\n{console}"))
    };
    let order = [
        find("init: shutdown: poweroff"),
        find("init: service hupper stopping pid "),
        find("init: service hupper exited status 0"),
        find("init: service stubborn stopping pid "),
        find("init: warning: service stubborn stop timeout, killing pid "),
        find("init: service stubborn killed signal 9"),
        find("init: service first stopping pid "),
        find("init: service first exited status 0"),
        find("init: sent signal 15 to all processes"),
        find("init: sent signal 9 to all processes"),
        find("init: poweroff now"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "out of order {order:?}:\n{console}");
    assert!(lines[order[1]].ends_with(" signal 1"), "hupper's stop signal is SIGHUP");
    assert!(
        out.contains("hupper got HUP\n")
            && out.contains("stubborn ignores TERM\n")
            && out.contains("first got TERM\n")
    );
    // 1 s for stubborn's timeout and 0.5 s of grace for the daemon; nothing waits longer.
    assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(5), "shutdown took {took:?}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_missing_config_is_fatal_then_reboots_after_the_delay() {
    let mut b = boot("boot-noconfig", None);
    let (status, _, console) = b.end(Duration::from_secs(30));
    assert_eq!(status.signal(), Some(SIGHUP), "reboot by default:\n{console}");
    let lines: Vec<String> = console.lines().map(String::from).collect();
    assert_in_order(
        &lines,
        &[
            "init: dmzkit init starting",
            "init: unable to read config: ENOENT (/etc/dmzkit/init.pcfg)",
            "init: reboot in 10 s",
            "init: shutdown: reboot",
            "init: reboot now",
        ],
    );
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_failed_mount_is_fatal_with_the_configured_action_and_delay() {
    let mut s = setup();
    s.on_error = Action::PowerOff;
    s.error_delay_s = 1;
    s.mounts.push(("/dev/no-such-disk", "/data", "ext4", 0, ""));
    s.services.push(spec("never-started", "echo should not run"));
    let t0 = Instant::now();
    let mut b = boot("boot-badmount", Some(&s.encode()));
    let (status, out, console) = b.end(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(SIGINT), "{console}");
    assert!(t0.elapsed() >= Duration::from_secs(1));
    assert!(console.contains("init: unable to mount: ENOENT (/data)\ninit: poweroff in 1 s\n"), "{console}");
    assert!(!out.contains("should not run"));

    // A corrupt config: the blob's own CRC catches it.
    let mut blob = s.encode();
    let last = blob.len() - 1;
    blob[last] ^= 0xff;
    let mut b = boot("boot-corrupt", Some(&blob));
    let (status, _, console) = b.end(Duration::from_secs(30));
    assert_eq!(status.signal(), Some(SIGHUP), "{console}");
    assert!(console.contains("init: unable to load config: EINVAL (CRC mismatch)\n"), "{console}");
}

/// A loop device over a fresh ext2 image, detached when dropped.
struct LoopDevice {
    dev: String,
}

impl LoopDevice {
    fn new(img: &std::path::Path) -> Self {
        let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
        ok(Command::new("truncate").arg("-s").arg("8M").arg(img));
        ok(Command::new("mkfs.ext2").arg("-q").arg("-F").arg(img));
        let out = Command::new("losetup").arg("-f").arg("--show").arg(img).output().unwrap();
        assert!(out.status.success(), "losetup: {out:?}");
        LoopDevice { dev: String::from_utf8(out.stdout).unwrap().trim().to_string() }
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn shutdown_unmounts_filesystems_with_a_backing_store() {
    require_root();
    let dir = scratch("ext2");
    let img = dir.join("data.img");
    let lo = LoopDevice::new(&img);
    let mut s = setup();
    s.mounts.push((Box::leak(lo.dev.clone().into_boxed_str()), "/data dir", "ext2", 0, ""));
    s.tasks.push(spec("writer", "echo persisted > \"/data dir/hello\""));
    // The mount point has a space, which /proc/self/mounts shows as `\040`.
    // A service keeps a file on it open and ignores SIGTERM: it can only be unmounted
    // once the shutdown has killed it.
    s.services.push(spec("holder", "exec 3<\"/data dir/hello\"; trap '' TERM; while :; do sleep 0.05; done"));
    s.services.push(spec("stopper", "sleep 0.3; /sbin/init poweroff"));
    let mut b = boot("boot-unmount", Some(&s.encode()));
    let (status, _, console) = b.end(Duration::from_secs(30));
    assert_eq!(status.signal(), Some(SIGINT), "{console}");
    let lines: Vec<String> = console.lines().map(String::from).collect();
    assert_in_order(
        &lines,
        &[
            "init: mounted /data dir",
            "init: task writer exited status 0",
            "init: shutdown: poweroff",
            "init: service holder killed signal 9",
            "init: unmounted /data dir",
            "init: poweroff now",
        ],
    );
    // Written through init's mount, and there after it.
    let out = Command::new("debugfs").arg("-R").arg("cat /hello").arg(&img).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "persisted\n");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_shutdown_word_on_the_kernel_command_line_does_not_end_pid_1() {
    // The kernel passes a bare word of its command line (`reboot`, `halt`, `poweroff`) on to
    // init as an argument: as PID 1 that is no request to shut down.
    for word in ["reboot", "halt", "poweroff"] {
        let mut s = setup();
        s.services.push(spec("up", "echo service-ran; exec sleep 100"));
        let mut b = boot_with(&format!("boot-word-{word}"), Some(&s.encode()), &[word], false);
        b.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service up started pid "));
        assert!(eventually(Duration::from_secs(15), || b.stdout.lock().unwrap().contains("service-ran\n")));
        kill(b.init_pid(), 12);
        let (status, out, console) = b.end(Duration::from_secs(20));
        assert_eq!(status.signal(), Some(SIGINT), "{word}: powered off by SIGUSR2 only:\n{console}");
        assert!(out.contains("service-ran\n"), "{word}: {out}\n{console}");
        assert!(console.contains("init: warning: system mode ignores its arguments"), "{word}: {console}");
    }
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn booted_without_fds_0_to_2_services_still_get_them() {
    let mut s = setup();
    s.services.push(spec(
        "stdio",
        "a=$(readlink /proc/$$/fd/0); b=$(readlink /proc/$$/fd/1); c=$(readlink /proc/$$/fd/2); \
         echo \"0=$a 1=$b 2=$c\" > /tmp/stdio; exec sleep 100",
    ));
    let mut b = boot_with("boot-nostdio", Some(&s.encode()), &[], true);
    let mut seen = String::new();
    assert!(
        eventually(Duration::from_secs(15), || {
            // The child is the shell's mount and cp before it is init: ask again each time.
            let path = format!("/proc/{}/root/tmp/stdio", b.init_pid());
            seen = std::fs::read_to_string(&path).unwrap_or_default();
            seen.ends_with('\n')
        }),
        "the service did not report its fds"
    );
    kill(b.init_pid(), 12);
    let (status, _, _) = b.end(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(SIGINT));
    for n in 0..3 {
        let fd = seen.split_whitespace().find_map(|w| w.strip_prefix(&format!("{n}="))).unwrap_or("");
        assert!(fd == "/dev/console" || fd == "/dev/null", "fd {n} of the service is {fd:?}: {seen}");
    }
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_service_cannot_preserve_inits_own_fds() {
    // init's own fds here: 3 its signalfd, 4 /dev/kmsg. A unit's dmz config that asks to keep
    // them gets nothing of init's: the transition fails on the missing fd (EBADF), never runs.
    let mut s = setup();
    for (name, fd) in [("keep3", 3), ("keep4", 4)] {
        let mut u = spec(name, "");
        u.preserve_fds = vec![fd];
        s.raw_args.push((name, vec!["/bin/ls", "-l", "/proc/self/fd/"]));
        s.services.push(u);
    }
    s.services.push(spec("plain", "echo plain=$(ls -l /proc/$$/fd/ | grep -c -e signalfd -e kmsg)"));
    s.services.push(spec("stopper", "sleep 0.5; /sbin/init poweroff"));
    let mut b = boot("boot-fds", Some(&s.encode()));
    let (status, out, console) = b.end(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(SIGINT), "{console}");
    assert!(!out.contains("signalfd") && !out.contains("kmsg"), "init's fds reached a service:\n{out}");
    for name in ["keep3", "keep4"] {
        assert!(console.contains(&format!("init: service {name} exited status 125\n")), "{console}");
    }
    assert!(console.contains("dmz: unable to keep fd: EBADF"), "{console}");
    assert!(out.contains("plain=0\n"), "the plain service ran and saw none of init's fds:\n{out}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn restart_limit_holds_without_a_maximum_delay() {
    let mut s = setup();
    let mut f = spec("falsy", "");
    f.restart = Restart::Always;
    f.delay_ms = 0;
    f.delay_max_ms = 0;
    f.limit = 3;
    s.raw_args.push(("falsy", vec!["/bin/false"]));
    s.services.push(f);
    let mut b = boot("boot-nomax", Some(&s.encode()));
    b.wait_for("init: warning: service falsy failed: restart limit reached");
    kill(b.init_pid(), 12);
    let (status, _, console) = b.end(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(SIGINT), "{console}");
    let starts = console.lines().filter(|l| l.starts_with("init: service falsy started pid ")).count();
    assert_eq!(starts, 4, "the first run and 3 restarts:\n{console}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn shutdown_reads_a_mount_table_larger_than_16_kib() {
    // 400 tmpfs mounts with long names make /proc/self/mounts about 36 KB; the overlay on
    // /data, mounted last, is at its end. Only virtual filesystems come before it.
    let mut s = setup();
    s.tasks.push(spec(
        "fill",
        "for i in $(seq 1 400); do \
           d=/many/a-mount-point-with-a-rather-long-name-to-fill-the-table-$i; \
           mkdir -p $d && mount -t tmpfs -o size=4k fill $d || exit 1; \
         done; \
         mkdir -p /ov/lower /ov/upper /ov/work /data && \
         mount -t overlay overlay -o lowerdir=/ov/lower,upperdir=/ov/upper,workdir=/ov/work /data && \
         echo table=$(wc -c < /proc/self/mounts)",
    ));
    s.services.push(spec("stopper", "sleep 0.3; /sbin/init poweroff"));
    let mut b = boot("boot-bigtable", Some(&s.encode()));
    let (status, out, console) = b.end(Duration::from_secs(30));
    assert_eq!(status.signal(), Some(SIGINT), "{console}");
    let size: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("table="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no table size:\n{out}\n{console}"));
    assert!(size > 32 * 1024, "the mount table is only {size} bytes");
    assert!(console.contains("init: task fill exited status 0\n"), "{console}");
    let lines: Vec<String> = console.lines().map(String::from).collect();
    assert_in_order(&lines, &["init: shutdown: poweroff", "init: unmounted /data", "init: poweroff now"]);
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_task_that_never_exits_is_killed_at_its_timeout_and_boot_goes_on() {
    let mut s = setup();
    // The task leaves a child in its process group; the timeout's SIGKILL goes to the group.
    let mut hang = spec("hang", "sleep 1000 & echo $! > /tmp/bg; exec sleep 1000");
    hang.timeout_ms = 500;
    s.tasks.push(hang);
    s.tasks.push(spec("next", "echo next-task-ran"));
    s.services.push(spec(
        "after",
        "p=$(cat /tmp/bg); sleep 0.2; \
         if grep -q '^State:.*Z' /proc/$p/status 2>/dev/null || ! [ -e /proc/$p ]; \
         then echo bg=gone; else echo bg=alive; fi; /sbin/init poweroff",
    ));
    let t0 = Instant::now();
    let mut b = boot("boot-task-timeout", Some(&s.encode()));
    let killed = b.wait_for("init: task hang killed signal 9");
    assert!(killed - t0 < Duration::from_secs(5), "killed {:?} after start", killed - t0);
    let (status, out, console) = b.end(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(SIGINT), "{console}");
    let lines: Vec<String> = console.lines().map(String::from).collect();
    let warn = lines
        .iter()
        .position(|l| l.starts_with("init: warning: task hang timeout, killing pid "))
        .unwrap_or_else(|| panic!("no timeout warning:\n{console}"));
    assert_in_order(&lines[warn..], &["init: task hang killed signal 9", "init: task next exited status 0"]);
    assert!(lines.iter().any(|l| l.starts_with("init: service after started pid ")), "{console}");
    assert!(out.contains("next-task-ran\n"), "{out}");
    assert!(out.contains("bg=gone\n"), "the task's whole process group was killed:\n{out}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn ctrl_alt_del_outside_the_initial_pid_namespace_is_no_warning() {
    // init asks the kernel to disable ctrl-alt-del wherever it runs as PID 1; in a pid
    // namespace of its own the kernel refuses (EINVAL), and that is no failure to report.
    let mut s = setup();
    s.services.push(spec("up", "echo service-ran; exec sleep 100"));
    let mut b = boot_with("cad-in-pid-ns", Some(&s.encode()), &[], false);
    b.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service up started pid "));
    kill(b.init_pid(), 12);
    let (status, _, console) = b.end(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(SIGINT), "powered off by SIGUSR2:\n{console}");
    assert!(console.contains("init: dmzkit init starting"), "{console}");
    assert!(!console.contains("ctrl-alt-del"), "{console}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn without_cgroup2_a_service_with_limits_is_warned_about_and_runs() {
    // setup() mounts a tmpfs on /sys/fs/cgroup: not a cgroup2 root, so no cgroups.
    let mut s = setup();
    let mut limited = spec("limited", "echo limited-ran; exec sleep 100");
    limited.cgroup = b"16777216\0\0\0\0";
    s.services = vec![limited, spec("plain", "exec sleep 100")];
    let mut b = boot("boot-nocgroup", Some(&s.encode()));
    b.wait_for("init: warning: service limited: no cgroup2, limits not applied");
    let st = wait_state(&b, "limited", "ready");
    assert_eq!(st.mem, "-", "no cgroup, no memory.current");
    assert!(eventually(Duration::from_secs(10), || b.stdout.lock().unwrap().contains("limited-ran")));
    let console = b.power_off();
    assert!(!console.contains("service plain: no cgroup2"), "{console}");
    assert!(!console.contains("unable to set up cgroup"), "{console}");
}

impl Booted {
    /// `init ARGS` run in init's mount namespace and root (not its pid namespace), as `uid`
    /// (its gid the same): the control client, from a shell on the device.
    fn ctl_as(&self, uid: u32, args: &[&str]) -> Outcome {
        self.wait_for("init: dmzkit init starting"); // init_pid is init's from then on
        let pid = self.init_pid().to_string();
        let id = uid.to_string();
        let mut c = Command::new("nsenter");
        c.args(["-t", &pid, "-m", "-r", "-w"]);
        if uid != 0 {
            c.args(["-S", &id, "-G", &id]);
        }
        c.arg("/sbin/init").args(args);
        finish(start(&mut c), Duration::from_secs(30))
    }

    /// SIGUSR2, and the end a pid namespace's init gets from power-off; returns the console.
    fn power_off(&mut self) -> String {
        kill(self.init_pid(), 12);
        let (status, _, console) = self.end(Duration::from_secs(20));
        assert_eq!(status.signal(), Some(SIGINT), "{console}");
        console
    }

    fn ctl(&self, args: &[&str]) -> Outcome {
        self.ctl_as(0, args)
    }

    /// `init status` parsed: name → (kind, state, pid, restarts, last).
    fn status(&self) -> Vec<StatusLine> {
        let o = self.ctl(&["status"]);
        assert_eq!(o.code(), Some(0), "{o:?}\nconsole:\n{}", self.console_text());
        o.stdout.lines().map(|l| parse_status(l).unwrap_or_else(|| panic!("bad status line {l:?}"))).collect()
    }

    fn status_of(&self, name: &str) -> StatusLine {
        self.status()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no status line for {name}:\n{}", self.console_text()))
    }

    /// The control socket, seen from the host.
    fn socket_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/run/dmzkit-init.sock", self.init_pid()))
    }

    /// Replaces the config file inside the booted root.
    fn write_config(&self, blob: &[u8]) {
        let path = format!("/proc/{}/root/etc/dmzkit/init.pcfg", self.init_pid());
        std::fs::write(path, blob).unwrap();
    }
}

#[derive(Debug, Clone, PartialEq)]
struct StatusLine {
    kind: String,
    name: String,
    state: String,
    pid: i32,
    uptime_ms: u64,
    restarts: u32,
    last: String,
    /// `mem=`: memory.current of its cgroup, `-` when none.
    mem: String,
    /// The service's `STATUS=` text (empty: none).
    text: String,
}

/// `KIND NAME STATE pid=N uptime_ms=N restarts=N last=X mem=M[ status=TEXT]`, as
/// init/README.md documents it.
fn parse_status(line: &str) -> Option<StatusLine> {
    let f: Vec<&str> = line.splitn(9, ' ').collect();
    let (f, text) = match f.len() {
        9 => (&f[..8], f[8].strip_prefix("status=")?),
        _ => (&f[..], ""),
    };
    let [kind, name, state, pid, up, restarts, last, mem] = f[..] else { return None };
    let states = ["waiting", "starting", "ready", "stopping", "stopped", "backoff", "failed"];
    if !["task", "service"].contains(&kind) || !states.contains(&state) {
        return None;
    }
    let last = last.strip_prefix("last=")?;
    let last_ok = last == "-"
        || last
            .strip_prefix("status:")
            .or(last.strip_prefix("signal:"))
            .is_some_and(|n| n.parse::<u8>().is_ok());
    last_ok.then_some(())?;
    Some(StatusLine {
        kind: kind.into(),
        name: name.into(),
        state: state.into(),
        pid: pid.strip_prefix("pid=")?.parse().ok()?,
        uptime_ms: up.strip_prefix("uptime_ms=")?.parse().ok()?,
        restarts: restarts.strip_prefix("restarts=")?.parse().ok()?,
        last: last.into(),
        mem: mem.strip_prefix("mem=")?.into(),
        text: text.into(),
    })
}

/// The pid a service's dmz-exec'd process has inside the namespace, as `status` reports it,
/// is a live process there.
fn wait_state(b: &Booted, name: &str, state: &str) -> StatusLine {
    let mut last = None;
    let ok = eventually(Duration::from_secs(10), || {
        let s = b.status_of(name);
        let done = s.state == state;
        last = Some(s);
        done
    });
    assert!(ok, "{name} never reached {state}: {last:?}\nconsole:\n{}", b.console_text());
    last.unwrap()
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn control_status_start_stop_restart_from_a_shell() {
    let mut s = setup();
    // The task asks while tasks run: status is served, anything else is busy.
    s.tasks.push(spec("ask", "/sbin/init status; echo code=$?; /sbin/init stop idle; echo stop=$?"));
    s.services.push(spec("idle", "exec sleep 1000"));
    let mut done = spec("done", "exit 0");
    done.restart = Restart::Never;
    s.services.push(done);
    let mut crash = spec("crash", "exit 3");
    crash.restart = Restart::OnFailure;
    crash.limit = 2;
    s.services.push(crash);
    let mut b = boot("boot-control", Some(&s.encode()));
    b.wait_for("init: warning: service crash failed: restart limit reached");
    let out = b.stdout.lock().unwrap().clone();
    let during: Vec<StatusLine> = out.lines().filter_map(parse_status).collect();
    assert_eq!(during.len(), 4, "a line per task and service during the task:\n{out}");
    assert_eq!((during[0].kind.as_str(), during[0].state.as_str()), ("task", "starting"), "{out}");
    assert!(during[0].pid > 0, "{out}");
    assert!(during[1..].iter().all(|l| l.kind == "service" && l.state == "waiting" && l.pid == 0), "{out}");
    assert!(out.contains("code=0\n") && out.contains("stop=1\n"), "{out}");

    let st = b.status();
    let names: Vec<&str> = st.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["ask", "idle", "done", "crash"]);
    assert_eq!((st[0].state.as_str(), st[0].last.as_str(), st[0].pid), ("stopped", "status:0", 0));
    assert_eq!(st[1].state, "ready");
    assert!(alive_in(&b, st[1].pid), "{st:?}");
    assert_eq!((st[2].state.as_str(), st[2].last.as_str()), ("stopped", "status:0"));
    assert_eq!((st[3].state.as_str(), st[3].last.as_str(), st[3].restarts), ("failed", "status:3", 2));

    let one = b.ctl(&["status", "idle"]);
    assert_eq!(one.code(), Some(0), "{one:?}");
    assert_eq!(one.stdout.lines().count(), 1, "{one:?}");
    let first = st[1].pid;

    let o = b.ctl(&["stop", "idle"]);
    assert_eq!((o.code(), o.stdout.as_str(), o.stderr.as_str()), (Some(0), "", ""), "{o:?}");
    let idle = b.status_of("idle");
    assert_eq!((idle.state.as_str(), idle.pid, idle.last.as_str()), ("stopped", 0, "signal:15"));
    assert!(!alive_in(&b, first));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(b.status_of("idle").state, "stopped", "a stopped service is not restarted");

    assert_eq!(b.ctl(&["start", "idle"]).code(), Some(0));
    let idle = wait_state(&b, "idle", "ready");
    assert!(idle.pid > 0 && idle.pid != first, "{idle:?}");
    assert_eq!(b.ctl(&["restart", "idle"]).code(), Some(0));
    let again = wait_state(&b, "idle", "ready");
    assert!(again.pid != idle.pid, "restart gives a new process: {again:?}");
    assert_eq!(b.ctl(&["start", "crash"]).code(), Some(0), "a failed service can be started again");
    let restarted = || b.console_text().matches("init: service crash restart 1 in 100 ms\n").count();
    assert!(eventually(Duration::from_secs(10), || restarted() == 2), "{}", b.console_text());

    let o = b.ctl(&["stop", "nosuch"]);
    assert_eq!((o.code(), o.stderr.as_str()), (Some(1), "init: no such service: nosuch\n"), "{o:?}");
    let o = b.ctl(&["status", "nosuch"]);
    assert_eq!((o.code(), o.stderr.as_str()), (Some(1), "init: no such service or task: nosuch\n"), "{o:?}");
    for bad in [&["start"][..], &["status", "a", "b"], &["reload", "x"]] {
        let o = b.ctl(bad);
        assert_eq!(o.code(), Some(2), "{bad:?}: {o:?}");
        assert!(o.stderr.starts_with("init: usage: init status [NAME]"), "{o:?}");
    }
    b.power_off();
}

/// Whether `pid` (of init's pid namespace) is alive there.
fn alive_in(b: &Booted, pid: i32) -> bool {
    let p = format!("/proc/{}/root/proc/{pid}/stat", b.init_pid());
    std::fs::read_to_string(p).is_ok_and(|s| !s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'))
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn control_refuses_a_non_root_caller() {
    let mut s = setup();
    s.services.push(spec("idle", "exec sleep 1000"));
    let mut b = boot("boot-control-nonroot", Some(&s.encode()));
    let pid = wait_state(&b, "idle", "ready").pid;
    for args in [&["status"][..], &["stop", "idle"], &["reload"]] {
        let o = b.ctl_as(1001, args);
        assert_eq!((o.code(), o.stdout.as_str()), (Some(3), ""), "{args:?}: {o:?}");
        assert_eq!(o.stderr, "init: control needs root\n", "{args:?}");
    }
    let idle = b.status_of("idle");
    assert_eq!((idle.state.as_str(), idle.pid), ("ready", pid), "nothing happened");
    b.power_off();
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn idle_and_garbage_clients_do_not_stall_pid_1() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let mut s = setup();
    let mut crash = spec("crash", "sleep 0.2; exit 1");
    crash.restart = Restart::Always;
    crash.delay_ms = 100;
    crash.delay_max_ms = 100;
    s.services.push(crash);
    let mut b = boot("boot-control-idle", Some(&s.encode()));
    wait_state(&b, "crash", "ready");
    let r0 = b.status_of("crash").restarts;
    let path = b.socket_path();
    let seq = || {
        use rustix::net::{connect, socket, AddressFamily, SocketAddrUnix, SocketType};
        let fd = socket(AddressFamily::UNIX, SocketType::SEQPACKET, None).unwrap();
        connect(&fd, &SocketAddrUnix::new(path.to_str().unwrap()).unwrap()).unwrap();
        fd
    };
    // Connections that never send hold PID 1's slots; oversized and garbage requests get
    // an error; a stream socket cannot even connect.
    let idle: Vec<_> = (0..6).map(|_| seq()).collect();
    for req in [&[b'x'; 4096][..], b"status\0", b"frobnicate", b"", b"stop  idle"] {
        let fd = seq();
        rustix::net::send(&fd, req, rustix::net::SendFlags::empty()).unwrap();
        let mut buf = [0u8; 256];
        let n =
            rustix::net::recv(&fd, &mut buf, rustix::net::RecvFlags::empty()).map(|(n, _)| n).unwrap_or(0);
        if !req.is_empty() {
            assert_eq!(
                &buf[..n],
                b"1 bad request\n",
                "{:?}",
                String::from_utf8_lossy(&req[..req.len().min(20)])
            );
        }
    }
    assert!(UnixStream::connect(&path).map(|mut c| c.write_all(b"status")).is_err(), "stream refused");
    let t0 = Instant::now();
    let st = b.ctl(&["status", "crash"]);
    assert_eq!(st.code(), Some(0), "{st:?}");
    assert!(t0.elapsed() < Duration::from_secs(5), "answered after {:?}", t0.elapsed());
    std::thread::sleep(Duration::from_millis(1500));
    // Supervision went on meanwhile: the crasher kept being restarted every ~300 ms.
    let restarts = b.status_of("crash").restarts;
    assert!(restarts >= r0 + 4, "{r0} then {restarts} restarts:\n{}", b.console_text());
    drop(idle);
    b.power_off();
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn reload_starts_added_stops_removed_restarts_changed_keeps_unchanged() {
    let mut s = setup();
    s.services.push(spec("same", "exec sleep 1000"));
    s.services.push(spec("change", "exec sleep 1000"));
    s.services.push(spec("remove", "exec sleep 1000"));
    let mut b = boot("boot-reload", Some(&s.encode()));
    for n in ["same", "change", "remove"] {
        wait_state(&b, n, "ready");
    }
    let before = b.status();
    let pid = |st: &[StatusLine], n: &str| st.iter().find(|l| l.name == n).map(|l| l.pid);

    // A broken config is refused; nothing changes.
    let mut s2 = setup();
    s2.services.push(spec("same", "exec sleep 1000"));
    s2.services.push(spec("change", "exec sleep 999"));
    s2.services.push(spec("added", "exec sleep 1000"));
    let good = s2.encode();
    let mut broken = good.clone();
    let last = broken.len() - 1;
    broken[last] ^= 1;
    b.write_config(&broken);
    let o = b.ctl(&["reload"]);
    let refusal = "init: reload refused: unable to load config: EINVAL (CRC mismatch)";
    assert_eq!((o.code(), o.stderr.trim_end()), (Some(1), refusal), "{o:?}");
    b.wait_for(refusal);
    let now = b.status();
    for n in ["same", "change", "remove"] {
        assert_eq!(pid(&now, n), pid(&before, n), "{n} untouched by a refused reload");
    }

    b.write_config(&good);
    let o = b.ctl(&["reload"]);
    assert_eq!(o.code(), Some(0), "{o:?}\n{}", b.console_text());
    assert_eq!(o.stdout, "reloaded /etc/dmzkit/init.pcfg: 1 added, 1 removed, 1 changed, 1 unchanged\n");
    let added = wait_state(&b, "added", "ready");
    let changed = wait_state(&b, "change", "ready");
    let after = b.status();
    let names: Vec<&str> = after.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["same", "change", "added"], "the new config's order; removed ones gone");
    assert_eq!(pid(&after, "same"), pid(&before, "same"), "unchanged: same process");
    assert!(alive_in(&b, pid(&after, "same").unwrap()));
    assert_ne!(Some(changed.pid), pid(&before, "change"), "changed: restarted");
    assert!(!alive_in(&b, pid(&before, "change").unwrap()));
    assert!(!alive_in(&b, pid(&before, "remove").unwrap()), "removed: stopped");
    assert!(added.pid > 0);
    assert!(b.console_text().contains("init: service remove killed signal 15\n"));

    // SIGHUP reloads too: the same file again changes nothing.
    kill(b.init_pid(), SIGHUP);
    b.wait_for("init: reloaded /etc/dmzkit/init.pcfg: 0 added, 0 removed, 0 changed, 3 unchanged");
    assert_eq!(
        b.status().iter().map(|l| l.pid).collect::<Vec<_>>(),
        after.iter().map(|l| l.pid).collect::<Vec<_>>()
    );
    let console = b.power_off();
    assert!(
        console.contains("init: service added stopping pid "),
        "the reloaded config is shut down:\n{console}"
    );
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_shutdown_signal_during_a_stop_request_is_not_lost() {
    let mut s = setup();
    let mut slow = spec("slow", "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.05; done");
    slow.stop_timeout_ms = 5000;
    s.services.push(slow);
    let mut b = boot("boot-control-signal", Some(&s.encode()));
    wait_state(&b, "slow", "ready");
    let pid = b.init_pid();
    let stopper = std::thread::spawn(move || {
        let o = finish(
            start(Command::new("nsenter").args([
                "-t",
                &pid.to_string(),
                "-m",
                "-r",
                "/sbin/init",
                "stop",
                "slow",
            ])),
            Duration::from_secs(20),
        );
        o.code()
    });
    b.wait_line(Duration::from_secs(10), |l| l.starts_with("init: service slow stopping pid "));
    kill(pid, 12); // while init waits for the service to stop
    let (status, _, console) = b.end(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(SIGINT), "powered off after the stop:\n{console}");
    assert!(console.contains("init: shutdown: poweroff\n"), "{console}");
    let _ = stopper.join();
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_reload_of_a_config_naming_two_services_alike_counts_without_wrapping() {
    // The launcher refuses two units of one name; a hand-made config may have them. Both old
    // "x" are changed in the new config, which has one "x": nothing is added.
    let mut s = setup();
    s.services.push(spec("x", "exec sleep 1000"));
    s.services.push(spec("x", "exec sleep 1000"));
    let mut b = boot("boot-reload-twice", Some(&s.encode()));
    b.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service x started pid "));
    let mut s2 = setup();
    s2.services.push(spec("x", "exec sleep 999"));
    b.write_config(&s2.encode());
    let o = b.ctl(&["reload"]);
    assert_eq!(o.code(), Some(0), "{o:?}\n{}", b.console_text());
    assert_eq!(o.stdout, "reloaded /etc/dmzkit/init.pcfg: 0 added, 0 removed, 2 changed, 0 unchanged\n");
    wait_state(&b, "x", "ready");
    b.power_off();
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn an_unchanged_service_that_exits_while_a_reload_stops_another_is_still_supervised() {
    let mut s = setup();
    let mut flap = spec("flap", "sleep 0.3; exit 1");
    flap.restart = Restart::Always;
    flap.delay_ms = 100;
    flap.delay_max_ms = 100;
    let mut slow = spec("slow", "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.05; done");
    slow.stop_timeout_ms = 5000;
    s.services = vec![flap, slow];
    let mut b = boot("boot-reload-flap", Some(&s.encode()));
    wait_state(&b, "slow", "ready");
    let mut s2 = setup();
    let mut flap = spec("flap", "sleep 0.3; exit 1");
    flap.restart = Restart::Always;
    flap.delay_ms = 100;
    flap.delay_max_ms = 100;
    s2.services = vec![flap, spec("slow", "exec sleep 1000")];
    b.write_config(&s2.encode());
    // Stopping "slow" takes a second, in which "flap" exits and is rescheduled.
    let o = b.ctl(&["reload"]);
    assert_eq!(o.stdout, "reloaded /etc/dmzkit/init.pcfg: 0 added, 0 removed, 1 changed, 1 unchanged\n");
    let r0 = b.status_of("flap").restarts;
    assert!(
        eventually(Duration::from_secs(5), || b.status_of("flap").restarts >= r0 + 3),
        "flap is no longer restarted after the reload: {:?}\n{}",
        b.status_of("flap"),
        b.console_text()
    );
    b.power_off();
}

impl Booted {
    /// A file inside the booted root, if it exists.
    fn read_file(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(format!("/proc/{}/root{path}", self.init_pid())).ok()
    }

    /// The pid in `init: KIND NAME started pid N` (the first such line).
    fn started_pid(&self, kind: &str, name: &str) -> u32 {
        let pat = format!("init: {kind} {name} started pid ");
        self.wait_line(Duration::from_secs(15), |l| l.starts_with(&pat));
        let console = self.console_text();
        console.lines().find_map(|l| l.strip_prefix(&pat)).unwrap().parse().unwrap()
    }

    /// Waits until the file at `path` has `lines` lines; returns its text.
    fn wait_file(&self, path: &str, lines: usize) -> String {
        let mut text = String::new();
        let ok = eventually(Duration::from_secs(15), || {
            text = self.read_file(path).unwrap_or_default();
            text.lines().count() >= lines
        });
        assert!(ok, "{path}: {text:?}\nconsole:\n{}", self.console_text());
        text
    }
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn captured_output_is_logged_line_by_line_with_name_and_pid() {
    let mut s = setup();
    s.tasks.push(captured("prep", "echo from the task; echo to stderr >&2", "/run/log/prep.log", 65536));
    // Two writes that make one line; a 600-byte line; a tab; a last line without newline.
    let script = "printf 'one '; sleep 0.3; echo line; echo two >&2; printf '%0600d\\n' 0; \
                  printf 'a\\tb\\n'; printf partial";
    s.services.push(captured("talk", script, "/run/log/talk.log", 65536));
    let mut b = boot("boot-capture", Some(&s.encode()));
    let (task, talk) = (b.started_pid("task", "prep"), b.started_pid("service", "talk"));
    let text = b.wait_file("/run/log/talk.log", 6);
    let p = format!("talk[{talk}]: ");
    let want = [
        format!("{p}one line"),
        format!("{p}two"),
        format!("{p}{}", "0".repeat(448)),
        format!("{p}{}", "0".repeat(152)),
        format!("{p}a?b"),
        format!("{p}partial"),
    ];
    assert_eq!(text.lines().collect::<Vec<_>>(), want, "{text}");
    assert!(text.ends_with("partial\n"));
    let prep = b.read_file("/run/log/prep.log").unwrap();
    assert_eq!(prep, format!("prep[{task}]: from the task\nprep[{task}]: to stderr\n"));
    let console = b.power_off();
    let out = b.stdout.lock().unwrap().clone();
    for l in ["one", "partial", "from the task", "to stderr"] {
        assert!(!out.contains(l) && !console.contains(l), "{l:?} on the console:\n{out}\n{console}");
    }
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_log_file_is_rotated_once_before_it_passes_its_size() {
    let mut s = setup();
    s.services.push(captured(
        "rot",
        "for i in $(seq -w 1 300); do echo line-$i; done; exec sleep 1000",
        "/run/rot.log",
        4096,
    ));
    let mut b = boot("boot-capture-rotate", Some(&s.encode()));
    let pid = b.started_pid("service", "rot");
    let last = format!("rot[{pid}]: line-300\n");
    assert!(
        eventually(Duration::from_secs(15), || b
            .read_file("/run/rot.log")
            .is_some_and(|t| t.ends_with(&last))),
        "{:?}",
        b.read_file("/run/rot.log")
    );
    let (old, new) = (b.read_file("/run/rot.log.1").unwrap(), b.read_file("/run/rot.log").unwrap());
    assert!(old.len() <= 4096 && new.len() <= 4096, "{} and {} bytes", old.len(), new.len());
    let first_new = new.lines().next().unwrap().len() + 1;
    assert!(old.len() + first_new > 4096, "rotated only when the next line would not fit");
    let all: Vec<String> = old.lines().chain(new.lines()).map(String::from).collect();
    let want: Vec<String> = (1..=300).map(|i| format!("rot[{pid}]: line-{i:03}")).collect();
    assert_eq!(all, want, "one rotation: nothing lost, in order");
    b.power_off();
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_flooding_service_starves_neither_another_nor_the_control_socket() {
    let mut s = setup();
    s.services.push(captured("flood", "exec yes flood-flood-flood-flood", "/run/flood.log", 65536));
    let tick = "for i in $(seq 1 20); do echo tick-$i; sleep 0.1; done; exec sleep 1000";
    s.services.push(captured("tick", tick, "/run/tick.log", 65536));
    let mut b = boot("boot-capture-flood", Some(&s.encode()));
    b.started_pid("service", "tick");
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(b.ctl(&["status", "flood"]).code(), Some(0));
        slowest = slowest.max(t.elapsed());
    }
    let text = b.wait_file("/run/tick.log", 20);
    let ticks: Vec<&str> = text.lines().map(|l| l.split(": ").nth(1).unwrap()).collect();
    assert_eq!(ticks, (1..=20).map(|i| format!("tick-{i}")).collect::<Vec<_>>());
    // Starved, the client would wait for its reply until it gives up (120 s); answered in
    // turn, it takes milliseconds. The bound tells the two apart without timing init.
    assert!(slowest < Duration::from_secs(10), "`init status` took {slowest:?} during the flood");
    let flood = b.read_file("/run/flood.log").unwrap_or_default();
    assert!(flood.lines().count() > 100, "the flood is read too: {} lines", flood.lines().count());
    assert!(b.read_file("/run/flood.log.1").is_some(), "and rotated");
    b.power_off();
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_reload_moves_pipes_with_their_services_and_reads_changed_ones_to_the_end() {
    let mover = || {
        let script = "echo before; printf par; sleep 1.5; echo tial; exec sleep 1000";
        captured("mover", script, "/run/log/mover.log", 65536)
    };
    let out = "trap 'echo bye; exit 0' TERM; echo hi; while :; do sleep 0.1; done";
    let mut s = setup();
    s.services.push(mover());
    s.services.push(captured("out", out, "/run/log/out.log", 65536));
    let mut b = boot("boot-capture-reload", Some(&s.encode()));
    let (pid, out_pid) = (b.started_pid("service", "mover"), b.started_pid("service", "out"));
    b.wait_file("/run/log/mover.log", 1);
    b.wait_file("/run/log/out.log", 1);
    // `mover` moves from the first place to the second, unchanged; `out` changes (its output
    // goes to the console from now on).
    let mut s2 = setup();
    s2.services.push(spec("added", "exec sleep 1000"));
    s2.services.push(mover());
    s2.services.push(spec("out", out));
    b.write_config(&s2.encode());
    let o = b.ctl(&["reload"]);
    assert_eq!(
        o.stdout, "reloaded /etc/dmzkit/init.pcfg: 1 added, 0 removed, 1 changed, 1 unchanged\n",
        "{o:?}"
    );
    let text = b.wait_file("/run/log/mover.log", 2);
    assert_eq!(
        text,
        format!("mover[{pid}]: before\nmover[{pid}]: partial\n"),
        "the same pipe, partial line and all"
    );
    let out_log = b.read_file("/run/log/out.log").unwrap();
    let (first, last) = (out_log.lines().next(), out_log.lines().last());
    let (hi, bye) = (format!("out[{out_pid}]: hi"), format!("out[{out_pid}]: bye"));
    assert_eq!(
        (first, last),
        (Some(hi.as_str()), Some(bye.as_str())),
        "read to its end at the stop: {out_log}"
    );
    b.power_off();
}

/// init's CPU time so far (utime + stime, clock ticks), from the host's /proc.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn captured_output_during_the_shutdown_grace_is_read_not_spun_on() {
    // A task leaves a process behind that keeps the task's pipe, ignores SIGTERM and says so:
    // during the shutdown's grace period its pipe is readable. The shutdown is asked for only
    // once it has its trap (else SIGTERM kills it, no child is left, and init is gone before
    // the grace period is measured).
    let mut s = setup();
    s.grace_ms = 1500;
    let left = "(trap 'echo got-term' TERM; echo trapped; while :; do sleep 0.1; done) & echo started";
    s.tasks.push(captured("prep", left, "/run/prep.log", 65536));
    s.services.push(spec("idle", "exec sleep 1000"));
    let mut b = boot("boot-capture-shutdown", Some(&s.encode()));
    b.wait_file("/run/prep.log", 2);
    let init = b.init_pid();
    kill(init, 12);
    b.wait_for("init: sent signal 15 to all processes");
    let before = cpu_ticks(init);
    std::thread::sleep(Duration::from_millis(800));
    let spent = cpu_ticks(init) - before;
    let log = b.read_file("/run/prep.log").unwrap_or_default();
    let (status, _, console) = b.end(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(SIGINT), "{console}");
    assert!(spent < 20, "init used {spent} ticks of CPU in 800 ms of the grace period:\n{console}");
    assert!(log.contains("]: got-term\n"), "{log:?}");
}

/// A notify sender for services: python3 (from the host's /usr, see [`boot_usr`]) run as
/// `python3 -c NOTIFY ARGS...`: each argument is sent as one datagram to $NOTIFY_SOCKET,
/// except `sleep=S` (wait S seconds) and `ping=S` (WATCHDOG=1 every S seconds, for ever);
/// then it sleeps.
const NOTIFY: &str = "import socket,os,sys,time
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)
for m in sys.argv[1:]:
    if m[:6]=='sleep=': time.sleep(float(m[6:]))
    elif m[:5]=='ping=':
        while True: s.sendto(b'WATCHDOG=1',os.environ['NOTIFY_SOCKET']); time.sleep(float(m[5:]))
    else: s.sendto(m.encode(),os.environ['NOTIFY_SOCKET'])
time.sleep(1000)";

/// A notify service whose main process is the sender, sending `msgs` in order.
fn notifier(s: &mut Setup, name: &'static str, msgs: &[&'static str]) -> usize {
    let mut args = vec!["/usr/bin/python3", "-c", NOTIFY];
    args.extend(msgs);
    s.raw_args.push((name, args));
    let mut u = spec(name, "");
    u.ready = 1;
    s.services.push(u);
    s.services.len() - 1
}

/// The first console line starting with `prefix`, and where it is.
fn line_at(console: &[String], prefix: &str) -> Option<usize> {
    console.iter().position(|l| l.starts_with(prefix))
}

impl Booted {
    fn lines(&self) -> Vec<String> {
        self.console.lock().unwrap().iter().map(|(_, l)| l.clone()).collect()
    }
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_service_after_a_notify_service_starts_once_it_sent_ready() {
    let mut s = setup();
    // b is listed first: the order comes from `after`, not from the list.
    let mut b = spec("b", "echo b-runs; exec sleep 100");
    b.after = "a ";
    s.services.push(b);
    notifier(&mut s, "a", &["STATUS=warming up", "sleep=0.6", "READY=1", "STATUS=serving"]);
    let mut sys = boot_usr("ready-order", Some(&s.encode()), &[], false, true);
    let started_a = sys.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service a started pid "));
    // Meanwhile: a starting (with its text), b waiting.
    let st = sys.status();
    let (a, b) = (&st[1], &st[0]);
    if a.state == "starting" {
        assert_eq!((b.state.as_str(), b.pid), ("waiting", 0), "{st:?}");
    }
    let started_b = sys.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service b started pid "));
    let lines = sys.lines();
    let ready = line_at(&lines, "init: service a ready").expect("a ready line");
    assert!(ready < line_at(&lines, "init: service b started pid ").unwrap(), "{lines:#?}");
    assert!(started_b - started_a >= Duration::from_millis(500), "b started before a was ready:\n{lines:#?}");
    assert_eq!(wait_state(&sys, "a", "ready").text, "serving");
    assert_eq!(wait_state(&sys, "b", "ready").text, "");
    let console = sys.power_off();
    assert!(console.contains("init: service a stopping pid"), "{console}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_notify_service_that_never_gets_ready_keeps_its_dependents_waiting() {
    let mut s = setup();
    notifier(&mut s, "stuck", &["STATUS=still loading"]);
    let mut dep = spec("dep", "echo dep-runs; exec sleep 100");
    dep.requires = "stuck ";
    dep.after = "stuck ";
    s.services.push(dep);
    // With a ready timeout and no restart, it fails for good: its dependent says why, once.
    let i = notifier(&mut s, "late", &[]);
    s.services[i].ready_timeout_ms = 700;
    let mut dep2 = spec("dep2", "exec sleep 100");
    dep2.after = "late ";
    s.services.push(dep2);
    let mut sys = boot_usr("ready-never", Some(&s.encode()), &[], false, true);
    sys.wait_line(Duration::from_secs(15), |l| {
        l.starts_with("init: warning: service late ready timeout, signal 15 to pid ")
    });
    sys.wait_line(Duration::from_secs(15), |l| l == "init: warning: service dep2 waiting: late failed");
    let st = wait_state(&sys, "stuck", "starting");
    assert_eq!(st.text, "still loading");
    assert!(st.pid > 0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sys.status_of("dep").state, "waiting");
    assert_eq!(sys.status_of("dep2").state, "waiting");
    let late = sys.status_of("late");
    assert_eq!((late.state.as_str(), late.last.as_str()), ("failed", "signal:15"), "{late:?}");
    let console = sys.power_off();
    assert!(!console.contains("dep-runs") && !console.contains("service dep started"), "{console}");
    assert_eq!(console.matches("waiting: late failed").count(), 1, "{console}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_service_started_after_a_long_stop_gets_its_whole_ready_timeout() {
    // "slow" is never ready: 300 ms after its start it gets its stop signal, which it ignores,
    // and init waits its 1.5 s stop timeout before SIGKILL. Meanwhile "c" gets ready, so "b"
    // (after c) starts right after that wait, in the same turn of the loop. Its 1 s ready
    // timeout counts from its own start, not from the turn's beginning 1.5 s before it.
    let mut s = setup();
    let mut slow = spec("slow", "trap '' TERM; while :; do sleep 0.05; done");
    (slow.ready, slow.ready_timeout_ms, slow.stop_timeout_ms) = (3, 300, 1500);
    let mut b = spec("b", "sleep 0.2; echo >&3; exec sleep 100");
    (b.ready, b.ready_timeout_ms, b.after) = (3, 1000, "c ");
    let mut c = spec("c", "sleep 0.8; echo >&3; exec sleep 100");
    c.ready = 3;
    s.services.extend([slow, b, c]);
    let mut sys = boot("ready-after-stop", Some(&s.encode()));
    sys.wait_line(Duration::from_secs(15), |l| l == "init: service b ready");
    std::thread::sleep(Duration::from_millis(300));
    let lines = sys.lines();
    let killed =
        line_at(&lines, "init: warning: service slow stop timeout, killing pid ").expect("slow killed");
    assert!(killed < line_at(&lines, "init: service b started pid ").unwrap(), "{lines:#?}");
    assert_eq!(line_at(&lines, "init: warning: service b ready timeout"), None, "{lines:#?}");
    assert_eq!(sys.status_of("b").state, "ready");
    sys.power_off();
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn s6_readiness_fd_a_newline_is_ready_end_of_file_is_not() {
    let mut s = setup();
    let mut a = spec("a", "sleep 0.5; echo >&3; exec sleep 100");
    a.ready = 3;
    s.services.push(a);
    let mut b = spec("b", "exec sleep 100");
    b.after = "a ";
    s.services.push(b);
    // fd 5 closed without a newline: never ready.
    let mut c = spec("c", "exec 5>&-; exec sleep 100");
    c.ready = 5;
    s.services.push(c);
    let mut sys = boot("ready-fd", Some(&s.encode()));
    let started_a = sys.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service a started pid "));
    let started_b = sys.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service b started pid "));
    assert!(started_b - started_a >= Duration::from_millis(400), "{}", sys.console_text());
    let lines = sys.lines();
    assert!(
        line_at(&lines, "init: service a ready").unwrap()
            < line_at(&lines, "init: service b started").unwrap()
    );
    wait_state(&sys, "a", "ready");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sys.status_of("c").state, "starting");
    let console = sys.power_off();
    assert!(!console.contains("service c ready"), "{console}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_notify_message_from_another_pid_is_refused() {
    let mut s = setup();
    // The shell's child sends READY=1: not the main pid.
    s.raw_args.push((
        "child",
        vec!["/bin/sh", "-c", "/usr/bin/python3 -c \"$0\" READY=1 & exec sleep 100", NOTIFY],
    ));
    let mut c = spec("child", "");
    c.ready = 1;
    s.services.push(c);
    let mut sys = boot_usr("ready-other-pid", Some(&s.encode()), &[], false, true);
    sys.wait_line(Duration::from_secs(15), |l| {
        l.starts_with("init: warning: service child notify from pid ") && l.ends_with(" refused")
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sys.status_of("child").state, "starting");
    let console = sys.power_off();
    assert!(!console.contains("service child ready"), "{console}");
    assert_eq!(console.matches("notify from pid").count(), 1, "{console}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_silent_watchdog_is_aborted_and_restarted_a_pinging_one_is_not() {
    let mut s = setup();
    let i = notifier(&mut s, "silent", &["READY=1"]);
    s.services[i].watchdog_ms = 400;
    s.services[i].restart = Restart::Always;
    let i = notifier(&mut s, "alive", &["READY=1", "ping=0.1"]);
    s.services[i].watchdog_ms = 400;
    let mut sys = boot_usr("ready-watchdog", Some(&s.encode()), &[], false, true);
    sys.wait_line(Duration::from_secs(15), |l| {
        l.starts_with("init: warning: service silent watchdog timeout, signal 6 to pid ")
    });
    sys.wait_for("init: service silent killed signal 6");
    sys.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service silent restart 1 in "));
    // Started again, and aborted again: the watchdog is armed on every start.
    sys.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service silent restart 2 in "));
    let alive = sys.status_of("alive");
    assert_eq!((alive.state.as_str(), alive.restarts), ("ready", 0), "{}", sys.console_text());
    let console = sys.power_off();
    assert!(!console.contains("service alive watchdog"), "{console}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn requires_stops_a_dependent_when_its_requirement_stops_or_fails_for_good() {
    let mut s = setup();
    s.services.push(spec("a", "exec sleep 100"));
    let mut b = spec("b", "exec sleep 100");
    b.requires = "a ";
    b.after = "a ";
    s.services.push(b);
    let mut c = spec("c", "exec sleep 100");
    c.after = "a ";
    s.services.push(c);
    let mut d = spec("d", "sleep 0.5; exit 1");
    d.restart = Restart::Never;
    s.services.push(d);
    let mut e = spec("e", "exec sleep 100");
    e.requires = "d ";
    e.after = "d ";
    s.services.push(e);
    // f requires e: the stop goes down the chain.
    let mut f = spec("f", "exec sleep 100");
    f.requires = "e ";
    f.after = "e ";
    s.services.push(f);
    let mut sys = boot("ready-requires", Some(&s.encode()));
    sys.wait_for("init: service e requires d, which stopped");
    sys.wait_for("init: service f requires e, which stopped");
    assert_eq!(wait_state(&sys, "e", "stopped").last, "signal:15");
    assert_eq!(wait_state(&sys, "f", "stopped").last, "signal:15");
    assert_eq!(sys.status_of("d").state, "failed");
    wait_state(&sys, "b", "ready");
    let o = sys.ctl(&["stop", "a"]);
    assert_eq!(o.code(), Some(0), "{o:?}");
    sys.wait_for("init: service b requires a, which stopped");
    assert_eq!(sys.status_of("b").state, "stopped");
    assert_eq!(sys.status_of("c").state, "ready", "after alone does not stop it");
    sys.power_off();
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_service_listed_before_the_started_service_it_is_after_starts_in_the_same_turn() {
    // z is after y, y is ready once started: z starts right after y, without waiting for
    // some other event to wake the loop.
    let mut s = setup();
    let mut z = spec("z", "exec sleep 100");
    z.after = "y ";
    s.services.push(z);
    s.services.push(spec("y", "exec sleep 100"));
    let mut sys = boot("ready-same-turn", Some(&s.encode()));
    let y = sys.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service y started pid "));
    let z = sys.wait_line(Duration::from_secs(15), |l| l.starts_with("init: service z started pid "));
    assert!(z - y < Duration::from_secs(1), "z started {:?} after y:\n{}", z - y, sys.console_text());
    sys.power_off();
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_service_that_said_stopping_is_not_watched_and_costs_init_nothing() {
    // STOPPING=1, then silence past the watchdog: no abort (it is on its way out), and init
    // does not spin on the expired deadline meanwhile.
    let mut s = setup();
    let i = notifier(&mut s, "leaving", &["READY=1", "STOPPING=1"]);
    s.services[i].watchdog_ms = 200;
    let mut sys = boot_usr("ready-stopping", Some(&s.encode()), &[], false, true);
    wait_state(&sys, "leaving", "stopping");
    let pid = sys.init_pid();
    std::thread::sleep(Duration::from_millis(300)); // past the watchdog deadline
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(1000));
    let used = cpu_ticks(pid) - before;
    assert!(used < 20, "init used {used} ticks in 1 s:\n{}", sys.console_text());
    let console = sys.power_off();
    assert!(!console.contains("service leaving watchdog timeout"), "{console}");
}
