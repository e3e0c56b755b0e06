//! Raw syscalls for the probes: one function per syscall, each a thin wrapper over the
//! linker crate's `syscall5` (the per-architecture syscall asm dmz and init use, so the
//! probes carry no copy of it). The probes run on four architectures inside test VMs; raw
//! syscalls keep them independent of any libc and of rustix's feature set (which is shared
//! with dmz).
//!
//! Return values follow the kernel convention: -4095..=-1 is a negated errno.

use linker::sys::{check, syscall5};
use linux_raw_sys::general as nr;

/// Positive errno (e.g. 13 for EACCES).
pub use linker::sys::Errno;
pub type Res = Result<usize, Errno>;

/// Plain-integer syscall (no pointers): safe to call.
fn int_call(n: u32, a: usize, b: usize, c: usize) -> Res {
    // SAFETY: the callers below pass only integer arguments to syscalls that take integers.
    check(unsafe { syscall5(n, a, b, c, 0, 0) })
}

const AT_FDCWD: usize = -100isize as usize;

pub fn write(fd: i32, buf: &[u8]) -> Res {
    // SAFETY: buf is a valid readable slice for the duration of the call.
    check(unsafe { syscall5(nr::__NR_write, fd as usize, buf.as_ptr() as usize, buf.len(), 0, 0) })
}

pub fn read(fd: i32, buf: &mut [u8]) -> Res {
    // SAFETY: buf is a valid writable slice for the duration of the call.
    check(unsafe { syscall5(nr::__NR_read, fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0) })
}

/// `openat(AT_FDCWD, path, flags, mode)`; `path` must end with NUL.
pub fn open(path: &[u8], flags: u32, mode: u32) -> Result<i32, Errno> {
    debug_assert!(path.ends_with(&[0]));
    // SAFETY: path is a NUL-terminated string alive during the call.
    let r = unsafe {
        syscall5(nr::__NR_openat, AT_FDCWD, path.as_ptr() as usize, flags as usize, mode as usize, 0)
    };
    check(r).map(|fd| fd as i32)
}

/// `readlinkat(AT_FDCWD, path, buf)`: the link's target, its length in `buf`; `path` must end
/// with NUL.
pub fn readlink(path: &[u8], buf: &mut [u8]) -> Res {
    debug_assert!(path.ends_with(&[0]));
    // SAFETY: path is a NUL-terminated string and buf a writable slice, alive during the call.
    check(unsafe {
        syscall5(
            nr::__NR_readlinkat,
            AT_FDCWD,
            path.as_ptr() as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            0,
        )
    })
}

pub fn close(fd: i32) {
    let _ = int_call(nr::__NR_close, fd as usize, 0, 0);
}

/// `mkdirat(AT_FDCWD, path, mode)`; `path` must end with NUL.
pub fn mkdir(path: &[u8], mode: u32) -> Res {
    // SAFETY: path is a NUL-terminated string alive during the call.
    check(unsafe { syscall5(nr::__NR_mkdirat, AT_FDCWD, path.as_ptr() as usize, mode as usize, 0, 0) })
}

/// `mount(source, target, fstype, flags, NULL)`; the strings must end with NUL.
pub fn mount(source: &[u8], target: &[u8], fstype: &[u8], flags: u32) -> Res {
    // SAFETY: three NUL-terminated strings alive during the call; no data argument.
    check(unsafe {
        syscall5(
            nr::__NR_mount,
            source.as_ptr() as usize,
            target.as_ptr() as usize,
            fstype.as_ptr() as usize,
            flags as usize,
            0,
        )
    })
}

/// `fsetxattr(fd, name, value, size, flags)`; `name` must end with NUL.
pub fn fsetxattr(fd: i32, name: &[u8], value: &[u8], flags: u32) -> Res {
    // SAFETY: name is NUL-terminated and value a valid slice, both alive during the call.
    check(unsafe {
        syscall5(
            nr::__NR_fsetxattr,
            fd as usize,
            name.as_ptr() as usize,
            value.as_ptr() as usize,
            value.len(),
            flags as usize,
        )
    })
}

/// `finit_module(fd, params, 0)`: loads the kernel module in file `fd` with the module
/// parameters `params` ("name=value ...", NUL-terminated).
pub fn finit_module(fd: i32, params: &[u8]) -> Res {
    if params.last() != Some(&0) {
        return Err(linux_raw_sys::errno::EINVAL as Errno);
    }
    // SAFETY: params is a NUL-terminated string that lives through the call.
    check(unsafe { syscall5(nr::__NR_finit_module, fd as usize, params.as_ptr() as usize, 0, 0, 0) })
}

/// `ioctl(fd, request, &mut int)` for the watchdog's int-argument requests.
pub fn ioctl_int(fd: i32, request: u32, arg: &mut i32) -> Res {
    // SAFETY: arg is a valid int for the kernel to read and write during the call.
    check(unsafe { syscall5(nr::__NR_ioctl, fd as usize, request as usize, arg as *mut i32 as usize, 0, 0) })
}

/// `clone(SIGCHLD, 0, …)`: fork. Returns 0 in the child, the child's pid in the parent.
/// (The argument order of clone differs between architectures, but all except the flags are 0.)
pub fn fork() -> Res {
    // SAFETY: without CLONE_VM the child gets a copy of the address space and runs on a copy of
    // this stack, exactly like fork(2); the probes are single-threaded.
    check(unsafe { syscall5(nr::__NR_clone, nr::SIGCHLD as usize, 0, 0, 0, 0) })
}

/// `wait4(pid, &status, flags, NULL)`: returns (pid, raw wait status).
pub fn wait4(pid: isize, flags: u32) -> Result<(usize, i32), Errno> {
    let mut status = 0i32;
    // SAFETY: status is a valid int for the kernel to write; no rusage.
    let r = unsafe {
        syscall5(nr::__NR_wait4, pid as usize, &mut status as *mut i32 as usize, flags as usize, 0, 0)
    };
    check(r).map(|p| (p, status))
}

/// Most arguments (and environment entries) [`execv`] passes.
pub const EXEC_MAX: usize = 16;

/// `execve(argv[0], argv, envp)`. Returns only on failure, with the errno (E2BIG when a
/// list is longer than [`EXEC_MAX`], ENOENT when `argv` is empty).
pub fn execv(argv: &[&core::ffi::CStr], envp: &[&core::ffi::CStr]) -> Errno {
    if argv.len() > EXEC_MAX || envp.len() > EXEC_MAX {
        return linux_raw_sys::errno::E2BIG as Errno;
    }
    let Some(prog) = argv.first() else { return linux_raw_sys::errno::ENOENT as Errno };
    let (mut a, mut e) = ([core::ptr::null(); EXEC_MAX + 1], [core::ptr::null(); EXEC_MAX + 1]);
    for (slot, s) in a.iter_mut().zip(argv) {
        *slot = s.as_ptr();
    }
    for (slot, s) in e.iter_mut().zip(envp) {
        *slot = s.as_ptr();
    }
    // SAFETY: every pointer comes from a live &CStr (NUL-terminated), and both arrays end
    // with a NULL (they are one longer than the longest list).
    let r = unsafe {
        syscall5(nr::__NR_execve, prog.as_ptr() as usize, a.as_ptr() as usize, e.as_ptr() as usize, 0, 0)
    };
    check(r).err().unwrap_or(0)
}

/// `execve(args[from], args[from..], envp)`: the arguments and environment as the kernel laid
/// them out for this process (an argv suffix is itself a valid argv). Returns only on failure.
pub fn exec_args(args: &linker::Args, from: usize) -> Errno {
    let Some(prog) = args.get(from) else { return linux_raw_sys::errno::ENOENT as Errno };
    // SAFETY: `from` < argc, so argv + from lies in the kernel's NULL-terminated argv array,
    // whose strings, like envp's, live for the whole process.
    let r = unsafe {
        let argv = args.argv().add(from);
        syscall5(nr::__NR_execve, prog.as_ptr() as usize, argv as usize, args.envp() as usize, 0, 0)
    };
    check(r).err().unwrap_or(0)
}

/// `pipe2(fds, O_CLOEXEC)`: (read end, write end).
pub fn pipe() -> Result<(i32, i32), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid int[2] for the kernel to write.
    check(unsafe { syscall5(nr::__NR_pipe2, fds.as_mut_ptr() as usize, nr::O_CLOEXEC as usize, 0, 0, 0) })?;
    Ok((fds[0], fds[1]))
}

pub fn getpid() -> usize {
    int_call(nr::__NR_getpid, 0, 0, 0).unwrap_or(0)
}

pub fn kill(pid: usize, sig: u32) -> Res {
    int_call(nr::__NR_kill, pid, sig as usize, 0)
}

/// `rt_sigaction(sig, {SIG_IGN}, NULL, 8)`. The kernel's struct is handler, flags,
/// [restorer on some arches], mask; with everything but the handler zero, both layouts read
/// the same.
pub fn ignore_signal(sig: u32) -> Res {
    let act: [usize; 4] = [1 /* SIG_IGN */, 0, 0, 0];
    // SAFETY: act is a valid kernel sigaction image; no old action requested; sigsetsize 8.
    check(unsafe { syscall5(nr::__NR_rt_sigaction, sig as usize, act.as_ptr() as usize, 0, 8, 0) })
}

/// `prlimit64(0, resource, NULL, &old)`: (soft, hard).
pub fn getrlimit(resource: u32) -> Result<(u64, u64), Errno> {
    let mut old = [0u64; 2];
    // SAFETY: old is a valid struct rlimit64 for the kernel to write; no new limit.
    check(unsafe { syscall5(nr::__NR_prlimit64, 0, resource as usize, 0, old.as_mut_ptr() as usize, 0) })?;
    Ok((old[0], old[1]))
}

/// `socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)` then `bind(0.0.0.0:port)`; the socket is
/// closed afterwards.
pub fn bind_tcp4(port: u16) -> Res {
    let fd = int_call(nr::__NR_socket, 2, 1 | nr::O_CLOEXEC as usize, 0)? as i32;
    // struct sockaddr_in: family (host order), port (network order), addr, padding.
    let mut sa = [0u8; 16];
    sa[0..2].copy_from_slice(&2u16.to_ne_bytes());
    sa[2..4].copy_from_slice(&port.to_be_bytes());
    // SAFETY: sa is a valid 16-byte sockaddr_in alive during the call.
    let r = check(unsafe { syscall5(nr::__NR_bind, fd as usize, sa.as_ptr() as usize, 16, 0, 0) });
    close(fd);
    r
}

/// `socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC, 0)`, `connect(path)`, `write(msg)`: one
/// datagram to the unix socket at `path` (an sd_notify message); the socket is closed
/// afterwards.
pub fn send_unix_dgram(path: &[u8], msg: &[u8]) -> Res {
    let fd = int_call(nr::__NR_socket, 1, 2 | nr::O_CLOEXEC as usize, 0)? as i32;
    // struct sockaddr_un: family (host order), then the path (not NUL-terminated: the length
    // says where it ends).
    let mut sa = [0u8; 110];
    let n = path.len().min(sa.len() - 2);
    sa[0..2].copy_from_slice(&1u16.to_ne_bytes());
    sa[2..2 + n].copy_from_slice(&path[..n]);
    // SAFETY: sa is a valid sockaddr_un of 2 + n bytes alive during the call.
    let r = check(unsafe { syscall5(nr::__NR_connect, fd as usize, sa.as_ptr() as usize, 2 + n, 0, 0) })
        .and_then(|_| write(fd, msg));
    close(fd);
    r
}

/// `clock_gettime(CLOCK_BOOTTIME)` in microseconds.
pub fn boottime_us() -> u64 {
    let mut ts = [0isize; 2];
    // SAFETY: ts is a valid native struct timespec (two longs) for the kernel to write.
    let _ = unsafe { syscall5(nr::__NR_clock_gettime, 7, ts.as_mut_ptr() as usize, 0, 0, 0) };
    ts[0] as u64 * 1_000_000 + ts[1] as u64 / 1000
}

/// `clock_gettime(CLOCK_BOOTTIME)` in milliseconds.
pub fn boottime_ms() -> u64 {
    boottime_us() / 1000
}

/// `uname(&buf)`: the node name (hostname), copied into `out`; returns its length.
pub fn hostname(out: &mut [u8; 65]) -> usize {
    // struct utsname (the "new" one every supported arch uses): six fields of 65 bytes;
    // nodename is the second.
    let mut uts = [0u8; 65 * 6];
    // SAFETY: uts is a writable struct new_utsname.
    if check(unsafe { syscall5(nr::__NR_uname, uts.as_mut_ptr() as usize, 0, 0, 0, 0) }).is_err() {
        return 0;
    }
    out.copy_from_slice(&uts[65..130]);
    out.iter().position(|&b| b == 0).unwrap_or(65)
}

pub fn geteuid() -> usize {
    int_call(nr::__NR_geteuid, 0, 0, 0).unwrap_or(usize::MAX)
}

pub fn sleep_ms(ms: u64) {
    let ts: [isize; 2] = [(ms / 1000) as isize, ((ms % 1000) * 1_000_000) as isize];
    // SAFETY: ts is a valid native struct timespec; no remainder requested.
    let _ = unsafe { syscall5(nr::__NR_nanosleep, ts.as_ptr() as usize, 0, 0, 0, 0) };
}

/// `reboot(MAGIC1, MAGIC2, cmd, NULL)`.
pub fn reboot(cmd: u32) -> Res {
    int_call(
        nr::__NR_reboot,
        nr::LINUX_REBOOT_MAGIC1 as usize,
        nr::LINUX_REBOOT_MAGIC2 as usize,
        cmd as usize,
    )
}

pub fn sync() {
    let _ = int_call(nr::__NR_sync, 0, 0, 0);
}

pub fn exit(code: i32) -> ! {
    linker::exit_group(code)
}
