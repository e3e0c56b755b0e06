//! Raw syscalls: [`syscall5`], the one place that enters the kernel, and the wrappers the
//! binaries need. dmz makes all its syscalls through here (its Linux kernel in dmz/src/sys.rs);
//! rustix would do for most, but its execve and exit are hidden since 1.1.5, its seccomp
//! wrapper passes no program, it has no close_range, and its wrappers cost more bytes.
//!
//! Every function here is one syscall. Return values follow the kernel convention: a value in
//! -4095..=-1 is a negated errno. The register conventions are the kernel's (see syscall(2),
//! "Architecture calling conventions").

use core::arch::asm;
use linux_raw_sys::general as nr;

/// Raw errno returned by a failed syscall (positive, e.g. 1 for EPERM).
pub type Errno = u16;

/// The kernel's return convention: -4095..=-1 is a negated errno, anything else a value.
#[inline(always)]
pub fn check(ret: isize) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) {
        Err((-ret) as Errno)
    } else {
        Ok(ret as usize)
    }
}

/// `syscall(n, a, b, c, d, e)`: one raw syscall with up to five arguments (pass 0 for the
/// unused ones; the kernel ignores them, and prctl options that check them want 0). Returns
/// the raw result; see [`check`].
///
/// Out of line on purpose: the register shuffle exists once in the binary, and each call site
/// only loads its arguments (smaller than any inlined wrapper).
///
/// # Safety
/// The arguments must be valid for syscall `n`: every pointer points to live memory of the
/// type and size the syscall expects, for the duration of the call.
#[inline(never)]
pub unsafe fn syscall5(n: u32, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret: isize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: syscall clobbers only rcx and r11 besides rax; the caller vouches for the args.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b, in("rdx") c,
             in("r10") d, in("r8") e, lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: svc returns in x0 and clobbers nothing else; the caller vouches for the args.
    unsafe {
        asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c,
             in("x3") d, in("x4") e, options(nostack))
    };
    #[cfg(target_arch = "arm")]
    // SAFETY: r7 (the syscall number register) may be the frame pointer, so it is saved in a
    // scratch register around the svc; the caller vouches for the args.
    unsafe {
        asm!("mov {save}, r7", "mov r7, {n}", "svc 0", "mov r7, {save}",
             n = in(reg) n, save = out(reg) _,
             inlateout("r0") a as isize => ret, in("r1") b, in("r2") c, in("r3") d, in("r4") e,
             options(nostack))
    };
    #[cfg(target_arch = "riscv64")]
    // SAFETY: ecall returns in a0 and clobbers nothing else; the caller vouches for the args.
    unsafe {
        asm!("ecall", in("a7") n, inlateout("a0") a as isize => ret, in("a1") b, in("a2") c,
             in("a3") d, in("a4") e, options(nostack))
    };
    #[cfg(target_arch = "x86")]
    // SAFETY: int 0x80 returns in eax and clobbers nothing else. esi (the fourth argument) is
    // reserved by LLVM, so it is swapped in and out around the call (as rustix does); the
    // caller vouches for the args.
    unsafe {
        asm!("xchg esi, {d}", "int 0x80", "xchg esi, {d}", d = in(reg) d,
             inlateout("eax") n as isize => ret, in("ebx") a, in("ecx") b, in("edx") c,
             in("edi") e, options(nostack))
    };
    ret
}

/// `exit_group(code)`: ends every thread of the process.
///
/// References: exit_group(2).
pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group takes one integer and does not return.
    unsafe { syscall5(nr::__NR_exit_group, code as usize, 0, 0, 0, 0) };
    // SAFETY: exit_group never returns; this is unreachable.
    unsafe { core::hint::unreachable_unchecked() }
}

/// `execve(path, argv, envp)`. Returns only on failure, with the errno.
///
/// # Safety
/// `argv` and `envp` must be NULL-terminated arrays of pointers to NUL-terminated strings,
/// all valid for the duration of the call.
///
/// References: execve(2).
pub unsafe fn execve(path: &core::ffi::CStr, argv: *const *const u8, envp: *const *const u8) -> Errno {
    let path = path.as_ptr() as usize;
    // SAFETY: path is a C string; the caller guarantees the pointer contract above.
    let ret = unsafe { syscall5(nr::__NR_execve, path, argv as usize, envp as usize, 0, 0) };
    check(ret).err().unwrap_or(0)
}

/// include/uapi/linux/seccomp.h
const SECCOMP_SET_MODE_FILTER: usize = linux_raw_sys::ptrace::SECCOMP_SET_MODE_FILTER as usize;

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &sock_fprog)`: installs a classic BPF program.
///
/// `prog` is an array of `struct sock_filter` (8 bytes each: u16 code, u8 jt, u8 jf, u32 k)
/// in native byte order; the kernel copies it, so alignment does not matter. Without
/// no_new_privs the caller needs CAP_SYS_ADMIN in its user namespace.
///
/// References: seccomp(2).
pub fn seccomp_set_mode_filter(flags: u32, prog: &[u8]) -> Result<usize, Errno> {
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const u8,
    }
    let fprog = SockFprog { len: (prog.len() / 8) as u16, filter: prog.as_ptr() };
    let fprog = &fprog as *const SockFprog as usize;
    // SAFETY: fprog points to len complete instructions inside `prog`, alive during the call.
    check(unsafe { syscall5(nr::__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags as usize, fprog, 0, 0) })
}

/// include/uapi/linux/close_range.h: mark close-on-exec instead of closing. Not in
/// linux-raw-sys 0.12 (the newest), so written here, once (dmz re-exports it).
pub const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

/// `close_range(first, last, flags)`; with `CLOSE_RANGE_CLOEXEC` marks instead of closing.
///
/// References: close_range(2) (Linux 5.9; CLOSE_RANGE_CLOEXEC since 5.11).
pub fn close_range(first: u32, last: u32, flags: u32) -> Result<(), Errno> {
    // SAFETY: close_range takes plain integers.
    check(unsafe { syscall5(nr::__NR_close_range, first as usize, last as usize, flags as usize, 0, 0) })
        .map(drop)
}

/// `read(fd, buf)`: reads at the fd's current offset.
///
/// References: read(2).
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: buf is a live writable slice of buf.len() bytes for the duration of the call.
    check(unsafe { syscall5(nr::__NR_read, fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0) })
}

/// `write(fd, buf)` until all is written or an error; errors are ignored (used for
/// diagnostics only, where there is nowhere else to report them).
///
/// References: write(2).
pub fn write_all(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: buf is a valid readable slice for the duration of the call.
        let ret = unsafe { syscall5(nr::__NR_write, fd as usize, buf.as_ptr() as usize, buf.len(), 0, 0) };
        match check(ret) {
            // n ≤ buf.len(): write never reports more than it was given (no panic site).
            Ok(n) => buf = buf.get(n..).unwrap_or_default(),
            Err(e) if e == linux_raw_sys::errno::EINTR as Errno => {}
            Err(_) => return,
        }
    }
}

/// `clone(SIGCHLD, 0, ...)`: fork. Returns 0 in the child, the child's PID in the parent.
///
/// The child runs on a copy-on-write copy of the caller's memory, stack included (new stack
/// pointer 0), exactly like fork(2); with no flag besides the exit signal the remaining clone
/// arguments are ignored, so their differing order per architecture does not matter. Not in
/// rustix for the reason below (rustix's own is its `unsafe fn kernel_fork`).
///
/// # Safety
/// The caller is single-threaded and holds no lock: the child has only the calling thread,
/// so any state another thread was changing stays half-changed in it. (This runtime has
/// neither threads nor a libc; init, its only user, never starts a thread.)
///
/// References: clone(2), fork(2).
pub unsafe fn fork() -> Result<i32, Errno> {
    // SAFETY: clone with only SIGCHLD and a null stack duplicates the process like fork; the
    // asm block returns normally in both processes and touches no memory; the caller is
    // single-threaded (this function's contract).
    let ret = unsafe { syscall5(nr::__NR_clone, nr::SIGCHLD as usize, 0, 0, 0, 0) };
    check(ret).map(|pid| pid as i32)
}

/// A kernel signal set: bit `n - 1` is signal `n` (1..=64). The kernel's `sigset_t` is 64 bits
/// on every architecture dmzkit supports (_NSIG = 64).
pub type SigSet = u64;

/// `how` for [`sigprocmask`] (include/uapi/asm-generic/signal-defs.h).
pub const SIG_BLOCK: u32 = linux_raw_sys::general::SIG_BLOCK;
pub const SIG_UNBLOCK: u32 = linux_raw_sys::general::SIG_UNBLOCK;
pub const SIG_SETMASK: u32 = linux_raw_sys::general::SIG_SETMASK;

/// `rt_sigprocmask(how, &set, &old, 8)`: changes the blocked signals; returns the old mask.
///
/// SIGKILL and SIGSTOP are silently left unblocked by the kernel. The mask is per thread and
/// inherited across fork and execve. References: rt_sigprocmask(2), sigprocmask(2).
pub fn sigprocmask(how: u32, set: SigSet) -> Result<SigSet, Errno> {
    let mut old: SigSet = 0;
    // SAFETY: both pointers refer to 8-byte sigsets alive for the call; size 8 = _NSIG / 8.
    let ret = unsafe {
        syscall5(
            nr::__NR_rt_sigprocmask,
            how as usize,
            &set as *const SigSet as usize,
            &mut old as *mut SigSet as usize,
            8,
            0,
        )
    };
    check(ret).map(|_| old)
}

/// `signalfd4(-1, &mask, 8, SFD_CLOEXEC)`: a new fd from which the signals in `mask` are read
/// synchronously, as 128-byte `struct signalfd_siginfo` records. The signals must also be
/// blocked, or their default action happens before anyone reads them.
/// References: signalfd(2).
pub fn signalfd(mask: SigSet) -> Result<i32, Errno> {
    // SAFETY: the mask pointer refers to an 8-byte sigset alive for the call.
    let ret = unsafe {
        syscall5(
            nr::__NR_signalfd4,
            usize::MAX,
            &mask as *const SigSet as usize,
            8,
            nr::O_CLOEXEC as usize,
            0,
        )
    };
    check(ret).map(|fd| fd as i32)
}

/// `clock_gettime(CLOCK_MONOTONIC)` in milliseconds: time since boot, not counting suspend,
/// never going backwards.
///
/// The raw syscall, not the vDSO (finding the vDSO needs the auxv parser, ~2.5 KB on i686).
/// On 32-bit targets this is the original syscall with a 32-bit `tv_sec`, enough for 68
/// years of uptime. References: clock_gettime(2).
pub fn monotonic_ms() -> u64 {
    let mut ts = [0isize; 2];
    // SAFETY: ts is a `struct timespec` of the native `long` size, writable for the call.
    let ret = unsafe {
        syscall5(nr::__NR_clock_gettime, nr::CLOCK_MONOTONIC as usize, ts.as_mut_ptr() as usize, 0, 0, 0)
    };
    if check(ret).is_err() {
        return 0;
    }
    ts[0] as u64 * 1000 + ts[1] as u64 / 1_000_000
}

/// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`: fresh zeroed
/// memory, never executable. Pages cost nothing until first touched. Returns its address.
///
/// Its own asm, not [`syscall5`]: mmap has six arguments, and the kernel refuses an offset
/// that is not page-aligned, so the sixth register must be 0, not whatever it held. i686
/// uses the old one-argument `mmap` (a pointer to the six values), which avoids ebp, the
/// register the sixth argument would need there; armv7 has only `mmap2` (offset in pages).
///
/// References: mmap(2).
pub fn mmap_anonymous(len: usize) -> Result<*mut u8, Errno> {
    let prot = (nr::PROT_READ | nr::PROT_WRITE) as usize;
    let flags = (nr::MAP_PRIVATE | nr::MAP_ANONYMOUS) as usize;
    let ret: isize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: an anonymous mapping at an address the kernel picks overlaps nothing; syscall
    // clobbers only rcx and r11 besides rax.
    unsafe {
        asm!("syscall", inlateout("rax") nr::__NR_mmap as isize => ret, in("rdi") 0, in("rsi") len,
             in("rdx") prot, in("r10") flags, in("r8") -1isize, in("r9") 0, lateout("rcx") _,
             lateout("r11") _, options(nostack))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above; svc returns in x0 and clobbers nothing else.
    unsafe {
        asm!("svc 0", in("x8") nr::__NR_mmap, inlateout("x0") 0isize => ret, in("x1") len,
             in("x2") prot, in("x3") flags, in("x4") -1isize, in("x5") 0, options(nostack))
    };
    #[cfg(target_arch = "riscv64")]
    // SAFETY: as above; ecall returns in a0 and clobbers nothing else.
    unsafe {
        asm!("ecall", in("a7") nr::__NR_mmap, inlateout("a0") 0isize => ret, in("a1") len,
             in("a2") prot, in("a3") flags, in("a4") -1isize, in("a5") 0, options(nostack))
    };
    #[cfg(target_arch = "arm")]
    // SAFETY: as above; r7 is saved around the svc as in syscall5.
    unsafe {
        asm!("mov {save}, r7", "mov r7, {n}", "svc 0", "mov r7, {save}",
             n = in(reg) nr::__NR_mmap2, save = out(reg) _,
             inlateout("r0") 0isize => ret, in("r1") len, in("r2") prot, in("r3") flags,
             in("r4") -1isize, in("r5") 0, options(nostack))
    };
    #[cfg(target_arch = "x86")]
    {
        // struct mmap_arg_struct { addr, len, prot, flags, fd, offset } (arch/x86 old_mmap).
        let args = [0, len, prot, flags, usize::MAX, 0];
        // SAFETY: args is a live mmap_arg_struct for the call; an anonymous mapping at an
        // address the kernel picks overlaps nothing.
        ret = unsafe { syscall5(nr::__NR_mmap, args.as_ptr() as usize, 0, 0, 0, 0) };
    }
    check(ret).map(|p| p as *mut u8)
}
