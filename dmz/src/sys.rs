//! The real [`Kernel`]: one syscall per method, through rustix or the linker crate's raw
//! syscalls. dmz is single-threaded from `_start` to execve, so rustix's per-thread
//! credential calls (raw syscalls, not libc's all-threads wrappers) act on the whole process.

use crate::transition::{Errno, KResult, Kernel};
use rustix::fd::BorrowedFd;
use rustix::thread::{CapabilitySet, CapabilitySets};

/// The running kernel.
pub struct Linux;

fn errno(e: rustix::io::Errno) -> Errno {
    e.raw_os_error() as Errno
}

fn cap(n: u32) -> CapabilitySet {
    CapabilitySet::from_bits_retain(1 << n)
}

/// `fd` as a borrowed fd for rustix.
fn fd(n: u32) -> BorrowedFd<'static> {
    // SAFETY: the fd is only passed to fcntl, which checks it (EBADF) and does not close it;
    // nothing here assumes it is open or owned.
    unsafe { BorrowedFd::borrow_raw(n as i32) }
}

/// `O_WRONLY|O_CLOEXEC` for [`Linux::write_oom_score_adj`].
const OOM_PATH: &core::ffi::CStr = c"/proc/self/oom_score_adj";

impl Kernel for Linux {
    fn capbset_read(&mut self, n: u32) -> Result<bool, Errno> {
        rustix::thread::capability_is_in_bounding_set(cap(n)).map_err(errno)
    }

    fn prlimit(&mut self, resource: u32, soft: u64, hard: u64) -> KResult {
        let lim = rustix::process::Rlimit {
            current: (soft != u64::MAX).then_some(soft),
            maximum: (hard != u64::MAX).then_some(hard),
        };
        rustix::process::prlimit(None, resource_of(resource), lim).map(drop).map_err(errno)
    }

    fn write_oom_score_adj(&mut self, value: i32) -> KResult {
        use rustix::fs::{Mode, OFlags};
        let f = rustix::fs::open(OOM_PATH, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()).map_err(errno)?;
        let mut line = crate::error::Line::default();
        if value < 0 {
            line.push(b"-");
        }
        line.num(value.unsigned_abs() as u64);
        let n = rustix::io::write(&f, line.as_bytes()).map_err(errno)?;
        if n != line.as_bytes().len() {
            return Err(crate::error::EINVAL);
        }
        Ok(())
    }

    fn report(&mut self, line: &[u8]) {
        linker::write_all(2, line);
    }

    fn umask(&mut self, mask: u32) {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask as _));
    }

    fn install_seccomp(&mut self, flags: u32, program: &[u8]) -> KResult {
        linker::seccomp_set_mode_filter(flags, program).map(drop)
    }

    fn chdir(&mut self, path: &[u8]) -> KResult {
        // SAFETY: validate() checked that the configured cwd ends in its only NUL.
        let path = unsafe { core::ffi::CStr::from_bytes_with_nul_unchecked(path) };
        rustix::process::chdir(path).map_err(errno)
    }

    fn capbset_drop(&mut self, n: u32) -> KResult {
        rustix::thread::remove_capability_from_bounding_set(cap(n)).map_err(errno)
    }

    fn set_securebits(&mut self, bits: u32) -> KResult {
        let bits = rustix::thread::CapabilitiesSecureBits::from_bits_retain(bits);
        rustix::thread::set_capabilities_secure_bits(bits).map_err(errno)
    }

    fn set_keepcaps(&mut self, keep: bool) -> KResult {
        rustix::thread::set_keep_capabilities(keep).map_err(errno)
    }

    fn setgroups(&mut self, groups: &[u32]) -> KResult {
        // SAFETY: Gid is a transparent wrapper around the raw gid_t (u32), so the slices have
        // identical layout.
        let groups: &[rustix::process::Gid] = unsafe { core::mem::transmute(groups) };
        rustix::thread::set_thread_groups(groups).map_err(errno)
    }

    fn setresgid(&mut self, gid: u32) -> KResult {
        let g = rustix::process::Gid::from_raw(gid);
        rustix::thread::set_thread_res_gid(g, g, g).map_err(errno)
    }

    fn setresuid(&mut self, uid: u32) -> KResult {
        let u = rustix::process::Uid::from_raw(uid);
        rustix::thread::set_thread_res_uid(u, u, u).map_err(errno)
    }

    fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> KResult {
        let sets = CapabilitySets {
            effective: CapabilitySet::from_bits_retain(effective),
            permitted: CapabilitySet::from_bits_retain(permitted),
            inheritable: CapabilitySet::from_bits_retain(inheritable),
        };
        rustix::thread::set_capabilities(None, sets).map_err(errno)
    }

    fn ambient_clear_all(&mut self) -> KResult {
        rustix::thread::clear_ambient_capability_set().map_err(errno)
    }

    fn ambient_raise(&mut self, n: u32) -> KResult {
        rustix::thread::configure_capability_in_ambient_set(cap(n), true).map_err(errno)
    }

    fn set_no_new_privs(&mut self) -> KResult {
        rustix::thread::set_no_new_privs(true).map_err(errno)
    }

    fn clear_cloexec(&mut self, n: u32) -> KResult {
        rustix::io::fcntl_setfd(fd(n), rustix::io::FdFlags::empty()).map_err(errno)
    }

    fn cloexec_range(&mut self, first: u32, last: u32) -> KResult {
        linker::close_range(first, last, linker::sys::CLOSE_RANGE_CLOEXEC)
    }

    fn execve(&mut self, path: &[u8], argv: &[*const u8], envp: &[*const u8]) -> Errno {
        // SAFETY: path ends in NUL and argv/envp end in NULL (checked by validate and built by
        // ExecArgs); every pointer points into the config buffer, alive until execve returns.
        unsafe { linker::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) }
    }
}

/// The rlimit resource `n` (validated `< RLIM_NLIMITS`). The enum's discriminants are the
/// kernel's numbers, so this compiles to a range check.
fn resource_of(n: u32) -> rustix::process::Resource {
    use rustix::process::Resource::*;
    match n {
        0 => Cpu,
        1 => Fsize,
        2 => Data,
        3 => Stack,
        4 => Core,
        5 => Rss,
        6 => Nproc,
        7 => Nofile,
        8 => Memlock,
        9 => As,
        10 => Locks,
        11 => Sigpending,
        12 => Msgqueue,
        13 => Nice,
        14 => Rtprio,
        _ => Rttime,
    }
}
