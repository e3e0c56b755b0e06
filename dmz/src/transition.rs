//! The privilege transition (docs/design.md §3): validate, then one flat function, a step a line.
//!
//! Everything talks to the kernel through [`Kernel`], so tests can record the exact call
//! sequence and inject a failure at any step.

use crate::config::{strings, Config, MAX_ARGS, MAX_BPF_INSNS, MAX_ENV, RLIM_NLIMITS};
use crate::error::{Bad, Error, Step, EACCES, ENAMETOOLONG, ENOENT, ENOTDIR, EPERM};
use crate::landlock::{create_landlock_ruleset, landlock_restrict_self, NO_RULESET};
use core::convert::Infallible;

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
    /// `chdir(path)`; `path` ends in NUL.
    fn chdir(&mut self, path: &[u8]) -> KResult;
    fn capbset_drop(&mut self, cap: u32) -> KResult;
    fn set_securebits(&mut self, bits: u32) -> KResult;
    fn set_keepcaps(&mut self, keep: bool) -> KResult;
    fn setgroups(&mut self, groups: &[u32]) -> KResult;
    fn setresgid(&mut self, gid: u32) -> KResult;
    fn setresuid(&mut self, uid: u32) -> KResult;
    fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> KResult;
    fn ambient_clear_all(&mut self) -> KResult;
    fn ambient_raise(&mut self, cap: u32) -> KResult;
    fn set_no_new_privs(&mut self) -> KResult;
    /// `fcntl(fd, F_SETFD, 0)`: the fd survives exec.
    fn clear_cloexec(&mut self, fd: u32) -> KResult;
    /// `close_range(first, last, CLOSE_RANGE_CLOEXEC)`.
    fn cloexec_range(&mut self, first: u32, last: u32) -> KResult;
    /// `execve`; returns only on failure. `path` ends in NUL; `argv`/`envp` in NULL.
    fn execve(&mut self, path: &[u8], argv: &[*const u8], envp: &[*const u8]) -> Errno;
    /// Writes one diagnostic line to stderr.
    fn report(&mut self, line: &[u8]);
    /// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`: the Landlock ABI
    /// version, 0 when the kernel has no (or a disabled) Landlock.
    fn landlock_abi(&mut self) -> u32;
    /// `landlock_create_ruleset(&{fs, net, scoped}, 24, 0)`: a new ruleset fd (close-on-exec).
    fn landlock_create_ruleset(&mut self, handled: &[u64; 3]) -> Result<u32, Errno>;
    /// `openat(AT_FDCWD, path, O_PATH | O_CLOEXEC)`; `path` starts with the path, which ends at
    /// the first NUL.
    fn open_path(&mut self, path: &[u8]) -> Result<u32, Errno>;
    /// `landlock_add_rule(ruleset, LANDLOCK_RULE_PATH_BENEATH, &{access, fd}, 0)`.
    fn landlock_add_path_rule(&mut self, ruleset: u32, fd: u32, access: u64) -> KResult;
    /// `landlock_add_rule(ruleset, LANDLOCK_RULE_NET_PORT, &{access, port}, 0)`.
    fn landlock_add_port_rule(&mut self, ruleset: u32, port: u64, access: u64) -> KResult;
    /// `landlock_restrict_self(ruleset, 0)`.
    fn landlock_restrict_self(&mut self, ruleset: u32) -> KResult;
    /// `close(fd)`; the result is ignored.
    fn close(&mut self, fd: u32);
}

// Securebits (include/uapi/linux/securebits.h).
pub const SECBIT_KEEP_CAPS: u32 = 1 << 4;
pub const SECBIT_KEEP_CAPS_LOCKED: u32 = 1 << 5;
/// Every bit PR_SET_SECUREBITS accepts (SECURE_ALL_BITS | SECURE_ALL_LOCKS).
pub const SECBITS_ALL: u32 = 0xff;

/// What [`validate`] prepared for the transition: argv/envp pointer arrays into the config
/// buffer, and the kernel's last capability.
#[derive(bytemuck::Zeroable)]
#[repr(C)] // last_cap first: a short offset where it is used
pub struct Prepared {
    pub last_cap: u32,
    /// The Landlock rights this kernel will enforce, per [`crate::landlock::FS`], `NET`,
    /// `SCOPED`; all zero for none.
    pub landlock: [u64; 3],
    /// argv (NULL-terminated, [`MAX_ARGS`] + 1 slots), then envp (same, [`MAX_ENV`] + 1):
    /// one array, so it is initialised (and moved into place) in one go.
    ptrs: [*const u8; MAX_ARGS + 1 + MAX_ENV + 1],
}

impl Prepared {
    pub fn argv(&self) -> &[*const u8] {
        &self.ptrs[..MAX_ARGS + 1]
    }

    pub fn envp(&self) -> &[*const u8] {
        &self.ptrs[MAX_ARGS + 1..]
    }
}

impl Default for Prepared {
    /// All zeros (last_cap 0, every pointer null), written in place by a memset; a repeat
    /// expression would be built aside and copied (16 KiB).
    fn default() -> Self {
        bytemuck::Zeroable::zeroed()
    }
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
/// changes, so a config that fails here changes nothing. Also prepares argv/envp and probes
/// the kernel's last capability, all before the first privileged call.
pub fn validate<K: Kernel>(k: &mut K, c: &Config, p: &mut Prepared) -> Result<(), Error> {
    let (argv, envp) = p.ptrs.split_at_mut(MAX_ARGS + 1);
    let Some(1..) = pointers(c.args.0, argv) else {
        return Err(Error::invalid(Bad::Args, 0));
    };
    if c.args.0.first() == Some(&0) {
        return Err(Error::invalid(Bad::ProgramName, 0));
    }
    let Some(_) = pointers(c.env.0, envp) else {
        return Err(Error::invalid(Bad::Env, 0));
    };
    // Empty, or one string whose NUL is its last byte.
    if first_string(c.cwd.0).len() != c.cwd.0.len() {
        return Err(Error::invalid(Bad::Cwd, 0));
    }
    if c.umask > 0o777 {
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
    if c.oom_score_adj.is_some_and(|adj| !(-1000..=1000).contains(&adj)) {
        return Err(Error::invalid(Bad::OomScoreAdj, 0));
    }
    let mut prev = 2;
    for &fd in c.preserve_fds.iter() {
        if fd <= prev || fd > i32::MAX as u32 {
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
    // The kernel's last capability: PR_CAPBSET_READ fails with EINVAL above it. Probing needs
    // no /proc (init may run dmz before /proc is mounted).
    let mut last = 0;
    while last < 63 && k.capbset_read(last + 1).is_ok() {
        last += 1;
    }
    p.last_cap = last;
    if let Some(caps) = &c.caps {
        let unknown = !0u64 << last << 1;
        for (&bad, &set) in CAP_SETS.iter().zip(caps.sets()) {
            if set & unknown != 0 {
                return Err(Error::invalid(bad, 63 - (set & unknown).leading_zeros()));
            }
        }
    }
    crate::landlock::validate(k, c, p) // Landlock rules and the kernel's ABI
}

/// The search path when the target's environment has no PATH (runc's and systemd's default).
pub const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Longest path dmz builds for the PATH lookup (PATH_MAX, NUL included).
const PATH_MAX: usize = 4096;

/// The whole transition, docs/design.md §3. Returns only if a step failed; the caller exits with
/// [`Error::exit_code`] and never execs anything else.
#[inline(never)]
#[rustfmt::skip] // one step a line, the why aligned beside it
pub fn transition<K: Kernel>(k: &mut K, c: &Config, p: &Prepared) -> Error {
    let r = (|| -> Result<Infallible, Error> {
        set_rlimits(k, c)?;                        // 2: raising a hard limit needs CAP_SYS_RESOURCE
        set_oom_score_adj(k, c)?;                  // 3: lowering it needs CAP_SYS_RESOURCE
        k.umask(c.umask);                          // 3: umask(2) cannot fail
        let mut ruleset = NO_RULESET;              //    (set at 4a, used at 4b or 12b)
        create_landlock_ruleset(k, c, p, &mut ruleset)?; // 4a: paths opened as the caller
        if !c.no_new_privs {
            landlock_restrict_self(k, ruleset)?;   // 4b: without NNP this needs CAP_SYS_ADMIN
            install_seccomp_filter(k, c)?;         // 4: without NNP this needs CAP_SYS_ADMIN
        }
        let mut retry_chdir = false;               //    (set by chdir_early, used at 14)
        chdir_early(k, c, &mut retry_chdir)?;      // 5: as the caller (runc's first attempt)
        drop_bounding_set(k, c, p.last_cap)?;      // 5: needs CAP_SETPCAP, so before setresuid
        set_keep_caps(k, c)?;                      // 6: permitted survives the uid change
        set_groups(k, c)?;                         // 7: groups, then gid, then uid: after
        set_res_gid(k, c)?;                        //    setresuid, CAP_SETGID is gone
        set_res_uid(k, c)?;                        //    (effective set cleared)
        clear_keep_caps(k, c)?;                    // 8: unless securebits keep it
        set_capabilities(k, c)?;                   // 9: effective, permitted, inheritable
        raise_ambient(k, c)?;                      // 10: needs each cap in P and I
        set_no_new_privs(k, c)?;                   // 12: before the NNP-mode filter
        if c.no_new_privs {
            landlock_restrict_self(k, ruleset)?;   // 12b: needs NNP; before the fds and filter
        }
        keep_fds(k, c)?;                           // 13: preserved fds lose CLOEXEC,
        close_other_fds(k, c)?;                    //     every other fd >= 3 gets it
        if retry_chdir {
            chdir(k, c)?;                          // 14: now as the target user
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
fn chdir_early<K: Kernel>(k: &mut K, c: &Config, retry: &mut bool) -> Result<(), Error> {
    if c.cwd.0.is_empty() {
        return Ok(());
    }
    match k.chdir(c.cwd.0) {
        Err(EACCES | EPERM) => *retry = true,
        Err(e) => return Err(Error::new(Step::Chdir, e, 0)),
        Ok(()) => {}
    }
    Ok(())
}

/// `chdir(cwd)` again, as the target user. Only called when [`chdir_early`] asked for the
/// retry, which it does only for a configured (non-empty, NUL-terminated) cwd.
/// References: chdir(2).
fn chdir<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    k.chdir(c.cwd.0).map_err(|e| Error::new(Step::Chdir, e, 0))
}

/// `prctl(PR_CAPBSET_DROP, cap)` for every capability up to the kernel's last one that is not
/// in the configured bounding set. Needs CAP_SETPCAP, hence before the uid change.
/// References: prctl(2), capabilities(7) "Capability bounding set".
fn drop_bounding_set<K: Kernel>(k: &mut K, c: &Config, last_cap: u32) -> Result<(), Error> {
    let Some(caps) = &c.caps else { return Ok(()) };
    for cap in 0..last_cap + 1 {
        if caps.bounding & (1 << cap) == 0 {
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

/// `setgroups(n, groups)`, always, even with an empty list: the caller's supplementary groups
/// must not leak into the target (runc does the same). Needs CAP_SETGID.
/// References: setgroups(2).
fn set_groups<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    k.setgroups(&c.groups).map_err(|e| Error::new(Step::SetGroups, e, 0))
}

/// `setresgid(gid, gid, gid)`, before setresuid, which would drop CAP_SETGID.
/// References: setresgid(2).
fn set_res_gid<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    k.setresgid(c.gid).map_err(|e| Error::new(Step::SetResGid, e, c.gid))
}

/// `setresuid(uid, uid, uid)`. Leaving uid 0 clears the effective set and, without keep-caps,
/// the permitted set too. References: setresuid(2), capabilities(7) "Effect of user ID changes".
fn set_res_uid<K: Kernel>(k: &mut K, c: &Config) -> Result<(), Error> {
    k.setresuid(c.uid).map_err(|e| Error::new(Step::SetResUid, e, c.uid))
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

/// Looks the program up like execvpe(3), but in the **target's** PATH, and execs it.
///
/// A name with '/' is executed as is. Otherwise each PATH entry is tried in order (an empty
/// entry is the current directory); ENOENT, ENOTDIR and friends move on, EACCES is remembered
/// and moves on, anything else stops. Returns the error: EACCES if any candidate was found but
/// not executable (exit 126), else ENOENT (exit 127).
/// References: execve(2), exec(3) "execvp".
fn exec_program<K: Kernel>(k: &mut K, c: &Config, p: &Prepared) -> Error {
    // One Error for every way out of the search.
    Error::new(Step::Exec, exec_errno(k, c, p), 0)
}

/// [`exec_program`]'s search; returns the errno it fails with.
fn exec_errno<K: Kernel>(k: &mut K, c: &Config, p: &Prepared) -> Errno {
    let prog = program(c);
    #[allow(clippy::manual_contains)] // slice::contains brings in memchr: ~200 bytes
    if prog.iter().any(|&b| b == b'/') {
        return exec_prepared(k, prog, p);
    }
    let path = strings(c.env.0)
        .find_map(|e| {
            let (name, value) = e.split_at_checked(5)?;
            // A byte loop: strip_prefix's slice compare is a call to bcmp.
            name.iter().eq(b"PATH=").then_some(value)
        })
        .unwrap_or(DEFAULT_PATH);
    let mut buf = [0u8; PATH_MAX];
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
        if !((!empty || put(&b'.')) && put(&b'/') && prog.iter().all(put)) {
            return ENAMETOOLONG;
        }
        // `get`, not `[..len]` (len ≤ PATH_MAX: every byte went through `put`): dmz keeps no
        // panic site, so the panic machinery is left out of the binary.
        match exec_prepared(k, buf.get(..len).unwrap_or_default(), p) {
            EACCES => err = EACCES,
            // Not here: try the next directory (the list musl's and glibc's execvpe use).
            ENOENT | ENOTDIR | 19 /* ENODEV */ | 110 /* ETIMEDOUT */ | 116 /* ESTALE */ => {}
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
fn exec_prepared<K: Kernel>(k: &mut K, path: &[u8], p: &Prepared) -> Errno {
    k.execve(path, p.argv(), p.envp())
}
