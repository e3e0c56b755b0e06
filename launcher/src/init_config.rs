//! `launcher compile --init init.toml -o init.pcfg`: the system-mode config of `init`, from
//! a human-written TOML file; and `launcher inspect` of such a blob.
//!
//! Each task and service carries a complete dmz config, compiled from an OCI `process`
//! object written inline (`[service.process]`, the config.json schema in TOML) or from an
//! OCI config.json named by `oci = "path"` (relative to the TOML file), exactly as
//! `launcher compile --oci` does. See init/README.md for the file format.

use crate::{oci, wire};
use init::config::{Action, Config, Unit, MAX_CONFIG_LEN, MAX_MOUNTS, MAX_UNITS};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InitToml {
    hostname: Option<String>,
    ctrl_alt_del: Option<String>,
    on_error: Option<String>,
    error_delay_s: Option<u32>,
    shutdown_grace_ms: Option<u32>,
    watchdog: Option<WatchdogToml>,
    #[serde(default)]
    mount: Vec<MountToml>,
    #[serde(default)]
    task: Vec<UnitToml>,
    #[serde(default)]
    service: Vec<UnitToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchdogToml {
    device: Option<String>,
    timeout_s: Option<u32>,
    interval_ms: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MountToml {
    source: String,
    target: String,
    fstype: String,
    options: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitToml {
    name: String,
    oci: Option<PathBuf>,
    process: Option<toml::Value>,
    args: Option<Vec<String>>,
    restart: Option<String>,
    restart_delay_ms: Option<u32>,
    restart_delay_max_ms: Option<u32>,
    restart_limit: Option<u32>,
    stop_signal: Option<String>,
    stop_timeout_ms: Option<u32>,
    timeout_ms: Option<u32>,
    output: Option<String>,
    log_file: Option<String>,
    log_max_bytes: Option<u32>,
    memory_max: Option<toml::Value>,
    pids_max: Option<toml::Value>,
    cpu_weight: Option<toml::Value>,
    cpu_max: Option<toml::Value>,
    ready: Option<String>,
    ready_timeout_ms: Option<u32>,
    watchdog_ms: Option<u32>,
    #[serde(default)]
    after: Vec<String>,
    #[serde(default)]
    requires: Vec<String>,
}

/// Defaults for what the TOML leaves out (documented in init/README.md).
const RESTART_DELAY_MS: u32 = 1000;
const RESTART_DELAY_MAX_MS: u32 = 60_000;
const STOP_TIMEOUT_MS: u32 = 5000;
const ERROR_DELAY_S: u32 = 10;
const SHUTDOWN_GRACE_MS: u32 = 2000;
const WATCHDOG_INTERVAL_MS: u32 = 10_000;
/// How long init waits for a task before killing it: a task that hangs must not keep the
/// device from booting (and its watchdog from being armed) for ever.
const TASK_TIMEOUT_MS: u32 = 60_000;
/// A captured unit's log file is rotated before it grows past this size...
const LOG_MAX_BYTES: u32 = 64 << 10;
/// ...which is at least this: room for a few of init's longest lines (512 bytes).
const MIN_LOG_MAX_BYTES: u32 = 4096;

/// The machine the image is for: units' seccomp profiles are compiled for its architecture,
/// Docker profiles' minKernel against its kernel (`None`: the running one).
pub struct Target {
    pub arch: crate::seccomp::Arch,
    pub kernel: Option<crate::seccomp::KernelVersion>,
}

/// Compiles `path` into an init config blob. Warnings go to `warn`, one line each.
pub fn compile_file(path: &Path, target: &Target, warn: &mut dyn FnMut(String)) -> Result<Vec<u8>, String> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
    let base = path.parent().unwrap_or(Path::new("."));
    compile(&file, &text, base, target, warn)
}

/// Compiles TOML `text` (named `file` in messages; relative paths are taken from `base`): the
/// file parsed, each part of the config compiled in turn, the units' names checked, the blob
/// written.
pub fn compile(
    file: &str,
    text: &str,
    base: &Path,
    target: &Target,
    warn: &mut dyn FnMut(String),
) -> Result<Vec<u8>, String> {
    let t = parse(file, text)?;
    let ctrl_alt_del = action(file, "ctrl_alt_del", &t.ctrl_alt_del, true)?;
    let on_error = action(file, "on_error", &t.on_error, false)?;
    let hostname = hostname(file, t.hostname.as_deref())?;
    let watchdog = t.watchdog.as_ref().map(|w| watchdog(file, w)).transpose()?;
    let mounts = mounts(file, &t.mount)?;
    let tasks = units(file, "task", &t.task, base, target, warn)?;
    let services = units(file, "service", &t.service, base, target, warn)?;
    unique_names(file, tasks.iter().chain(&services))?;
    dependencies(file, &tasks, &services)?;
    let services = start_order(services);
    let cfg = wire::Init {
        hostname,
        ctrl_alt_del,
        on_error,
        error_delay_s: t.error_delay_s.unwrap_or(ERROR_DELAY_S),
        shutdown_grace_ms: t.shutdown_grace_ms.unwrap_or(SHUTDOWN_GRACE_MS),
        watchdog,
        mounts,
        tasks,
        services,
    };
    encode(file, &cfg)
}

/// `file: path: msg`, the shape of every error.
fn at(file: &str, path: &str, msg: String) -> String {
    format!("{file}: {path}: {msg}")
}

/// The TOML text into its schema; errors name the line and column or the key.
fn parse(file: &str, text: &str) -> Result<InitToml, String> {
    let de = toml::Deserializer::parse(text).map_err(|e| format!("{file}: {}", toml_error(text, &e)))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        at(file, &path, e.into_inner().message().to_string())
    })
}

/// A shutdown or failure action by its name (reboot when absent); `ignore` only where
/// `ignore_ok`.
fn action(file: &str, key: &str, v: &Option<String>, ignore_ok: bool) -> Result<wire::Action, String> {
    let Some(s) = v else { return Ok(wire::Action::Reboot) };
    match Action::from_name(s.as_bytes()) {
        Some(Action::Ignore) if !ignore_ok => {
            Err(at(file, key, format!("{s:?}: expected reboot, poweroff or halt")))
        }
        Some(a) => Ok(a.into()),
        None => Err(at(
            file,
            key,
            format!("{s:?}: expected reboot, poweroff, halt{}", if ignore_ok { " or ignore" } else { "" }),
        )),
    }
}

/// The hostname (empty: the kernel's), at most HOST_NAME_MAX bytes.
fn hostname(file: &str, name: Option<&str>) -> Result<Vec<u8>, String> {
    let name = name.unwrap_or_default();
    if name.len() > 64 || name.contains('\0') {
        return Err(at(file, "hostname", "longer than 64 bytes (HOST_NAME_MAX) or contains NUL".into()));
    }
    Ok(name.as_bytes().to_vec())
}

/// The watchdog: its device, timeout and a keep-alive interval below the timeout.
fn watchdog(file: &str, w: &WatchdogToml) -> Result<wire::Watchdog, String> {
    let device = w.device.as_deref().unwrap_or("/dev/watchdog");
    let timeout_s = w.timeout_s.unwrap_or(0);
    let interval_ms = w.interval_ms.unwrap_or(if timeout_s > 0 {
        init::config::third_of(timeout_s)
    } else {
        WATCHDOG_INTERVAL_MS
    });
    if interval_ms == 0 {
        return Err(at(file, "watchdog.interval_ms", "must be above 0".into()));
    }
    if timeout_s > 0 && interval_ms as u64 >= timeout_s as u64 * 1000 {
        return Err(at(
            file,
            "watchdog.interval_ms",
            format!("{interval_ms} ms is not below the timeout of {timeout_s} s: the device would reset"),
        ));
    }
    let device = c_path(device).map_err(|m| at(file, "watchdog.device", m))?;
    Ok(wire::Watchdog { device, timeout_s, interval_ms })
}

/// The `[[mount]]` tables, at most [`MAX_MOUNTS`].
fn mounts(file: &str, list: &[MountToml]) -> Result<Vec<wire::Mount>, String> {
    if list.len() > MAX_MOUNTS {
        return Err(at(file, "mount", format!("{} mounts, at most {MAX_MOUNTS}", list.len())));
    }
    list.iter().enumerate().map(|(i, m)| mount(file, &format!("mount[{i}]"), m)).collect()
}

/// One mount: absolute target, options split into MS_* flags and the data string.
fn mount(file: &str, p: &str, m: &MountToml) -> Result<wire::Mount, String> {
    let (flags, data) = mount_options(m.options.as_deref().unwrap_or(""));
    let target = c_path(&m.target).map_err(|e| at(file, &format!("{p}.target"), e))?;
    let nul = |s: &str, key: &str| -> Result<Vec<u8>, String> {
        if s.is_empty() || s.contains('\0') {
            return Err(at(file, &format!("{p}.{key}"), "empty or contains NUL".into()));
        }
        Ok(format!("{s}\0").into_bytes())
    };
    let data = if data.is_empty() { Vec::new() } else { nul(&data, "options")? };
    Ok(wire::Mount {
        source: nul(&m.source, "source")?,
        target,
        fstype: nul(&m.fstype, "fstype")?,
        flags,
        data,
    })
}

/// The `[[task]]` or `[[service]]` tables (`kind`), at most [`MAX_UNITS`].
fn units(
    file: &str,
    kind: &str,
    list: &[UnitToml],
    base: &Path,
    target: &Target,
    warn: &mut dyn FnMut(String),
) -> Result<Vec<wire::Unit>, String> {
    if list.len() > MAX_UNITS {
        return Err(at(file, kind, format!("{} entries, at most {MAX_UNITS}", list.len())));
    }
    let service = kind == "service";
    list.iter()
        .enumerate()
        .map(|(i, u)| compile_unit(file, &format!("{kind}[{i}]"), service, u, base, target, warn))
        .collect()
}

/// No two units share a name: log lines name units.
fn unique_names<'u>(file: &str, units: impl Iterator<Item = &'u wire::Unit>) -> Result<(), String> {
    let mut names: Vec<&[u8]> = Vec::new();
    for u in units {
        if names.contains(&&u.name[..]) {
            let name = String::from_utf8_lossy(&u.name);
            return Err(at(file, "name", format!("{name:?} is used twice (log lines name units)")));
        }
        names.push(&u.name);
    }
    Ok(())
}

/// The blob (postcard body behind the header), checked with init's own decoder.
fn encode(file: &str, cfg: &wire::Init) -> Result<Vec<u8>, String> {
    let blob = cfg
        .blob()
        .ok_or_else(|| format!("{file}: the compiled config is larger than {MAX_CONFIG_LEN} bytes"))?;
    Config::decode(&blob).map_err(|e| format!("{file}: compiled config does not decode: {}", e.text()))?;
    Ok(blob)
}

/// A TOML syntax error in one line: where (line and column, from the error's span) and what.
/// (The error's Display quotes the offending source line and a caret under it.)
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim_end().replace('\n', "; ");
    let Some(before) = e.span().and_then(|s| text.get(..s.start)) else {
        return format!("TOML parse error: {msg}");
    };
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("TOML parse error at line {line}, column {column}: {msg}")
}

/// An absolute path, as stored: with its NUL.
fn c_path(s: &str) -> Result<Vec<u8>, String> {
    if !s.starts_with('/') || s.contains('\0') {
        return Err(format!("{s:?} is not an absolute path"));
    }
    Ok(format!("{s}\0").into_bytes())
}

/// mount(8)-style options: the words that are MS_* flags become flags, the rest is the
/// filesystem's data string, in order.
fn mount_options(options: &str) -> (u64, String) {
    const FLAGS: &[(&str, u64)] = &[
        ("ro", 1),
        ("rw", 0),
        ("nosuid", 2),
        ("suid", 0),
        ("nodev", 4),
        ("dev", 0),
        ("noexec", 8),
        ("exec", 0),
        ("sync", 16),
        ("async", 0),
        ("dirsync", 128),
        ("noatime", 1024),
        ("nodiratime", 2048),
        ("bind", 4096),
        ("rbind", 4096 | 16384),
        ("relatime", 1 << 21),
        ("strictatime", 1 << 24),
        ("lazytime", 1 << 25),
        ("defaults", 0),
    ];
    let mut flags = 0;
    let mut data: Vec<&str> = Vec::new();
    for word in options.split(',').filter(|w| !w.is_empty()) {
        match FLAGS.iter().find(|(n, _)| *n == word) {
            Some((_, f)) => flags |= f,
            None => data.push(word),
        }
    }
    (flags, data.join(","))
}

fn compile_unit(
    file: &str,
    p: &str,
    service: bool,
    u: &UnitToml,
    base: &Path,
    target: &Target,
    warn: &mut dyn FnMut(String),
) -> Result<wire::Unit, String> {
    let at = |key: &str, msg: String| format!("{file}: {p}.{key}: {msg}");
    if !init::config::valid_name(u.name.as_bytes()) {
        return Err(at(
            "name",
            format!("{:?}: 1 to {} characters of A-Z a-z 0-9 . _ -", u.name, init::config::MAX_NAME),
        ));
    }
    if !service {
        let given = [
            ("restart", u.restart.is_some()),
            ("restart_delay_ms", u.restart_delay_ms.is_some()),
            ("restart_delay_max_ms", u.restart_delay_max_ms.is_some()),
            ("restart_limit", u.restart_limit.is_some()),
            ("stop_signal", u.stop_signal.is_some()),
            ("stop_timeout_ms", u.stop_timeout_ms.is_some()),
            ("memory_max", u.memory_max.is_some()),
            ("pids_max", u.pids_max.is_some()),
            ("cpu_weight", u.cpu_weight.is_some()),
            ("cpu_max", u.cpu_max.is_some()),
            ("ready", u.ready.is_some()),
            ("ready_timeout_ms", u.ready_timeout_ms.is_some()),
            ("watchdog_ms", u.watchdog_ms.is_some()),
            ("after", !u.after.is_empty()),
            ("requires", !u.requires.is_empty()),
        ];
        if let Some((key, _)) = given.iter().find(|(_, g)| *g) {
            return Err(at(key, "only services have it; tasks run once and are waited for".into()));
        }
    } else if u.timeout_ms.is_some() {
        return Err(at("timeout_ms", "only tasks have it (services have stop_timeout_ms)".into()));
    }
    let cgroup = cgroup_values(u).map_err(|(key, msg)| at(key, msg))?;
    let mut seccomp = None;
    let (origin, mut process) = match (&u.oci, &u.process) {
        (Some(_), Some(_)) => return Err(at("oci", "give either oci or process, not both".into())),
        (None, None) => return Err(at("process", "missing (or give oci = \"config.json\")".into())),
        (Some(path), None) => {
            let path = base.join(path);
            let name = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| at("oci", format!("{name}: {e}")))?;
            let spec = oci::parse(&name, &text)?;
            if !spec.not_applied.is_empty() {
                warn(format!("{name}: not applied: {}", spec.not_applied.join(", ")));
            }
            seccomp = spec.seccomp;
            (name, spec.process)
        }
        (None, Some(v)) => {
            let process: oci::Process = serde_path_to_error::deserialize(v.clone())
                .map_err(|e| at(&format!("process.{}", e.path()), e.into_inner().message().to_string()))?;
            (format!("{file}: {p}"), process)
        }
    };
    if u.process.is_some() && process.cwd.is_none() {
        process.cwd = Some("/".into()); // inline processes default to the root directory
    }
    if let Some(args) = &u.args {
        process.args = Some(args.clone());
    }
    let mut compiled = compile_process(&origin, &process, warn)?;
    let ready = readiness(&u.name, u, &mut compiled).map_err(|(key, m)| at(key, m))?;
    if let Some(profile) = &seccomp {
        compiled.seccomp =
            crate::compile_seccomp(&origin, "linux.seccomp", profile, &compiled, target.arch, target.kernel)?;
    }
    let dmz = compiled.encode().map_err(|m| format!("{origin}: {m}"))?;
    let restart = match u.restart.as_deref() {
        None | Some("on-failure") => wire::Restart::OnFailure,
        Some("always") => wire::Restart::Always,
        Some("never") => wire::Restart::Never,
        Some(other) => return Err(at("restart", format!("{other:?}: expected never, on-failure or always"))),
    };
    let restart = if service { restart } else { wire::Restart::Never };
    let restart_delay_ms = u.restart_delay_ms.unwrap_or(RESTART_DELAY_MS);
    let restart_delay_max_ms = u.restart_delay_max_ms.unwrap_or(RESTART_DELAY_MAX_MS.max(restart_delay_ms));
    if restart_delay_max_ms < restart_delay_ms {
        return Err(at("restart_delay_max_ms", format!("{restart_delay_max_ms} is below restart_delay_ms")));
    }
    if restart_delay_ms < init::config::MIN_RESTART_DELAY_MS {
        warn(format!(
            "{file}: {p}.restart_delay_ms: {restart_delay_ms} ms; init waits at least {} ms",
            init::config::MIN_RESTART_DELAY_MS
        ));
    }
    let stop_signal = match &u.stop_signal {
        None => init::signal::SIGTERM,
        Some(s) => init::signal::parse(s.as_bytes())
            .ok_or_else(|| at("stop_signal", format!("{s:?}: not a signal name or number 1..64")))?,
    };
    let (output, log_file, log_max_bytes) = output(u).map_err(|(key, m)| at(key, m))?;
    Ok(wire::Unit {
        name: u.name.clone().into_bytes(),
        dmz,
        restart,
        restart_delay_ms,
        restart_delay_max_ms,
        restart_limit: u.restart_limit.unwrap_or(0),
        stop_signal,
        stop_timeout_ms: u.stop_timeout_ms.unwrap_or(STOP_TIMEOUT_MS),
        timeout_ms: if service { 0 } else { u.timeout_ms.unwrap_or(TASK_TIMEOUT_MS) },
        output,
        log_file,
        log_max_bytes,
        cgroup,
        ready,
        ready_timeout_ms: u.ready_timeout_ms.unwrap_or(0),
        watchdog_ms: u.watchdog_ms.unwrap_or(0),
        // `requires` implies `after`: init reads the start order from `after` alone.
        after: u
            .after
            .iter()
            .chain(u.requires.iter().filter(|r| !u.after.contains(r)))
            .flat_map(|n| format!("{n} ").into_bytes())
            .collect(),
        requires: u.requires.iter().flat_map(|n| format!("{n} ").into_bytes()).collect(),
    })
}

/// Where init gives service `name` its notify socket (init/README.md).
pub fn notify_socket(name: &str) -> String {
    format!("/run/dmzkit/notify/{name}")
}

/// A service's `ready`, `ready_timeout_ms` and `watchdog_ms`: the wire value of `ready`, and
/// what the service's dmz config needs for it: `NOTIFY_SOCKET` (and `WATCHDOG_USEC`) in its
/// env for `notify`, the fd in its preserve_fds for `fd:N`. Errors name the key.
fn readiness(name: &str, u: &UnitToml, c: &mut oci::Compiled) -> Result<u32, (&'static str, String)> {
    let ready = match u.ready.as_deref() {
        None | Some("started") => init::config::READY_STARTED,
        Some("notify") => init::config::READY_NOTIFY,
        Some(s) => match s.strip_prefix("fd:").and_then(|n| n.parse::<u32>().ok()) {
            Some(n @ 3..=MAX_READY_FD) => n,
            _ => {
                return Err((
                    "ready",
                    format!("{s:?}: expected started, notify or fd:N (N from 3 to {MAX_READY_FD})"),
                ))
            }
        },
    };
    if u.ready_timeout_ms.is_some() && ready == init::config::READY_STARTED {
        return Err((
            "ready_timeout_ms",
            "needs ready = \"notify\" or \"fd:N\" (started is ready at once)".into(),
        ));
    }
    let watchdog_ms = u.watchdog_ms.unwrap_or(0);
    if u.watchdog_ms.is_some() && ready != init::config::READY_NOTIFY {
        return Err(("watchdog_ms", "needs ready = \"notify\" (the service sends WATCHDOG=1)".into()));
    }
    let set = |c: &mut oci::Compiled, e: String| oci::set_env(&mut c.env, &e).map_err(|m| ("ready", m));
    if ready == init::config::READY_NOTIFY {
        set(c, format!("NOTIFY_SOCKET={}", notify_socket(name)))?;
        if watchdog_ms != 0 {
            set(c, format!("WATCHDOG_USEC={}", watchdog_ms as u64 * 1000))?;
        }
    } else if ready >= 3 && !c.preserve_fds.contains(&ready) {
        c.preserve_fds.push(ready);
    }
    Ok(ready)
}

/// Highest readiness fd: a small number, as s6's notification-fd.
const MAX_READY_FD: u32 = 255;

/// `after` and `requires` name services (not tasks: they run before every service, not
/// itself) and form no cycle: a service in a cycle would never start.
fn dependencies(file: &str, tasks: &[wire::Unit], services: &[wire::Unit]) -> Result<(), String> {
    let index = |n: &[u8]| services.iter().position(|s| s.name == n);
    for (i, s) in services.iter().enumerate() {
        for (key, n) in edges(s) {
            let why = if n == s.name {
                "names the service itself"
            } else if tasks.iter().any(|t| t.name == n) {
                "is a task (tasks run before every service)"
            } else if index(n).is_none() {
                "no such service"
            } else {
                continue;
            };
            let shown = String::from_utf8_lossy(n);
            return Err(at(file, &format!("service[{i}].{key}"), format!("{shown:?}: {why}")));
        }
    }
    /// Depth-first from service `i`; `path` is the chain followed to it. A cycle found is
    /// returned as its services in order.
    fn visit(
        services: &[wire::Unit],
        i: usize,
        path: &mut Vec<usize>,
        done: &mut [bool],
    ) -> Option<Vec<usize>> {
        if let Some(k) = path.iter().position(|&p| p == i) {
            return Some(path[k..].to_vec());
        }
        if done[i] {
            return None;
        }
        path.push(i);
        for (_, n) in edges(&services[i]) {
            let j = services.iter().position(|t| t.name == n).expect("checked above");
            if let Some(cycle) = visit(services, j, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done[i] = true;
        None
    }
    let mut done = vec![false; services.len()];
    for i in 0..services.len() {
        if let Some(cycle) = visit(services, i, &mut Vec::new(), &mut done) {
            let name = |k: usize| String::from_utf8_lossy(&services[k].name).into_owned();
            let (first, next) = (cycle[0], cycle.get(1).copied().unwrap_or(cycle[0]));
            let key = match edges(&services[first]).find(|(_, n)| *n == services[next].name) {
                Some((key, _)) => key,
                None => "after",
            };
            let mut names: Vec<String> = cycle.iter().map(|&k| name(k)).collect();
            names.push(name(first));
            return Err(at(
                file,
                &format!("service[{first}].{key}"),
                format!("cycle: {}", names.join(" -> ")),
            ));
        }
    }
    Ok(())
}

/// The services in a start order: each after every service it is `after` (or `requires`),
/// otherwise in the TOML's order. init starts them in this order and stops them in reverse at
/// shutdown, so a service stops before the services it depends on. (Called once
/// [`dependencies`] found no cycle: some service always has all of its placed.)
fn start_order(mut rest: Vec<wire::Unit>) -> Vec<wire::Unit> {
    let mut order: Vec<wire::Unit> = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let placed = |s: &wire::Unit| names(&s.after).all(|n| order.iter().any(|o| o.name == n));
        let k = rest.iter().position(placed).unwrap_or(0);
        order.push(rest.remove(k));
    }
    order
}

/// A service's dependencies: (key, name) for each of `requires`, then `after`.
/// (`after` holds the names of `requires` too: those are named by `requires`.)
fn edges(s: &wire::Unit) -> impl Iterator<Item = (&'static str, &[u8])> {
    names(&s.requires).map(|n| ("requires", n)).chain(names(&s.after).map(|n| ("after", n)))
}

/// The names of a space-separated list.
fn names(l: &[u8]) -> impl Iterator<Item = &[u8]> {
    l.split(|&b| b == b' ').filter(|n| !n.is_empty())
}

/// Where a unit's output goes: `output`, and with `capture` an optional `log_file` under
/// /run (init writes there as root: nowhere else) and its `log_max_bytes`. Errors name the key.
fn output(u: &UnitToml) -> Result<(wire::Output, Vec<u8>, u32), (&'static str, String)> {
    let capture = match u.output.as_deref() {
        None | Some("console") => false,
        Some("capture") => true,
        Some(other) => return Err(("output", format!("{other:?}: expected console or capture"))),
    };
    let Some(file) = &u.log_file else {
        if u.log_max_bytes.is_some() {
            return Err(("log_max_bytes", "only with log_file".into()));
        }
        return Ok((if capture { wire::Output::Capture } else { wire::Output::Console }, vec![], 0));
    };
    if !capture {
        return Err(("log_file", "only with output = \"capture\"".into()));
    }
    let under_run = file.strip_prefix("/run/").is_some_and(|rest| {
        rest.split('/').all(|c| !c.is_empty() && c != "." && c != "..") && !rest.contains('\0')
    });
    if !under_run {
        return Err((
            "log_file",
            format!("{file:?}: not a file path under /run/ (without . or .. components)"),
        ));
    }
    if file.len() >= init::config::MAX_LOG_FILE {
        return Err(("log_file", format!("{file:?}: longer than {} bytes", init::config::MAX_LOG_FILE - 1)));
    }
    let max = u.log_max_bytes.unwrap_or(LOG_MAX_BYTES);
    if max < MIN_LOG_MAX_BYTES {
        return Err(("log_max_bytes", format!("{max} is below {MIN_LOG_MAX_BYTES}")));
    }
    Ok((wire::Output::Capture, format!("{file}\0").into_bytes(), max))
}

/// Largest quota in `cpu_max`, in microseconds: the kernel's limit on a CFS runtime
/// (kernel/sched/core.c, max_cfs_runtime: 2^44 - 1 µs).
const CPU_QUOTA_MAX: u64 = (1 << 44) - 1;
/// `cpu_max`'s period, in microseconds: 1 ms to 1 s (kernel/sched/core.c).
const CPU_PERIOD: std::ops::RangeInclusive<u64> = 1000..=1_000_000;
/// Largest `pids_max`: the kernel's PID_MAX_LIMIT on 64-bit machines (32-bit ones refuse
/// more than 32768 when the service starts).
const PIDS_MAX: u64 = 4 << 20;

/// A service's `memory_max`, `pids_max`, `cpu_weight` and `cpu_max` as init's config holds
/// them (init::config::Unit::cgroup): each value the kernel's text for its cgroup file with a
/// NUL, an empty one for a key not given; nothing when none is. Err: the key and what is
/// wrong.
fn cgroup_values(u: &UnitToml) -> Result<Vec<u8>, (&'static str, String)> {
    let int_or_max = |key: &'static str, v: &toml::Value, range: std::ops::RangeInclusive<u64>| match v {
        toml::Value::String(s) if s == "max" => Ok(s.clone()),
        toml::Value::Integer(n) if u64::try_from(*n).is_ok_and(|n| range.contains(&n)) => Ok(n.to_string()),
        v => {
            Err((key, format!("{v}: expected an integer in {}..={} or \"max\"", range.start(), range.end())))
        }
    };
    let cpu_max = |v: &toml::Value| {
        let bad = || {
            ("cpu_max", format!("{v}: expected \"QUOTA PERIOD\" or \"max PERIOD\" in microseconds (quota 1000..={CPU_QUOTA_MAX}, period 1000..=1000000)"))
        };
        let toml::Value::String(s) = v else { return Err(bad()) };
        let words: Vec<&str> = s.split(' ').collect();
        let num = |w: &str| w.parse::<u64>().ok().filter(|_| !w.starts_with('+'));
        match words[..] {
            [q, p]
                if (q == "max" || num(q).is_some_and(|q| (1000..=CPU_QUOTA_MAX).contains(&q)))
                    && num(p).is_some_and(|p| CPU_PERIOD.contains(&p)) =>
            {
                Ok(s.clone())
            }
            _ => Err(bad()),
        }
    };
    let cpu_weight = |v: &toml::Value| match v {
        toml::Value::Integer(n @ 1..=10000) => Ok(n.to_string()),
        v => Err(("cpu_weight", format!("{v}: expected an integer in 1..=10000"))),
    };
    let values = [
        u.memory_max.as_ref().map(|v| int_or_max("memory_max", v, 1..=i64::MAX as u64)).transpose()?,
        u.pids_max.as_ref().map(|v| int_or_max("pids_max", v, 1..=PIDS_MAX)).transpose()?,
        u.cpu_weight.as_ref().map(cpu_weight).transpose()?,
        u.cpu_max.as_ref().map(cpu_max).transpose()?,
    ];
    if values.iter().all(Option::is_none) {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for v in values {
        out.extend(v.unwrap_or_default().into_bytes());
        out.push(0);
    }
    Ok(out)
}

/// The same compilation `launcher compile --oci` applies to a config.json's process: runc's
/// defaults (HOME) and its adjustments (an ambient capability it cannot raise is skipped with a
/// warning); what the kernel would refuse is an error.
fn compile_process(
    origin: &str,
    p: &oci::Process,
    warn: &mut dyn FnMut(String),
) -> Result<oci::Compiled, String> {
    let mut c = oci::compile(origin, p)?;
    // Services share init's stdio (the console, or a log pipe): giving it to one service's
    // uid would hand that service the console. runc's rule is for a container's own stdio.
    c.chown_stdio = false;
    crate::validate::bare_program_needs_path(&c).map_err(|e| format!("{origin}: {e}"))?;
    oci::add_home(&mut c);
    crate::consistency::reconcile(origin, &mut c, false, warn)?;
    Ok(c)
}

/// A unit's dmz config, as `launcher inspect --json` shows a dmz blob.
fn dmz_json(blob: &[u8]) -> Result<Value, String> {
    crate::view::decode(blob).map(|v| serde_json::to_value(v).expect("the view serializes"))
}

/// `launcher inspect` of an init config: `None` when `blob` is not one (no `DMZI` magic).
pub fn inspect(blob: &[u8]) -> Option<Result<Value, String>> {
    if !blob.starts_with(&init::config::MAGIC) {
        return None;
    }
    Some(to_json(blob))
}

fn to_json(blob: &[u8]) -> Result<Value, String> {
    let c = Config::decode(blob).map_err(|e| format!("not a valid init config: {}", e.text()))?;
    let text = |b: &[u8]| String::from_utf8_lossy(b.strip_suffix(&[0]).unwrap_or(b)).into_owned();
    let unit = |u: &Unit, service: bool| -> Result<Value, String> {
        let mut v = json!({ "name": text(u.name), "dmz": dmz_json(u.dmz)?, "output": u.output.name() });
        if !u.log_file.is_empty() {
            let o = v.as_object_mut().expect("object");
            o.insert("log_file".into(), json!(text(u.log_file)));
            o.insert("log_max_bytes".into(), json!(u.log_max_bytes));
        }
        if !service {
            v.as_object_mut().expect("object").insert("timeout_ms".into(), json!(u.timeout_ms));
        }
        if service {
            let o = v.as_object_mut().expect("object");
            o.insert("restart".into(), json!(u.restart.name()));
            o.insert("restart_delay_ms".into(), json!(u.restart_delay_ms));
            o.insert("restart_delay_max_ms".into(), json!(u.restart_delay_max_ms));
            o.insert("restart_limit".into(), json!(u.restart_limit));
            let sig = init::signal::name(u.stop_signal)
                .map_or_else(|| u.stop_signal.to_string(), |n| format!("SIG{}", text(n)));
            o.insert("stop_signal".into(), json!(sig));
            o.insert("stop_timeout_ms".into(), json!(u.stop_timeout_ms));
            let values = u.cgroup.split(|&b| b == 0);
            let keys = ["memory_max", "pids_max", "cpu_weight", "cpu_max"];
            for (key, v) in keys.into_iter().zip(values).filter(|(_, v)| !v.is_empty()) {
                let v = text(v);
                o.insert(key.into(), v.parse::<u64>().map_or_else(|_| json!(v), |n| json!(n)));
            }
            let ready = match u.ready {
                init::config::READY_STARTED => "started".to_string(),
                init::config::READY_NOTIFY => "notify".to_string(),
                n => format!("fd:{n}"),
            };
            o.insert("ready".into(), json!(ready));
            o.insert("ready_timeout_ms".into(), json!(u.ready_timeout_ms));
            o.insert("watchdog_ms".into(), json!(u.watchdog_ms));
            o.insert("after".into(), json!(names(u.after).map(text).collect::<Vec<_>>()));
            o.insert("requires".into(), json!(names(u.requires).map(text).collect::<Vec<_>>()));
        }
        Ok(v)
    };
    Ok(json!({
        "formatVersion": init::config::VERSION,
        "hostname": text(c.hostname),
        "ctrl_alt_del": c.ctrl_alt_del.name(),
        "on_error": c.on_error.name(),
        "error_delay_s": c.error_delay_s,
        "shutdown_grace_ms": c.shutdown_grace_ms,
        "watchdog": c.watchdog.map(|w| json!({
            "device": text(w.device), "timeout_s": w.timeout_s, "interval_ms": w.interval_ms,
        })),
        "mount": c.mounts.iter().map(|m| json!({
            "source": text(m.source), "target": text(m.target), "fstype": text(m.fstype),
            "flags": m.flags, "data": text(m.data),
        })).collect::<Vec<_>>(),
        "task": c.tasks.iter().map(|u| unit(&u, false)).collect::<Result<Vec<_>, _>>()?,
        "service": c.services.iter().map(|u| unit(&u, true)).collect::<Result<Vec<_>, _>>()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use init::config::{Restart, Watchdog};

    fn compile_str(text: &str) -> Result<Vec<u8>, String> {
        let target = Target { arch: crate::seccomp::Arch::native(), kernel: None };
        compile("init.toml", text, Path::new("/nonexistent"), &target, &mut |_| {})
    }

    const SAMPLE: &str = r#"
hostname = "edge-1"
on_error = "poweroff"
error_delay_s = 5
ctrl_alt_del = "ignore"
shutdown_grace_ms = 1500

[watchdog]
device = "/dev/watchdog0"
timeout_s = 30

[[mount]]
source = "tmpfs"
target = "/var"
fstype = "tmpfs"
options = "nosuid,nodev,size=16m,mode=0755"

[[task]]
name = "net-setup"
timeout_ms = 5000
process = { args = ["/sbin/ip", "link", "set", "eth0", "up"] }

[[service]]
name = "web"
restart = "always"
restart_delay_ms = 500
restart_limit = 10
stop_signal = "SIGINT"
stop_timeout_ms = 3000
[service.process]
args = ["/usr/bin/web", "--port", "80"]
env = ["PATH=/usr/bin:/bin"]
cwd = "/srv"
noNewPrivileges = true
user = { uid = 1000, gid = 1000, additionalGids = [20] }
capabilities = { bounding = ["CAP_NET_BIND_SERVICE"], permitted = ["CAP_NET_BIND_SERVICE"], effective = ["CAP_NET_BIND_SERVICE"], inheritable = ["CAP_NET_BIND_SERVICE"], ambient = ["CAP_NET_BIND_SERVICE"] }
"#;

    #[test]
    fn compiles_every_field() {
        let blob = compile_str(SAMPLE).unwrap();
        let c = Config::decode(&blob).unwrap();
        assert_eq!(c.hostname, b"edge-1");
        assert_eq!(c.on_error, Action::PowerOff);
        assert_eq!(c.ctrl_alt_del, Action::Ignore);
        assert_eq!(c.error_delay_s, 5);
        assert_eq!(c.shutdown_grace_ms, 1500);
        assert_eq!(
            c.watchdog,
            Some(Watchdog { device: b"/dev/watchdog0\0", timeout_s: 30, interval_ms: 10_000 })
        );
        let (m, task, s) = (c.mounts.get(0).unwrap(), c.tasks.get(0).unwrap(), c.services.get(0).unwrap());
        assert_eq!(m.flags, 2 | 4);
        assert_eq!(m.data, b"size=16m,mode=0755\0");
        assert_eq!(task.name, b"net-setup");
        assert_eq!(task.restart, Restart::Never);
        assert_eq!(task.timeout_ms, 5000);
        assert_eq!(s.timeout_ms, 0, "services have no task timeout");
        let t = dmz::Config::decode(task.dmz).unwrap();
        assert_eq!(t.args.0, b"/sbin/ip\0link\0set\0eth0\0up\0");
        assert_eq!(t.cwd.0, b"/\0", "inline processes default to /");
        assert_eq!(
            (s.restart, s.restart_delay_ms, s.restart_delay_max_ms, s.restart_limit),
            (Restart::Always, 500, 60_000, 10)
        );
        assert_eq!((s.stop_signal, s.stop_timeout_ms), (2, 3000));
        let d = dmz::Config::decode(s.dmz).unwrap();
        assert_eq!((d.uid, d.gid, d.groups.as_deref()), (Some(1000), Some(1000), Some(&[20][..])));
        assert!(!d.chown_stdio, "services share init's stdio");
        assert_eq!(d.caps.unwrap().ambient, 1 << 10);
        assert!(d.no_new_privs);
        assert_eq!(d.cwd.0, b"/srv\0");
    }

    #[test]
    fn inspect_shows_it_back() {
        let blob = compile_str(SAMPLE).unwrap();
        let v = inspect(&blob).unwrap().unwrap();
        assert_eq!(v["hostname"], "edge-1");
        assert_eq!(v["on_error"], "poweroff");
        assert_eq!(v["watchdog"]["interval_ms"], 10_000);
        assert_eq!(v["mount"][0]["target"], "/var");
        assert_eq!(v["service"][0]["restart"], "always");
        assert_eq!(v["service"][0]["stop_signal"], "SIGINT");
        assert_eq!(v["service"][0]["dmz"]["user"]["uid"], 1000);
        assert_eq!(v["task"][0]["dmz"]["args"][0], "/sbin/ip");
        assert_eq!(v["task"][0]["timeout_ms"], 5000);
        assert!(v["service"][0].get("timeout_ms").is_none(), "{}", v["service"][0]);
        assert!(inspect(b"DMZK....").is_none(), "a dmz blob is not an init config");
    }

    #[test]
    fn errors_name_the_field() {
        let err = |t: &str| compile_str(t).unwrap_err();
        assert_eq!(err("hostnme = \"x\""), "init.toml: hostnme: unknown field `hostnme`, expected one of `hostname`, `ctrl_alt_del`, `on_error`, `error_delay_s`, `shutdown_grace_ms`, `watchdog`, `mount`, `task`, `service`");
        assert_eq!(
            err("[[service]]\nname = \"a b\"\nprocess = { args = [\"/x\"] }"),
            "init.toml: service[0].name: \"a b\": 1 to 32 characters of A-Z a-z 0-9 . _ -"
        );
        assert_eq!(
            err("[[service]]\nname = \"a\"\nrestart = \"sometimes\"\nprocess = { args = [\"/x\"] }"),
            "init.toml: service[0].restart: \"sometimes\": expected never, on-failure or always"
        );
        assert_eq!(
            err("[[task]]\nname = \"a\"\nrestart = \"always\"\nprocess = { args = [\"/x\"] }"),
            "init.toml: task[0].restart: only services have it; tasks run once and are waited for"
        );
        assert_eq!(
            err("[[service]]\nname = \"a\"\nprocess = { args = [\"/x\"], user = { uid = \"root\" } }"),
            "init.toml: service[0].process.user.uid: invalid type: string \"root\", expected u32"
        );
        assert_eq!(
            err("[[service]]\nname = \"a\"\nprocess = { args = [\"/x\"], user = { uid = 4294967295, gid = 0 } }"),
            "init.toml: service[0]: process.user.uid: 4294967295 is above 2147483647, the largest id runc accepts"
        );
        assert_eq!(
            err("[[task]]\nname = \"a\"\nprocess = { args = [\"/x\"], user = { uid = 0, gid = 0, additionalGids = [2147483648] } }"),
            "init.toml: task[0]: process.user.additionalGids[0]: 2147483648 is above 2147483647, the largest id runc accepts"
        );
        assert_eq!(
            err("[[service]]\nname = \"a\"\nprocess = { args = [\"/x\"], capabilities = { bounding = [\"CAP_NET_BIND_SERVIC\"] } }"),
            "init.toml: service[0]: process.capabilities.bounding[0]: unknown capability \"CAP_NET_BIND_SERVIC\" (did you mean CAP_NET_BIND_SERVICE?)"
        );
        assert_eq!(
            err("[[service]]\nname = \"a\"\nprocess = { args = [\"/x\"] }\n[[service]]\nname = \"a\"\nprocess = { args = [\"/y\"] }"),
            "init.toml: name: \"a\" is used twice (log lines name units)"
        );
        assert_eq!(
            err("[[service]]\nname = \"a\"\nstop_signal = \"SIGNOPE\"\nprocess = { args = [\"/x\"] }"),
            "init.toml: service[0].stop_signal: \"SIGNOPE\": not a signal name or number 1..64"
        );
        assert_eq!(
            err("[[service]]\nname = \"a\""),
            "init.toml: service[0].process: missing (or give oci = \"config.json\")"
        );
        assert_eq!(
            err("[watchdog]\ntimeout_s = 10\ninterval_ms = 10000"),
            "init.toml: watchdog.interval_ms: 10000 ms is not below the timeout of 10 s: the device would reset"
        );
        assert_eq!(
            err("on_error = \"ignore\""),
            "init.toml: on_error: \"ignore\": expected reboot, poweroff or halt"
        );
        assert_eq!(
            err("hostname = \"a\"\nhostname = "),
            "init.toml: TOML parse error at line 2, column 12: string values must be quoted, expected literal string"
        );
    }

    #[test]
    fn services_from_an_oci_config_json() {
        let dir = std::env::temp_dir().join(format!("launcher-init-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("web.json"),
            r#"{"ociVersion":"1.0.2","process":{"args":["/bin/web"],"cwd":"/","user":{"uid":33,"gid":33}},"hostname":"x"}"#,
        )
        .unwrap();
        let toml = "[[service]]\nname = \"web\"\noci = \"web.json\"\nargs = [\"/bin/web\", \"-v\"]\n";
        std::fs::write(dir.join("init.toml"), toml).unwrap();
        let mut warnings = Vec::new();
        let target = Target { arch: crate::seccomp::Arch::native(), kernel: None };
        let blob = compile_file(&dir.join("init.toml"), &target, &mut |w| warnings.push(w)).unwrap();
        let c = Config::decode(&blob).unwrap();
        let d = dmz::Config::decode(c.services.get(0).unwrap().dmz).unwrap();
        assert_eq!((d.uid, d.gid), (Some(33), Some(33)));
        assert_eq!(d.args.0, b"/bin/web\0-v\0", "args replace process.args");
        assert_eq!(warnings, vec![format!("{}: not applied: hostname", dir.join("web.json").display())]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A bare program name needs a PATH in the process's env, as runc needs one.
    #[test]
    fn bare_program_name_without_path() {
        let unit = |env: &str| format!("[[service]]\nname = \"a\"\nprocess = {{ args = [\"sh\"]{env} }}\n");
        assert_eq!(
            compile_str(&unit("")).unwrap_err(),
            "init.toml: service[0]: process.args[0]: \"sh\" is not a path and process.env has no PATH \
             (runc finds nothing then): give an absolute path or set PATH"
        );
        assert!(compile_str(&unit(", env = [\"PATH=/bin\"]")).is_ok());
    }

    /// The default keep-alive interval is a third of the timeout, computed without overflow:
    /// a timeout of u32::MAX seconds gives the largest interval, not a wrapped small one.
    #[test]
    fn watchdog_interval_of_a_huge_timeout() {
        let blob = compile_str("[watchdog]\ntimeout_s = 4294967295\n").unwrap();
        let w = Config::decode(&blob).unwrap().watchdog.unwrap();
        assert_eq!((w.timeout_s, w.interval_ms), (u32::MAX, u32::MAX));
        // 4294968 s * 1000 is just above u32::MAX.
        let blob = compile_str("[watchdog]\ntimeout_s = 4294968\n").unwrap();
        let w = Config::decode(&blob).unwrap().watchdog.unwrap();
        assert_eq!((w.timeout_s, w.interval_ms), (4_294_968, 1_431_656_000));
        let blob = compile_str("[watchdog]\ntimeout_s = 30\n").unwrap();
        assert_eq!(Config::decode(&blob).unwrap().watchdog.unwrap().interval_ms, 10_000);
    }

    #[test]
    fn task_timeout_defaults_and_belongs_to_tasks() {
        let blob = compile_str("[[task]]\nname = \"t\"\nprocess = { args = [\"/x\"] }\n").unwrap();
        assert_eq!(Config::decode(&blob).unwrap().tasks.get(0).unwrap().timeout_ms, TASK_TIMEOUT_MS);
        let blob =
            compile_str("[[task]]\nname = \"t\"\ntimeout_ms = 0\nprocess = { args = [\"/x\"] }\n").unwrap();
        assert_eq!(Config::decode(&blob).unwrap().tasks.get(0).unwrap().timeout_ms, 0, "0: no timeout");
        assert_eq!(
            compile_str("[[service]]\nname = \"s\"\ntimeout_ms = 5\nprocess = { args = [\"/x\"] }\n")
                .unwrap_err(),
            "init.toml: service[0].timeout_ms: only tasks have it (services have stop_timeout_ms)"
        );
    }

    fn service_with(keys: &str) -> Result<Vec<u8>, String> {
        compile_str(&format!("[[service]]\nname = \"s\"\nprocess = {{ args = [\"/x\"] }}\n{keys}"))
    }

    #[test]
    fn cgroup_keys_compile_to_the_kernels_text_per_file() {
        let blob = service_with("").unwrap();
        assert_eq!(Config::decode(&blob).unwrap().services.get(0).unwrap().cgroup, b"", "none: empty");
        let blob = service_with("memory_max = 16777216\ncpu_max = \"max 100000\"\n").unwrap();
        let c = Config::decode(&blob).unwrap();
        assert_eq!(c.services.get(0).unwrap().cgroup, b"16777216\0\0\0max 100000\0");
        let blob = service_with(
            "memory_max = \"max\"\npids_max = 64\ncpu_weight = 10000\ncpu_max = \"50000 100000\"\n",
        )
        .unwrap();
        let c = Config::decode(&blob).unwrap();
        assert_eq!(c.services.get(0).unwrap().cgroup, b"max\x0064\x0010000\x0050000 100000\0");
        let v = to_json(&blob).unwrap();
        let s = &v["service"][0];
        assert_eq!((&s["memory_max"], &s["pids_max"]), (&json!("max"), &json!(64)));
        assert_eq!((&s["cpu_weight"], &s["cpu_max"]), (&json!(10000), &json!("50000 100000")));
        let v = to_json(&service_with("").unwrap()).unwrap();
        assert!(v["service"][0].get("memory_max").is_none(), "{}", v["service"][0]);
    }

    #[test]
    fn cgroup_keys_out_of_range_or_on_a_task_are_refused() {
        let err = |keys: &str| service_with(keys).unwrap_err();
        for (keys, key) in [
            ("memory_max = 0", "memory_max"),
            ("memory_max = -1", "memory_max"),
            ("memory_max = \"16M\"", "memory_max"),
            ("pids_max = 0", "pids_max"),
            ("pids_max = 4194305", "pids_max"),
            ("cpu_weight = 0", "cpu_weight"),
            ("cpu_weight = 10001", "cpu_weight"),
            ("cpu_weight = \"max\"", "cpu_weight"),
            ("cpu_max = \"max\"", "cpu_max"),
            ("cpu_max = \"999 100000\"", "cpu_max"),
            ("cpu_max = \"50000 999\"", "cpu_max"),
            ("cpu_max = \"50000 1000001\"", "cpu_max"),
            ("cpu_max = \"50000  100000\"", "cpu_max"),
            ("cpu_max = \"+5000 100000\"", "cpu_max"),
            ("cpu_max = 50000", "cpu_max"),
        ] {
            let e = err(keys);
            assert!(e.starts_with(&format!("init.toml: service[0].{key}: ")), "{keys}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        assert_eq!(
            err("pids_max = 0"),
            "init.toml: service[0].pids_max: 0: expected an integer in 1..=4194304 or \"max\""
        );
        assert_eq!(
            compile_str("[[task]]\nname = \"t\"\nmemory_max = 1\nprocess = { args = [\"/x\"] }\n")
                .unwrap_err(),
            "init.toml: task[0].memory_max: only services have it; tasks run once and are waited for"
        );
        // The kernel's bounds are accepted.
        service_with("pids_max = 4194304\ncpu_weight = 1\ncpu_max = \"1000 1000\"\n").unwrap();
        service_with("cpu_max = \"17592186044415 1000000\"\n").unwrap();
        err("cpu_max = \"17592186044416 1000000\"");
    }

    #[test]
    fn output_capture_and_log_file() {
        let unit = |keys: &str| format!("[[service]]\nname = \"s\"\n{keys}process = {{ args = [\"/x\"] }}\n");
        let svc = |keys: &str| {
            let blob = compile_str(&unit(keys)).unwrap();
            let u = Config::decode(&blob).unwrap().services.get(0).unwrap();
            (u.output, u.log_file.to_vec(), u.log_max_bytes)
        };
        use init::config::Output;
        assert_eq!(svc(""), (Output::Console, vec![], 0));
        assert_eq!(svc("output = \"console\"\n"), (Output::Console, vec![], 0));
        assert_eq!(svc("output = \"capture\"\n"), (Output::Capture, vec![], 0));
        assert_eq!(
            svc("output = \"capture\"\nlog_file = \"/run/log/s.log\"\n"),
            (Output::Capture, b"/run/log/s.log\0".to_vec(), LOG_MAX_BYTES)
        );
        assert_eq!(
            svc("output = \"capture\"\nlog_file = \"/run/s.log\"\nlog_max_bytes = 4096\n"),
            (Output::Capture, b"/run/s.log\0".to_vec(), 4096)
        );
        let blob =
            compile_str("[[task]]\nname = \"t\"\noutput = \"capture\"\nprocess = { args = [\"/x\"] }\n")
                .unwrap();
        assert_eq!(Config::decode(&blob).unwrap().tasks.get(0).unwrap().output, Output::Capture, "tasks too");
        let err = |keys: &str| compile_str(&unit(keys)).unwrap_err();
        assert_eq!(
            err("output = \"syslog\"\n"),
            "init.toml: service[0].output: \"syslog\": expected console or capture"
        );
        assert_eq!(
            err("log_file = \"/run/s.log\"\n"),
            "init.toml: service[0].log_file: only with output = \"capture\""
        );
        assert_eq!(
            err("output = \"capture\"\nlog_max_bytes = 9000\n"),
            "init.toml: service[0].log_max_bytes: only with log_file"
        );
        for outside in [
            "/var/log/s.log",
            "/run",
            "/run/",
            "/run/../etc/passwd",
            "/run/log/./s",
            "/run//s",
            "run/s",
            "/run/log/",
        ] {
            assert_eq!(
                err(&format!("output = \"capture\"\nlog_file = \"{outside}\"\n")),
                format!("init.toml: service[0].log_file: {outside:?}: not a file path under /run/ (without . or .. components)"),
            );
        }
        let long = format!("/run/{}", "x".repeat(init::config::MAX_LOG_FILE - 5));
        assert_eq!(
            err(&format!("output = \"capture\"\nlog_file = \"{long}\"\n")),
            format!("init.toml: service[0].log_file: {long:?}: longer than 127 bytes")
        );
        let fits = &long[..long.len() - 1];
        assert_eq!(
            svc(&format!("output = \"capture\"\nlog_file = \"{fits}\"\n")).1.len(),
            init::config::MAX_LOG_FILE
        );
        assert_eq!(
            err("output = \"capture\"\nlog_file = \"/run/s\"\nlog_max_bytes = 4095\n"),
            "init.toml: service[0].log_max_bytes: 4095 is below 4096"
        );
    }

    #[test]
    fn inspect_shows_output_and_log_file() {
        let blob = compile_str(
            "[[service]]\nname = \"s\"\noutput = \"capture\"\nlog_file = \"/run/log/s.log\"\nprocess = { args = [\"/x\"] }\n\
             [[task]]\nname = \"t\"\nprocess = { args = [\"/x\"] }\n",
        )
        .unwrap();
        let v = to_json(&blob).unwrap();
        let s = &v["service"][0];
        assert_eq!(
            (&s["output"], &s["log_file"], &s["log_max_bytes"]),
            (&json!("capture"), &json!("/run/log/s.log"), &json!(65536))
        );
        let t = &v["task"][0];
        assert_eq!(t["output"], "console");
        assert!(t.get("log_file").is_none() && t.get("log_max_bytes").is_none(), "{t}");
    }

    #[test]
    fn mount_options_split_into_flags_and_data() {
        assert_eq!(mount_options("ro,nosuid,size=1m,bind"), (1 | 2 | 4096, "size=1m".into()));
        assert_eq!(mount_options("defaults"), (0, String::new()));
        assert_eq!(mount_options("mode=0755,uid=0"), (0, "mode=0755,uid=0".into()));
    }
}

#[cfg(test)]
mod readiness_tests {
    use super::*;

    fn compile_str(text: &str) -> Result<Vec<u8>, String> {
        let target = Target { arch: crate::seccomp::Arch::native(), kernel: None };
        compile("init.toml", text, Path::new("/nonexistent"), &target, &mut |_| {})
    }

    /// A service `name` with the TOML lines `extra`.
    fn svc(name: &str, extra: &str) -> String {
        format!("[[service]]\nname = \"{name}\"\n{extra}\nprocess = {{ args = [\"/x\"] }}\n")
    }

    fn dmz_of(blob: &[u8], i: usize) -> dmz::Config<'_> {
        let u = Config::decode(blob).unwrap().services.get(i).unwrap();
        dmz::Config::decode(u.dmz).unwrap()
    }

    #[test]
    fn notify_sets_the_socket_and_watchdog_in_the_env() {
        let blob = compile_str(&svc("web", "ready = \"notify\"\nwatchdog_ms = 1500\nready_timeout_ms = 900"))
            .unwrap();
        let u = Config::decode(&blob).unwrap().services.get(0).unwrap();
        assert_eq!((u.ready, u.watchdog_ms, u.ready_timeout_ms), (init::config::READY_NOTIFY, 1500, 900));
        let env = dmz_of(&blob, 0).env.0.to_vec();
        let env = String::from_utf8(env).unwrap();
        assert!(env.contains("NOTIFY_SOCKET=/run/dmzkit/notify/web\0"), "{env:?}");
        assert!(env.contains("WATCHDOG_USEC=1500000\0"), "{env:?}");
        // Without a watchdog, no WATCHDOG_USEC; `started` (the default) sets nothing.
        let blob = compile_str(&svc("web", "ready = \"notify\"")).unwrap();
        assert!(!String::from_utf8_lossy(dmz_of(&blob, 0).env.0).contains("WATCHDOG_USEC"));
        let blob = compile_str(&svc("web", "")).unwrap();
        assert_eq!(
            Config::decode(&blob).unwrap().services.get(0).unwrap().ready,
            init::config::READY_STARTED
        );
        assert!(!String::from_utf8_lossy(dmz_of(&blob, 0).env.0).contains("NOTIFY_SOCKET"));
    }

    #[test]
    fn a_readiness_fd_is_preserved() {
        let blob = compile_str(&svc("db", "ready = \"fd:5\"")).unwrap();
        assert_eq!(Config::decode(&blob).unwrap().services.get(0).unwrap().ready, 5);
        assert_eq!(dmz_of(&blob, 0).preserve_fds.as_slice(), &[5]);
    }

    #[test]
    fn dependencies_by_name_and_inspect() {
        let text = svc("a", "ready = \"fd:3\"")
            + &svc("b", "after = [\"a\"]")
            + &svc("c", "requires = [\"a\", \"b\"]");
        let blob = compile_str(&text).unwrap();
        let c = Config::decode(&blob).unwrap();
        assert_eq!(c.services.get(1).unwrap().after, b"a ");
        assert_eq!(c.services.get(2).unwrap().requires, b"a b ");
        assert_eq!(c.services.get(2).unwrap().after, b"a b ", "requires implies after");
        let v = inspect(&blob).unwrap().unwrap();
        assert_eq!(v["service"][0]["ready"], "fd:3");
        assert_eq!(v["service"][1]["ready"], "started");
        assert_eq!(v["service"][1]["after"], json!(["a"]));
        assert_eq!(v["service"][2]["requires"], json!(["a", "b"]));
        assert_eq!(v["service"][2]["watchdog_ms"], 0);
        assert_eq!(v["service"][2]["ready_timeout_ms"], 0);
    }

    #[test]
    fn services_are_compiled_in_a_start_order() {
        // Each after what it depends on, otherwise in the TOML's order: init stops them in
        // reverse, dependents first.
        let text = svc("web", "requires = [\"db\"]")
            + &svc("log", "")
            + &svc("db", "after = [\"net\"]")
            + &svc("net", "")
            + &svc("cron", "after = [\"web\"]");
        let blob = compile_str(&text).unwrap();
        let c = Config::decode(&blob).unwrap();
        let order: Vec<&[u8]> = c.services.iter().map(|u| u.name).collect();
        assert_eq!(order, [&b"log"[..], b"net", b"db", b"web", b"cron"]);
    }

    #[test]
    fn readiness_errors_name_the_service_and_key() {
        let err = |t: &str| compile_str(t).unwrap_err();
        assert_eq!(
            err(&svc("a", "ready = \"fd:2\"")),
            "init.toml: service[0].ready: \"fd:2\": expected started, notify or fd:N (N from 3 to 255)"
        );
        assert_eq!(
            err(&svc("a", "ready = \"sd\"")),
            "init.toml: service[0].ready: \"sd\": expected started, notify or fd:N (N from 3 to 255)"
        );
        assert_eq!(
            err(&svc("a", "watchdog_ms = 100")),
            "init.toml: service[0].watchdog_ms: needs ready = \"notify\" (the service sends WATCHDOG=1)"
        );
        assert_eq!(
            err(&svc("a", "ready = \"fd:3\"\nwatchdog_ms = 100")),
            "init.toml: service[0].watchdog_ms: needs ready = \"notify\" (the service sends WATCHDOG=1)"
        );
        assert_eq!(
            err(&svc("a", "ready_timeout_ms = 100")),
            "init.toml: service[0].ready_timeout_ms: needs ready = \"notify\" or \"fd:N\" (started is ready at once)"
        );
        assert_eq!(
            err("[[task]]\nname = \"t\"\nafter = [\"a\"]\nprocess = { args = [\"/x\"] }\n"),
            "init.toml: task[0].after: only services have it; tasks run once and are waited for"
        );
    }

    #[test]
    fn unknown_self_task_and_cyclic_dependencies_are_refused() {
        let err = |t: &str| compile_str(t).unwrap_err();
        assert_eq!(
            err(&svc("a", "after = [\"nope\"]")),
            "init.toml: service[0].after: \"nope\": no such service"
        );
        assert_eq!(
            err(&(svc("x", "") + &svc("a", "requires = [\"x\", \"a\"]"))),
            "init.toml: service[1].requires: \"a\": names the service itself"
        );
        let task = "[[task]]\nname = \"setup\"\nprocess = { args = [\"/x\"] }\n";
        assert_eq!(
            err(&(task.to_string() + &svc("a", "after = [\"setup\"]"))),
            "init.toml: service[0].after: \"setup\": is a task (tasks run before every service)"
        );
        let cycle =
            svc("a", "after = [\"c\"]") + &svc("b", "requires = [\"a\"]") + &svc("c", "after = [\"b\"]");
        assert_eq!(err(&cycle), "init.toml: service[0].after: cycle: a -> c -> b -> a");
        let cycle = svc("x", "") + &svc("a", "requires = [\"b\"]") + &svc("b", "after = [\"x\", \"a\"]");
        assert_eq!(err(&cycle), "init.toml: service[1].requires: cycle: a -> b -> a");
        // A diamond is no cycle.
        let diamond = svc("a", "")
            + &svc("b", "after = [\"a\"]")
            + &svc("c", "after = [\"a\"]")
            + &svc("d", "requires = [\"b\", \"c\"]");
        assert!(compile_str(&diamond).is_ok());
    }
}
