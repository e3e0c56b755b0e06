//! Host prerequisites: QEMU system emulators and Debian's packaging tools.
//!
//! Installed with separate `apt-get install` calls (docs/design.md §9): one call for everything
//! failed here with "Resolve generated breaks" because the machine carries a newer qemu-utils
//! from backports; `qemu-system-x86` alone, and `qemu-system-arm qemu-system-misc` without
//! recommends, install fine. Every step's status is checked; nothing is skipped silently.

use crate::arch::Arch;
use crate::cmd;
use std::process::Command;

/// Tools the kernel fetch needs (apt-get download, dpkg-deb extraction).
const FETCH_TOOLS: [(&str, &str); 3] = [("apt-get", "apt"), ("dpkg-deb", "dpkg"), ("tar", "tar")];

/// The apt-get install calls, in order: (packages, extra options).
fn install_groups(missing: &[&'static str]) -> Vec<Vec<&'static str>> {
    let mut groups = Vec::new();
    if missing.contains(&"qemu-system-x86") {
        groups.push(vec!["qemu-system-x86"]);
    }
    let arm_misc: Vec<_> =
        missing.iter().copied().filter(|p| *p == "qemu-system-arm" || *p == "qemu-system-misc").collect();
    if !arm_misc.is_empty() {
        let mut g = vec!["--no-install-recommends"];
        g.extend(arm_misc);
        groups.push(g);
    }
    groups
}

/// Makes sure everything needed for `arches` is installed; installs what is missing when
/// `install` is set (root needed), else fails naming the packages.
pub fn ensure(arches: &[Arch], install: bool) -> Result<(), String> {
    for (tool, pkg) in FETCH_TOOLS {
        if !cmd::in_path(tool) {
            return Err(format!("{tool} not found (Debian package {pkg}); qemu-tests needs a Debian host"));
        }
    }
    let mut missing: Vec<&'static str> = Vec::new();
    for a in arches {
        let (bin, pkg) = a.qemu();
        if !cmd::in_path(bin) && !missing.contains(&pkg) {
            missing.push(pkg);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !install {
        return Err(format!(
            "missing {} (run `cargo run --release -p qemu-tests -- setup`, or apt-get install them)",
            missing.join(" ")
        ));
    }
    if !is_root() {
        return Err(format!("missing {}; installing them needs root", missing.join(" ")));
    }
    eprintln!("setup: installing {}", missing.join(" "));
    cmd::run(Command::new("apt-get").arg("update").arg("-q"))?;
    for group in install_groups(&missing) {
        cmd::run(
            Command::new("apt-get")
                .args(["install", "-y", "-q"])
                .args(&group)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    for a in arches {
        let (bin, pkg) = a.qemu();
        if !cmd::in_path(bin) {
            return Err(format!("{bin} still missing after installing {pkg}"));
        }
    }
    Ok(())
}

fn is_root() -> bool {
    // The effective uid from /proc: no libc binding needed for one number.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}
