//! The `init` suite: dmzkit's init as PID 1 in system mode, with its compiled config at
//! /etc/dmzkit/init.pcfg.
//!
//! Tasks (in order, each waited for): the setup task that gives a probe copy file caps, and on
//! x86_64 the watchdog modules. Services: every class of [`scenario::services`], the orphan
//! maker, a crasher restarted with backoff up to a limit, a well-behaved
//! long-running service, one that ignores SIGTERM, and one that asks init to power off
//! (SIGUSR2) after the rest had time to run. The checks read the probes' lines and init's
//! own event lines (init/README.md lists them).

use crate::arch::Arch;
use crate::artifacts::Artifacts;
use crate::console::Console;
use crate::kernel::Kernel;
use crate::scenario::{self, Service};
use crate::suite::{self, Check, Image};
use serde_json::json;
use std::path::Path;

/// Marker of init's first console line.
pub const BOOT_MARKER: &str = "init: dmzkit init starting";

/// Restart policy of a unit, as init's config has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    Never,
    OnFailure,
}

/// A task or service: its dmz config (through [`Service`]) plus init's supervision settings.
pub struct Unit {
    pub svc: Service,
    pub restart: Restart,
    pub restart_delay_ms: u32,
    pub restart_delay_max_ms: u32,
    pub restart_limit: u32,
    pub stop_signal: u8,
    pub stop_timeout_ms: u32,
    /// `ready` in the TOML (`None`: the default, `started`).
    pub ready: Option<&'static str>,
    /// `after` in the TOML.
    pub after: Vec<&'static str>,
    /// `output = "capture"`: init logs its lines to the kernel log.
    pub capture: bool,
    /// cgroup keys of a service (`memory_max`, ...) and their TOML values.
    pub cgroup: Vec<(&'static str, &'static str)>,
}

impl Unit {
    fn once(svc: Service) -> Unit {
        Unit {
            svc,
            restart: Restart::Never,
            restart_delay_ms: 0,
            restart_delay_max_ms: 0,
            restart_limit: 0,
            stop_signal: SIGTERM,
            stop_timeout_ms: 2000,
            ready: None,
            after: vec![],
            capture: false,
            cgroup: vec![],
        }
    }
}

pub const SIGHUP: u8 = 1;
pub const SIGTERM: u8 = 15;
pub const SIGUSR2: u8 = 12;

/// The hardware watchdog init keeps alive (x86_64): a timeout the VM would not survive
/// without keep-alives, since it runs for several times as long.
pub struct WatchdogPlan {
    pub device: &'static str,
    pub timeout_s: u32,
    /// None: the launcher's default (a third of `timeout_s`).
    pub interval_ms: Option<u32>,
}

/// Everything init.pcfg says.
pub struct Plan {
    pub hostname: String,
    pub error_delay_s: u32,
    pub shutdown_grace_ms: u32,
    pub watchdog: Option<WatchdogPlan>,
    pub tasks: Vec<Unit>,
    pub services: Vec<Unit>,
}

/// Crasher: first restart delay, cap and limit. Three restarts: 200, 400, 800 ms.
const CRASH_DELAY_MS: u32 = 200;
const CRASH_DELAY_MAX_MS: u32 = 1600;
const CRASH_LIMIT: u32 = 3;
/// The SIGTERM-ignoring service's stop timeout before SIGKILL.
const IGNORE_TERM_TIMEOUT_MS: u32 = 1000;
/// When the last service asks init to power off: after the crasher's restarts (1.4 s of
/// delays) and, on x86_64, well past the watchdog timeout.
const POWEROFF_AFTER_MS: u64 = 5000;
/// The i6300esb's timeout, set by the module parameter `heartbeat`.
const WATCHDOG_TIMEOUT_S: u32 = 2;
/// What the init config asks for: above the i6300esb's maximum (2046 s), so the driver
/// refuses it and keeps its 2 s. The launcher's default interval for it is 1000 s: init must
/// take the interval from the timeout the driver reports, or the VM is reset.
const WATCHDOG_REQUEST_S: u32 = 3000;
/// When a service sends init SIGHUP (a reload of the same file: every service unchanged).
const RELOAD_AFTER_MS: u64 = 1500;
/// When the notify service of the readiness check sends READY=1, after its start.
const READY_AFTER_MS: u64 = 800;
/// The lines the capturing service writes, and when the kmsg reader looks for them.
const CAPTURED: [&str; 2] = ["dmzkit-captured-1", "dmzkit-captured-2"];
const KMSG_AFTER_MS: u64 = 1000;
/// Kernel command line words after the suite's own: a bare `reboot`, which the kernel passes
/// on to init as an argument (as PID 1, no request to reboot).
const APPEND: &str = "reboot";

/// A root unit with exactly the capabilities `caps` (a config without a `capabilities`
/// object gets none, as with runc).
fn root_task(tag: &'static str, args: &[&str], caps: &[u32]) -> Service {
    let names = scenario::cap_names(caps);
    Service {
        tag,
        about: "",
        process: json!({
            "user": { "uid": 0, "gid": 0 }, "args": args, "env": ["PATH=/bin", "HOME=/"], "cwd": "/",
            "capabilities": { "bounding": names, "effective": names, "permitted": names },
        }),
        expect: vec![],
        seccomp: None,
    }
}

/// The setup task mounts a tmpfs (SYS_ADMIN), sets security.capability (SETFCAP), and reads
/// the kernel log for the boot timing (SYSLOG).
const SETCAP_CAPS: [u32; 3] = [scenario::CAP_SYS_ADMIN, scenario::CAP_SETFCAP, scenario::CAP_SYSLOG];

fn setcap_task() -> Unit {
    Unit::once(root_task(
        "setcap",
        &["/bin/probe", "setcap", "/bin/probe", scenario::CAPS_COPY],
        &SETCAP_CAPS,
    ))
}

pub fn plan(arch: Arch) -> Plan {
    // `init status` from a task: the client, while PID 1 waits for the task.
    let mut tasks = vec![setcap_task(), Unit::once(root_task("status", &["/init", "status"], &[]))];
    // Its round trip, from a shell's point of view: fork, exec of the client, reply, exit.
    let runs = STATUS_RUNS.to_string();
    tasks.push(Unit::once(root_task(
        "status-rtt",
        &["/bin/probe", "repeat", "status-rtt", &runs, "/init", "status"],
        &[],
    )));
    if arch.has_watchdog() {
        tasks.push(Unit::once(root_task(
            "modules",
            &["/bin/probe", "modload", "/lib/modules", &format!("heartbeat={WATCHDOG_TIMEOUT_S}")],
            &[scenario::CAP_SYS_MODULE],
        )));
    }

    let mut services: Vec<Unit> = scenario::classes().into_iter().map(Unit::once).collect();
    services.push(Unit::once(root_task("orphans", &["/bin/probe", "orphans", "8"], &[])));
    services.push(Unit {
        restart: Restart::OnFailure,
        restart_delay_ms: CRASH_DELAY_MS,
        restart_delay_max_ms: CRASH_DELAY_MAX_MS,
        restart_limit: CRASH_LIMIT,
        ..Unit::once(root_task("crasher", &["/bin/probe", "crash", "crasher"], &[]))
    });
    services.push(Unit::once(root_task("hold", &["/bin/probe", "observe", "hold", "hold"], &[])));
    services.push(Unit {
        stop_timeout_ms: IGNORE_TERM_TIMEOUT_MS,
        ..Unit::once(root_task("ignore-term", &["/bin/probe", "ignore-term", "ignore-term"], &[]))
    });
    // Readiness ordering: a (notify) is ready READY_AFTER_MS after its start; b (fd:3) starts
    // only then and is ready a little later; c (started) starts after b is ready. Listed in
    // reverse: the order comes from `after`.
    services.push(Unit {
        after: vec!["ready-b"],
        ..Unit::once(root_task("ready-c", &["/bin/probe", "ready-fd", "ready-c", "1", "0"], &[]))
    });
    services.push(Unit {
        ready: Some("fd:3"),
        after: vec!["ready-a"],
        ..Unit::once(root_task("ready-b", &["/bin/probe", "ready-fd", "ready-b", "3", "200"], &[]))
    });
    let ready_after = READY_AFTER_MS.to_string();
    services.push(Unit {
        ready: Some("notify"),
        ..Unit::once(root_task("ready-a", &["/bin/probe", "notify", "ready-a", &ready_after, "READY=1"], &[]))
    });
    // Output captured by init into the kernel log, read back by another service.
    services.push(Unit {
        capture: true,
        ..Unit::once(root_task("logger", &["/bin/probe", "say", CAPTURED[0], CAPTURED[1]], &[]))
    });
    let kmsg_after = KMSG_AFTER_MS.to_string();
    services.push(Unit::once(root_task(
        "kmsg",
        &["/bin/probe", "kmsg", "logger[", &kmsg_after],
        &[scenario::CAP_SYSLOG],
    )));
    let hup = SIGHUP.to_string();
    let reload_after = RELOAD_AFTER_MS.to_string();
    services.push(Unit::once(root_task("reload", &["/bin/probe", "signal-init", &hup, &reload_after], &[])));
    services.extend(cgroup_services());
    let sig = SIGUSR2.to_string();
    let after = POWEROFF_AFTER_MS.to_string();
    services.push(Unit::once(root_task("poweroff", &["/bin/probe", "signal-init", &sig, &after], &[])));
    Plan {
        hostname: format!("dmzkit-{}", arch.name()),
        error_delay_s: 1,
        shutdown_grace_ms: 1000,
        watchdog: arch.has_watchdog().then_some(WatchdogPlan {
            device: "/dev/watchdog",
            timeout_s: WATCHDOG_REQUEST_S,
            interval_ms: None,
        }),
        tasks,
        services,
    }
}

/// The cgroup services (busybox shell scripts): one that allocates past its `memory_max`,
/// one that forks past its `pids_max`, one that reads its own `cpu_weight` and `cpu_max` back
/// and then turns the cpu controller off before it is ready (fd 3; it keeps running: a service
/// that exited is not ready, whichever of its exit and its newline init sees first), one `after` it whose
/// `cpu_max` therefore cannot be applied, a daemon whose setsid'd child must die when it is
/// stopped, and the checker that stops it with `init stop`.
const OOM_MEMORY_MAX: &str = "16777216";
const PIDS_MAX: &str = "4";
const CPU_WEIGHT: &str = "50";
const CPU_MAX: &str = "\"50000 100000\"";

fn sh(tag: &'static str, script: &str) -> Service {
    root_task(tag, &["/bin/busybox", "sh", "-c", script], &[])
}

fn cgroup_services() -> Vec<Unit> {
    let oom =
        root_task("oom", &["/bin/busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], &[]);
    let pids = sh(
        "pids",
        "busybox sleep 30 & busybox sleep 30 & busybox sleep 30 & \
         read c < /sys/fs/cgroup/pids.service/pids.current; read m < /sys/fs/cgroup/pids.service/pids.max; \
         echo \"cgroup-pids: current=$c max=$m\"; busybox sleep 30 & echo \"cgroup-pids: a fifth process\"",
    );
    let daemon = sh(
        "daemon",
        "busybox setsid busybox sh -c 'echo $$ > /run/daemon.pid; exec busybox sleep 1000' & exec busybox sleep 1000",
    );
    let check = sh(
        "cgroup-check",
        "read own < /proc/self/cgroup; echo \"cgroup-own: $own\"; \
         while [ ! -s /run/daemon.pid ]; do busybox sleep 0.1; done; read p < /run/daemon.pid; \
         echo \"cgroup-status: $(/init status daemon)\"; \
         /init stop daemon; echo \"cgroup-kill: stop exited $?\"; i=0; \
         while [ -e /proc/$p ] && [ $i -lt 30 ]; do busybox sleep 0.1; i=$((i+1)); done; \
         if [ -e /proc/$p ]; then echo \"cgroup-kill: daemon child $p survived\"; \
         else echo \"cgroup-kill: daemon child $p gone\"; fi",
    );
    let cpu = sh(
        "cpu",
        "read w < /sys/fs/cgroup/cpu.service/cpu.weight; read m < /sys/fs/cgroup/cpu.service/cpu.max; \
         echo \"cgroup-cpu: weight=$w max=$m\"; \
         echo -cpu > /sys/fs/cgroup/cgroup.subtree_control && echo >&3; exec busybox sleep 1000",
    );
    vec![
        Unit { cgroup: vec![("memory_max", OOM_MEMORY_MAX)], ..Unit::once(oom) },
        Unit { cgroup: vec![("pids_max", PIDS_MAX)], ..Unit::once(pids) },
        Unit {
            cgroup: vec![("cpu_weight", CPU_WEIGHT), ("cpu_max", CPU_MAX)],
            ready: Some("fd:3"),
            ..Unit::once(cpu)
        },
        Unit {
            cgroup: vec![("cpu_max", CPU_MAX)],
            after: vec!["cpu"],
            ..Unit::once(sh("capped", "echo capped-ran"))
        },
        Unit { cgroup: vec![("memory_max", "\"max\"")], ..Unit::once(daemon) },
        Unit::once(check),
    ]
}

/// The demo: the setup task, the seed scenario's service, and a service that asks init to
/// power off shortly after.
pub fn demo_plan(arch: Arch) -> Plan {
    let seed = scenario::services().into_iter().next().expect("the seed scenario");
    let sig = SIGUSR2.to_string();
    Plan {
        hostname: format!("dmzkit-{}", arch.name()),
        error_delay_s: 1,
        shutdown_grace_ms: 1000,
        watchdog: None,
        tasks: vec![setcap_task()],
        services: vec![
            Unit::once(seed),
            Unit::once(root_task("poweroff", &["/bin/probe", "signal-init", &sig, "1000"], &[])),
        ],
    }
}

/// The demo image: dmzkit's init with [`demo_plan`].
pub fn demo_image(arch: Arch, art: &Artifacts, kernel: &Kernel, work: &Path) -> Result<Image, String> {
    let init = &art.init;
    let plan = demo_plan(arch);
    let mut a = suite::base(arch, art, kernel, work)?;
    a.file("init", 0o755, std::fs::read(init).map_err(|e| format!("{}: {e}", init.display()))?);
    a.file("etc/dmzkit/init.pcfg", 0o644, compile(arch, &plan, art, work)?);
    let seed = scenario::services().into_iter().next().expect("the seed scenario");
    let checks: Vec<(String, Check)> = vec![
        (seed.tag.to_string(), suite::service_check(&seed)),
        (
            "power-off".into(),
            Box::new(|c: &Console| {
                c.find("init: poweroff now").map(str::to_string).ok_or("no \"poweroff now\" line".into())
            }),
        ),
    ];
    Ok(Image { archive: a, checks, todo: vec![], boot_marker: BOOT_MARKER, append: "" })
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// init.toml for `plan` (the format of init/README.md); each unit names the OCI config.json
/// written next to it (`<tag>.json`, the file `launcher compile --oci` takes too).
pub fn to_toml(plan: &Plan) -> String {
    let mut t =
        String::from("# Written by qemu-tests (init_suite.rs); compiled with `launcher compile --init`.\n");
    t += &format!("hostname = {}\n", toml_str(&plan.hostname));
    t += "on_error = \"poweroff\"\n";
    t += &format!("error_delay_s = {}\n", plan.error_delay_s);
    t += &format!("shutdown_grace_ms = {}\n", plan.shutdown_grace_ms);
    if let Some(w) = &plan.watchdog {
        t += &format!("\n[watchdog]\ndevice = {}\ntimeout_s = {}\n", toml_str(w.device), w.timeout_s);
        if let Some(ms) = w.interval_ms {
            t += &format!("interval_ms = {ms}\n");
        }
    }
    for u in &plan.tasks {
        t += &format!(
            "\n[[task]]\nname = {}\noci = {}\n",
            toml_str(u.svc.tag),
            toml_str(&format!("{}.json", u.svc.tag))
        );
    }
    for u in &plan.services {
        t += &format!(
            "\n[[service]]\nname = {}\noci = {}\n",
            toml_str(u.svc.tag),
            toml_str(&format!("{}.json", u.svc.tag))
        );
        match u.restart {
            Restart::Never => t += "restart = \"never\"\n",
            Restart::OnFailure => {
                t += &format!(
                    "restart = \"on-failure\"\nrestart_delay_ms = {}\nrestart_delay_max_ms = {}\nrestart_limit = {}\n",
                    u.restart_delay_ms, u.restart_delay_max_ms, u.restart_limit
                );
            }
        }
        let sig = match u.stop_signal {
            SIGTERM => "SIGTERM".to_string(),
            SIGUSR2 => "SIGUSR2".to_string(),
            n => n.to_string(),
        };
        t += &format!("stop_signal = \"{sig}\"\nstop_timeout_ms = {}\n", u.stop_timeout_ms);
        if let Some(r) = u.ready {
            t += &format!("ready = {}\n", toml_str(r));
        }
        if !u.after.is_empty() {
            let names: Vec<String> = u.after.iter().map(|n| toml_str(n)).collect();
            t += &format!("after = [{}]\n", names.join(", "));
        }
        if u.capture {
            t += "output = \"capture\"\n";
        }
        for (key, value) in &u.cgroup {
            t += &format!("{key} = {value}\n");
        }
    }
    t
}

/// init.pcfg for `plan`: init.toml compiled by `launcher compile --init`, the unit configs
/// being the OCI config.json files `launcher compile --oci` takes.
fn compile(arch: Arch, plan: &Plan, art: &Artifacts, work: &Path) -> Result<Vec<u8>, String> {
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    for u in plan.tasks.iter().chain(&plan.services) {
        let json = work.join(format!("{}.json", u.svc.tag));
        std::fs::write(&json, u.svc.config_json()).map_err(|e| format!("{}: {e}", json.display()))?;
    }
    let toml = work.join("init.toml");
    let pcfg = work.join("init.pcfg");
    std::fs::write(&toml, to_toml(plan)).map_err(|e| format!("{}: {e}", toml.display()))?;
    let mut c = std::process::Command::new(&art.launcher);
    c.arg("compile").arg("--init").arg(&toml).arg("-o").arg(&pcfg);
    if plan.services.iter().any(|u| u.svc.seccomp.is_some()) {
        c.args(["--arch", arch.launcher_arch()]); // seccomp profiles are compiled for the target
    }
    crate::cmd::output(&mut c)?;
    std::fs::read(&pcfg).map_err(|e| format!("{}: {e}", pcfg.display()))
}

/// The services of the init.pcfg [`compile`] wrote, in their compiled order (the start order:
/// each after what it is `after`), as `launcher inspect --json` shows them.
fn compiled_order(art: &Artifacts, work: &Path) -> Result<Vec<String>, String> {
    let mut c = std::process::Command::new(&art.launcher);
    c.args(["inspect", "--json"]).arg(work.join("init.pcfg"));
    let json = crate::cmd::output(&mut c)?;
    let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| format!("launcher inspect: {e}"))?;
    let services = v["service"].as_array().ok_or("launcher inspect: no service list")?;
    Ok(services.iter().filter_map(|u| Some(u["name"].as_str()?.to_string())).collect())
}

fn lines<'c>(c: &'c Console, pat: &'c str) -> impl Iterator<Item = (usize, &'c String)> + 'c {
    c.lines.iter().enumerate().filter(move |(_, l)| l.contains(pat))
}

fn init_line(name: &'static str, pat: String) -> (String, Check) {
    (
        name.into(),
        Box::new(move |c: &Console| c.find(&pat).map(str::to_string).ok_or(format!("no \"{pat}\" line"))),
    )
}

/// The init image and its checks.
pub fn image(arch: Arch, art: &Artifacts, kernel: &Kernel, work: &Path) -> Result<Image, String> {
    let init = &art.init;
    let plan = plan(arch);
    let mut a = suite::base(arch, art, kernel, work)?;
    // A /dev/console the kernel cannot open (a directory: EISDIR; the kernel's built-in
    // initramfs has the 5:1 node, which the unpacker replaces only by a different file type):
    // the kernel starts init with no fds 0-2, and init must fill them (from devtmpfs's
    // /dev/console) before it opens anything else.
    a.dir("dev/console", 0o755);
    a.file("init", 0o755, std::fs::read(init).map_err(|e| format!("{}: {e}", init.display()))?);
    a.file("etc/dmzkit/init.pcfg", 0o644, compile(arch, &plan, art, work)?);
    let order = compiled_order(art, work)?;
    let busybox = crate::kernel::busybox(&crate::kernel::cache_dir(&crate::target_dir()), arch)?;
    a.file("bin/busybox", 0o755, std::fs::read(&busybox).map_err(|e| format!("{}: {e}", busybox.display()))?);

    let mut checks: Vec<(String, Check)> = vec![init_line("boot (init as PID 1)", BOOT_MARKER.into())];
    checks.push(init_line(
        "`reboot` on the kernel command line: an argument, not a request",
        "init: warning: system mode ignores its arguments".into(),
    ));
    checks.push(init_line("config loaded", "init: config ".into()));
    for t in &plan.tasks {
        let name = format!("task {} exited status 0", t.svc.tag);
        checks.push((format!("task {}", t.svc.tag), {
            let pat = format!("init: {name}");
            Box::new(move |c: &Console| c.find(&pat).map(str::to_string).ok_or(format!("no \"{pat}\" line")))
        }));
    }
    checks.push(("setcap".into(), suite::verdict_check("setcap")));
    if arch.has_watchdog() {
        checks.push(("watchdog modules".into(), suite::verdict_check("modload")));
    }
    checks.push(("zombies (orphans reaped by init)".into(), suite::verdict_check("zombies")));
    for s in scenario::classes() {
        checks.push((format!("{} ({})", s.tag, s.about), suite::service_check(&s)));
    }
    let host = plan.hostname.clone();
    checks.push((
        "hostname set by init".into(),
        Box::new(move |c: &Console| match c.get("seed", "hostname") {
            Some(h) if h == host => Ok(h.to_string()),
            other => Err(format!("the seed service sees hostname {other:?}, config says {host:?}")),
        }),
    ));
    checks.push((
        "started without fds 0-2, services get the console on them".into(),
        Box::new(|c: &Console| {
            let fds: Vec<String> = ["fd0", "fd1", "fd2"]
                .iter()
                .map(|k| c.get("hold", k).unwrap_or("none").to_string())
                .collect();
            if fds.iter().all(|f| f == "/dev/console") {
                Ok(format!("fds 0-2 of a service: {}", fds.join(" ")))
            } else {
                Err(format!("fds 0-2 of a service: {} (want /dev/console)", fds.join(" ")))
            }
        }),
    ));
    checks.push(("`init status` from a task".into(), Box::new(status_check)));
    checks.push(("`init status` round trip".into(), Box::new(status_rtt_check)));
    let n = plan.services.len();
    checks.push(("reload (SIGHUP, same config)".into(), Box::new(move |c: &Console| reload_check(c, n))));
    checks.push(("crash restart with backoff".into(), Box::new(crash_check)));
    checks.push(("readiness ordering".into(), Box::new(readiness_check)));
    checks.push(("captured log lines in dmesg".into(), Box::new(captured_check)));
    checks.push(("cgroup per service".into(), Box::new(cgroup_own_check)));
    checks.push(("cgroup memory limit".into(), Box::new(oom_check)));
    checks.push(("cgroup pids limit".into(), Box::new(pids_check)));
    checks.push(("cgroup cpu weight and max".into(), Box::new(cpu_check)));
    checks.push(("cgroup limit not applied: the start fails closed".into(), Box::new(capped_check)));
    checks.push(("cgroup kill".into(), Box::new(cgroup_kill_check)));
    checks.push(("SIGTERM-ignoring service killed at shutdown".into(), Box::new(ignore_term_check)));
    checks.push((
        "ordered shutdown ending in power-off".into(),
        Box::new(move |c: &Console| shutdown_check(c, &order)),
    ));
    if arch.has_watchdog() {
        checks.push(("watchdog (init arms, pets, magic-closes i6300esb)".into(), Box::new(watchdog_check)));
    }
    Ok(Image { archive: a, checks, todo: vec![], boot_marker: BOOT_MARKER, append: APPEND })
}

/// The crasher ran 1 + CRASH_LIMIT times, init scheduled restarts with doubling delays, gave
/// up at the limit, and the gaps between starts were at least those delays.
fn crash_check(c: &Console) -> Result<String, String> {
    let starts: Vec<u64> = c
        .obs
        .get(&("crasher".to_string(), "exec-us".to_string()))
        .map(|v| v.iter().filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_default();
    let want_runs = 1 + CRASH_LIMIT as usize;
    if starts.len() != want_runs {
        return Err(format!("{} starts, want {want_runs}", starts.len()));
    }
    let mut delay = CRASH_DELAY_MS as u64;
    let mut gaps = Vec::new();
    for (k, w) in starts.windows(2).enumerate() {
        let gap_ms = w[1].saturating_sub(w[0]) / 1000;
        let pat = format!("init: service crasher restart {} in {delay} ms", k + 1);
        if c.find(&pat).is_none() {
            return Err(format!("no \"{pat}\" line"));
        }
        if gap_ms < delay {
            return Err(format!(
                "restart {} came {gap_ms} ms after the previous start, delay {delay} ms",
                k + 1
            ));
        }
        gaps.push(format!("{gap_ms}"));
        delay = (delay * 2).min(CRASH_DELAY_MAX_MS as u64);
    }
    let killed = lines(c, "init: service crasher killed signal 11").count();
    if killed != want_runs {
        return Err(format!("{killed} \"killed signal 11\" lines, want {want_runs}"));
    }
    c.find("init: warning: service crasher failed: restart limit reached").ok_or("no restart-limit line")?;
    Ok(format!("{want_runs} runs, each killed by SIGSEGV; gaps {} ms; limit reached", gaps.join("/")))
}

/// ready-a (notify) sent READY=1 after READY_AFTER_MS; ready-b (after a, fd:3) started only
/// once a was ready, and ready-c (after b) once b was; no datagram was refused.
fn readiness_check(c: &Console) -> Result<String, String> {
    let at = |pat: &str| lines(c, pat).next().map(|(i, _)| i).ok_or(format!("no \"{pat}\" line"));
    let order = [
        "init: service ready-a started pid ",
        "init: service ready-a ready",
        "init: service ready-b started pid ",
        "init: service ready-b ready",
        "init: service ready-c started pid ",
    ];
    let idx = order.iter().map(|p| at(p)).collect::<Result<Vec<_>, _>>()?;
    if !idx.windows(2).all(|w| w[0] < w[1]) {
        return Err(format!("out of order: {order:?} at lines {idx:?}"));
    }
    if c.get("ready-a", "sent") != Some("READY=1") {
        return Err(format!("ready-a sent {:?}", c.get("ready-a", "sent")));
    }
    if let Some(l) = c.find("notify from pid") {
        return Err(format!("refused: {l}"));
    }
    Ok(format!("a (notify) ready after {READY_AFTER_MS} ms → b (fd:3) started, ready → c started"))
}

/// The logger's lines, captured by init, are in the kernel log as `logger[PID]: LINE` (PID
/// the one init started), read back from /dev/kmsg by the kmsg service; not on the console
/// by themselves.
fn captured_check(c: &Console) -> Result<String, String> {
    let pat = "init: service logger started pid ";
    let pid =
        lines(c, pat).next().and_then(|(_, l)| l.split(pat).nth(1)).ok_or(format!("no \"{pat}\" line"))?;
    let want: Vec<String> = CAPTURED.iter().map(|l| format!("logger[{}]: {l}", pid.trim())).collect();
    let got: Vec<String> = c.obs.get(&("kmsg".to_string(), "line".to_string())).cloned().unwrap_or_default();
    if got != want {
        return Err(format!("kernel log records {got:?}, want {want:?}"));
    }
    if let Some((_, l)) = lines(c, CAPTURED[0]).find(|(_, l)| !l.contains("DMZKIT-OBS kmsg")) {
        return Err(format!("a captured line on the console: {l}"));
    }
    Ok(format!("dmesg: {}", want.join(" | ")))
}

/// A service runs in its own cgroup, NAME.service under init's cgroup2 root.
fn cgroup_own_check(c: &Console) -> Result<String, String> {
    let l = c.find("cgroup-own: ").ok_or("the checker did not run")?;
    let own = l.split("cgroup-own: ").nth(1).unwrap_or("").trim();
    match own {
        "0::/cgroup-check.service" => Ok(format!("/proc/self/cgroup: {own}")),
        _ => Err(format!("/proc/self/cgroup of the checker: {own:?}")),
    }
}

/// The `oom` service allocated 64 MiB under a 16 MiB memory_max: the OOM killer killed it
/// and init said so.
fn oom_check(c: &Console) -> Result<String, String> {
    let killed = c.find("init: service oom killed signal 9").ok_or("oom was not killed by SIGKILL")?;
    let warn = "init: warning: service oom out of memory: 1 killed by the OOM killer";
    c.find(warn).ok_or(format!("no \"{warn}\" line ({killed})"))?;
    Ok(format!("64 MiB under memory_max {OOM_MEMORY_MAX}: killed, reported"))
}

/// The `pids` service (a shell) forked three sleeps under pids_max 4, then failed to fork a
/// fifth process (busybox sh exits 2 on that).
fn pids_check(c: &Console) -> Result<String, String> {
    let want = format!("cgroup-pids: current={PIDS_MAX} max={PIDS_MAX}");
    let l = c.find("cgroup-pids: ").ok_or("the pids service printed nothing")?;
    if !l.contains(&want) {
        return Err(format!("{l:?}, want {want:?}"));
    }
    if let Some(l) = c.find("cgroup-pids: a fifth process") {
        return Err(l.to_string());
    }
    c.find("init: service pids exited status 2").ok_or("the fifth fork did not fail")?;
    Ok(format!("{}; the fifth fork refused", l.trim()))
}

/// `cpu`'s cgroup has its cpu_weight and cpu_max, as the kernel reads them back.
fn cpu_check(c: &Console) -> Result<String, String> {
    let want = "cgroup-cpu: weight=50 max=50000 100000";
    let l = c.find("cgroup-cpu: ").ok_or("the cpu service printed nothing")?;
    if l.contains(want) {
        Ok(want.into())
    } else {
        Err(format!("{l:?}, not {want:?}"))
    }
}

/// `capped` has a cpu_max, but the cpu controller is off: its child reports the file it
/// could not write and exits 125 instead of running without the limit.
fn capped_check(c: &Console) -> Result<String, String> {
    let why = "init: unable to set up cgroup: ENOENT (/sys/fs/cgroup/capped.service/cpu.max)";
    c.find(why).ok_or(format!("no \"{why}\" line"))?;
    c.find("init: service capped exited status 125").ok_or("capped did not exit 125")?;
    if let Some(l) = c.find("capped-ran") {
        return Err(format!("capped ran without its cpu_max: {l}"));
    }
    Ok(format!("{why}; exit 125"))
}

/// `init stop daemon` killed the daemon's setsid'd child (another session and process
/// group: the stop signal does not reach it; its cgroup does), and `status` showed the
/// service's memory.current.
fn cgroup_kill_check(c: &Console) -> Result<String, String> {
    c.find("cgroup-kill: stop exited 0").ok_or("`init stop daemon` did not exit 0")?;
    let gone = c.find("cgroup-kill: daemon child").ok_or("the checker did not finish")?;
    if !gone.contains(" gone") {
        return Err(gone.to_string());
    }
    let status = c.find("cgroup-status: ").ok_or("the checker printed no status")?;
    // The digits only: a kernel message may continue the console line.
    let mem: String =
        status.split(" mem=").nth(1).unwrap_or("").chars().take_while(char::is_ascii_digit).collect();
    if !mem.parse::<u64>().is_ok_and(|m| m > 0) {
        return Err(format!("status of daemon: {status:?}, want mem=BYTES"));
    }
    Ok(format!("{}; mem={mem}", gone.trim()))
}

/// The status task printed its own line (running) and one per service (not started yet:
/// services start after the tasks), in the documented format.
fn status_check(c: &Console) -> Result<String, String> {
    let own = c.find("task status starting pid=").ok_or("no status line for the task itself")?;
    let hold = "service hold waiting pid=0 uptime_ms=0 restarts=0 last=-";
    c.find(hold).ok_or(format!("no \"{hold}\" line"))?;
    c.find("init: task status exited status 0").ok_or("the client did not exit 0")?;
    Ok(format!("{} …; {hold}", own.trim()))
}

/// How many times the status-rtt task runs `init status`.
const STATUS_RUNS: u32 = 20;

/// Every `init status` of the status-rtt task exited 0; the figure is its wall time per run
/// (fork to reaped), min/median/max.
fn status_rtt_check(c: &Console) -> Result<String, String> {
    suite::verdict_check("status-rtt")(c)?;
    let v = c.get("status-rtt", "run-us").ok_or("no run-us line")?;
    Ok(format!("{STATUS_RUNS} runs, µs min/median/max: {}", v.replace(' ', "/")))
}

/// SIGHUP made init read the same config again: every service unchanged, none restarted
/// (the long-running `hold` started once).
fn reload_check(c: &Console, services: usize) -> Result<String, String> {
    let pat =
        format!("init: reloaded /etc/dmzkit/init.pcfg: 0 added, 0 removed, 0 changed, {services} unchanged");
    c.find(&pat).ok_or(format!("no \"{pat}\" line"))?;
    let starts = lines(c, "init: service hold started pid ").count();
    if starts != 1 {
        return Err(format!("hold started {starts} times"));
    }
    Ok(format!("{services} services unchanged, hold not restarted"))
}

fn ignore_term_check(c: &Console) -> Result<String, String> {
    c.get("ignore-term", "ignoring-sigterm")
        .filter(|v| *v == "1")
        .ok_or("the service did not report ignoring SIGTERM")?;
    let stop = lines(c, "init: service ignore-term stopping pid").next().ok_or("no stopping line")?;
    if !stop.1.ends_with(&format!("signal {SIGTERM}")) {
        return Err(format!("stop line: {}", stop.1));
    }
    let timeout =
        lines(c, "service ignore-term stop timeout, killing pid").next().ok_or("no stop-timeout line")?;
    let killed =
        lines(c, "init: service ignore-term killed signal 9").next().ok_or("no \"killed signal 9\" line")?;
    if !(stop.0 < timeout.0 && timeout.0 < killed.0) {
        return Err("stop, timeout and kill lines out of order".into());
    }
    Ok(format!("SIGTERM ignored, SIGKILL after the {IGNORE_TERM_TIMEOUT_MS} ms stop timeout"))
}

/// Shutdown requested by SIGUSR2, the running services stopped in reverse compiled order
/// (ignore-term before hold; ready-c before ready-b before ready-a, each before what it is
/// `after`, though the TOML lists them the other way round; the poweroff service may still be
/// running too, and then goes first), init's "poweroff now", then the kernel's power-down.
fn shutdown_check(c: &Console, order: &[String]) -> Result<String, String> {
    let req = lines(c, "init: shutdown: poweroff").next().ok_or("no \"shutdown: poweroff\" line")?.0;
    let stops: Vec<&str> = lines(c, " stopping pid ")
        .filter(|(i, _)| *i > req) // not `init stop` before it
        .filter_map(|(_, l)| l.split("init: service ").nth(1)?.split(' ').next())
        .collect();
    let rank = |n: &str| order.iter().rposition(|o| o == n);
    let ranks: Vec<Option<usize>> = stops.iter().map(|s| rank(s)).collect();
    let reversed = ranks.windows(2).all(|w| matches!(w, [Some(a), Some(b)] if a > b));
    let at = |n: &str| stops.iter().position(|s| *s == n);
    let dependents_first = matches!(
        (at("ready-c"), at("ready-b"), at("ready-a")),
        (Some(c), Some(b), Some(a)) if c < b && b < a
    );
    if !reversed || !dependents_first || !stops.contains(&"ignore-term") || !stops.contains(&"hold") {
        return Err(format!("services stopped in order {stops:?}; compiled order {order:?}"));
    }
    lines(c, "init: service hold killed signal 15").next().ok_or("hold did not end by SIGTERM")?;
    let now = lines(c, "init: poweroff now").next().ok_or("no \"poweroff now\" line")?.0;
    let down = lines(c, "reboot: Power down").next().ok_or("no kernel \"reboot: Power down\" line")?.0;
    if !(req < now && now < down) {
        return Err("shutdown lines out of order".into());
    }
    Ok(format!("SIGUSR2 → stopped {} (reverse compiled order) → poweroff now → Power down", stops.join(", ")))
}

/// init armed the i6300esb, which refused the requested timeout and kept its own, and init
/// kept it alive at a third of that; the VM outlived the timeout many times over
/// (keep-alives work: QEMU's i6300esb resets the machine, and -no-reboot ends QEMU, when it
/// expires); and the kernel never said "watchdog did not stop!" (it does on a close without
/// the magic 'V').
fn watchdog_check(c: &Console) -> Result<String, String> {
    for pat in [
        "init: warning: unable to set watchdog timeout: EINVAL (/dev/watchdog)".to_string(),
        format!("init: warning: watchdog timeout is {WATCHDOG_TIMEOUT_S} s, not {WATCHDOG_REQUEST_S} s"),
        format!("init: watchdog /dev/watchdog armed, keep-alive every {} ms", WATCHDOG_TIMEOUT_S * 1000 / 3),
    ] {
        c.find(&pat).ok_or(format!("no \"{pat}\" line"))?;
    }
    if let Some(l) = c.find("did not stop") {
        return Err(format!("closed without magic: {l}"));
    }
    c.find("init: poweroff now").ok_or("did not reach power-off (reset by the watchdog?)")?;
    Ok(format!(
        "{WATCHDOG_REQUEST_S} s refused, armed with the driver's {WATCHDOG_TIMEOUT_S} s, alive {} s later, closed with 'V'",
        POWEROFF_AFTER_MS / 1000
    ))
}
