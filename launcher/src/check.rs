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

/// Where dmz would find the program: dmz's own PATH search over the target's PATH, each
/// candidate looked at instead of executed (a regular file with an execute bit is what dmz
/// would run; anything else that exists, EACCES).
fn resolve(c: &Compiled) -> Result<std::path::PathBuf, String> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let Some(prog) = c.args.first() else {
        return Err("args: empty, no program to run (dmz would exit 125)".into());
    };
    let (mut found, mut not_exec) = (None, None);
    let mut look = |candidate: &std::ffi::CStr| -> u16 {
        let p = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(candidate.to_bytes()));
        let e = match std::fs::metadata(&p) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => 0,
            Ok(_) => dmz::error::EACCES,
            Err(e) => e.raw_os_error().map_or(dmz::error::ENOENT, |n| n as u16),
        };
        match e {
            0 => found = Some(p),
            dmz::error::EACCES => drop(not_exec.get_or_insert(p)),
            _ => {}
        }
        e
    };
    let Ok(name) = std::ffi::CString::new(prog.as_str()) else {
        return Err(format!("program {prog:?}: contains NUL"));
    };
    let err = if prog.contains('/') {
        look(&name)
    } else {
        let path = c.env.iter().find_map(|e| e.strip_prefix("PATH=")).map(str::as_bytes);
        let mut buf = vec![0; dmz::transition::PATH_MAX];
        dmz::transition::search_path(&name, path.unwrap_or(dmz::transition::DEFAULT_PATH), &mut buf, look)
    };
    match (found, not_exec, err) {
        (Some(p), _, 0) => Ok(p),
        (_, Some(p), dmz::error::EACCES) => {
            Err(format!("program {prog:?}: {} is not executable (dmz would exit 126)", p.display()))
        }
        (_, _, e) if dmz::transition::not_here(e) => {
            Err(format!("program {prog:?}: not found in the target's PATH (dmz would exit 127)"))
        }
        (_, _, e) => Err(format!("program {prog:?}: cannot be searched for: errno {e} (dmz would exit 126)")),
    }
}

/// Everything `check` reports about `c`, given the sections not applied.
pub fn check(c: &Compiled, not_applied: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    let who = caller();
    let root_like = |cap: u64| who.effective & cap != 0;
    out.push(Finding::Ok(format!(
        "will apply: args {:?}, uid {} gid {} groups {}, umask {:04o}, cwd {}, {} env entries, no_new_privs {}",
        c.args,
        c.uid.map_or("(unchanged)".into(), |u| u.to_string()),
        c.gid.map_or("(unchanged)".into(), |g| g.to_string()),
        c.groups.as_ref().map_or("(unchanged)".into(), |g| format!("{g:?}")),
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
    if let Some(crate::wire::Seccomp { flags, program: prog }) = &c.seccomp {
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
        if !c.no_new_privs {
            out.extend(pre_nnp_filter(c, prog));
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
    if c.uid.is_some_and(|u| u != cur_uid) && !root_like(CAP_SETUID) {
        out.push(Finding::Fail(format!(
            "uid change {cur_uid} -> {} needs CAP_SETUID, which this caller lacks",
            c.uid.unwrap_or(cur_uid)
        )));
    }
    if (c.gid.is_some_and(|g| g != cur_gid) || c.groups.is_some()) && !root_like(CAP_SETGID) {
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
        let (Some(res), Some(kind)) = (crate::names::RLIMITS.get(r.resource as usize), resource(r.resource))
        else {
            out.push(Finding::Fail(format!("rlimit resource {}: not known to dmz", r.resource)));
            continue;
        };
        let cur = rustix::process::getrlimit(kind);
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
    if let Some(cwd) = &c.cwd {
        if !std::path::Path::new(cwd).is_dir() {
            out.push(Finding::Fail(format!("cwd {cwd}: not a directory here")));
        }
    }
    out
}

fn resource(n: u32) -> Option<rustix::process::Resource> {
    use rustix::process::Resource::*;
    [
        Cpu, Fsize, Data, Stack, Core, Rss, Nproc, Nofile, Memlock, As, Locks, Sigpending, Msgqueue, Nice,
        Rtprio, Rttime,
    ]
    .get(n as usize)
    .copied()
}

/// Without no_new_privs dmz installs the filter before the uid change (the kernel asks for
/// CAP_SYS_ADMIN then, docs/design.md §3), so the filter sees every later step of the
/// transition. A step it does not allow fails the transition; worse, `SCMP_ACT_ERRNO` with
/// errno 0 makes a step (setresuid, capset) report success without happening. This runs the
/// program on each syscall dmz makes after installing it, with the arguments dmz passes
/// (pointers as 0), for this machine's architecture, and warns about each one not allowed.
fn pre_nnp_filter(c: &Compiled, prog: &[u8]) -> Vec<Finding> {
    use crate::seccomp::bpf;
    let arch = crate::seccomp::Arch::native();
    let Some(insns) = bpf::decode(prog).filter(|p| bpf::validate(p).is_ok()) else {
        return vec![Finding::Warn("seccomp: the filter is not valid classic BPF; not evaluated".into())];
    };
    if !bpf::arch_tests(&insns).contains(&arch.audit()) {
        return Vec::new(); // reported above: not for this machine
    }
    let mut out = Vec::new();
    for call in transition_calls(c) {
        let Ok(nr) = libseccomp::ScmpSyscall::from_name_by_arch(call.name, arch.scmp()) else {
            continue;
        };
        let data = bpf::Data { nr: i32::from(nr), arch: arch.audit(), ip: 0, args: call.args };
        let ret = bpf::run(&insns, &data);
        if matches!(ret & bpf::RET_ACTION_FULL, bpf::RET_ALLOW | bpf::RET_LOG) {
            continue;
        }
        let effect = if ret == bpf::RET_ERRNO {
            "it would report success without taking effect"
        } else {
            "the transition would fail there"
        };
        let warning = Finding::Warn(format!(
            "seccomp: installed before the uid change (no_new_privs is off), the filter answers {} \
             with {}: {effect}",
            call.label,
            bpf::verdict_name(ret)
        ));
        if !out.contains(&warning) {
            out.push(warning);
        }
    }
    if out.is_empty() {
        out.push(Finding::Ok(
            "seccomp: installed before the uid change (no_new_privs is off); it allows every later step"
                .into(),
        ));
    }
    out
}

/// One syscall of the transition: how to name it, its name for libseccomp, its arguments.
struct Call {
    label: String,
    name: &'static str,
    args: [u64; 6],
}

/// The syscalls dmz makes after a pre-NNP filter is installed, in order, for config `c`
/// (dmz/src/transition.rs and dmz/src/sys.rs). The 32-bit arches use the 32-bit-id calls.
fn transition_calls(c: &Compiled) -> Vec<Call> {
    use dmz::transition::CLOSE_RANGE_CLOEXEC;
    use linux_raw_sys::general::F_SETFD;
    use linux_raw_sys::prctl::*;
    const ID32: bool = cfg!(any(target_arch = "x86", target_arch = "arm"));
    let id = |name: &'static str, name32: &'static str| if ID32 { name32 } else { name };
    let call = |label: String, name: &'static str, a: &[u64]| {
        let mut args = [0u64; 6];
        args[..a.len()].copy_from_slice(a);
        Call { label, name, args }
    };
    let prctl = |label: &str, a: &[u64]| call(format!("prctl({label})"), "prctl", a);
    let mut v = Vec::new();
    if c.cwd.is_some() {
        v.push(call("chdir".into(), "chdir", &[]));
    }
    let last = crate::flags::last_cap().min(63);
    if let Some(k) = &c.caps {
        for cap in (0..=last).filter(|n| k.bounding & 1 << n == 0) {
            v.push(prctl("PR_CAPBSET_READ", &[PR_CAPBSET_READ.into(), cap.into()]));
            v.push(prctl("PR_CAPBSET_DROP", &[PR_CAPBSET_DROP.into(), cap.into()]));
        }
    }
    match c.securebits {
        Some(b) => v.push(prctl(
            "PR_SET_SECUREBITS",
            &[PR_SET_SECUREBITS.into(), (b | dmz::transition::SECBIT_KEEP_CAPS).into()],
        )),
        None => v.push(prctl("PR_SET_KEEPCAPS, 1", &[PR_SET_KEEPCAPS.into(), 1])),
    }
    // chown_stdio: statx of fds 0-2, fchown of each not already the target's (or /dev/null).
    if let (true, Some(u)) = (c.chown_stdio, c.uid) {
        for fd in 0..3u64 {
            v.push(call(format!("statx of fd {fd}"), "statx", &[fd]));
            v.push(call(
                format!("fchown({fd}, {u})"),
                id("fchown", "fchown32"),
                &[fd, u.into(), u32::MAX.into()],
            ));
        }
    }
    if let Some(groups) = &c.groups {
        // Whether setgroups is allowed in this user namespace: /proc/self/setgroups.
        v.push(call("openat of /proc/self/setgroups".into(), "openat", &[]));
        v.push(call("read".into(), "read", &[]));
        v.push(call("close".into(), "close", &[]));
        let n = groups.len() as u64;
        v.push(call("setgroups".into(), id("setgroups", "setgroups32"), &[n]));
    }
    if let Some(g) = c.gid.map(u64::from) {
        v.push(call(format!("setresgid({g})"), id("setresgid", "setresgid32"), &[g, g, g]));
    }
    if let Some(u) = c.uid.map(u64::from) {
        v.push(call(format!("setresuid({u})"), id("setresuid", "setresuid32"), &[u, u, u]));
    }
    if c.securebits.is_none_or(|b| b & dmz::transition::SECBIT_KEEP_CAPS == 0) {
        v.push(prctl("PR_SET_KEEPCAPS, 0", &[PR_SET_KEEPCAPS.into(), 0]));
    }
    if let Some(k) = &c.caps {
        v.push(call("capset".into(), "capset", &[]));
        v.push(prctl("PR_CAP_AMBIENT_CLEAR_ALL", &[PR_CAP_AMBIENT.into(), PR_CAP_AMBIENT_CLEAR_ALL.into()]));
        for cap in (0..=last).filter(|n| k.ambient & 1 << n != 0) {
            v.push(prctl(
                "PR_CAP_AMBIENT_RAISE",
                &[PR_CAP_AMBIENT.into(), PR_CAP_AMBIENT_RAISE.into(), cap.into()],
            ));
        }
    }
    // What dmz reads back to verify the credentials before exec (no_new_privs is off here, so
    // PR_GET_NO_NEW_PRIVS is not asked).
    if c.uid.is_some() {
        v.push(call("getresuid".into(), id("getresuid", "getresuid32"), &[]));
    }
    if c.gid.is_some() {
        v.push(call("getresgid".into(), id("getresgid", "getresgid32"), &[]));
    }
    if c.groups.is_some() {
        v.push(call("getgroups".into(), id("getgroups", "getgroups32"), &[]));
    }
    if let Some(k) = &c.caps {
        v.push(call("capget".into(), "capget", &[]));
        for cap in 0..=last {
            if k.bounding & 1 << cap == 0 {
                v.push(prctl("PR_CAPBSET_READ", &[PR_CAPBSET_READ.into(), cap.into()]));
            }
            v.push(prctl(
                "PR_CAP_AMBIENT_IS_SET",
                &[PR_CAP_AMBIENT.into(), PR_CAP_AMBIENT_IS_SET.into(), cap.into()],
            ));
        }
    }
    // Preserved fds lose CLOEXEC; every gap between them gets it.
    let mut next = 3u64;
    for &fd in &c.preserve_fds {
        v.push(call(format!("fcntl({fd}, F_SETFD)"), id("fcntl", "fcntl64"), &[fd.into(), F_SETFD.into()]));
    }
    for fd in c.preserve_fds.iter().map(|&fd| u64::from(fd)) {
        if fd > next {
            v.push(call("close_range".into(), "close_range", &[next, fd - 1, CLOSE_RANGE_CLOEXEC.into()]));
        }
        next = fd + 1;
    }
    v.push(call("close_range".into(), "close_range", &[next, u32::MAX.into(), CLOSE_RANGE_CLOEXEC.into()]));
    if c.cwd.is_some() {
        // Again as the target user if the first chdir was refused.
        v.push(call("chdir".into(), "chdir", &[]));
    }
    v.push(call("execve".into(), "execve", &[]));
    // After a failed exec: its message, then the exit.
    v.push(call("write to stderr".into(), "write", &[2]));
    v.push(call("exit_group".into(), "exit_group", &[125]));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// The lookup `check` reports is dmz's: PATH in order, an empty entry the current
    /// directory, a file without execute bit remembered (exit 126) while the search goes on.
    #[test]
    fn resolve_searches_like_dmz() {
        let dir = std::env::temp_dir().join(format!("dmzkit-resolve-{}", std::process::id()));
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let write = |p: &std::path::Path, mode| {
            std::fs::write(p, "").unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write(&a.join("prog"), 0o644);
        write(&b.join("prog"), 0o755);
        write(&a.join("plain"), 0o644);
        let at = |path: String, prog: &str| {
            let c = Compiled {
                args: vec![prog.into()],
                env: vec![format!("PATH={path}")],
                ..Compiled::default()
            };
            resolve(&c)
        };
        let (a_s, b_s) = (a.display().to_string(), b.display().to_string());
        assert_eq!(at(format!("/nonexistent:{a_s}:{b_s}"), "prog"), Ok(b.join("prog")));
        let e = at(format!("{a_s}:/nonexistent"), "plain").unwrap_err();
        assert!(e.contains("is not executable (dmz would exit 126)"), "{e}");
        let e = at(format!("/nonexistent:{a_s}/plain"), "prog").unwrap_err();
        assert!(e.contains("not found in the target's PATH (dmz would exit 127)"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
