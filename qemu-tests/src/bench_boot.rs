//! `bench-boot`: dmzkit's init against busybox init on the boot path, /init → first service
//! exec, on the same kernel and the same image, boots interleaved, timed inside the guest.
//!
//! The image holds both inits. The kernel runs `rdinit=/bin/probe -- stamp-exec INIT`: the
//! probe reads CLOCK_BOOTTIME, writes it to a file of the initramfs root and execs INIT as the
//! same PID 1 (`/init`, dmzkit's init; or `/sbin/init`, a link to busybox). So both intervals
//! start the same way and include the exec of the init under test. Each init then does the
//! same work: the early mounts of dmzkit's system mode (devtmpfs, devpts, /dev/shm, proc,
//! sysfs, /run, each target created first), loopback up, and one service through the same
//! privilege change: runc's default process (testdata/oci/runc-spec-default.json) as uid/gid
//! 1000, groups [27, 44], no_new_privs, the probe's `exec-time` mode as the program. dmzkit's
//! init runs it with the dmz transition in its child (init.pcfg, compiled by `launcher compile
//! --init`); busybox init runs `/bin/dmz /etc/dmz/svc.pcfg` (the same config, `launcher
//! compile --oci`) from a `::respawn:` line after `::sysinit:` lines doing the mounts. The
//! service prints its exec time and the stamp (both CLOCK_BOOTTIME); QEMU is killed as soon
//! as that line is on the console, so host jitter and shutdown do not count.

use crate::arch::Arch;
use crate::artifacts::Artifacts;
use crate::console::Console;
use crate::cpio::Archive;
use crate::{cmd, vm};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// The service's tag in its `DMZKIT-OBS` lines.
const TAG: &str = "svc";

/// busybox's inittab: the same mounts as dmzkit's init's early mounts (init/src/system.rs,
/// `EARLY`), in the same order with the same flags and data (but devtmpfs's, below), loopback
/// up, then the service.
/// Busybox's quickest way: each line is run by busybox init directly (a line with a shell
/// character, `=` included, would go through `/bin/sh -c`: so devtmpfs gets its default mode,
/// 0755, rather than `mode=0755`), one `mount -a` for all but devtmpfs (its targets are made
/// in it first).
const INITTAB: &str = "\
::sysinit:/bin/mount -t devtmpfs -o nosuid devtmpfs /dev
::sysinit:/bin/mkdir -p /dev/pts /dev/shm
::sysinit:/bin/mount -a
::sysinit:/bin/ifconfig lo up
::respawn:/bin/dmz /etc/dmz/svc.pcfg
";

/// What `mount -a` mounts, in order.
const FSTAB: &str = "\
devpts /dev/pts devpts nosuid,noexec,mode=0620,ptmxmode=0666 0 0
tmpfs /dev/shm tmpfs nosuid,nodev,mode=1777 0 0
proc /proc proc nosuid,nodev,noexec 0 0
sysfs /sys sysfs nosuid,nodev,noexec 0 0
tmpfs /run tmpfs nosuid,nodev,mode=0755 0 0
";

/// busybox applets the inittab names, as links to /bin/busybox.
const APPLETS: [&str; 3] = ["bin/mount", "bin/mkdir", "bin/ifconfig"];

/// init.toml: no tasks, no extra mounts, one service restarted as busybox respawns it. With
/// `chain` > 1, the service is the last of a dependency chain of `chain` services: each
/// before it the same process config running `probe ready-fd` (ready on fd 3 at once), each
/// `after` the one before.
fn init_toml(chain: usize) -> String {
    let mut t = String::from("on_error = \"poweroff\"\n");
    for k in 1..chain {
        t += &format!("\n[[service]]\nname = \"c{k}\"\noci = \"svc.json\"\nready = \"fd:3\"\n");
        t += &format!("args = [\"/bin/probe\", \"ready-fd\", \"c{k}\", \"3\", \"0\"]\n");
        if k > 1 {
            t += &format!("after = [\"c{}\"]\n", k - 1);
        }
    }
    t += "\n[[service]]\nname = \"svc\"\noci = \"svc.json\"\nrestart = \"always\"\n";
    if chain > 1 {
        t += &format!("after = [\"c{}\"]\n", chain - 1);
    }
    t
}

/// The inits under test: name, what stamp-exec execs. The third, with `--baseline-init`, is
/// another build of dmzkit's init (e.g. of an earlier commit) for a before/after in one run.
pub const INITS: [(&str, &str); 3] =
    [("dmzkit init", "/init"), ("busybox init", "/sbin/init"), ("dmzkit init, baseline", "/init.base")];

/// The service's OCI config: runc's default process as uid/gid 1000 with groups [27, 44] and
/// no_new_privs (the chain scripts/bench-dmz measures), running the probe.
fn service_json(root: &Path) -> Result<String, String> {
    let path = root.join("testdata/oci/runc-spec-default.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut spec: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let p = &mut spec["process"];
    p["user"] = json!({ "uid": 1000, "gid": 1000, "additionalGids": [27, 44] });
    p["noNewPrivileges"] = json!(true);
    p["terminal"] = json!(false);
    p["args"] = json!(["/bin/probe", "exec-time", TAG]);
    Ok(serde_json::to_string_pretty(&spec).expect("json"))
}

/// The image both inits boot from.
pub fn image(
    root: &Path,
    art: &Artifacts,
    busybox: &Path,
    baseline: Option<&Path>,
    work: &Path,
    chain: usize,
) -> Result<Archive, String> {
    let init = &art.init;
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    let json = work.join("svc.json");
    std::fs::write(&json, service_json(root)?).map_err(|e| format!("{}: {e}", json.display()))?;
    let svc = work.join("svc.pcfg");
    // The launcher warns about what it leaves to the runtime (the spec's ambient set, the
    // terminal); the same config either way.
    cmd::output(
        std::process::Command::new(&art.launcher).arg("compile").arg("--oci").arg(&json).arg("-o").arg(&svc),
    )?;
    let toml = work.join("init.toml");
    std::fs::write(&toml, init_toml(chain)).map_err(|e| format!("{}: {e}", toml.display()))?;
    let pcfg = work.join("init.pcfg");
    cmd::output(
        std::process::Command::new(&art.launcher)
            .arg("compile")
            .arg("--init")
            .arg(&toml)
            .arg("-o")
            .arg(&pcfg),
    )?;

    let mut a = Archive::default();
    a.char_dev("dev/console", 0o600, 5, 1);
    for d in ["proc", "sys", "run", "etc"] {
        a.dir(d, 0o755);
    }
    a.file("init", 0o755, read(init)?);
    if let Some(b) = baseline {
        a.file(INITS[2].1, 0o755, read(b)?);
    }
    a.file("bin/dmz", 0o755, read(&art.dmz)?);
    a.file("bin/probe", 0o755, read(&art.probe)?);
    a.file("bin/busybox", 0o755, read(busybox)?);
    a.symlink("sbin/init", "/bin/busybox");
    for l in APPLETS {
        a.symlink(l, "/bin/busybox");
    }
    a.file("etc/inittab", 0o644, INITTAB.as_bytes().to_vec());
    a.file("etc/fstab", 0o644, FSTAB.as_bytes().to_vec());
    a.file("etc/dmz/svc.pcfg", 0o644, read(&svc)?);
    a.file("etc/dmzkit/init.pcfg", 0o644, read(&pcfg)?);
    Ok(a)
}

/// One boot's numbers (µs of CLOCK_BOOTTIME).
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// stamp-exec's start: kernel → /init.
    pub init_us: u64,
    /// The service's exec.
    pub exec_us: u64,
}

impl Sample {
    pub fn init_to_service_us(self) -> u64 {
        self.exec_us.saturating_sub(self.init_us)
    }
}

/// The sample of a console, if the service reported both times.
pub fn sample(lines: &[String]) -> Option<Sample> {
    let c = Console::parse(lines);
    Some(Sample {
        init_us: c.get(TAG, "init-us")?.parse().ok()?,
        exec_us: c.get(TAG, "exec-us")?.parse().ok()?,
    })
}

/// Boots the image once with `init` as PID 1 (after stamp-exec); the service's times.
pub fn boot_once(
    arch: Arch,
    kernel: &Path,
    initrd: &Path,
    init: &str,
    deadline: Duration,
) -> Result<Sample, String> {
    let append = format!("rdinit=/bin/probe -- stamp-exec {init}");
    let spec =
        vm::Spec { arch, kernel, initrd, accel: vm::Accel::Tcg, deadline, append: &append, echo: false };
    let until = format!("DMZKIT-OBS {TAG} exec-us ");
    let b = vm::run_until(vm::command(&spec), deadline, false, Some(&until))?;
    sample(&b.lines).ok_or_else(|| {
        format!(
            "{arch} {init}: no exec time from the service{}; console tail:\n{}",
            if b.timed_out { " before the deadline" } else { "" },
            crate::report::indent(&b.tail(25))
        )
    })
}

/// The value at quantile `q` (0..=1) of sorted, non-empty `v`, interpolated between ranks
/// (the median of an even count is the mean of the middle two).
pub fn quantile(v: &[u64], q: f64) -> f64 {
    let x = (v.len() as f64 - 1.0) * q;
    let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
    v[lo] as f64 + (v[hi] as f64 - v[lo] as f64) * (x - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_from_console() {
        let lines: Vec<String> =
            ["noise", "DMZKIT-OBS svc init-us 1500000", "DMZKIT-OBS svc exec-us 1560000"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        let s = sample(&lines).unwrap();
        assert_eq!(s.init_to_service_us(), 60_000);
        assert!(sample(&lines[..2]).is_none());
    }

    #[test]
    fn quantiles() {
        let v = [1, 2, 3, 4, 5];
        assert_eq!((quantile(&v, 0.0), quantile(&v, 0.5), quantile(&v, 1.0)), (1.0, 3.0, 5.0));
        assert_eq!(quantile(&[1, 2, 4, 9], 0.5), 3.0);
    }

    #[test]
    fn inittab_mounts_what_init_mounts() {
        // Every early mount of init's system mode has its ::sysinit: line, in the same order.
        let src = include_str!("../../init/src/system.rs");
        let early = src.split("const EARLY").nth(1).unwrap().split("];").next().unwrap();
        let init_targets: Vec<&str> = early
            .lines()
            .filter(|l| l.trim_start().starts_with('('))
            .filter_map(|l| l.split('"').nth(3))
            .collect();
        let devtmpfs = INITTAB.lines().next().and_then(|l| l.rsplit(' ').next());
        let fstab = FSTAB.lines().filter_map(|l| l.split(' ').nth(1));
        let tab_targets: Vec<&str> = devtmpfs.into_iter().chain(fstab).collect();
        assert_eq!(init_targets, tab_targets);
        assert_eq!(init_targets.len(), 6);
        // busybox init runs a line with a shell character through /bin/sh, which the image
        // does not have.
        let shell_chars = "~`!$^&*()=|\\{}[];\"'<>?";
        assert!(INITTAB.lines().all(|l| !l
            .split_once(":/")
            .unwrap()
            .1
            .contains(|c| shell_chars.contains(c))));
    }
}
