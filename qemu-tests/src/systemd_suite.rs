//! The `systemd` suite: Debian bookworm with systemd as PID 1 runs dmzkit's example units
//! (examples/systemd) and the test units of `qemu-tests/systemd/units`, and
//! `qemu-tests/systemd/bin/checks.sh` checks from inside what systemd and the targets see.
//!
//! The image (systemd_image.rs) gets dmzkit installed as a package would install it:
//! `launcher` and `dmz` in /usr/local/bin (launcher runs the dmz next to it), init in
//! /usr/local/libexec/dmzkit, configs in /etc/dmzkit, the example units in
//! /etc/systemd/system with the enabled ones linked into their targets' `.wants`. The
//! expected values the checks compare with are written to /etc/dmzkit-tests/expect.sh from
//! the same configs the units run.

use crate::arch::Arch;
use crate::artifacts::{self, Artifacts};
use crate::report::indent;
use crate::systemd_image::{self as image, link, write};
use crate::{cmd, console, kernel, setup, suite, target_dir, workspace_root};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// Every check checks.sh reports, in the order it runs them, with what it shows.
pub const CHECKS: [(&str, &str); 18] = [
    ("web-mainpid", "dmzkit-web.service (launcher --oci): MainPID is the target, a direct child of systemd"),
    (
        "web-credentials",
        "its /proc status is exactly web.json's uid/gid/groups/caps/NoNewPrivs/seccomp/nofile",
    ),
    ("web-serves", "it holds the :80 socket as uid 1000 and serves HTTP"),
    ("notify-example", "dmzkit-notify.service (Type=notify, WatchdogSec) active; WATCHDOG_PID is the target"),
    (
        "socket-activation",
        "first connection starts the service; fd 3 is systemd's socket, LISTEN_PID the target",
    ),
    ("echo-socket", "dmzkit-echo.socket (Accept=yes): the instance echoes as nobody with no caps, NNP"),
    ("stop-sigterm", "systemctl stop: the target itself dies of SIGTERM, unit inactive, Result=success"),
    ("pcfg-dmz-alone", "dmzkit-web-pcfg.service (dmz web.pcfg): same target, same credentials"),
    ("stop-handler", "systemctl stop: a target's SIGTERM handler runs in MainPID, clean exit"),
    ("seed-port80", "seed scenario: uid 1000, NNP, file caps: nc binds :80"),
    ("seed-control", "seed control: same config, nc without file caps: Permission denied"),
    ("credentials", "groups, capability subset, NNP, seccomp filter, nofile from config.json"),
    ("notify-ready-gate", "Type=notify: activating until the target sends READY=1, then active"),
    ("watchdog-restart", "WatchdogSec: pings accepted; a target that stops pinging is killed and restarted"),
    ("bad-config", "a damaged .pcfg: dmz's one line in journalctl -u, ExecMainStatus=125"),
    ("bad-step", "a refused transition step: dmz's one line in journalctl -u, ExecMainStatus=125"),
    ("init-stop", "init -s as ExecStart= wrapper: stop reaches the command, its status is init's"),
    ("init-exit", "init -s: the command's exit status 7 is the unit's ExecMainStatus"),
];

pub struct Opts {
    pub kvm: bool,
    pub deadline: Duration,
    pub echo: bool,
    pub rebuild: bool,
}

/// The units enabled at boot (their `[Install] WantedBy=`); the others are started by the checks.
const ENABLED: [&str; 5] = [
    "dmzkit-web.service",
    "dmzkit-notify.service",
    "dmzkit-echo.socket",
    "dmzkit-t-listen.socket",
    "dmzkit-tests.service",
];

const WWW_MARKER: &str = "dmzkit-web-index-5f1c";
const CAP_NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The /proc/PID/status mask of a capability list from config.json.
fn cap_mask(v: &Value) -> Result<String, String> {
    let mut m = 0u64;
    for c in v.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let name = c.as_str().ok_or("capability is not a string")?;
        let short = name.strip_prefix("CAP_").unwrap_or(name);
        let n =
            CAP_NAMES.iter().position(|x| *x == short).ok_or_else(|| format!("unknown capability {name}"))?;
        m |= 1 << n;
    }
    Ok(format!("{m:016x}"))
}

/// What the kernel must show for a config.json's process: `Key=value` joined with `|`, the
/// format checks.sh's `creds` reads. The configured sets are what the process must hold when
/// they survive the target's exec unchanged, which the configs here are written for: root
/// with effective = permitted = bounding, or non-root with permitted = effective = ambient
/// (a plain binary keeps only the ambient set), or a target whose file capabilities `=ep`
/// are exactly the permitted set (the seed scenario's nc).
pub fn oci_expect(cfg: &Value) -> Result<String, String> {
    let p = &cfg["process"];
    let uid = p["user"]["uid"].as_u64().ok_or("process.user.uid missing")?;
    let gid = p["user"]["gid"].as_u64().ok_or("process.user.gid missing")?;
    let mut groups: Vec<u64> = p["user"]["additionalGids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    groups.sort_unstable();
    groups.dedup();
    let caps = &p["capabilities"];
    let mut out = vec![
        format!("Uid={uid} {uid} {uid} {uid}"),
        format!("Gid={gid} {gid} {gid} {gid}"),
        format!("Groups={}", groups.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")),
    ];
    for (key, set) in [
        ("CapBnd", "bounding"),
        ("CapPrm", "permitted"),
        ("CapEff", "effective"),
        ("CapInh", "inheritable"),
        ("CapAmb", "ambient"),
    ] {
        out.push(format!("{key}={}", cap_mask(&caps[set])?));
    }
    let nnp = p["noNewPrivileges"].as_bool().unwrap_or(false);
    out.push(format!("NoNewPrivs={}", u8::from(nnp)));
    let seccomp = cfg["linux"]["seccomp"].is_object();
    out.push(format!("Seccomp={}", if seccomp { 2 } else { 0 }));
    out.push(format!("Seccomp_filters={}", u8::from(seccomp)));
    for r in p["rlimits"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        if r["type"] == "RLIMIT_NOFILE" {
            out.push(format!("limit-nofile={} {}", r["soft"], r["hard"]));
        }
    }
    Ok(out.join("|"))
}

/// The seed scenario (docs/design.md §2) as the smoke and init suites run it, with nc as the
/// target: uid 1000, no_new_privs, bounding = effective = permitted = {NET_BIND_SERVICE}.
fn seed_config() -> Value {
    let svc = &crate::scenario::services()[0];
    let mut process = svc.process.clone();
    process["args"] = json!(["/usr/bin/nc.openbsd", "-l", "80"]);
    json!({ "ociVersion": "1.0.2", "process": process })
}

/// Groups, a capability subset and a seccomp filter (bind(2) refused with EOPNOTSUPP). A
/// non-root exec of a file without capabilities keeps only the ambient set (P' = E' =
/// ambient), so CAP_KILL is in the inheritable and ambient sets too.
fn cred_config() -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "user": { "uid": 1000, "gid": 1000, "additionalGids": [100, 4] },
            "args": ["/usr/bin/sleep", "infinity"],
            "env": ["PATH=/usr/bin:/bin"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_KILL"],
                "effective": ["CAP_KILL"],
                "inheritable": ["CAP_KILL"],
                "ambient": ["CAP_KILL"],
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "soft": 512, "hard": 512 }],
            "noNewPrivileges": true,
        },
        "linux": {
            "seccomp": {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{ "names": ["bind"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95 }],
            }
        }
    })
}

/// examples/systemd/dmzkit-echo@.service: `--user nobody --bounding-set -all --nnp`.
const ECHO_EXPECT: &str =
    "Uid=65534 65534 65534 65534|Gid=65534 65534 65534 65534|Groups=|CapBnd=0000000000000000|\
CapPrm=0000000000000000|CapEff=0000000000000000|CapAmb=0000000000000000|NoNewPrivs=1";

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn read(p: &Path) -> Result<Vec<u8>, String> {
    fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// Runs `cmd`, which must fail with `status` and print one line starting with `dmz: `.
fn dmz_failure(cmd: &mut Command, status: i32) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{}: {e}", cmd::show(cmd)))?;
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("dmz: ")).collect();
    match (out.status.code(), lines.as_slice()) {
        (Some(s), [line]) if s == status => Ok(line.to_string()),
        _ => Err(format!(
            "{}: expected status {status} and one dmz line, got {}: {err}",
            cmd::show(cmd),
            out.status
        )),
    }
}

/// Lays dmzkit, the example and test units and the expectations over `root`.
fn install(root: &Path, art: &Artifacts, work: &Path) -> Result<(), String> {
    let ws = workspace_root();
    let examples = ws.join("examples/systemd");
    let ours = ws.join("qemu-tests/systemd");
    write(root, "usr/local/bin/launcher", read(&art.launcher)?, 0o755)?;
    write(root, "usr/local/bin/dmz", read(&art.dmz)?, 0o755)?;
    let init = &art.init;
    write(root, "usr/local/libexec/dmzkit/init", read(init)?, 0o755)?;

    // The examples as shipped.
    let units = root.join("etc/systemd/system");
    let mut unit_files = Vec::new();
    for dir in [examples.clone(), ours.join("units")] {
        let mut names: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "service" || x == "socket"))
            .collect();
        names.sort();
        unit_files.extend(names);
    }
    for u in &unit_files {
        let name = u.file_name().and_then(|n| n.to_str()).ok_or("unit name")?;
        write(root, &format!("etc/systemd/system/{name}"), read(u)?, 0o644)?;
    }
    for name in ENABLED {
        let text = String::from_utf8_lossy(&read(&units.join(name))?).into_owned();
        let wanted: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("WantedBy="))
            .flat_map(str::split_whitespace)
            .collect();
        if wanted.is_empty() {
            return Err(format!("{name}: no WantedBy= to enable it with"));
        }
        for t in wanted {
            link(&units.join(format!("{t}.wants")).join(name), &format!("/etc/systemd/system/{name}"))?;
        }
    }
    let web_json = read(&examples.join("web.json"))?;
    write(root, "etc/dmzkit/web.json", &web_json, 0o644)?;
    // As the unit's comment says: launcher compile --strict --oci web.json -o /etc/dmzkit/web.pcfg
    let pcfg = work.join("web.pcfg");
    cmd::output(
        Command::new(&art.launcher)
            .args(["compile", "--strict", "--oci"])
            .arg(examples.join("web.json"))
            .arg("-o")
            .arg(&pcfg),
    )?;
    write(root, "etc/dmzkit/web.pcfg", read(&pcfg)?, 0o644)?;
    write(root, "usr/local/share/dmzkit/notify-demo.py", read(&examples.join("notify-demo.py"))?, 0o644)?;
    write(root, "srv/www/index.html", format!("<p>{WWW_MARKER}</p>\n"), 0o644)?;

    // Test programs and configs.
    for e in fs::read_dir(ours.join("bin")).map_err(|e| format!("{}: {e}", ours.display()))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let mode = if name.ends_with(".sh") { 0o755 } else { 0o644 };
        write(root, &format!("usr/local/libexec/dmzkit-tests/{name}"), read(&e.path())?, mode)?;
    }
    let web: Value =
        serde_json::from_slice(&web_json).map_err(|e| format!("examples/systemd/web.json: {e}"))?;
    let seed = seed_config();
    let cred = cred_config();
    write(root, "etc/dmzkit-tests/seed.json", seed.to_string(), 0o644)?;
    write(root, "etc/dmzkit-tests/cred.json", cred.to_string(), 0o644)?;

    // A .pcfg one byte short; what dmz says about it, from the same dmz binary on this host.
    let mut bad = read(&pcfg)?;
    bad.pop();
    let bad_path = work.join("bad.pcfg");
    fs::write(&bad_path, &bad).map_err(|e| format!("{}: {e}", bad_path.display()))?;
    write(root, "etc/dmzkit-tests/bad.pcfg", &bad, 0o644)?;
    let bad_line = dmz_failure(Command::new(&art.dmz).arg(&bad_path), 125)?;
    let badstep_line = dmz_failure(
        Command::new(&art.launcher).args(["run", "--dmz"]).arg(&art.dmz).args([
            "--rlimit",
            "nofile=2000000000",
            "--",
            "/bin/true",
        ]),
        125,
    )?;
    let expect = format!(
        "# Written by qemu-tests (systemd_suite.rs) from the configs the units run.\n\
         WEB_EXPECT={}\nSEED_EXPECT={}\nCRED_EXPECT={}\nECHO_EXPECT={}\nWWW_MARKER={}\n\
         BAD_STATUS=125\nBAD_LINE={}\nBADSTEP_LINE={}\n",
        sh_quote(&oci_expect(&web)?),
        sh_quote(&oci_expect(&seed)?),
        sh_quote(&oci_expect(&cred)?),
        sh_quote(ECHO_EXPECT),
        sh_quote(WWW_MARKER),
        sh_quote(&bad_line),
        sh_quote(&badstep_line),
    );
    write(root, "etc/dmzkit-tests/expect.sh", expect, 0o644)
}

fn qemu_command(base: &image::Base, disk: &Path, kvm: bool) -> Command {
    let mut c = Command::new("qemu-system-x86_64");
    c.args(["-machine", "q35", "-m", "512", "-display", "none", "-monitor", "none", "-serial", "stdio"]);
    c.args(["-no-reboot", "-nodefaults", "-accel", if kvm { "kvm" } else { "tcg" }]);
    c.arg("-kernel").arg(&base.boot).arg("-initrd").arg(&base.initrd);
    c.args(["-append", "root=/dev/vda rw console=ttyS0 panic=-1 quiet fsck.mode=skip"]);
    c.arg("-drive").arg(format!("file={},if=virtio,format=raw", disk.display()));
    c.arg("-snapshot");
    c
}

/// `qemu-tests systemd`: build (cached), boot, check, report.
pub fn run(arch: Arch, opts: &Opts) -> Result<ExitCode, String> {
    if arch != Arch::X86_64 {
        return Err(format!("the systemd suite runs on x86_64 only, not {arch}"));
    }
    let started = Instant::now();
    setup::ensure(&[arch], true)?;
    image::check_tools()?;
    let root = workspace_root();
    let target = target_dir();
    let (_, art) = artifacts::build(&root, &target, &[arch])?.remove(0);
    let t = Instant::now();
    let base = image::base(&kernel::cache_dir(&target), opts.rebuild)?;
    match base.built_in {
        Some(d) => {
            println!("image: built with mmdebstrap in {:.0} s (linux {})", d.as_secs_f64(), base.kernel)
        }
        None => {
            println!("image: cached base, Debian bookworm, linux {} ({})", base.kernel, base.root.display())
        }
    }
    let work = crate::work_dir(&target, arch).join("systemd");
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let t_disk = Instant::now();
    let rootdir = work.join("root");
    image::fresh_root(&base, &rootdir)?;
    install(&rootdir, &art, &work)?;
    let disk = work.join("disk.img");
    image::ext4(&rootdir, &disk)?;
    println!(
        "image: dmzkit installed, {} written in {:.1} s ({:.0} s with the base)",
        disk.display(),
        t_disk.elapsed().as_secs_f64(),
        t.elapsed().as_secs_f64()
    );

    let cmdline = qemu_command(&base, &disk, opts.kvm);
    println!("boot x86_64 systemd ({})", if opts.kvm { "Kvm" } else { "Tcg" });
    let b = crate::vm::run(cmdline, opts.deadline, opts.echo)?;
    let log = work.join("console.log");
    fs::write(&log, b.lines.join("\n") + "\n").map_err(|e| format!("{}: {e}", log.display()))?;
    let c = console::Console::parse(&b.lines);
    let mut outcomes: Vec<suite::Outcome> = CHECKS
        .iter()
        .map(|(name, about)| suite::Outcome {
            name: name.to_string(),
            result: match c.verdicts.get(*name) {
                Some((true, d)) => Ok(d.clone()),
                Some((false, d)) => Err(format!("{about}: {d}")),
                None => Err(format!("{about}: no verdict on the console")),
            },
        })
        .collect();
    for (name, (_, d)) in &c.verdicts {
        if !CHECKS.iter().any(|(n, _)| n == name) {
            outcomes.push(suite::Outcome { name: name.clone(), result: Err(format!("not in CHECKS: {d}")) });
        }
    }
    let at = |marker: &str| b.lines.iter().position(|l| l.contains(marker)).map(|i| b.at[i]);
    let (checks_at, end_at) = (at("DMZKIT-BOOT systemd-tests"), at("DMZKIT-END systemd-tests"));
    let powered_off = c.find("reboot: Power down").is_some() && !b.timed_out;
    outcomes.push(suite::Outcome {
        name: "power-off".into(),
        result: if powered_off && end_at.is_some() {
            Ok("the checks ended and systemd powered the VM off".into())
        } else if b.timed_out {
            Err(format!(
                "killed at the deadline ({} s); console tail:\n{}",
                opts.deadline.as_secs(),
                indent(&b.tail(25))
            ))
        } else {
            Err(format!("no clean power-off after the checks; console tail:\n{}", indent(&b.tail(25))))
        },
    });
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    for o in &outcomes {
        match &o.result {
            Ok(d) => println!("  PASS x86_64 {}: {d}", o.name),
            Err(d) => println!("  FAIL x86_64 {}: {d}", o.name),
        }
    }
    if failed > 0 {
        println!("  console tail (whole console in {}):\n{}", log.display(), indent(&b.tail(25)));
        if !b.stderr.trim().is_empty() {
            println!("  qemu stderr: {}", b.stderr.trim());
        }
    }
    let uptime = |marker: &str| {
        c.find(marker).and_then(|l| l.split("uptime ").nth(1)).and_then(|v| v.trim().parse::<f64>().ok())
    };
    let secs =
        |d: Option<Duration>| d.map(|d| format!("{:.1} s", d.as_secs_f64())).unwrap_or_else(|| "-".into());
    println!(
        "  x86_64 systemd: QEMU launch → checks start {} (guest uptime {}), checks {}, launch → QEMU's exit {:.1} s",
        secs(checks_at),
        uptime("DMZKIT-BOOT systemd-tests").map(|u| format!("{u:.1} s")).unwrap_or_else(|| "-".into()),
        match (uptime("DMZKIT-BOOT systemd-tests"), uptime("DMZKIT-END systemd-tests")) {
            (Some(a), Some(b)) => format!("{:.1} s", b - a),
            _ => "-".into(),
        },
        b.elapsed.as_secs_f64()
    );
    if let Some(b) = c.get("systemd", "boot-s") {
        println!("  x86_64 systemd: guest clock (s since the kernel started): {b}");
    }
    println!();
    println!("total {:.0} s", started.elapsed().as_secs_f64());
    println!("{} passed, {failed} failed, 0 skipped", outcomes.len() - failed);
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_follow_the_config() {
        let web: Value =
            serde_json::from_str(include_str!("../../examples/systemd/web.json")).expect("web.json parses");
        let e = oci_expect(&web).unwrap();
        assert_eq!(
            e,
            "Uid=1000 1000 1000 1000|Gid=1000 1000 1000 1000|Groups=|CapBnd=0000000000000400|\
             CapPrm=0000000000000400|CapEff=0000000000000400|CapInh=0000000000000400|\
             CapAmb=0000000000000400|NoNewPrivs=1|Seccomp=0|Seccomp_filters=0|limit-nofile=1024 1024"
        );
        let c = oci_expect(&cred_config()).unwrap();
        assert!(c.contains("|Groups=4 100|"), "{c}");
        assert!(
            c.contains("|CapBnd=0000000000000420|CapPrm=0000000000000020|CapEff=0000000000000020|"),
            "{c}"
        );
        assert!(c.contains("|CapAmb=0000000000000020|"), "{c}");
        assert!(c.contains("|Seccomp=2|Seccomp_filters=1|limit-nofile=512 512"), "{c}");
        let s = oci_expect(&seed_config()).unwrap();
        assert!(
            s.contains("|CapPrm=0000000000000400|CapEff=0000000000000400|CapInh=0000000000000000|"),
            "{s}"
        );
        assert!(oci_expect(
            &json!({"process": {"user": {"uid": 0, "gid": 0}, "capabilities": {"bounding": ["CAP_NOPE"]}}})
        )
        .is_err());
    }

    #[test]
    fn checks_script_reports_every_check() {
        let script = include_str!("../systemd/bin/checks.sh");
        for (name, _) in CHECKS {
            assert!(script.contains(&format!("\ncheck {name} ")), "checks.sh never runs {name}");
        }
        assert_eq!(
            script.matches("\ncheck ").count(),
            CHECKS.len(),
            "checks.sh runs a check CHECKS does not list"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a'b c"), "'a'\\''b c'");
    }
}
