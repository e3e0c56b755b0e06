//! The privilege transition (docs/design.md §3): validate, then one flat function, a step a line.
//!
//! Everything talks to the kernel through [`Kernel`], so tests can record the exact call
//! sequence and inject a failure at any step.

use crate::config::{strings, Config, MAX_ARGS, MAX_BPF_INSNS, MAX_ENV, RLIM_NLIMITS};
use crate::config::{MAX_FD, MAX_GROUPS, MAX_ID, MAX_UMASK, OOM_SCORE_ADJ};
use crate::error::{Bad, Error, Step, EACCES, EBADF, EINVAL, ENAMETOOLONG, ENOENT, EPERM, EROFS};
use core::convert::Infallible;
use core::ffi::CStr;
use linux_raw_sys::errno;

pub type Errno = u16;
pub type KResult = Result<(), Errno>;

/// The kernel operations the transition performs, one method per syscall.
pub trait Kernel {
    /// `prctl(PR_CAPBSET_READ, cap)`: `Ok(_)` if the kernel knows `cap`, `Err(EINVAL)` if not.
    fn capbset_read(&mut self, cap: u32) -> Result<bool, Errno>;
    fn prlimit(&mut self, resource: u32, soft: u64, hard: u64) -> KResult;
    fn write_oom_score_adj(&mut self, value: i32) -> KResult;
    fn umask(&mut self, mask: u32);
    fn install_seccomp(&mut self, flags: u32, program: &[u8]) -> KResult;
    /// `chdir(path)`.
    fn chdir(&mut self, path: &CStr) -> KResult;
    fn capbset_drop(&mut self, cap: u32) -> KResult;
    fn set_securebits(&mut self, bits: u32) -> KResult;
    fn set_keepcaps(&mut self, keep: bool) -> KResult;
    /// `statx(fd, "", AT_EMPTY_PATH)`: the owner uid and the device number (major << 32 |
    /// minor) of what `fd` refers to.
    fn fd_owner(&mut self, fd: u32) -> Result<(u32, u64), Errno>;
    /// `fchown(fd, uid, -1)`.
    fn fchown(&mut self, fd: u32, uid: u32) -> KResult;
    /// Whether `/proc/self/setgroups` says `deny` (a user namespace where setgroups(2) is
    /// refused); false when it cannot be read.
    fn setgroups_denied(&mut self) -> bool;
    fn setgroups(&mut self, groups: &[u32]) -> KResult;
    fn setresgid(&mut self, gid: u32) -> KResult;
    fn setresuid(&mut self, uid: u32) -> KResult;
    fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> KResult;
    fn ambient_clear_all(&mut self) -> KResult;
    fn ambient_raise(&mut self, cap: u32) -> KResult;
    fn set_no_new_privs(&mut self) -> KResult;
    /// `getresuid` into `ids`: real, effective, saved.
    fn getresuid(&mut self, ids: &mut [u32; 3]) -> KResult;
    /// `getresgid` into `ids`: real, effective, saved.
    fn getresgid(&mut self, ids: &mut [u32; 3]) -> KResult;
    /// `getgroups(out.len(), out)`: the number of groups; EINVAL if more than fit.
    fn getgroups(&mut self, out: &mut [u32]) -> Result<usize, Errno>;
    /// `capget(v3)` into `data`, two `struct __user_cap_data_struct` {effective, permitted,
    /// inheritable}: low words, then high words (capset's layout).
    fn capget(&mut self, data: &mut [u32; 6]) -> KResult;
    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap)`.
    fn ambient_is_set(&mut self, cap: u32) -> Result<bool, Errno>;
    /// `prctl(PR_GET_NO_NEW_PRIVS)`.
    fn get_no_new_privs(&mut self) -> Result<bool, Errno>;
    /// `fcntl(fd, F_SETFD, 0)`: the fd survives exec.
    fn clear_cloexec(&mut self, fd: u32) -> KResult;
    /// `close_range(first, last, CLOSE_RANGE_CLOEXEC)`.
    fn cloexec_range(&mut self, first: u32, last: u32) -> KResult;
    /// `execve(path, argv, envp)`; returns only on failure.
    fn execve(&mut self, path: &CStr, argv: &ExecList, envp: &ExecList) -> Errno;
    /// Writes one diagnostic line to stderr.
    fn report(&mut self, line: &[u8]);
}

// Securebits (include/uapi/linux/securebits.h; not in linux-raw-sys 0.12, the newest, so
// written here, once: the launcher uses these).
pub const SECBIT_KEEP_CAPS: u32 = 1 << 4;
pub const SECBIT_KEEP_CAPS_LOCKED: u32 = 1 << 5;
/// Every bit PR_SET_SECUREBITS accepts (SECURE_ALL_BITS | SECURE_ALL_LOCKS).
pub const SECBITS_ALL: u32 = 0xff;
/// close_range(2)'s flag, for the launcher's listing of dmz's syscalls (linker/src/sys.rs).
pub use linker::sys::CLOSE_RANGE_CLOEXEC;

/// Where the argv/envp pointer arrays and the PATH candidates are built: memory the caller
/// provides (dmz: after the config in one mapping sized by it; see src/main.rs), filled by
/// [`validate`] and the PATH search only as far as the config needs. Also holds the kernel's
/// last capability. `'p` covers the config's strings too ([`validate`] ties them), so the
/// pointers cannot outlive what they point to.
pub struct Prepared<'p> {
    pub last_cap: u32,
    /// argv (NULL-terminated), then envp right after argv's NULL.
    ptrs: &'p mut [*const u8],
    /// argv's length with its NULL, where envp starts; 0 until [`validate`] has built both
    /// (the rule [`Prepared::lists`] relies on).
    argv_len: usize,
    /// The PATH search's candidate path ([`PATH_MAX`] bytes suffice).
    path: &'p mut [u8],
}

/// Pointer slots the largest config needs: argv and envp, each with its NULL.
pub const PTR_SLOTS: usize = MAX_ARGS + 1 + MAX_ENV + 1;

impl<'p> Prepared<'p> {
    /// Nothing prepared yet, in `ptrs` (at most [`PTR_SLOTS`] are used; fewer than the
    /// config's strings and their NULLs fail validation) and `path` (at most [`PATH_MAX`]
    /// bytes are used).
    pub fn new(ptrs: &'p mut [*const u8], path: &'p mut [u8]) -> Self {
        Prepared { last_cap: 0, ptrs, argv_len: 0, path }
    }

    /// argv and envp, once [`validate`] built them.
    fn lists(&self) -> Option<(ExecList<'_>, ExecList<'_>)> {
        match self.argv_len {
            0 => None,
            n => self.ptrs.split_at_checked(n).map(|(a, e)| (ExecList(a), ExecList(e))),
        }
    }
}

/// An argv or envp for execve(2), as only [`validate`] builds it: an array of pointers that
/// holds a NULL, each pointer before it the start of a NUL-terminated string, all (array and
/// strings) alive for `'a`. The field is private to this module, so no other code can make
/// one that breaks the rule: [`Kernel::execve`] can hand it to the kernel as is.
pub struct ExecList<'a>(&'a [*const u8]);

impl<'a> ExecList<'a> {
    /// The array; the kernel reads it up to its first NULL.
    pub fn as_slice(&self) -> &'a [*const u8] {
        self.0
    }
}

/// The first `n` items of `s`, or all of it if shorter.
fn first<T>(s: &mut [T], n: usize) -> &mut [T] {
    let n = n.min(s.len());
    s.get_mut(..n).unwrap_or_default()
}

/// Fills a NULL-terminated pointer array from a NUL-terminated string list; returns the
/// number of strings, or `None` if the list does not end in NUL or does not fit.
fn pointers(list: &[u8], out: &mut [*const u8]) -> Option<usize> {
    let mut n = 0;
    let mut start = true;
    for b in list {
        if start {
            *out.get_mut(n)? = b;
            n += 1;
        }
        start = *b == 0;
    }
    // `start` is left true by a final NUL (or an empty list).
    if !start {
        return None;
    }
    *out.get_mut(n)? = core::ptr::null();
    Some(n)
}

/// The capability sets in [`crate::config::Caps`]'s order, as [`validate`] names them.
const CAP_SETS: [Bad; 5] =
    [Bad::CapBounding, Bad::CapEffective, Bad::CapPermitted, Bad::CapInheritable, Bad::CapAmbient];

/// Step 1 (after decoding): everything the transition uses is checked before any state
/// changes, so a config that fails here changes nothing. Also prepares argv/envp and, for a
/// config with capabilities, probes the kernel's last capability, all before the first
/// privileged call.
pub fn validate<'p, K: Kernel>(k: &mut K, c: &Config<'p>, p: &mut Prepared<'p>) -> Result<(), Error> {
    // No lists until both are built again (exec trusts argv_len).
    p.argv_len = 0;
    // envp starts right after argv's NULL: the arrays take only the slots the config needs.
    let Some(n @ 1..) = pointers(c.args.0, first(p.ptrs, MAX_ARGS + 1)) else {
        return Err(Error::invalid(Bad::Args, 0));
    };
    if c.args.0.first() == Some(&0) {
        return Err(Error::invalid(Bad::ProgramName, 0));
    }
    let envp = p.ptrs.get_mut(n + 1..).unwrap_or_default();
    let Some(_) = pointers(c.env.0, first(envp, MAX_ENV + 1)) else {
        return Err(Error::invalid(Bad::Env, 0));
    };
    // Both built: from here on exec may use them.
    p.argv_len = n + 1;
    // Empty, or one string whose NUL is its last byte.
    if first_string(c.cwd.0).len() != c.cwd.0.len() {
        return Err(Error::invalid(Bad::Cwd, 0));
    }
    // 4294967295 is -1 to setresuid and friends: "leave unchanged", the caller's root. The
    // largest id is reported (`None`, unchanged on purpose, counts as 0).
    let mut id = c.uid.unwrap_or(0).max(c.gid.unwrap_or(0));
    for &g in c.groups.iter().flatten() {
        id = id.max(g);
    }
    if id > MAX_ID {
        return Err(Error::invalid(Bad::Id, id));
    }
    if c.umask > MAX_UMASK {
        return Err(Error::invalid(Bad::Umask, c.umask));
    }
    for r in c.rlimits.iter() {
        if r.resource >= RLIM_NLIMITS {
            return Err(Error::invalid(Bad::RlimitResource, r.resource));
        }
        if r.soft > r.hard {
            return Err(Error::invalid(Bad::RlimitOrder, r.resource));
        }
    }
    if c.oom_score_adj.is_some_and(|adj| !OOM_SCORE_ADJ.contains(&adj)) {
        return Err(Error::invalid(Bad::OomScoreAdj, 0));
    }
    let mut prev = 2;
    for &fd in c.preserve_fds.iter() {
        if fd <= prev || fd > MAX_FD {
            return Err(Error::invalid(Bad::PreserveFds, fd));
        }
        prev = fd;
    }
    if let Some(bits) = c.securebits {
        if bits & !SECBITS_ALL != 0 {
            return Err(Error::invalid(Bad::Securebits, bits));
        }
        // The uid change needs keep-caps on (see set_keep_caps); locked off cannot be honoured.
        if bits & SECBIT_KEEP_CAPS_LOCKED != 0 && bits & SECBIT_KEEP_CAPS == 0 {
            return Err(Error::invalid(Bad::SecurebitsKeepCaps, 0));
        }
    }
    if let Some(s) = &c.seccomp {
        let n = s.program.0.len();
        if n == 0 || n % 8 != 0 || n / 8 > MAX_BPF_INSNS {
            return Err(Error::invalid(Bad::SeccompSize, 0));
        }
    }
    if let Some(caps) = &c.caps {
        let last = last_cap(k)?;
        p.last_cap = last;
        let unknown = !0u64 << last << 1;
        for (&bad, &set) in CAP_SETS.iter().zip(caps.sets()) {
            if set & unknown != 0 {
                return Err(Error::invalid(bad, 63 - (set & unknown).leading_zeros()));
            }
        }
    }
    Ok(())
}

/// The kernel's last capability, by bisection over `prctl(PR_CAPBSET_READ, cap)`, which
/// fails with EINVAL for a capability above it (cap_valid() in kernel/sys.c): 6 calls, not
/// one per capability. Needs no /proc (init may run dmz before /proc is mounted). Any other
/// error (a caller's seccomp filter, an LSM) fails: guessing would leave capabilities in the
/// bounding set that the config drops. References: prctl(2).
fn last_cap<K: Kernel>(k: &mut K) -> Result<u32, Error> {
    // Capability 0 (CAP_CHOWN) exists on every kernel; 64 does not fit the masks.
    let (mut known, mut unknown) = (0, 64);
    while unknown - known > 1 {
        let mid = (known + unknown) / 2;
        match k.capbset_read(mid) {
            Ok(_) => known = mid,
            Err(EINVAL) => unknown = mid,
            Err(e) => return Err(Error::new(Step::ReadBoundingSet, e, mid)),
        }
    }
    Ok(known)
}

/// The search path when the target's environment has no PATH (runc's and systemd's default).
pub const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Longest path dmz builds for the PATH lookup (PATH_MAX, NUL included).
pub const PATH_MAX: usize = 4096;

/// The whole transition, docs/design.md §3. Returns only if a step failed; the caller exits with
/// [`Error::exit_code`] and never execs anything else.
#[inline(never)]
#[rustfmt::skip] // one step a line, the why aligned beside it
pub fn transition<'p, K: Kernel>(k: &mut K, c: &Config<'p>, p: &mut Prepared<'p>) -> Error {
    let r = (|| -> Result<Infallible, Error> {
        set_rlimits(k, c)?;                        // 2: raising a hard limit needs CAP_SYS_RESOURCE
        set_oom_score_adj(k, c)?;                  // 3: lowering it needs CAP_SYS_RESOURCE
        k.umask(c.umask);                          // 3: umask(2) cannot fail
        if !c.no_new_privs {
            install_seccomp_filter(k, c)?;         // 4: without NNP this needs CAP_SYS_ADMIN
        }
        let mut retry_chdir = None;                //    (set by chdir_early, used at 14)
        chdir_early(k, c, &mut retry_chdir)?;      // 5: as the caller (runc's first attempt)
        drop_bounding_set(k, c, p.last_cap)?;      // 5: needs CAP_SETPCAP, so before setresuid
        set_keep_caps(k, c)?;                      // 6: permitted survives the uid change
        chown_stdio(k, c)?;                        // 7: needs CAP_CHOWN, so as the caller
        let mut groups_set = false;                //    (set by set_groups, used at 12)
        set_groups(k, c, &mut groups_set)?;        // 7: groups, then gid, then uid: after
        set_res_gid(k, c)?;                        //    setresuid, CAP_SETGID is gone
        set_res_uid(k, c)?;                        //    (effective set cleared)
        clear_keep_caps(k, c)?;                    // 8: unless securebits keep it
        set_capabilities(k, c)?;                   // 9: effective, permitted, inheritable
        raise_ambient(k, c)?;                      // 10: needs each cap in P and I
        set_no_new_privs(k, c)?;                   // 12: before the NNP-mode filter
        verify_credentials(k, c, p.last_cap, groups_set)?; // 12: what 7-12 did, read back
        keep_fds(k, c)?;                           // 13: preserved fds lose CLOEXEC,
        close_other_fds(k, c)?;                    //     every other fd >= 3 gets it
        if let Some(cwd) = retry_chdir {
            chdir(k, cwd)?;                        // 14: now as the target user
        }
        if c.no_new_privs {
            install_seccomp_filter(k, c)?;         // 15: as late as possible
        }
        Err(exec_program(k, c, p))                 // 16: returns only on failure
    })();
    match r {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

/// `prlimit64(0, resource, {soft, hard}, NULL)` for each configured limit.
///
/// Raising a hard limit needs CAP_SYS_RESOURCE, so this runs while still privileged.
/// References: getrlimit(2).
fn set_rlimits<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    for r in c.rlimits.iter() {
        k.prlimit(r.resource, r.soft, r.hard).map_err(|e| Error::new(Step::SetRlimit, e, r.resource))?;
    }
    Ok(())
}

/// `write("/proc/self/oom_score_adj")`. Lowering the score below its current minimum needs
/// CAP_SYS_RESOURCE. References: proc_pid_oom_score_adj(5).
fn set_oom_score_adj<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    match c.oom_score_adj {
        Some(v) => k.write_oom_score_adj(v).map_err(|e| Error::new(Step::SetOomScoreAdj, e, 0)),
        None => Ok(()),
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`. Without no_new_privs the kernel requires
/// CAP_SYS_ADMIN, so the filter goes in before the uid change; with no_new_privs it goes in
/// last, so the filter does not have to allow the transition's own syscalls.
/// References: seccomp(2).
fn install_seccomp_filter<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    match &c.seccomp {
        Some(s) => {
            k.install_seccomp(s.flags, s.program.0).map_err(|e| Error::new(Step::InstallSeccomp, e, 0))
        }
        None => Ok(()),
    }
}

/// `chdir(cwd)` as the caller. Like runc, a permission error is not fatal yet: it sets
/// `retry`, to try again after the uid change (a directory only the target user may enter,
/// e.g. on root-squashed NFS). Any other error fails. (An out-parameter rather than
/// `Result<bool, Error>`, whose packing costs ~50 bytes at the call.) References: chdir(2).
fn chdir_early<'a, K: Kernel>(k: &mut K, c: &Config<'a>, retry: &mut Option<&'a CStr>) -> Result<(), Error> {
    // Validation checked that cwd is empty or one string.
    let Some(cwd) = c_str(c.cwd.0) else { return Ok(()) };
    match k.chdir(cwd) {
        Err(EACCES | EPERM) => *retry = Some(cwd),
        Err(e) => return Err(Error::new(Step::Chdir, e, 0)),
        Ok(()) => {}
    }
    Ok(())
}

/// `chdir(cwd)` again, as the target user. Only called when [`chdir_early`] asked for the
/// retry, which it does only for a configured cwd. References: chdir(2).
fn chdir<K: Kernel>(k: &mut K, cwd: &CStr) -> Result<(), Error> {
    k.chdir(cwd).map_err(|e| Error::new(Step::Chdir, e, 0))
}

/// `prctl(PR_CAPBSET_DROP, cap)` for every capability up to the kernel's last one that is not
/// in the configured bounding set. Needs CAP_SETPCAP, hence before the uid change.
/// References: prctl(2), capabilities(7) "Capability bounding set".
fn drop_bounding_set<K: Kernel>(k: &mut K, c: &Config, last_cap: u32) -> Result<(), Error> {
    let Some(caps) = &c.caps else { return Ok(()) };
    for cap in 0..last_cap + 1 {
        // A cap already out of the bounding set is left: dropping it again changes nothing
        // but still needs CAP_SETPCAP, which an unprivileged caller that only names the
        // sets it has lacks.
        if caps.bounding & (1 << cap) == 0 && !matches!(k.capbset_read(cap), Ok(false)) {
            k.capbset_drop(cap).map_err(|e| Error::new(Step::DropBoundingSet, e, cap))?;
        }
    }
    Ok(())
}

/// `prctl(PR_SET_SECUREBITS, bits | SECBIT_KEEP_CAPS)` if securebits are configured, else
/// `prctl(PR_SET_KEEPCAPS, 1)`: either way the permitted set survives setresuid.
///
/// Securebits go in here rather than after the capabilities (docs/design.md §3, step 6):
/// PR_SET_SECUREBITS needs CAP_SETPCAP in the effective set, which the uid change clears; so
/// they are set while still privileged, with keep-caps forced on until [`clear_keep_caps`].
/// References: prctl(2), capabilities(7) "The securebits flags".
fn set_keep_caps<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    match c.securebits {
        Some(bits) => {
            k.set_securebits(bits | SECBIT_KEEP_CAPS).map_err(|e| Error::new(Step::SetSecurebits, e, 0))
        }
        None => k.set_keepcaps(true).map_err(|e| Error::new(Step::SetKeepCaps, e, 0)),
    }
}

/// The device number of /dev/null (1:3 on every Linux, Documentation/admin-guide/devices.txt).
const DEV_NULL: u64 = 1 << 32 | 3;

/// `statx` then `fchown(fd, uid, -1)` for fds 0–2, when the config asks for it (runc's
/// fixStdioPermissions): the target can then reopen its stdio, e.g. `/dev/stdout` on a pipe
/// the caller created. Like runc: an fd already owned by `uid` or on /dev/null is left, and
/// EINVAL, EPERM and EROFS from fchown are not fatal (an owner not mapped in this user
/// namespace, a read-only /dev). Unlike runc, a closed fd is skipped (runc's stdio are always
/// open). Needs CAP_CHOWN, hence before the uid change. References: statx(2), chown(2).
fn chown_stdio<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    let (true, Some(uid)) = (c.chown_stdio, c.uid) else { return Ok(()) };
    for fd in 0..3 {
        let r = match k.fd_owner(fd) {
            Ok((owner, rdev)) if owner == uid || rdev == DEV_NULL => Ok(()),
            Ok(_) => k.fchown(fd, uid),
            Err(e) => Err(e),
        };
        match r {
            Ok(()) | Err(EBADF | EINVAL | EPERM | EROFS) => {}
            Err(e) => return Err(Error::new(Step::ChownStdio, e, fd)),
        }
    }
    Ok(())
}

/// `setgroups(n, groups)` when groups are configured, even with an empty list: the caller's
/// supplementary groups must not leak into the target (runc does the same). Needs
/// CAP_SETGID. Like runc, skipped in a user namespace whose /proc/self/setgroups says `deny`,
/// where the kernel refuses it to everyone; `set` tells [`verify_credentials`] whether the
/// groups are to be checked. References: setgroups(2), user_namespaces(7)
/// "The /proc/[pid]/setgroups file".
fn set_groups<K: Kernel>(k: &mut K, c: &Config, set: &mut bool) -> Result<(), Error> {
    let Some(groups) = &c.groups else { return Ok(()) };
    if k.setgroups_denied() {
        return Ok(());
    }
    *set = true;
    k.setgroups(groups).map_err(|e| Error::new(Step::SetGroups, e, 0))
}

/// `setresgid(gid, gid, gid)`, before setresuid, which would drop CAP_SETGID.
/// References: setresgid(2).
fn set_res_gid<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    let Some(gid) = c.gid else { return Ok(()) };
    k.setresgid(gid).map_err(|e| Error::new(Step::SetResGid, e, gid))
}

/// `setresuid(uid, uid, uid)`. Leaving uid 0 clears the effective set and, without keep-caps,
/// the permitted set too. References: setresuid(2), capabilities(7) "Effect of user ID changes".
fn set_res_uid<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    let Some(uid) = c.uid else { return Ok(()) };
    k.setresuid(uid).map_err(|e| Error::new(Step::SetResUid, e, uid))
}

/// `prctl(PR_SET_KEEPCAPS, 0)` unless the configured securebits include SECBIT_KEEP_CAPS.
/// Needs no privilege (only an unlocked bit). References: prctl(2).
fn clear_keep_caps<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    if c.securebits.is_some_and(|b| b & SECBIT_KEEP_CAPS != 0) {
        return Ok(());
    }
    k.set_keepcaps(false).map_err(|e| Error::new(Step::ClearKeepCaps, e, 0))
}

/// `capset(v3, {effective, permitted, inheritable})`. The kernel refuses a permitted set that
/// is not a subset of the current one and an effective set outside the new permitted set.
/// References: capset(2).
fn set_capabilities<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    let Some(caps) = &c.caps else { return Ok(()) };
    k.capset(caps.effective, caps.permitted, caps.inheritable).map_err(|e| Error::new(Step::SetCaps, e, 0))
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)`, then `PR_CAP_AMBIENT_RAISE` per cap.
/// Raising needs the cap in both permitted and inheritable, and not blocked by
/// SECBIT_NO_CAP_AMBIENT_RAISE. References: prctl(2), capabilities(7) "Ambient capability set".
fn raise_ambient<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    let Some(caps) = &c.caps else { return Ok(()) };
    k.ambient_clear_all().map_err(|e| Error::new(Step::ClearAmbient, e, 0))?;
    for cap in 0..64 {
        if caps.ambient & (1 << cap) != 0 {
            k.ambient_raise(cap).map_err(|e| Error::new(Step::RaiseAmbient, e, cap))?;
        }
    }
    Ok(())
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: from here on execve cannot add privileges; file
/// capabilities are clamped to the current permitted set. References: prctl(2),
/// Documentation/userspace-api/no_new_privs.rst.
fn set_no_new_privs<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    if !c.no_new_privs {
        return Ok(());
    }
    k.set_no_new_privs().map_err(|e| Error::new(Step::SetNoNewPrivs, e, 0))
}

/// `getresuid`, `getresgid`, `getgroups`, `capget`, `PR_CAP_AMBIENT_IS_SET`,
/// `PR_CAPBSET_READ` and `PR_GET_NO_NEW_PRIVS`: every credential steps 7–12 configured, read
/// back. A seccomp filter installed before the uid change (without no_new_privs) or an LSM can
/// make a step return success without doing it (`SCMP_ACT_ERRNO` with errno 0 on setresuid
/// leaves the caller's root); this catches it before exec. Exact for the ids, groups (as a
/// set: the kernel sorts them), effective, permitted, inheritable and ambient sets; the
/// bounding set must hold nothing outside the configured one (a cap the caller never had
/// cannot be added). Buffers start at values no valid config has, so a read that "succeeds"
/// without writing them mismatches. References: getresuid(2), getgroups(2), capget(2),
/// prctl(2).
fn verify_credentials<K: Kernel>(
    k: &mut K,
    c: &Config,
    last_cap: u32,
    groups_set: bool,
) -> Result<(), Error> {
    let read = |e| Error::new(Step::Verify, e, 0);
    // Every buffer starts at values no valid config has, so a read that "succeeds" without
    // writing it mismatches.
    let mut ids = [[!0u32; 3]; 2];
    let [uids, gids] = &mut ids;
    if let Some(uid) = c.uid {
        k.getresuid(uids).map_err(read)?;
        same_ids(uids, uid, Bad::VerifyUid)?;
    }
    if let Some(gid) = c.gid {
        k.getresgid(gids).map_err(read)?;
        same_ids(gids, gid, Bad::VerifyGid)?;
    }
    if let (true, Some(want)) = (groups_set, &c.groups) {
        let mut buf = [!0u32; MAX_GROUPS + 1];
        // As many as configured and none other (the kernel sorts them); EINVAL: more than
        // were configured.
        let same = match k.getgroups(&mut buf) {
            Err(EINVAL) => false,
            Err(e) => return Err(read(e)),
            Ok(n) => n == want.len() && buf.iter().take(n).all(|g| want.iter().any(|w| w == g)),
        };
        if !same {
            return Err(Error::mismatch(Bad::VerifyGroups, 0));
        }
    }
    if let Some(caps) = &c.caps {
        let mut data = [!0u32; 6];
        k.capget(&mut data).map_err(read)?;
        // capget's words against the configured sets' halves: effective, permitted,
        // inheritable low words, then high words.
        let sets = caps.sets();
        for (j, &got) in data.iter().enumerate() {
            let (set, shift) = (j % 3 + 1, j / 3 * 32);
            let want = (sets.get(set).copied().unwrap_or(0) >> shift) as u32;
            if got != want {
                let bad = VERIFY_SETS.get(set).copied().unwrap_or(Bad::VerifyEffective);
                return Err(Error::mismatch(bad, (got ^ want).trailing_zeros() + shift as u32));
            }
        }
        // Bounding: nothing outside the configured set (an unknown answer counts as there).
        // Ambient: exactly the configured set.
        for cap in 0..last_cap + 1 {
            let bit = 1u64 << cap;
            if caps.bounding & bit == 0 && !matches!(k.capbset_read(cap), Ok(false)) {
                return Err(Error::mismatch(Bad::VerifyBounding, cap));
            }
            if !matches!(k.ambient_is_set(cap), Ok(set) if set == (caps.ambient & bit != 0)) {
                return Err(Error::mismatch(Bad::VerifyAmbient, cap));
            }
        }
    }
    if c.no_new_privs && !matches!(k.get_no_new_privs(), Ok(true)) {
        return Err(Error::mismatch(Bad::VerifyNoNewPrivs, 0));
    }
    Ok(())
}

/// [`verify_credentials`] for the three ids getresuid or getresgid wrote: each must be
/// `want`. Reports the first that is not.
#[inline(never)]
fn same_ids(ids: &[u32], want: u32, bad: Bad) -> Result<(), Error> {
    match ids.iter().find(|&&id| id != want) {
        Some(&id) => Err(Error::mismatch(bad, id)),
        None => Ok(()),
    }
}

/// The capability sets in [`crate::config::Caps`]'s order, as [`verify_credentials`] names
/// them.
const VERIFY_SETS: [Bad; 5] = [
    Bad::VerifyBounding,
    Bad::VerifyEffective,
    Bad::VerifyPermitted,
    Bad::VerifyInheritable,
    Bad::VerifyAmbient,
];

/// `fcntl(fd, F_SETFD, 0)` for each preserved fd: a preserved fd that is not open fails here
/// (EBADF) instead of silently missing in the target, and one the caller holds close-on-exec
/// survives (runc hands preserved fds over fresh, without the flag; it matters when the
/// transition runs in a forked child of a long-lived process such as init).
/// References: fcntl(2).
fn keep_fds<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    for &fd in c.preserve_fds.iter() {
        k.clear_cloexec(fd).map_err(|e| Error::new(Step::KeepFd, e, fd))?;
    }
    Ok(())
}

/// `close_range(first, last, CLOSE_RANGE_CLOEXEC)` over every gap between stdio and the
/// preserved fds: nothing else of the caller's reaches the target. Marking instead of closing
/// keeps dmz's own stderr usable until exec. References: close_range(2) (Linux 5.11).
fn close_other_fds<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    let mut next = 3;
    for &fd in c.preserve_fds.iter() {
        if fd > next {
            k.cloexec_range(next, fd - 1).map_err(|e| Error::new(Step::CloseFds, e, 0))?;
        }
        next = fd + 1;
    }
    k.cloexec_range(next, !0).map_err(|e| Error::new(Step::CloseFds, e, 0))
}

/// The program name: `args[0]` with its NUL.
pub fn program<'a>(c: &Config<'a>) -> &'a [u8] {
    first_string(c.args.0)
}

/// The first string of `list` with its NUL; empty if `list` has no NUL.
fn first_string(list: &[u8]) -> &[u8] {
    &list[..list.iter().position(|&b| b == 0).map_or(0, |n| n + 1)]
}

/// The C string `s` starts with, up to its first NUL: what the kernel reads at `s`'s address.
/// `None` if `s` has no NUL. (A byte loop: `CStr::from_bytes_until_nul` brings in memchr,
/// ~200 bytes.)
#[inline(always)]
fn c_str(s: &[u8]) -> Option<&CStr> {
    match first_string(s) {
        [] => None,
        // SAFETY: `s` ends in NUL, its first: the rule of a C string.
        s => Some(unsafe { CStr::from_bytes_with_nul_unchecked(s) }),
    }
}

/// Looks the program up like execvpe(3), but in the **target's** PATH, and execs it.
///
/// A name with '/' is executed as is. Otherwise each PATH entry is tried in order (an empty
/// entry is the current directory); ENOENT, ENOTDIR and friends move on, EACCES is remembered
/// and moves on, anything else stops. Returns the error: EACCES if any candidate was found but
/// not executable (exit 126), else ENOENT (exit 127).
/// References: execve(2), exec(3) "execvp".
fn exec_program<'p, K: Kernel>(k: &mut K, c: &Config<'p>, p: &mut Prepared<'p>) -> Error {
    // One Error for every way out of the search.
    Error::new(Step::Exec, exec_errno(k, c, p), 0)
}

/// [`exec_program`]'s search; returns the errno it fails with.
fn exec_errno<'p, K: Kernel>(k: &mut K, c: &Config<'p>, p: &mut Prepared<'p>) -> Errno {
    // Validation checked there is one (without, "": the kernel's ENOENT).
    let prog = c_str(c.args.0).unwrap_or_default();
    #[allow(clippy::manual_contains)] // slice::contains brings in memchr: ~200 bytes
    if prog.to_bytes().iter().any(|&b| b == b'/') {
        return exec_prepared(k, prog, p);
    }
    let path = strings(c.env.0)
        .find_map(|e| {
            let (name, value) = e.split_at_checked(5)?;
            // A byte loop: strip_prefix's slice compare is a call to bcmp.
            name.iter().eq(b"PATH=").then_some(value)
        })
        .unwrap_or(DEFAULT_PATH);
    // Taken out of `p`, which the execs below only read.
    let buf = core::mem::take(&mut p.path);
    search_path(prog, path, buf, |candidate| exec_prepared(k, candidate, p))
}

/// The errnos after which the PATH search goes on to the next directory: the program is not
/// there (the list musl's and glibc's execvpe use).
pub fn not_here(e: Errno) -> bool {
    matches!(e as u32, errno::ENOENT | errno::ENOTDIR | errno::ENODEV | errno::ETIMEDOUT | errno::ESTALE)
}

/// The PATH search of execvp(3), for a program name without '/' (`prog`): each directory of
/// `path` in turn (an empty one is the current directory), `exec` called with `dir/prog`
/// (built in `buf`, of which at most [`PATH_MAX`] bytes are used). An errno [`not_here`]
/// moves on, EACCES is remembered and moves on, anything else (a successful `exec` returns 0) stops. Returns that errno, else EACCES if a candidate was
/// found but not executable (exit 126), else ENOENT (exit 127); ENAMETOOLONG for a candidate
/// over PATH_MAX. dmz's exec, init's container-mode exec and `launcher check` all search
/// with it. References: execve(2), exec(3) "execvp".
#[inline(always)]
pub fn search_path(prog: &CStr, path: &[u8], buf: &mut [u8], mut exec: impl FnMut(&CStr) -> Errno) -> Errno {
    let buf = first(buf, PATH_MAX);
    let mut err = ENOENT;
    let mut len = 0;
    // One pass over PATH: a directory's bytes go straight into `buf`; each ':' and the end
    // (None) complete the candidate and try it.
    let mut at = 0;
    loop {
        let next = path.get(at);
        at += 1;
        let empty = len == 0;
        let mut put = |b: &u8| match buf.get_mut(len) {
            Some(slot) => {
                *slot = *b;
                len += 1;
                true
            }
            None => false,
        };
        if let Some(b) = next.filter(|&&b| b != b':') {
            if put(b) {
                continue;
            }
            return ENAMETOOLONG;
        }
        // dir + "/" + prog (with its NUL); an empty dir is the current one; longer than
        // PATH_MAX fails.
        if !((!empty || put(&b'.')) && put(&b'/') && prog.to_bytes_with_nul().iter().all(put)) {
            return ENAMETOOLONG;
        }
        // `get`, not `[..len]` (len ≤ PATH_MAX: every byte went through `put`): dmz keeps no
        // panic site, so the panic machinery is left out of the binary.
        // The candidate as a C string: up to prog's NUL (or a NUL in PATH, where the kernel
        // would have stopped reading).
        match c_str(buf.get(..len).unwrap_or_default()).map_or(ENOENT, &mut exec) {
            EACCES => err = EACCES,
            e if not_here(e) => {}
            e => return e,
        }
        len = 0;
        if next.is_none() {
            break;
        }
    }
    err
}

/// `execve(path, argv, envp)` with the prepared arrays; out of line, so the search loop keeps
/// only `p` across the call.
#[inline(never)]
fn exec_prepared<K: Kernel>(k: &mut K, path: &CStr, p: &Prepared) -> Errno {
    match p.lists() {
        Some((argv, envp)) => k.execve(path, &argv, &envp),
        None => ENOENT, // not validated: nothing to exec
    }
}
