//! Images and their checks.
//!
//! - `smoke`: a stand-in PID 1 (qemu-probes' `smoke-init`) runs the setup task, every service
//!   class through the dmz binary, the orphan test and (x86_64) the watchdog, then powers
//!   off. It proves the kernel, image, console, dmz and probe pipeline on each arch without
//!   depending on dmzkit's init.
//! - `init`: dmzkit's init as PID 1 in system mode with the same services (see init_suite.rs).

use crate::arch::Arch;
use crate::artifacts::Artifacts;
use crate::console::{self, Console};
use crate::cpio::Archive;
use crate::kernel::Kernel;
use crate::scenario::{self, Service};
use std::fs;
use std::path::Path;
use std::process::Command;

/// The outcome of one check.
pub struct Outcome {
    pub name: String,
    pub result: Result<String, String>,
}

/// A check over the console of one boot.
pub type Check = Box<dyn Fn(&Console) -> Result<String, String>>;

/// An image and the checks to run on its console.
pub struct Image {
    pub archive: Archive,
    pub checks: Vec<(String, Check)>,
    /// Tests issue 5 asks for that cannot run yet: (name, why). Reported as TODO and
    /// counted as skipped, never as passed.
    pub todo: Vec<(String, String)>,
    /// A line prefix that shows PID 1 is up (for the KVM probe).
    pub boot_marker: &'static str,
    /// Extra kernel command-line words.
    pub append: &'static str,
}

fn read(p: &Path) -> Result<Vec<u8>, String> {
    fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// The files every image has: console node, mount points, dmz, probe, compiled service
/// configs under /etc/dmz, and the x86_64 watchdog modules.
pub fn base(arch: Arch, art: &Artifacts, kernel: &Kernel, work: &Path) -> Result<Archive, String> {
    let mut a = Archive::default();
    a.char_dev("dev/console", 0o600, 5, 1);
    for d in ["proc", "sys", "run", "tmp", "etc", "etc/dmz"] {
        a.dir(d, 0o755);
    }
    a.dir("tmp", 0o1777);
    a.file("bin/dmz", 0o755, read(&art.dmz)?);
    a.file("bin/probe", 0o755, read(&art.probe)?);
    for s in scenario::classes() {
        a.file(&format!("etc/dmz/{}.pcfg", s.tag), 0o644, compile(arch, art, &s, work)?);
    }
    if arch.has_watchdog() {
        let dir = kernel.modules.as_ref().ok_or("x86_64 kernel cache has no watchdog modules")?;
        for m in ["watchdog.ko", "i6300esb.ko"] {
            a.file(&format!("lib/modules/{m}"), 0o644, read(&dir.join(m))?);
        }
    }
    Ok(a)
}

/// `launcher compile --oci <tag>.json -o <tag>.pcfg` (the launcher's own error on failure).
pub fn compile(arch: Arch, art: &Artifacts, s: &Service, work: &Path) -> Result<Vec<u8>, String> {
    fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    let json = work.join(format!("{}.json", s.tag));
    let pcfg = work.join(format!("{}.pcfg", s.tag));
    fs::write(&json, s.config_json()).map_err(|e| format!("{}: {e}", json.display()))?;
    let mut c = Command::new(&art.launcher);
    c.arg("compile").arg("--oci").arg(&json).arg("-o").arg(&pcfg);
    if s.seccomp.is_some() {
        c.args(["--arch", arch.launcher_arch()]); // the profile is compiled for the target
    }
    crate::cmd::output(&mut c)?;
    read(&pcfg)
}

/// Checks that service `s` reported exactly what its config says.
pub fn service_check(s: &Service) -> Check {
    let tag = s.tag;
    let expect = s.expect.clone();
    Box::new(move |c: &Console| {
        if c.get(tag, "done").is_none() {
            let err = c.get(tag, "exec-error").map(|e| format!(" (exec: {e})")).unwrap_or_default();
            return Err(format!("no complete report from the service{err}"));
        }
        let mut bad = Vec::new();
        for (k, want) in &expect {
            match c.get(tag, k) {
                Some(got) if got == want => {}
                Some(got) => bad.push(format!("{k} = {got:?}, config says {want:?}")),
                None => bad.push(format!("{k} not reported")),
            }
        }
        if bad.is_empty() {
            Ok(expect.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "))
        } else {
            Err(bad.join("; "))
        }
    })
}

/// Checks an in-VM verdict line `DMZKIT-TEST <name> ...`.
pub fn verdict_check(name: &'static str) -> Check {
    Box::new(move |c: &Console| match c.verdicts.get(name) {
        Some((true, d)) => Ok(d.clone()),
        Some((false, d)) => Err(d.clone()),
        None => Err("no result reported".into()),
    })
}

/// The smoke image: smoke-init runs /etc/smoke.tab, one line per step.
pub fn smoke(arch: Arch, art: &Artifacts, kernel: &Kernel, work: &Path) -> Result<Image, String> {
    let mut a = base(arch, art, kernel, work)?;
    a.file("init", 0o755, read(&art.smoke_init)?);
    let mut tab = vec![format!("setcap /bin/probe setcap /bin/probe {}", scenario::CAPS_COPY)];
    let mut checks: Vec<(String, Check)> = vec![
        (
            "boot".into(),
            Box::new(|c: &Console| c.find(console::BOOT).map(str::to_string).ok_or("no boot marker".into())),
        ),
        ("setcap".into(), verdict_check("setcap")),
    ];
    for s in scenario::classes() {
        tab.push(format!("{} /bin/dmz /etc/dmz/{}.pcfg", s.tag, s.tag));
        checks.push((format!("{} ({})", s.tag, s.about), service_check(&s)));
    }
    tab.push("orphans /bin/probe orphans 8".into());
    checks.push(("zombies (orphans reaped by PID 1)".into(), verdict_check("zombies")));
    if arch.has_watchdog() {
        tab.push("watchdog /bin/probe watchdog /lib/modules".into());
        checks.push(("watchdog (i6300esb open, pet, magic close)".into(), verdict_check("watchdog")));
    }
    let tags: Vec<String> = tab.iter().map(|l| l.split(' ').next().unwrap_or("").to_string()).collect();
    checks.push((
        "exit statuses".into(),
        Box::new(move |c: &Console| {
            let bad: Vec<String> = tags
                .iter()
                .filter(|t| c.get(t, "exit") != Some("0"))
                .map(|t| format!("{t}: {}", c.get(t, "exit").unwrap_or("none")))
                .collect();
            if bad.is_empty() {
                Ok(format!("{} steps exited 0", tags.len()))
            } else {
                Err(bad.join(", "))
            }
        }),
    ));
    checks.push((
        "power-off".into(),
        Box::new(|c: &Console| c.find(console::END).map(str::to_string).ok_or("no end marker".into())),
    ));
    a.file("etc/smoke.tab", 0o644, (tab.join("\n") + "\n").into_bytes());
    Ok(Image { archive: a, checks, todo: vec![], boot_marker: console::BOOT, append: "" })
}
