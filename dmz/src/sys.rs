//! The real [`Kernel`]: one raw syscall per method, through the linker crate's out-of-line
//! [`syscall5`]. dmz is single-threaded from `_start` to execve, so the raw credential
//! syscalls (not libc's all-threads wrappers) act on the whole process.

use crate::transition::{Errno, ExecList, KResult, Kernel};
use core::ffi::CStr;
use linker::sys::{check, syscall5};
use linux_raw_sys::general as nr;
use linux_raw_sys::prctl as pr;

/// The running kernel.
pub struct Linux;

// The 32-bit arches kept the 16-bit-id syscalls under the old numbers; the 32-bit-id ones
// (what rustix and libc use there) have a "32" suffix, and fcntl's 64-bit-offset variant is
// fcntl64.
#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
use nr::{
    __NR_fchown as NR_FCHOWN, __NR_fcntl as NR_FCNTL, __NR_getgroups as NR_GETGROUPS,
    __NR_getresgid as NR_GETRESGID, __NR_getresuid as NR_GETRESUID, __NR_setgroups as NR_SETGROUPS,
    __NR_setresgid as NR_SETRESGID, __NR_setresuid as NR_SETRESUID,
};
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
use nr::{
    __NR_fchown32 as NR_FCHOWN, __NR_fcntl64 as NR_FCNTL, __NR_getgroups32 as NR_GETGROUPS,
    __NR_getresgid32 as NR_GETRESGID, __NR_getresuid32 as NR_GETRESUID, __NR_setgroups32 as NR_SETGROUPS,
    __NR_setresgid32 as NR_SETRESGID, __NR_setresuid32 as NR_SETRESUID,
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

/// [`prctl`] for the options that answer yes (1) or no (0). Out of line: four callers.
#[inline(never)]
fn prctl_bool(option: u32, arg2: usize, arg3: usize) -> Result<bool, Errno> {
    // SAFETY: the options used with it take integers only; unused arguments are 0.
    check(unsafe { syscall5(nr::__NR_prctl, option as usize, arg2, arg3, 0, 0) }).map(|r| r != 0)
}

/// `getresuid`/`getresgid` (`n`) into `ids`.
fn get_res_ids(n: u32, ids: &mut [u32; 3]) -> KResult {
    let p = ids.as_mut_ptr() as usize;
    // SAFETY: p, p + 4 and p + 8 are the three live, writable u32 (uid_t/gid_t) of `ids`.
    unsafe { syscall_ok(n, p, p + 4, p + 8, 0) }
}

/// `openat(AT_FDCWD, path, flags | O_CLOEXEC | O_LARGEFILE, 0)`, as rustix's `open` does.
/// References: open(2).
pub fn open(path: &CStr, flags: u32) -> Result<i32, Errno> {
    let flags = flags | nr::O_CLOEXEC | nr::O_LARGEFILE;
    // SAFETY: path is a C string, alive for the call; no mode is needed without O_CREAT.
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
const OOM_PATH: &CStr = c"/proc/self/oom_score_adj";

impl Kernel for Linux {
    fn capbset_read(&mut self, n: u32) -> Result<bool, Errno> {
        prctl_bool(pr::PR_CAPBSET_READ, n as usize, 0)
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

    fn chdir(&mut self, path: &CStr) -> KResult {
        // SAFETY: path is a C string, alive for the call.
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

    fn fd_owner(&mut self, fd: u32) -> Result<(u32, u64), Errno> {
        // SAFETY: struct statx is plain integers, for which all zeros is a valid value.
        let mut st: nr::statx = unsafe { core::mem::zeroed() };
        // SAFETY: the path is an empty NUL-terminated string (AT_EMPTY_PATH: `fd` itself) and
        // st a live, writable struct statx for the call.
        check(unsafe {
            syscall5(
                nr::__NR_statx,
                fd as usize,
                c"".as_ptr() as usize,
                nr::AT_EMPTY_PATH as usize,
                nr::STATX_UID as usize,
                &mut st as *mut nr::statx as usize,
            )
        })?;
        Ok((st.stx_uid, (st.stx_rdev_major as u64) << 32 | st.stx_rdev_minor as u64))
    }

    fn fchown(&mut self, fd: u32, uid: u32) -> KResult {
        int_syscall(NR_FCHOWN, fd as usize, uid as usize, u32::MAX as usize)
    }

    fn setgroups_denied(&mut self) -> bool {
        let Ok(fd) = open(c"/proc/self/setgroups", nr::O_RDONLY) else { return false };
        let mut text = [0u8; 4];
        let r = linker::sys::read(fd, &mut text);
        close(fd);
        r == Ok(4) && text == *b"deny"
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

    fn getresuid(&mut self, ids: &mut [u32; 3]) -> KResult {
        get_res_ids(NR_GETRESUID, ids)
    }

    fn getresgid(&mut self, ids: &mut [u32; 3]) -> KResult {
        get_res_ids(NR_GETRESGID, ids)
    }

    fn getgroups(&mut self, out: &mut [u32]) -> Result<usize, Errno> {
        // SAFETY: out is a live, writable array of out.len() gid_t (u32) for the call.
        check(unsafe { syscall5(NR_GETGROUPS, out.len(), out.as_mut_ptr() as usize, 0, 0, 0) })
    }

    fn capget(&mut self, data: &mut [u32; 6]) -> KResult {
        // As in capset: the v3 header, then two struct __user_cap_data_struct.
        let header = [nr::_LINUX_CAPABILITY_VERSION_3, 0];
        // SAFETY: header and data are live for the call, data writable, with the v3 layout.
        unsafe { syscall_ok(nr::__NR_capget, header.as_ptr() as usize, data.as_mut_ptr() as usize, 0, 0) }
    }

    fn ambient_is_set(&mut self, n: u32) -> Result<bool, Errno> {
        prctl_bool(pr::PR_CAP_AMBIENT, pr::PR_CAP_AMBIENT_IS_SET as usize, n as usize)
    }

    fn get_no_new_privs(&mut self) -> Result<bool, Errno> {
        prctl_bool(pr::PR_GET_NO_NEW_PRIVS, 0, 0)
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

    fn execve(&mut self, path: &CStr, argv: &ExecList, envp: &ExecList) -> Errno {
        // SAFETY: path is a C string; argv and envp are NULL-terminated arrays of C strings
        // (ExecList's rule), all alive until execve returns.
        unsafe { linker::execve(path, argv.as_slice().as_ptr(), envp.as_slice().as_ptr()) }
    }
}

/// dmz's working memory for one config: one anonymous mapping (read-write, never
/// executable), laid out `[PATH buffer | config | argv/envp pointers]`. Sized by the config,
/// and only the pages the config needs are ever touched, so dmz's memory follows the config
/// rather than its limits: it runs under a small RLIMIT_STACK, and a small config costs a
/// page or two. Never unmapped: exec replaces it.
pub struct Scratch {
    /// [`crate::transition::PATH_MAX`] bytes for the PATH search's candidates, first: a name
    /// with '/' never touches its page.
    pub path: &'static mut [u8],
    /// The config's bytes.
    pub blob: &'static mut [u8],
    /// Pointer slots for argv and envp, right after the config (usually the same page).
    pub ptrs: &'static mut [*const u8],
}

/// Maps a [`Scratch`] of `blob` bytes for the config and `slots` pointers.
/// References: mmap(2).
pub fn scratch(blob: usize, slots: usize) -> Result<Scratch, Errno> {
    use crate::transition::PATH_MAX;
    const PTR: usize = core::mem::size_of::<*const u8>();
    // The pointers start at the first pointer-aligned offset after the config.
    let at = (PATH_MAX + blob).next_multiple_of(PTR);
    let base = linker::sys::mmap_anonymous(at + slots * PTR)?;
    // SAFETY: the fresh mapping is at + slots * PTR bytes, readable, writable and
    // zero-filled (a null pointer is all zero bits), and it is never unmapped, so each slice
    // over it stays valid; the three slices do not overlap, and the pointer slots are
    // aligned (the mapping is page-aligned and `at` a multiple of the pointer size).
    unsafe {
        Ok(Scratch {
            path: core::slice::from_raw_parts_mut(base, PATH_MAX),
            blob: core::slice::from_raw_parts_mut(base.add(PATH_MAX), blob),
            ptrs: core::slice::from_raw_parts_mut(base.add(at).cast(), slots),
        })
    }
}
