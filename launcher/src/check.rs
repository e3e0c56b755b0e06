//! `launcher check`: what will be applied, what will not, and whether this machine can do it.
//! Exit status 0 when everything would work, 1 when something would fail.

use crate::consistency::{problems, Severity};
use crate::names::cap_names;
use crate::oci::Compiled;

/// One finding of the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Ok(String),
    Warn(String),
    Fail(String),
}

/// The caller's capabilities, read once.
struct Caller {
    effective: u64,
    permitted: u64,
    bounding: u64,
}

fn caller() -> Caller {
    let sets = rustix::thread::capabilities(None).ok();
    let bounding =
        crate::flags::cap_mask(crate::flags::last_cap(), rustix::thread::capability_is_in_bounding_set);
    Caller {
        effective: sets.map_or(0, |s| s.effective.bits()),
        permitted: sets.map_or(0, |s| s.permitted.bits()),
        bounding,
    }
}

const CAP_SETGID: u64 = 1 << 6;
const CAP_SETUID: u64 = 1 << 7;
const CAP_SETPCAP: u64 = 1 << 8;
const CAP_SYS_ADMIN: u64 = 1 << 21;
const CAP_SYS_RESOURCE: u64 = 1 << 24;

fn kernel_release() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse().ok());
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Where dmz would find the program (the same lookup: the target's PATH).
fn resolve(c: &Compiled) -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let prog = &c.args[0];
    let candidates: Vec<std::path::PathBuf> = if prog.contains('/') {
        vec![prog.into()]
    } else {
        let path = c
            .env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(std::str::from_utf8(dmz::transition::DEFAULT_PATH).unwrap());
        path.split(':').map(|d| std::path::Path::new(if d.is_empty() { "." } else { d }).join(prog)).collect()
    };
    let mut found_not_exec = None;
    for p in candidates {
        if let Ok(m) = std::fs::metadata(&p) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(p);
            }
            found_not_exec = Some(p);
        }
    }
    Err(match found_not_exec {
        Some(p) => format!("program {prog:?}: {} is not executable (dmz would exit 126)", p.display()),
        None => format!("program {prog:?}: not found in the target's PATH (dmz would exit 127)"),
    })
}

/// Everything `check` reports about `c`, given the sections not applied.
pub fn check(c: &Compiled, not_applied: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    let who = caller();
    let root_like = |cap: u64| who.effective & cap != 0;
    out.push(Finding::Ok(format!(
        "will apply: args {:?}, uid {} gid {} groups {:?}, umask {:04o}, cwd {}, {} env entries, no_new_privs {}",
        c.args,
        c.uid,
        c.gid,
        c.groups,
        c.umask,
        c.cwd.as_deref().unwrap_or("(unchanged)"),
        c.env.len(),
        c.no_new_privs
    )));
    if let Some(k) = &c.caps {
        out.push(Finding::Ok(format!(
            "will apply capabilities: bounding [{}], effective [{}], permitted [{}], inheritable [{}], ambient [{}]",
            cap_names(k.bounding).join(" "),
            cap_names(k.effective).join(" "),
            cap_names(k.permitted).join(" "),
            cap_names(k.inheritable).join(" "),
            cap_names(k.ambient).join(" ")
        )));
    }
    if !not_applied.is_empty() {
        out.push(Finding::Warn(format!(
            "not applied (dmz runs the process in the caller's root and namespaces): {}",
            not_applied.join(", ")
        )));
    }
    for p in problems(c) {
        out.push(match p.severity {
            Severity::Adjusted => Finding::Warn(p.what),
            Severity::Refused => Finding::Fail(p.what),
        });
    }
    // The running kernel.
    let last_cap = crate::flags::last_cap();
    let known = if last_cap >= 63 { !0 } else { (1u64 << (last_cap + 1)) - 1 };
    if let Some(k) = &c.caps {
        let all = k.bounding | k.effective | k.permitted | k.inheritable | k.ambient;
        if all & !known != 0 {
            out.push(Finding::Fail(format!(
                "kernel: last capability is {last_cap}; not known to it: {}",
                cap_names(all & !known).join(", ")
            )));
        } else {
            out.push(Finding::Ok(format!("kernel: knows every configured capability (last cap {last_cap})")));
        }
    }
    let (major, minor) = kernel_release();
    if (major, minor) < (5, 11) {
        out.push(Finding::Fail(format!(
            "kernel {major}.{minor}: dmz needs close_range(CLOSE_RANGE_CLOEXEC), Linux 5.11 or later"
        )));
    } else {
        out.push(Finding::Ok(format!("kernel {major}.{minor}: close_range(CLOSE_RANGE_CLOEXEC) available")));
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some((flags, prog)) = &c.seccomp {
        if !status.lines().any(|l| l.starts_with("Seccomp_filters:") || l.starts_with("Seccomp:")) {
            out.push(Finding::Fail("kernel: no seccomp support".into()));
        } else {
            // A filter built for another architecture (compile --arch) sends every syscall to
            // its bad-arch action: the target would be killed at its first syscall.
            let arches = crate::seccomp::program_arches(prog);
            let native = crate::seccomp::Arch::native().name();
            let head = format!("seccomp: {} instructions, flags {flags:#x}", prog.len() / 8);
            let summary = format!("{head}, for {}", arches.join(", "));
            if arches.iter().any(|a| a == native) {
                out.push(Finding::Ok(summary));
            } else if arches.is_empty() {
                out.push(Finding::Warn(format!("{head}: the filter does not check the architecture")));
            } else {
                out.push(Finding::Fail(format!("{summary}: not for this machine ({native})")));
            }
        }
        if !c.no_new_privs && !root_like(CAP_SYS_ADMIN) {
            out.push(Finding::Fail(
                "seccomp without no_new_privs needs CAP_SYS_ADMIN, which this caller lacks".into(),
            ));
        }
    }
    // The caller's privileges.
    let cur_uid = rustix::process::getuid().as_raw();
    let cur_gid = rustix::process::getgid().as_raw();
    if c.uid != cur_uid && !root_like(CAP_SETUID) {
        out.push(Finding::Fail(format!(
            "uid change {cur_uid} -> {} needs CAP_SETUID, which this caller lacks",
            c.uid
        )));
    }
    if (c.gid != cur_gid || !c.groups.is_empty()) && !root_like(CAP_SETGID) {
        out.push(Finding::Fail("setting gid and groups needs CAP_SETGID, which this caller lacks".into()));
    }
    if let Some(k) = &c.caps {
        if who.bounding & !k.bounding != 0 && !root_like(CAP_SETPCAP) {
            out.push(Finding::Fail(
                "dropping from the bounding set needs CAP_SETPCAP, which this caller lacks".into(),
            ));
        }
        let extra = k.permitted & !who.permitted;
        if extra != 0 {
            out.push(Finding::Fail(format!(
                "capabilities.permitted: this caller does not hold {}",
                cap_names(extra).join(", ")
            )));
        }
    }
    for r in &c.rlimits {
        let res = crate::names::RLIMITS[r.resource as usize];
        let cur = rustix::process::getrlimit(resource(r.resource));
        let cur_hard = cur.maximum.unwrap_or(u64::MAX);
        if r.hard > cur_hard && !root_like(CAP_SYS_RESOURCE) {
            out.push(Finding::Fail(format!(
                "{res}: raising the hard limit {cur_hard} -> {} needs CAP_SYS_RESOURCE, which this caller lacks",
                r.hard
            )));
        }
    }
    match resolve(c) {
        Ok(p) => out.push(Finding::Ok(format!("program: {}", p.display()))),
        Err(e) => out.push(Finding::Fail(e)),
    }
    out.extend(crate::landlock::findings(c, root_like(CAP_SYS_ADMIN), resolve(c).ok().as_deref()));
    if let Some(cwd) = &c.cwd {
        if !std::path::Path::new(cwd).is_dir() {
            out.push(Finding::Fail(format!("cwd {cwd}: not a directory here")));
        }
    }
    out
}

fn resource(n: u32) -> rustix::process::Resource {
    use rustix::process::Resource::*;
    [
        Cpu, Fsize, Data, Stack, Core, Rss, Nproc, Nofile, Memlock, As, Locks, Sigpending, Msgqueue, Nice,
        Rtprio, Rttime,
    ][n as usize]
}
