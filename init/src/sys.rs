//! Every kernel operation init performs, one syscall per function, through rustix or the
//! linker crate's raw syscalls. The rest of init holds no `unsafe`.
//!
//! init is single-threaded from `_start` on, so per-thread calls (signal mask, credentials in
//! the child) act on the whole process, and fork is sound.

use core::ffi::CStr;
use linker::sys::SigSet;
use rustix::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, Signal, WaitOptions};

/// A raw errno value (positive).
pub type Errno = u16;

fn errno(e: rustix::io::Errno) -> Errno {
    e.raw_os_error() as Errno
}

/// A call's new descriptor, or its errno: one copy of the conversion from rustix's result,
/// which is a dozen instructions at each of the calls that open something.
#[inline(never)]
fn new_fd(r: rustix::io::Result<OwnedFd>) -> Result<OwnedFd, Errno> {
    r.map_err(errno)
}

pub const ECHILD: Errno = linux_raw_sys::errno::ECHILD as Errno;
pub const EINVAL: Errno = linux_raw_sys::errno::EINVAL as Errno;
pub const EPERM: Errno = linux_raw_sys::errno::EPERM as Errno;
pub const ENOTTY: Errno = linux_raw_sys::errno::ENOTTY as Errno;
pub const ENXIO: Errno = linux_raw_sys::errno::ENXIO as Errno;
pub const EAGAIN: Errno = linux_raw_sys::errno::EAGAIN as Errno;
pub const ETIMEDOUT: Errno = linux_raw_sys::errno::ETIMEDOUT as Errno;
pub const ECONNRESET: Errno = linux_raw_sys::errno::ECONNRESET as Errno;

/// One of the standard descriptors, which init never closes: the only numbers the rest of
/// init borrows (everything else it opens is an `OwnedFd`).
#[derive(Clone, Copy)]
pub enum Stdio {
    In = 0,
    Out = 1,
    Err = 2,
}

/// Borrows standard descriptor `s`.
pub fn stdio(s: Stdio) -> BorrowedFd<'static> {
    // SAFETY: `s` is 0, 1 or 2, which init never closes (console_stdio only fills them);
    // every call that takes a descriptor checks it (EBADF), so one the kernel did not open
    // produces an error, never touches memory.
    unsafe { BorrowedFd::borrow_raw(s as i32) }
}

/// `NUL`-terminated bytes as a C string; `None` without a NUL. The config stores its paths
/// with the NUL, so this never copies.
pub fn cstr(s: &[u8]) -> Option<&CStr> {
    // A plain loop: CStr::from_bytes_until_nul brings a generic memchr (~200 bytes).
    let n = s.iter().position(|&b| b == 0)?;
    // Always there (n is an index of s); `get` rather than `[..=n]` keeps no panic site.
    let s = s.get(..=n)?;
    // SAFETY: s ends in its first NUL, so it holds exactly one NUL, at the end.
    Some(unsafe { CStr::from_bytes_with_nul_unchecked(s) })
}

/// Like [`cstr`], for strings already checked: an empty string if there is no NUL.
pub fn c(s: &[u8]) -> &CStr {
    cstr(s).unwrap_or(c"")
}

fn pid(n: i32) -> Option<Pid> {
    Pid::from_raw(n)
}

fn signal(n: u8) -> Signal {
    // SAFETY: callers pass 1..=64 (parsed or validated); with no libc in this process no
    // signal number is reserved, which is the condition rustix states for this constructor.
    unsafe { Signal::from_raw_unchecked(n as i32) }
}

/// The signal set with signal `n` in it (bit n - 1).
pub const fn sig_bit(n: u8) -> SigSet {
    1 << (n - 1)
}

/// `rt_sigprocmask(SIG_BLOCK, set)`: blocks `set` and returns the previous mask, which the
/// children get back before they exec. Blocked signals stay pending until read from a
/// signalfd. References: sigprocmask(2).
pub fn block_signals(set: SigSet) -> Result<SigSet, Errno> {
    linker::sys::sigprocmask(linker::sys::SIG_BLOCK, set)
}

/// `rt_sigprocmask(SIG_SETMASK, mask)`: in a child, restores the mask init was started with
/// (execve keeps the mask, so a target would otherwise start with every signal blocked).
/// References: sigprocmask(2).
pub fn set_signal_mask(mask: SigSet) -> Result<(), Errno> {
    linker::sys::sigprocmask(linker::sys::SIG_SETMASK, mask).map(drop)
}

/// `signalfd4(-1, set, SFD_CLOEXEC)`: the descriptor the main loop reads signals from.
/// References: signalfd(2).
pub fn signalfd(set: SigSet) -> Result<OwnedFd, Errno> {
    let n = linker::sys::signalfd(set)?;
    // SAFETY: the kernel just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// One entry of a poll set: a descriptor to watch for input, and what the kernel reported
/// (the kernel's `struct pollfd`). A negative fd is skipped (poll(2)), so a caller keeps
/// each fd at a fixed index.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

impl PollFd {
    /// An entry the kernel skips.
    pub const NONE: PollFd = PollFd::new(-1);

    /// Watches `fd` for input (-1: nothing).
    pub const fn new(fd: i32) -> PollFd {
        PollFd { fd, events: linux_raw_sys::general::POLLIN as i16, revents: 0 }
    }

    /// Readable, hung up or in error after the last [`poll_readable`].
    pub fn ready(&self) -> bool {
        self.revents != 0
    }
}

/// `ppoll(set, timeout, NULL)`: marks which of `set` are readable (or hung up, or in
/// error); false on timeout or EINTR. Made directly, with the kernel's `struct timespec`
/// (two longs; on 32-bit targets this is ppoll's 32-bit-time form, ample for a timeout).
/// References: poll(2), ppoll(2).
pub fn poll_readable(set: &mut [PollFd], timeout_ms: Option<u64>) -> bool {
    let ts =
        timeout_ms.map(|ms| [(ms / 1000).min(i32::MAX as u64) as isize, ((ms % 1000) * 1_000_000) as isize]);
    let ts_ptr = ts.as_ref().map_or(0, |t| t.as_ptr() as usize);
    // SAFETY: `set` holds `set.len()` struct pollfd the kernel may write, `ts` (if any) a
    // struct timespec; both live for the call; the signal mask pointer is NULL.
    let r = unsafe {
        linker::sys::syscall5(
            linux_raw_sys::general::__NR_ppoll,
            set.as_mut_ptr() as usize,
            set.len(),
            ts_ptr,
            0,
            0,
        )
    };
    linker::sys::check(r).unwrap_or(0) != 0
}

/// `bind(fd, path)` or `connect(fd, path)` (syscall `nr`), with `path` as the kernel's
/// `struct sockaddr_un`: the path and its NUL in sun_path (the NUL left out when the path
/// fills all 108 bytes; ENAMETOOLONG beyond). Made directly: rustix's address type costs a
/// copy of the struct and a checked loop. References: unix(7), bind(2), connect(2).
fn unix_address_call(nr: u32, s: &OwnedFd, path: &CStr) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    #[repr(C)]
    struct SockaddrUn {
        sun_family: u16,
        sun_path: [u8; 108],
    }
    let mut addr = SockaddrUn { sun_family: linux_raw_sys::net::AF_UNIX as u16, sun_path: [0; 108] };
    let p = path.to_bytes();
    addr.sun_path.get_mut(..p.len()).ok_or(ENAMETOOLONG)?.copy_from_slice(p);
    let len = (2 + p.len() + 1).min(core::mem::size_of::<SockaddrUn>());
    let ptr = &addr as *const SockaddrUn as usize;
    // SAFETY: `addr` is a struct sockaddr_un of at least `len` bytes, live for the call.
    let r = unsafe { linker::sys::syscall5(nr, s.as_raw_fd() as usize, ptr, len, 0, 0) };
    linker::sys::check(r).map(drop)
}

const ENAMETOOLONG: Errno = linux_raw_sys::errno::ENAMETOOLONG as Errno;

/// `socket(AF_UNIX, kind|SOCK_CLOEXEC[|SOCK_NONBLOCK])`. The control socket is a
/// SOCK_SEQPACKET, which keeps message boundaries (one request and one reply are one packet
/// each); a notify socket is a SOCK_DGRAM, as sd_notify sends. References: unix(7).
fn unix_socket(kind: rustix::net::SocketType, nonblock: bool) -> Result<OwnedFd, Errno> {
    use rustix::net::{socket_with, AddressFamily, SocketFlags};
    let flags = if nonblock { SocketFlags::CLOEXEC | SocketFlags::NONBLOCK } else { SocketFlags::CLOEXEC };
    new_fd(socket_with(AddressFamily::UNIX, kind, flags, None))
}

/// A non-blocking listening socket at `path`: `socket(AF_UNIX, SOCK_SEQPACKET|SOCK_NONBLOCK)`,
/// `unlink(path)` (a socket file left from before), `bind(path)`, `chmod(path, 0666)`
/// (anyone may connect; the server checks the peer's credentials instead, so that a
/// non-root caller gets an answer), `listen(8)`. References: unix(7), bind(2), listen(2).
pub fn listen_unix(path: &CStr) -> Result<OwnedFd, Errno> {
    let s = bind_unix(unix_socket(rustix::net::SocketType::SEQPACKET, true)?, path)?;
    rustix::net::listen(&s, 8).map_err(errno)?;
    Ok(s)
}

/// `unlink(path)` (a socket file left from before), `bind(s, path)`, `chmod(path, 0666)`.
fn bind_unix(s: OwnedFd, path: &CStr) -> Result<OwnedFd, Errno> {
    let _ = rustix::fs::unlink(path);
    unix_address_call(linux_raw_sys::general::__NR_bind, &s, path)?;
    rustix::fs::chmod(path, Mode::from_raw_mode(0o666)).map_err(errno)?;
    Ok(s)
}

/// `accept4(fd, SOCK_NONBLOCK|SOCK_CLOEXEC)`: the next pending connection, never waiting
/// (EAGAIN when there is none). References: accept(2).
pub fn accept(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    use rustix::net::{accept_with, SocketFlags};
    new_fd(accept_with(fd, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK))
}

/// `getsockopt(fd, SOL_SOCKET, SO_PEERCRED)`: the uid of the process that connected, as the
/// kernel recorded it at connect(2) (in the caller's user namespace). Made directly: the pid
/// in `struct ucred` is 0 for a peer outside the caller's pid namespace, which rustix's
/// `UCred` (a non-zero pid) cannot hold. References: unix(7), getsockopt(2).
pub fn peer_uid(fd: BorrowedFd<'_>) -> Result<u32, Errno> {
    use linux_raw_sys::net::{SOL_SOCKET, SO_PEERCRED};
    use rustix::fd::AsRawFd;
    let mut cred = [0u32; 3]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
    let mut len = core::mem::size_of_val(&cred) as u32;
    let (ptr, lenp) = (cred.as_mut_ptr() as usize, &mut len as *mut u32 as usize);
    let n = linux_raw_sys::general::__NR_getsockopt;
    // SAFETY: `cred` is a writable struct ucred and `len` its size, both live for the call.
    let r = unsafe {
        linker::sys::syscall5(
            n,
            fd.as_raw_fd() as usize,
            SOL_SOCKET as usize,
            SO_PEERCRED as usize,
            ptr,
            lenp,
        )
    };
    linker::sys::check(r)?;
    Ok(cred[1])
}

/// `recv(fd, buf, MSG_DONTWAIT|MSG_TRUNC)`: one packet, never waiting. Returns the packet's
/// full length, which exceeds `buf.len()` when it was cut; 0 when the peer closed; EAGAIN
/// when nothing has arrived yet. References: recv(2), unix(7).
pub fn recv_packet(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    use rustix::net::{recv, RecvFlags};
    recv(fd, buf, RecvFlags::DONTWAIT | RecvFlags::TRUNC).map(|(_, n)| n).map_err(errno)
}

/// `shutdown(fd, SHUT_RD)`: the peer's further packets are refused (EPIPE), not queued.
/// References: shutdown(2), unix(7).
pub fn shutdown_read(fd: BorrowedFd<'_>) {
    let _ = rustix::net::shutdown(fd, rustix::net::Shutdown::Read);
}

/// `send(fd, buf, MSG_DONTWAIT|MSG_NOSIGNAL)`: one packet, never waiting (EAGAIN when the
/// peer's queue is full), no SIGPIPE when the peer is gone. References: send(2).
pub fn send_packet(fd: BorrowedFd<'_>, buf: &[u8]) -> Result<(), Errno> {
    use rustix::net::{send, SendFlags};
    send(fd, buf, SendFlags::DONTWAIT | SendFlags::NOSIGNAL).map(drop).map_err(errno)
}

/// `sendmsg(fd, MSG_DONTWAIT|MSG_NOSIGNAL)` of `parts` (a struct iovec each) as one packet:
/// [`send_packet`] of their concatenation, without copying them together first. Made
/// directly with the kernel's `struct msghdr`, as [`recv_credentials`] is. References:
/// sendmsg(2), unix(7).
pub fn send_parts(fd: BorrowedFd<'_>, parts: [&[u8]; 4]) -> Result<(), Errno> {
    use linux_raw_sys::net::{MSG_DONTWAIT, MSG_NOSIGNAL};
    use rustix::fd::AsRawFd;
    let [a, b, c, d] = parts;
    let (pa, pb, pc, pd) = (a.as_ptr(), b.as_ptr(), c.as_ptr(), d.as_ptr());
    // Four struct iovec { iov_base, iov_len }.
    let iov = [pa as usize, a.len(), pb as usize, b.len(), pc as usize, c.len(), pd as usize, d.len()];
    let msg = [0, 0, iov.as_ptr() as usize, 4, 0, 0, 0];
    // SAFETY: `msg` is a struct msghdr (no address, no control data) pointing at `iov`, four
    // struct iovec for the bytes of `parts`; all live for the call, which only reads them.
    let r = unsafe {
        linker::sys::syscall5(
            linux_raw_sys::general::__NR_sendmsg,
            fd.as_raw_fd() as usize,
            msg.as_ptr() as usize,
            (MSG_DONTWAIT | MSG_NOSIGNAL) as usize,
            0,
            0,
        )
    };
    linker::sys::check(r).map(drop)
}

/// `socket(AF_UNIX, SOCK_SEQPACKET)` + `connect(path)`: the client's end. References: connect(2).
pub fn connect_unix(path: &CStr) -> Result<OwnedFd, Errno> {
    let s = unix_socket(rustix::net::SocketType::SEQPACKET, false)?;
    unix_address_call(linux_raw_sys::general::__NR_connect, &s, path)?;
    Ok(s)
}

/// `read(signalfd, struct signalfd_siginfo)`: the number of the next pending signal, `None`
/// if none is pending. References: signalfd(2).
pub fn read_signal(fd: BorrowedFd<'_>) -> Option<u8> {
    let mut info = [0u8; 128]; // struct signalfd_siginfo; ssi_signo is the first u32
    match rustix::io::read(fd, &mut info) {
        Ok(128) => Some(u32::from_ne_bytes([info[0], info[1], info[2], info[3]]) as u8),
        _ => None,
    }
}

/// How a child ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(u8),
    Signal(u8),
}

impl Exit {
    /// The status a shell would report: the exit code, or 128 + the signal.
    pub fn shell_code(self) -> u8 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128u8.wrapping_add(s),
        }
    }
}

/// `wait4(-1, &status, WNOHANG)`: reaps one terminated child. `Ok(None)` when children exist
/// but none has terminated; `Err(ECHILD)` when there are no children at all. Stopped and
/// continued children are not reported (no WUNTRACED/WCONTINUED).
/// References: wait(2).
pub fn reap() -> Result<Option<(i32, Exit)>, Errno> {
    match rustix::process::wait(WaitOptions::NOHANG) {
        Ok(Some((p, st))) => {
            let exit = match (st.exit_status(), st.terminating_signal()) {
                (Some(c), _) => Exit::Code(c as u8),
                (None, Some(s)) => Exit::Signal(s as u8),
                (None, None) => return Ok(None), // neither exited nor killed: not reported
            };
            Ok(Some((p.as_raw_nonzero().get(), exit)))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(errno(e)),
    }
}

/// `clone(SIGCHLD)`: fork. `Ok(0)` in the child. References: fork(2).
pub fn fork() -> Result<i32, Errno> {
    // SAFETY: init is single-threaded from `_start` on and takes no locks (module doc).
    unsafe { linker::sys::fork() }
}

/// `kill(pid, sig)`. References: kill(2).
pub fn kill(p: i32, sig: u8) -> Result<(), Errno> {
    let p = pid(p).ok_or(EINVAL)?;
    rustix::process::kill_process(p, signal(sig)).map_err(errno)
}

/// `kill(-pgid, sig)`: every process in process group `pgid`. References: kill(2).
pub fn kill_group(pgid: i32, sig: u8) -> Result<(), Errno> {
    let p = pid(pgid).ok_or(EINVAL)?;
    rustix::process::kill_process_group(p, signal(sig)).map_err(errno)
}

/// `kill(-1, sig)`: every process the caller may signal except itself; from a PID 1 that is
/// every process of its pid namespace (kernel threads ignore it). References: kill(2).
pub fn kill_all(sig: u8) -> Result<(), Errno> {
    // kill_process_group(1) is kill(-1): rustix negates the pid it is given.
    rustix::process::kill_process_group(Pid::INIT, signal(sig)).map_err(errno)
}

/// `getpid()`. References: getpid(2).
pub fn getpid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

/// `getppid()`: 0 when the parent is outside the caller's pid namespace.
/// References: getppid(2).
pub fn getppid() -> i32 {
    rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get())
}

/// `setpgid(pid, pid)`: makes `pid` (0: the caller) the leader of a new process group. The
/// parent calls it too, so a signal forwarded to the group right after fork finds it; one of
/// the two calls fails harmlessly (EACCES after the child's exec). References: setpgid(2).
pub fn new_process_group(p: i32) -> Result<(), Errno> {
    let p = pid(p);
    rustix::process::setpgid(p, p).map_err(errno)
}

/// `setsid()`: a new session and process group led by the caller, without a controlling
/// terminal, so a service gets no terminal signals and can be stopped as a group.
/// References: setsid(2).
pub fn setsid() -> Result<(), Errno> {
    rustix::process::setsid().map(drop).map_err(errno)
}

/// `ioctl(0, TIOCSPGRP, getpgrp())`: makes the caller's process group the foreground group of
/// the terminal on stdin. From a background group this needs SIGTTOU blocked or ignored
/// (init blocks it). ENOTTY when stdin is no terminal or not the caller's controlling
/// terminal. References: tcsetpgrp(3), ioctl_tty(2) TIOCSPGRP.
pub fn foreground_stdin() -> Result<(), Errno> {
    rustix::termios::tcsetpgrp(stdio(Stdio::In), rustix::process::getpgrp()).map_err(errno)
}

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphaned descendants are re-parented to the caller
/// instead of to PID 1 (Linux 3.4). References: prctl(2).
pub fn set_child_subreaper() -> Result<(), Errno> {
    rustix::process::set_child_subreaper(rustix::process::getpid().into()).map_err(errno)
}

/// `prctl(PR_SET_PDEATHSIG, sig)`: the caller gets `sig` when its parent dies. Cleared in
/// children by fork. References: prctl(2).
pub fn set_parent_death_signal(sig: u8) -> Result<(), Errno> {
    rustix::process::set_parent_process_death_signal(Some(signal(sig))).map_err(errno)
}

/// `execve(path, argv[from..], envp)` with init's own arguments and environment. Returns only
/// on failure, with the errno. References: execve(2).
pub fn exec_args(path: &CStr, args: &linker::Args, from: usize) -> Errno {
    if from >= args.len() {
        return EINVAL;
    }
    let argv = args.argv().wrapping_add(from);
    // SAFETY: path is a C string; the kernel laid out argv (NULL-terminated after argc
    // entries, so from `from < argc` on it is still a valid argv) and envp, which live
    // unmodified for the whole process.
    unsafe { linker::execve(path, argv, args.envp()) }
}

/// `open(path, O_RDONLY|O_CLOEXEC)`, `fstat`, an anonymous private mapping of the file's size
/// and `read` into it: the whole file (its first `.1` bytes), in memory that nobody else can
/// change (a checksum verified once stays true) and that is given back when the mapping is
/// dropped: a config read again (reload) replaces the previous one. Bounded by `max` bytes.
/// References: open(2), fstat(2), mmap(2), read(2).
pub fn load_mapping(path: &CStr, max: usize) -> Result<(Mapping, usize), Errno> {
    let f = open_read(path)?;
    let size = file_size(&f)? as usize;
    if size > max {
        return Err(EFBIG);
    }
    let mut m = Mapping::new(size)?;
    let n = read_all(f, &mut m)?;
    Ok((m, n))
}

/// [`load_mapping`] in memory that is never freed.
pub fn load_file(path: &CStr, max: usize) -> Result<&'static [u8], Errno> {
    let (m, n) = load_mapping(path, max)?;
    // n ≤ the mapping's length (read_all fills at most all of it): `get` keeps no panic site.
    Ok(m.leak().get(..n).unwrap_or_default())
}

const EFBIG: Errno = linux_raw_sys::errno::EFBIG as Errno;

/// Anonymous private memory, zero-filled, unmapped when dropped: memory PID 1 gives back
/// (its stack never shrinks).
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    /// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS)`. Pages become
    /// resident only when written. References: mmap(2).
    pub fn new(len: usize) -> Result<Mapping, Errno> {
        use rustix::mm::{mmap_anonymous, MapFlags, ProtFlags};
        // SAFETY: a fresh anonymous mapping at an address the kernel picks overlaps nothing.
        let p = unsafe {
            mmap_anonymous(
                core::ptr::null_mut(),
                len.max(1),
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .map_err(errno)?;
        Ok(Mapping { ptr: p.cast(), len })
    }

    /// Never unmapped: memory for the life of the process.
    pub fn leak(self) -> &'static mut [u8] {
        let m = core::mem::ManuallyDrop::new(self);
        // SAFETY: the mapping is `len` bytes, readable and writable, and is never unmapped now,
        // so a 'static slice over it stays valid; nothing else refers to it.
        unsafe { core::slice::from_raw_parts_mut(m.ptr, m.len) }
    }
}

impl core::ops::Deref for Mapping {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` readable bytes, mapped until drop; `&self` keeps them alive.
        unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl core::ops::DerefMut for Mapping {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: `len` writable bytes, mapped until drop, borrowed exclusively through `self`.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    /// `munmap(ptr, len)`. References: munmap(2). Out of line: a mapping is dropped in many
    /// places, each a call rather than the syscall's setup.
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: the mapping made by `new`, no slice over it outlives `self`.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len.max(1)) };
    }
}

/// The whole of a file the kernel generates as it is read, which has no size to ask for
/// (/proc/self/mounts): read from the start into a mapping of 64 KiB, then twice as large
/// until the file ends before the mapping does, up to `max` bytes (EFBIG beyond). Returns
/// the mapping and the length read. References: open(2), read(2), proc_pid_mounts(5).
pub fn read_whole(path: &CStr, max: usize) -> Result<(Mapping, usize), Errno> {
    let mut size = 64 << 10;
    loop {
        let mut m = Mapping::new(size)?;
        let n = read_file(path, &mut m)?;
        if n < size {
            return Ok((m, n));
        }
        if size >= max {
            return Err(EFBIG);
        }
        size *= 2;
    }
}

/// `open(path, O_RDONLY|O_CLOEXEC)` + `read` into `buf` until EOF or full: small kernel files
/// such as /proc/cmdline and /proc/self/mounts. References: open(2), read(2).
pub fn read_file(path: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    read_all(open_read(path)?, buf)
}

fn open_read(path: &CStr) -> Result<OwnedFd, Errno> {
    new_fd(rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()))
}

/// `read` until EOF or `buf` is full, then `close`.
#[inline(never)]
fn read_all(f: OwnedFd, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut n = 0;
    while n < buf.len() {
        match rustix::io::read(&f, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(errno(e)),
        }
    }
    Ok(n)
}

/// `open(path, O_WRONLY|O_CLOEXEC|O_NOCTTY)`. References: open(2).
pub fn open_write(path: &CStr) -> Result<OwnedFd, Errno> {
    new_fd(rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOCTTY, Mode::empty()))
}

/// `write(fd, buf)` in full, errors ignored (log output has nowhere else to go).
/// References: write(2).
pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) {
    use rustix::fd::AsRawFd;
    linker::write_all(fd.as_raw_fd(), buf);
}

/// `pipe2(O_CLOEXEC)`, then `ioctl(FIONBIO)` on the read end: init reads without waiting;
/// the write end, a unit's stdout and stderr, stays blocking (a program expects that of its
/// output). References: pipe(2), ioctl_fionbio in ioctl(2).
pub fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    use rustix::fd::AsRawFd;
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(errno)?;
    let mut on = 1i32;
    // SAFETY: FIONBIO reads one int, which `on` is.
    unsafe { ioctl(r.as_raw_fd(), linux_raw_sys::ioctl::FIONBIO, (&raw mut on).cast()) }?;
    Ok((r, w))
}

/// `read(fd, buf)` once. References: read(2).
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    rustix::io::read(fd, buf).map_err(errno)
}

/// `dup3(fd, 1, 0)` and `dup3(fd, 2, 0)` ([`dup_to`]): in a child, its stdout and stderr
/// become `fd` (without O_CLOEXEC). References: dup(2).
pub fn dup_stdout_stderr(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    dup_to(fd.as_raw_fd(), 1)?;
    dup_to(fd.as_raw_fd(), 2)
}

/// `open(path, O_WRONLY|O_APPEND|O_CREAT|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY, 0640)` and `fstat`:
/// a log file and its size. O_NOFOLLOW: a symlink planted at the path is refused (ELOOP),
/// not followed by root. References: open(2), fstat(2).
pub fn open_append(path: &CStr) -> Result<(OwnedFd, u64), Errno> {
    let flags = OFlags::WRONLY
        | OFlags::APPEND
        | OFlags::CREATE
        | OFlags::NOFOLLOW
        | OFlags::CLOEXEC
        | OFlags::NOCTTY;
    let f = new_fd(rustix::fs::open(path, flags, Mode::from_raw_mode(0o640)))?;
    let size = file_size(&f)?;
    Ok((f, size))
}

/// `fstat(fd)`'s `st_size`. References: fstat(2).
fn file_size(f: &OwnedFd) -> Result<u64, Errno> {
    rustix::fs::fstat(f).map(|st| st.st_size as u64).map_err(errno)
}

/// `rename(from, to)`, replacing `to`. References: rename(2).
pub fn rename(from: &CStr, to: &CStr) -> Result<(), Errno> {
    rustix::fs::rename(from, to).map_err(errno)
}

/// Makes sure fds 0, 1 and 2 are open: `fcntl(F_GETFD)` tells a closed one (EBADF); the
/// missing ones are `dup3`'d from `open("/dev/console", O_RDWR|O_NOCTTY)`, or from
/// `open("/dev/null", O_RDWR)` when there is no console (the error is returned then, after
/// the fds are filled). The kernel starts init on /dev/console when it can open it, and with
/// no fds at all when it cannot (an initramfs without /dev/console, before devtmpfs is
/// mounted): left closed, the next fd init opens would become every child's stdin.
/// NOCTTY: PID 1 must not get a controlling terminal, or a hangup on it would signal init.
/// References: fcntl(2), open(2), dup(2), console(4), null(4).
pub fn console_stdio() -> Result<(), Errno> {
    use linux_raw_sys::general::{__NR_fcntl, F_GETFD};
    use rustix::fd::AsRawFd;
    let closed = |n| {
        // SAFETY: F_GETFD takes no argument and touches no memory.
        let r = unsafe { linker::sys::syscall5(__NR_fcntl, n, F_GETFD as usize, 0, 0, 0) };
        linker::sys::check(r).is_err()
    };
    if !(closed(0) || closed(1) || closed(2)) {
        return Ok(());
    }
    let (console, result) =
        match rustix::fs::open(c"/dev/console", OFlags::RDWR | OFlags::NOCTTY, Mode::empty()) {
            Ok(f) => (f, Ok(())),
            Err(e) => {
                (rustix::fs::open(c"/dev/null", OFlags::RDWR, Mode::empty()).map_err(errno)?, Err(errno(e)))
            }
        };
    for n in 0..3 {
        if closed(n) {
            // A new descriptor `n` (the console is never `n` here: it took the first free
            // number, which is open now), open for the life of the process.
            dup_to(console.as_raw_fd(), n as i32)?;
        }
    }
    // The console fd itself is dropped (closed) unless it landed on 0..=2.
    if console.as_raw_fd() < 3 {
        core::mem::forget(console);
    }
    result
}

/// `close_range(first, last, 0)`: closes every open fd from `first` to `last`. In a child
/// before the transition, so that none of init's own fds (signalfd, /dev/kmsg, watchdog) can
/// reach a target, not even one whose config preserves its number.
/// References: close_range(2) (Linux 5.9).
pub fn close_fds(first: i32, last: i32) -> Result<(), Errno> {
    linker::close_range(first as u32, last as u32, 0)
}

/// `mkdir(path, mode)`; an existing entry is fine. References: mkdir(2).
pub fn mkdir(path: &CStr, mode: u32) -> Result<(), Errno> {
    match rustix::fs::mkdir(path, Mode::from_raw_mode(mode as _)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
        Err(e) => Err(errno(e)),
    }
}

/// `statx(path)`, STATX_ATTR_MOUNT_ROOT (Linux 5.8; dmzkit needs 5.11 for close_range):
/// whether something is mounted at `path`. Used to skip early mounts the kernel or an
/// initramfs already made: mounting a second tmpfs over /run would hide the first.
/// References: statx(2).
pub fn is_mountpoint(path: &CStr) -> bool {
    use rustix::fs::{statx, AtFlags, StatxAttributes, StatxFlags, CWD};
    statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::empty())
        .is_ok_and(|st| st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT))
}

/// `mount(source, target, fstype, flags, data)`. References: mount(2).
pub fn mount(
    source: &CStr,
    target: &CStr,
    fstype: &CStr,
    flags: u64,
    data: Option<&CStr>,
) -> Result<(), Errno> {
    let flags = rustix::mount::MountFlags::from_bits_retain(flags as _);
    rustix::mount::mount(source, target, fstype, flags, data).map_err(errno)
}

/// `umount2(target, 0)`: fails with EBUSY while a file on it is open. References: umount(2).
pub fn unmount(target: &CStr) -> Result<(), Errno> {
    rustix::mount::unmount(target, rustix::mount::UnmountFlags::empty()).map_err(errno)
}

/// `mount(NULL, target, NULL, MS_REMOUNT|MS_RDONLY, NULL)`: makes the **filesystem** (the
/// superblock, in every mount namespace) read-only, flushing it; the fallback when a
/// filesystem cannot be unmounted at shutdown. References: mount(2) "Remounting an existing
/// mount".
pub fn remount_read_only(target: &CStr) -> Result<(), Errno> {
    use rustix::mount::MountFlags;
    rustix::mount::mount_remount(target, MountFlags::RDONLY, c"").map_err(errno)
}

/// `stat("/proc/self/ns/pid")`: the initial pid namespace has the fixed inode number
/// PROC_PID_INIT_INO (include/linux/proc_ns.h); every other one gets a dynamic number.
/// References: namespaces(7), stat(2).
pub fn in_initial_pid_namespace() -> bool {
    const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;
    #[allow(clippy::unnecessary_cast)] // st_ino is u64 on some targets, c_ulong on others
    rustix::fs::stat(c"/proc/self/ns/pid").is_ok_and(|st| st.st_ino as u64 == PROC_PID_INIT_INO)
}

/// `sethostname(name)`: for the caller's UTS namespace. References: sethostname(2).
pub fn sethostname(name: &[u8]) -> Result<(), Errno> {
    rustix::system::sethostname(name).map_err(errno)
}

/// `ioctl(fd, request, arg)` with a pointer argument. Made directly: rustix's typed ioctls go
/// through two more layers. References: ioctl(2).
///
/// # Safety
/// `arg` points to memory of the type `request` reads or writes, live for the call.
unsafe fn ioctl(fd: i32, request: u32, arg: *mut u8) -> Result<(), Errno> {
    use linux_raw_sys::general::__NR_ioctl;
    // SAFETY: the caller vouches for `arg` (this function's contract).
    linker::sys::check(unsafe {
        linker::sys::syscall5(__NR_ioctl, fd as usize, request as usize, arg as usize, 0, 0)
    })
    .map(drop)
}

/// `socket(AF_INET, SOCK_DGRAM)`, `ioctl(SIOCGIFFLAGS)`, `ioctl(SIOCSIFFLAGS, flags|IFF_UP)`
/// on "lo": brings the loopback interface of the caller's network namespace up. Any socket
/// serves as the handle for the netdevice ioctls; setting flags needs CAP_NET_ADMIN.
/// References: netdevice(7).
pub fn loopback_up() -> Result<(), Errno> {
    use linux_raw_sys::ioctl::{SIOCGIFFLAGS, SIOCSIFFLAGS};
    use rustix::fd::AsRawFd;
    use rustix::net::{socket, AddressFamily, SocketType};
    /// struct ifreq: ifr_name[16], then a union whose `short ifr_flags` comes first; 40 bytes
    /// on 64-bit targets, 32 on 32-bit ones, so 40 covers both.
    #[repr(C, align(8))]
    struct IfReq {
        name: [u8; 16],
        flags: u16,
        rest: [u8; 22],
    }
    const IFF_UP: u16 = 1;
    let s = new_fd(socket(AddressFamily::INET, SocketType::DGRAM, None))?;
    let mut req = IfReq { name: *b"lo\0\0\0\0\0\0\0\0\0\0\0\0\0\0", flags: 0, rest: [0; 22] };
    // SAFETY: SIOCGIFFLAGS reads and writes a struct ifreq, which `req` is (with room to spare).
    unsafe { ioctl(s.as_raw_fd(), SIOCGIFFLAGS, (&raw mut req).cast()) }?;
    req.flags |= IFF_UP;
    // SAFETY: SIOCSIFFLAGS reads a struct ifreq, which `req` is.
    unsafe { ioctl(s.as_raw_fd(), SIOCSIFFLAGS, (&raw mut req).cast()) }?;
    Ok(())
}

/// What [`reboot`] does.
#[derive(Clone, Copy)]
pub enum Reboot {
    Restart,
    PowerOff,
    Halt,
    /// Ctrl-alt-del sends SIGINT to PID 1 instead of rebooting at once.
    CadOff,
}

/// `reboot(LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd)`. Returns only on failure (or for
/// CadOff). Needs CAP_SYS_BOOT. In a pid namespace other than the initial one, RESTART
/// makes the kernel end the namespace's init as if killed by SIGHUP, POWER_OFF and HALT as
/// if by SIGINT (kernel/pid_namespace.c `reboot_pid_ns`), and CAD_OFF fails with EINVAL.
/// References: reboot(2).
pub fn reboot(cmd: Reboot) -> Errno {
    use rustix::system::RebootCommand as C;
    let cmd = match cmd {
        Reboot::Restart => C::Restart,
        Reboot::PowerOff => C::PowerOff,
        Reboot::Halt => C::Halt,
        Reboot::CadOff => C::CadOff,
    };
    rustix::system::reboot(cmd).err().map_or(0, errno)
}

/// `sync()`: writes every dirty buffer to its device. References: sync(2).
pub fn sync() {
    rustix::fs::sync()
}

/// `open(device, O_WRONLY)`: opening a watchdog device starts it; from then on it must be
/// written to within its timeout, or the hardware resets the machine.
/// References: Documentation/watchdog/watchdog-api.rst.
pub fn watchdog_open(device: &CStr) -> Result<OwnedFd, Errno> {
    open_write(device)
}

/// `ioctl(fd, WDIOC_SETTIMEOUT, &seconds)`: the driver may round it. References:
/// Documentation/watchdog/watchdog-api.rst "Setting and getting the timeout".
pub fn watchdog_set_timeout(fd: BorrowedFd<'_>, seconds: u32) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    let mut t = seconds as i32;
    // SAFETY: WDIOC_SETTIMEOUT reads and writes one int, which `t` is.
    unsafe { ioctl(fd.as_raw_fd(), linux_raw_sys::ioctl::WDIOC_SETTIMEOUT, (&raw mut t).cast()) }
}

/// `ioctl(fd, WDIOC_GETTIMEOUT, &seconds)`: the timeout the driver runs with (after a refused
/// or rounded WDIOC_SETTIMEOUT, not what was asked). References:
/// Documentation/watchdog/watchdog-api.rst "Setting and getting the timeout".
pub fn watchdog_get_timeout(fd: BorrowedFd<'_>) -> Result<u32, Errno> {
    use rustix::fd::AsRawFd;
    let mut t = 0i32;
    // SAFETY: WDIOC_GETTIMEOUT writes one int, which `t` is.
    unsafe { ioctl(fd.as_raw_fd(), linux_raw_sys::ioctl::WDIOC_GETTIMEOUT, (&raw mut t).cast()) }?;
    Ok(t as u32)
}

/// `write(fd, "\0")`: restarts the watchdog's countdown; every driver accepts a write (the
/// WDIOC_KEEPALIVE ioctl does the same). References: Documentation/watchdog/watchdog-api.rst
/// "The simplest API".
pub fn watchdog_keepalive(fd: BorrowedFd<'_>) {
    write(fd, b"\0");
}

/// `write(fd, "V")` then `close(fd)`: the magic close that stops the watchdog (unless the
/// driver was built with nowayout, in which case it keeps running and the reboot that follows
/// happens anyway). References: Documentation/watchdog/watchdog-api.rst "Magic Close".
pub fn watchdog_magic_close(fd: OwnedFd) {
    write(fd.as_fd(), b"V");
    drop(fd);
}

/// `exit_group(code)`. References: exit_group(2).
pub fn exit(code: i32) -> ! {
    linker::exit_group(code)
}

/// A service's notify socket at `path`: `socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC|
/// SOCK_NONBLOCK)`, `unlink(path)` (one left from before), `bind(path)`, `chmod(path, 0666)`
/// (the service may run as any uid; each datagram's sender is checked by pid instead, as
/// systemd does), `setsockopt(SO_PASSCRED)` (the kernel attaches the sender's credentials to
/// every datagram). References: unix(7), socket(7).
pub fn notify_socket(path: &CStr) -> Result<OwnedFd, Errno> {
    let s = bind_unix(unix_socket(rustix::net::SocketType::DGRAM, true)?, path)?;
    rustix::net::sockopt::set_socket_passcred(&s, true).map_err(errno)?;
    Ok(s)
}

/// `recvmsg(fd, MSG_DONTWAIT|MSG_CMSG_CLOEXEC)` of one datagram into `buf`, with room for one
/// control message, SCM_CREDENTIALS: returns the datagram's length (cut to `buf`) and the
/// sender's pid (0 when the kernel attached none, or the sender is outside init's pid
/// namespace). The control buffer has room for the credentials only: fds a sender passes
/// (SCM_RIGHTS, which the kernel puts after them) are discarded by the kernel (MSG_CTRUNC),
/// never installed in init. Made directly with the kernel's `struct msghdr`: a word per field
/// (the int fields are the low half of their padded word on the little-endian targets).
/// References: recvmsg(2), unix(7), cmsg(3).
pub fn recv_credentials(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, i32), Errno> {
    use linux_raw_sys::net::{MSG_CMSG_CLOEXEC, MSG_DONTWAIT, SCM_CREDENTIALS, SOL_SOCKET};
    use rustix::fd::AsRawFd;
    const W: usize = core::mem::size_of::<usize>();
    // CMSG_SPACE(sizeof(struct ucred)): the header (cmsg_len, cmsg_level, cmsg_type), then
    // three ints, each part padded to a word.
    let mut ctl = [0usize; 1 + 8 / W + 12_usize.div_ceil(W)];
    let mut iov = [buf.as_mut_ptr() as usize, buf.len()];
    let mut msg = [0, 0, iov.as_mut_ptr() as usize, 1, ctl.as_mut_ptr() as usize, size_of_val(&ctl), 0];
    let flags = (MSG_DONTWAIT | MSG_CMSG_CLOEXEC) as usize;
    // SAFETY: `msg` is a struct msghdr pointing at `iov` (one struct iovec for `buf`) and at
    // `ctl` with its size; all live for the call, which writes only within them.
    let r = unsafe {
        linker::sys::syscall5(
            linux_raw_sys::general::__NR_recvmsg,
            fd.as_raw_fd() as usize,
            msg.as_mut_ptr() as usize,
            flags,
            0,
            0,
        )
    };
    let n = linker::sys::check(r)?;
    let int = |at: usize| (ctl[at / W] >> (at % W * 8)) as u32; // the int at byte `at`
    let data = W + 8; // CMSG_DATA: after cmsg_len (a word), cmsg_level and cmsg_type
    let creds = msg[5] >= data + 12 && int(W) == SOL_SOCKET && int(W + 4) == SCM_CREDENTIALS;
    let pid = if creds { int(data) as i32 } else { 0 };
    Ok((n.min(buf.len()), pid))
}

/// `dup3(fd, to, 0)`, or `fcntl(fd, F_SETFD, 0)` when `fd` is already `to` (dup3 refuses
/// that, EINVAL): `to` is the same pipe, without O_CLOEXEC. dup3 closes whatever `to` was, so
/// like [`close_fds`] this is for fds nothing in the process owns (a closed number in
/// [`console_stdio`]) or for a child between fork and exec, which never drops the `OwnedFd`s
/// it inherited: it execs or exits. References: dup(2), fcntl(2).
pub fn dup_to(fd: i32, to: i32) -> Result<(), Errno> {
    use linux_raw_sys::general::{__NR_dup3, __NR_fcntl, F_SETFD};
    let (nr, arg) = if fd == to { (__NR_fcntl, F_SETFD as usize) } else { (__NR_dup3, to as usize) };
    // SAFETY: no pointers; dup3 closes `to` first if open; F_SETFD 0 clears FD_CLOEXEC.
    let r = unsafe { linker::sys::syscall5(nr, fd as usize, arg, 0, 0, 0) };
    linker::sys::check(r).map(drop)
}
