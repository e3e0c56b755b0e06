//! The real [`Kernel`]: one raw syscall per method, through the linker crate's out-of-line
//! [`syscall5`]. dmz is single-threaded from `_start` to execve, so the raw credential
//! syscalls (not libc's all-threads wrappers) act on the whole process.

use crate::transition::{Errno, KResult, Kernel};
use linker::sys::{check, syscall5};
use linux_raw_sys::general as nr;
use linux_raw_sys::landlock as ll;
use linux_raw_sys::prctl as pr;

/// The running kernel.
pub struct Linux;

// The 32-bit arches kept the 16-bit-id syscalls under the old numbers; the 32-bit-id ones
// (what rustix and libc use there) have a "32" suffix, and fcntl's 64-bit-offset variant is
// fcntl64.
#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
use nr::{
    __NR_fcntl as NR_FCNTL, __NR_setgroups as NR_SETGROUPS, __NR_setresgid as NR_SETRESGID,
    __NR_setresuid as NR_SETRESUID,
};
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
use nr::{
    __NR_fcntl64 as NR_FCNTL, __NR_setgroups32 as NR_SETGROUPS, __NR_setresgid32 as NR_SETRESGID,
    __NR_setresuid32 as NR_SETRESUID,
};

/// [`syscall5`] for the calls whose only result is success or an errno; out of line, so the
/// errno check exists once.
///
/// # Safety
/// As for [`syscall5`]: the arguments must be valid for syscall `n`.
#[inline(never)]
unsafe fn syscall_ok(n: u32, a: usize, b: usize, c: usize, d: usize) -> KResult {
    // SAFETY: the caller vouches for the arguments.
    check(unsafe { syscall5(n, a, b, c, d, 0) }).map(drop)
}

/// A syscall whose arguments are all integers (no pointer the kernel follows).
#[inline(always)]
fn int_syscall(n: u32, a: usize, b: usize, c: usize) -> KResult {
    // SAFETY: callers pass only syscalls whose arguments here are plain integers, so there is
    // no memory for the kernel to misuse.
    unsafe { syscall_ok(n, a, b, c, 0) }
}

/// `prctl(option, arg2, arg3, 0, 0)`; the options used here take integers only, and those
/// that check arg4/arg5 (PR_CAP_AMBIENT, PR_SET_NO_NEW_PRIVS) want them 0.
/// References: prctl(2).
fn prctl(option: u32, arg2: usize, arg3: usize) -> KResult {
    int_syscall(nr::__NR_prctl, option as usize, arg2, arg3)
}

/// `openat(AT_FDCWD, path, flags | O_CLOEXEC | O_LARGEFILE, 0)`, as rustix's `open` does.
/// References: open(2).
pub fn open(path: &core::ffi::CStr, flags: u32) -> Result<i32, Errno> {
    let flags = flags | nr::O_CLOEXEC | nr::O_LARGEFILE;
    // SAFETY: path is NUL-terminated and alive for the call; no mode is needed without O_CREAT.
    let fd = check(unsafe {
        syscall5(nr::__NR_openat, nr::AT_FDCWD as usize, path.as_ptr() as usize, flags as usize, 0, 0)
    })?;
    Ok(fd as i32)
}

/// `close(fd)`; the result is ignored, as dropping an `OwnedFd` does. References: close(2).
pub fn close(fd: i32) {
    let _ = int_syscall(nr::__NR_close, fd as usize, 0, 0);
}

/// `O_WRONLY|O_CLOEXEC` for [`Linux::write_oom_score_adj`].
const OOM_PATH: &core::ffi::CStr = c"/proc/self/oom_score_adj";

impl Kernel for Linux {
    fn capbset_read(&mut self, n: u32) -> Result<bool, Errno> {
        // SAFETY: PR_CAPBSET_READ takes an integer; unused arguments are 0.
        let r = check(unsafe { syscall5(nr::__NR_prctl, pr::PR_CAPBSET_READ as usize, n as usize, 0, 0, 0) });
        r.map(|r| r != 0)
    }

    fn prlimit(&mut self, resource: u32, soft: u64, hard: u64) -> KResult {
        // struct rlimit64; u64::MAX is RLIM64_INFINITY.
        let lim = [soft, hard];
        // SAFETY: lim is a live struct rlimit64 (two u64) for the call; the old limit is not
        // asked for (NULL).
        unsafe { syscall_ok(nr::__NR_prlimit64, 0, resource as usize, lim.as_ptr() as usize, 0) }
    }

    fn write_oom_score_adj(&mut self, value: i32) -> KResult {
        let fd = open(OOM_PATH, nr::O_WRONLY)?;
        let mut line = crate::error::Line::default();
        // The sign, or nothing: one call, no branch.
        line.push(&b"-"[..(value < 0) as usize]);
        line.num(value.unsigned_abs());
        let text = line.as_bytes();
        // SAFETY: text is a live readable slice for the call.
        let r =
            check(unsafe { syscall5(nr::__NR_write, fd as usize, text.as_ptr() as usize, text.len(), 0, 0) });
        close(fd);
        if r? != text.len() {
            return Err(crate::error::EINVAL);
        }
        Ok(())
    }

    fn report(&mut self, line: &[u8]) {
        linker::write_all(2, line);
    }

    fn umask(&mut self, mask: u32) {
        // umask(2) cannot fail; it returns the previous mask.
        let _ = int_syscall(nr::__NR_umask, mask as usize, 0, 0);
    }

    fn install_seccomp(&mut self, flags: u32, program: &[u8]) -> KResult {
        linker::seccomp_set_mode_filter(flags, program).map(drop)
    }

    fn chdir(&mut self, path: &[u8]) -> KResult {
        // SAFETY: validate() checked that the configured cwd ends in its only NUL; it lives in
        // the config buffer for the call.
        unsafe { syscall_ok(nr::__NR_chdir, path.as_ptr() as usize, 0, 0, 0) }
    }

    fn capbset_drop(&mut self, n: u32) -> KResult {
        prctl(pr::PR_CAPBSET_DROP, n as usize, 0)
    }

    fn set_securebits(&mut self, bits: u32) -> KResult {
        prctl(pr::PR_SET_SECUREBITS, bits as usize, 0)
    }

    fn set_keepcaps(&mut self, keep: bool) -> KResult {
        prctl(pr::PR_SET_KEEPCAPS, keep as usize, 0)
    }

    fn setgroups(&mut self, groups: &[u32]) -> KResult {
        // SAFETY: groups is a live array of groups.len() gid_t (u32) for the call.
        unsafe { syscall_ok(NR_SETGROUPS, groups.len(), groups.as_ptr() as usize, 0, 0) }
    }

    fn setresgid(&mut self, gid: u32) -> KResult {
        let g = gid as usize;
        int_syscall(NR_SETRESGID, g, g, g)
    }

    fn setresuid(&mut self, uid: u32) -> KResult {
        let u = uid as usize;
        int_syscall(NR_SETRESUID, u, u, u)
    }

    fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> KResult {
        // struct __user_cap_header_struct {version, pid = 0 (self)} and, for version 3, two
        // struct __user_cap_data_struct {effective, permitted, inheritable}: low words, then
        // high words.
        let header = [nr::_LINUX_CAPABILITY_VERSION_3, 0];
        let (lo, hi) = (|m: u64| m as u32, |m: u64| (m >> 32) as u32);
        let data =
            [lo(effective), lo(permitted), lo(inheritable), hi(effective), hi(permitted), hi(inheritable)];
        // SAFETY: header and data are live for the call, with the v3 layout above.
        unsafe { syscall_ok(nr::__NR_capset, header.as_ptr() as usize, data.as_ptr() as usize, 0, 0) }
    }

    fn ambient_clear_all(&mut self) -> KResult {
        prctl(pr::PR_CAP_AMBIENT, pr::PR_CAP_AMBIENT_CLEAR_ALL as usize, 0)
    }

    fn ambient_raise(&mut self, n: u32) -> KResult {
        prctl(pr::PR_CAP_AMBIENT, pr::PR_CAP_AMBIENT_RAISE as usize, n as usize)
    }

    fn set_no_new_privs(&mut self) -> KResult {
        prctl(pr::PR_SET_NO_NEW_PRIVS, 1, 0)
    }

    fn clear_cloexec(&mut self, n: u32) -> KResult {
        // fcntl(F_SETFD) only reads the fd number; one that is not open fails with EBADF.
        int_syscall(NR_FCNTL, n as usize, nr::F_SETFD as usize, 0)
    }

    fn cloexec_range(&mut self, first: u32, last: u32) -> KResult {
        // close_range(2) (Linux 5.11 for CLOSE_RANGE_CLOEXEC) takes integers only.
        int_syscall(
            nr::__NR_close_range,
            first as usize,
            last as usize,
            linker::sys::CLOSE_RANGE_CLOEXEC as usize,
        )
    }

    fn execve(&mut self, path: &[u8], argv: &[*const u8], envp: &[*const u8]) -> Errno {
        // SAFETY: path ends in NUL and argv/envp end in NULL (checked by validate and built by
        // ExecArgs); every pointer points into the config buffer, alive until execve returns.
        unsafe { linker::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) }
    }

    fn landlock_abi(&mut self) -> u32 {
        // ENOSYS (not built in) and EOPNOTSUPP (disabled at boot) both mean ABI 0.
        let v =
            int_syscall_value(nr::__NR_landlock_create_ruleset, 0, 0, ll::LANDLOCK_CREATE_RULESET_VERSION);
        v.unwrap_or(0) as u32
    }

    fn landlock_create_ruleset(&mut self, h: &[u64; 3]) -> Result<u32, Errno> {
        let attr =
            ll::landlock_ruleset_attr { handled_access_fs: h[0], handled_access_net: h[1], scoped: h[2] };
        let size = core::mem::size_of::<ll::landlock_ruleset_attr>();
        // SAFETY: attr is a live struct landlock_ruleset_attr of `size` bytes for the call.
        let fd = check(unsafe {
            syscall5(nr::__NR_landlock_create_ruleset, &attr as *const _ as usize, size, 0, 0, 0)
        })?;
        Ok(fd as u32)
    }

    fn open_path(&mut self, path: &[u8]) -> Result<u32, Errno> {
        let flags = nr::O_PATH | nr::O_CLOEXEC;
        // SAFETY: validate() checked that the path ends in its only NUL; it lives in the config
        // buffer for the call. O_PATH opens nothing for reading or writing.
        let fd = check(unsafe {
            syscall5(nr::__NR_openat, nr::AT_FDCWD as usize, path.as_ptr() as usize, flags as usize, 0, 0)
        })?;
        Ok(fd as u32)
    }

    fn landlock_add_path_rule(&mut self, ruleset: u32, fd: u32, access: u64) -> KResult {
        let attr = ll::landlock_path_beneath_attr { allowed_access: access, parent_fd: fd as i32 };
        // SAFETY: attr is a live struct landlock_path_beneath_attr (packed, as the kernel's).
        unsafe {
            add_rule(ruleset, ll::landlock_rule_type::LANDLOCK_RULE_PATH_BENEATH, &attr as *const _ as usize)
        }
    }

    fn landlock_add_port_rule(&mut self, ruleset: u32, port: u64, access: u64) -> KResult {
        let attr = ll::landlock_net_port_attr { allowed_access: access, port };
        // SAFETY: attr is a live struct landlock_net_port_attr for the call.
        unsafe {
            add_rule(ruleset, ll::landlock_rule_type::LANDLOCK_RULE_NET_PORT, &attr as *const _ as usize)
        }
    }

    fn landlock_restrict_self(&mut self, ruleset: u32) -> KResult {
        int_syscall(nr::__NR_landlock_restrict_self, ruleset as usize, 0, 0)
    }

    fn close(&mut self, fd: u32) {
        close(fd as i32);
    }
}

/// `landlock_add_rule(ruleset, kind, attr, 0)`. References: landlock_add_rule(2).
///
/// # Safety
/// `attr` must point to a live attribute struct of the type `kind` names.
unsafe fn add_rule(ruleset: u32, kind: ll::landlock_rule_type, attr: usize) -> KResult {
    // SAFETY: the caller vouches for attr.
    unsafe { syscall_ok(nr::__NR_landlock_add_rule, ruleset as usize, kind as usize, attr, 0) }
}

/// A syscall with integer arguments only, returning its non-negative result.
fn int_syscall_value(n: u32, a: usize, b: usize, c: u32) -> Result<usize, Errno> {
    // SAFETY: as for int_syscall: plain integers (a NULL attr with size 0 is the version probe).
    check(unsafe { syscall5(n, a, b, c as usize, 0, 0) })
}
