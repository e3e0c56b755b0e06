//! The recording kernel: stands in for the kernel under `dmz::run` in dmz's transition tests
//! (tests/transition.rs) and in the fuzz targets (fuzz/src/lib.rs includes this file).
//!
//! [`Recorder`] records every state-changing call, fails the one asked for, and keeps the
//! credentials the calls set for dmz to read back. It asserts, call by call, what must hold of
//! any value that reaches a syscall (each assertion names the kernel rule), that no call
//! follows a failed one (fail closed), and at `execve` that the config passes
//! `dmz::validate`, that the ids it names were set, and that argv/envp point at NUL-terminated
//! strings inside the config. After the run, [`Recorder::check_run`] compares what was applied
//! with what the config says.
#![allow(dead_code)] // the tests and the fuzz targets each use a different subset

use dmz::config::{strings, Config, Rlimit};
use dmz::transition::{Errno, ExecList, KResult, Kernel};
use std::ffi::CStr;

/// One state-changing call, as the kernel saw it (paths without their NUL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Prlimit(u32, u64, u64),
    Oom(i32),
    Umask(u32),
    Seccomp(u32, Vec<u8>),
    Chdir(Vec<u8>),
    CapbsetDrop(u32),
    Securebits(u32),
    KeepCaps(bool),
    Chown(u32, u32),
    Groups(Vec<u32>),
    ResGid(u32),
    ResUid(u32),
    Capset(u64, u64, u64),
    AmbientClear,
    AmbientRaise(u32),
    Nnp,
    ClearCloexec(u32),
    CloexecRange(u32, u32),
    Execve(Vec<u8>),
}

/// Which calls a recorder fails, and with which errno.
pub type FailIf = fn(&Call) -> Option<Errno>;
/// Which calls a recorder answers with success without doing them.
pub type Fake = fn(&Call) -> bool;

/// The recording kernel. Fails the call number `fail_at` (0-based) with `fail_errno`, or any
/// call for which `fail_if` says so; a call for which `fake` says so returns success and
/// changes nothing (a seccomp filter's `SCMP_ACT_ERRNO(0)`).
pub struct Recorder<'b> {
    /// The config buffer dmz runs from (argv and envp must point into it); set by [`Self::run`].
    pub blob: &'b [u8],
    /// The kernel's last capability (PR_CAPBSET_READ answers EINVAL above it).
    pub last_cap: u32,
    pub fail_at: Option<usize>,
    pub fail_errno: Errno,
    pub fail_if: FailIf,
    pub fake: Fake,
    /// The first call that failed (its index), unless the transition may go on after it.
    pub failed: Option<usize>,
    pub calls: Vec<Call>,
    /// argv and envp of the first execve.
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    pub reports: Vec<String>,
    /// What `fd_owner` answers for fds 0, 1, 2 (uid, device); Err: its errno.
    pub stdio: [Result<(u32, u64), Errno>; 3],
    pub setgroups_deny: bool,
    pub uid: [u32; 3],
    pub gid: [u32; 3],
    pub groups: Vec<u32>,
    /// effective, permitted, inheritable
    pub caps: [u64; 3],
    pub bounding: u64,
    pub ambient: u64,
    pub nnp: bool,
    /// Every PR_CAPBSET_READ probe, in order.
    pub probes: Vec<u32>,
    /// Probes of this capability and above fail with this errno instead of EINVAL's answer.
    pub probe_fails: Option<(u32, Errno)>,
    /// An execve failure that ends the PATH search happened.
    exec_stopped: bool,
}

/// Validates `cfg` against `k` with buffers of the sizes dmz's [`dmz::Prepared`] may use.
pub fn validates<K: Kernel>(k: &mut K, cfg: &Config) -> bool {
    let mut ptrs = vec![core::ptr::null(); dmz::transition::PTR_SLOTS];
    let mut path = vec![0u8; dmz::transition::PATH_MAX];
    dmz::validate(k, cfg, &mut dmz::Prepared::new(&mut ptrs, &mut path)).is_ok()
}

/// A path argument without its NUL.
fn c_path(p: &CStr) -> Vec<u8> {
    p.to_bytes().to_vec()
}

impl<'b> Recorder<'b> {
    /// A root process with every capability of a kernel whose last one is `last_cap`.
    pub fn new(last_cap: u32) -> Self {
        let all = !0 >> (63 - last_cap.min(63));
        Recorder {
            blob: &[],
            last_cap,
            fail_at: None,
            fail_errno: 1,
            fail_if: |_| None,
            fake: |_| false,
            failed: None,
            calls: vec![],
            argv: vec![],
            envp: vec![],
            reports: vec![],
            stdio: [Ok((0, 0)); 3],
            setgroups_deny: false,
            uid: [0; 3],
            gid: [0; 3],
            groups: vec![0],
            caps: [all, all, 0],
            bounding: all,
            ambient: 0,
            nnp: false,
            probes: vec![],
            probe_fails: None,
            exec_stopped: false,
        }
    }

    /// `dmz::run(self, blob)`: the exit status.
    pub fn run(&mut self, blob: &'b [u8]) -> i32 {
        self.blob = blob;
        dmz::run(self, blob)
    }

    fn record(&mut self, c: Call) -> KResult {
        assert!(
            self.failed.is_none(),
            "{c:?} after the failed call {:?}",
            self.failed.map(|i| &self.calls[i])
        );
        let i = self.calls.len();
        let fail = if self.fail_at == Some(i) { Some(self.fail_errno) } else { (self.fail_if)(&c) };
        let fake = (self.fake)(&c);
        self.calls.push(c.clone());
        if let Some(e) = fail {
            self.failed = Some(i);
            return Err(e);
        }
        if !fake {
            match c {
                Call::Groups(g) => self.groups = g,
                Call::ResGid(g) => self.gid = [g; 3],
                Call::ResUid(u) => self.uid = [u; 3],
                Call::Capset(e, p, i) => self.caps = [e, p, i],
                Call::CapbsetDrop(n) => self.bounding &= !(1 << n),
                Call::AmbientClear => self.ambient = 0,
                Call::AmbientRaise(n) => self.ambient |= 1 << n,
                Call::Nnp => self.nnp = true,
                _ => {}
            }
        }
        Ok(())
    }

    /// A failed call after which the transition goes on, by the rule `goes_on` about its errno.
    fn may_go_on(&mut self, r: KResult, goes_on: bool) -> KResult {
        if r.is_err() && goes_on {
            self.failed = None;
        }
        r
    }

    /// The NUL-terminated string at `p`, which must lie inside the config buffer.
    fn string_at(&self, p: *const u8) -> Vec<u8> {
        let start = self.blob.as_ptr() as usize;
        let at = (p as usize).checked_sub(start).filter(|&o| o < self.blob.len());
        let at = at.unwrap_or_else(|| panic!("pointer {p:?} outside the config buffer"));
        let rest = &self.blob[at..];
        let n = rest.iter().position(|&b| b == 0).expect("string without NUL inside the config buffer");
        rest[..n].to_vec()
    }

    /// A NULL-terminated pointer array → its strings.
    fn list(&self, list: &ExecList) -> Vec<Vec<u8>> {
        let ptrs = list.as_slice();
        let n = ptrs.iter().position(|p| p.is_null()).expect("pointer array without NULL");
        ptrs[..n].iter().map(|&p| self.string_at(p)).collect()
    }

    /// After [`Self::run`] returned `code`: at most one report line, the documented exit
    /// status, and — when the config decoded — the calls are what it names.
    pub fn check_run(&self, code: i32) {
        if let Some(line) = self.reports.first() {
            assert_eq!(self.reports.len(), 1, "one line on stderr, got {:?}", self.reports);
            assert!(line.starts_with("dmz: unable to ") && line.ends_with('\n'), "{line}");
            assert_eq!(line.matches('\n').count(), 1, "one line: {line:?}");
        }
        let failed_before_exec = self.failed.is_some_and(|i| !matches!(self.calls[i], Call::Execve(_)));
        let valid =
            Config::decode(self.blob).ok().filter(|cfg| validates(&mut Recorder::new(self.last_cap), cfg));
        match code {
            // Refused, or a step before exec failed: then it was the last call.
            125 => {
                if failed_before_exec {
                    assert_eq!(self.failed, Some(self.calls.len() - 1), "calls after the failed one");
                } else {
                    assert!(valid.is_none(), "125 for a valid config without a failed step");
                    assert!(self.calls.is_empty(), "calls for a refused config: {:?}", self.calls);
                }
            }
            // The exec step: every step before it was applied.
            126 | 127 => {
                assert!(!failed_before_exec, "{code} after a failed step");
                let cfg = valid.expect("exec step reached for a refused config");
                self.check_applied(&cfg);
            }
            c => panic!("exit status {c}"),
        }
    }

    /// Where `call` was first made; panics if it was not.
    pub fn position(&self, call: &Call) -> usize {
        self.calls.iter().position(|c| c == call).unwrap_or_else(|| panic!("no {call:?} in {:?}", self.calls))
    }

    /// The paths execve was called with, in order.
    pub fn execs(&self) -> Vec<String> {
        let path = |c: &Call| {
            if let Call::Execve(p) = c {
                Some(String::from_utf8_lossy(p).into_owned())
            } else {
                None
            }
        };
        self.calls.iter().filter_map(path).collect()
    }

    /// The calls matching `pred`, in order.
    fn calls_where(&self, pred: impl Fn(&Call) -> bool) -> Vec<Call> {
        self.calls.iter().filter(|c| pred(c)).cloned().collect()
    }

    /// Everything the transition applied, against the config.
    fn check_applied(&self, c: &Config) {
        let rl: Vec<Rlimit> = c.rlimits.to_vec();
        let want: Vec<Call> = rl.iter().map(|r| Call::Prlimit(r.resource, r.soft, r.hard)).collect();
        assert_eq!(self.calls_where(|x| matches!(x, Call::Prlimit(..))), want, "rlimits");
        let want: Vec<Call> = c.oom_score_adj.map(Call::Oom).into_iter().collect();
        assert_eq!(self.calls_where(|x| matches!(x, Call::Oom(_))), want, "oom_score_adj");
        assert_eq!(self.calls_where(|x| matches!(x, Call::Umask(_))), [Call::Umask(c.umask)]);
        let want: Vec<Call> =
            c.seccomp.map(|s| Call::Seccomp(s.flags, s.program.0.to_vec())).into_iter().collect();
        assert_eq!(self.calls_where(|x| matches!(x, Call::Seccomp(..))), want, "seccomp");
        if let Some((_, cwd)) = c.cwd.0.split_last() {
            assert!(self.calls.contains(&Call::Chdir(cwd.to_vec())), "cwd not applied");
        }
        assert_eq!(self.calls.contains(&Call::Nnp), c.no_new_privs);
        if let Some(k) = c.caps {
            // Out of the bounding set: what the config leaves out, by dropping only that.
            let dropped = self.calls_where(|x| matches!(x, Call::CapbsetDrop(n) if k.bounding & 1 << n == 0));
            assert_eq!(
                dropped,
                self.calls_where(|x| matches!(x, Call::CapbsetDrop(_))),
                "dropped a configured capability"
            );
            assert_eq!(self.bounding & !k.bounding, 0, "bounding set");
            assert!(self.calls.contains(&Call::Capset(k.effective, k.permitted, k.inheritable)), "capset");
            let want: Vec<Call> =
                (0..64).filter(|&n| k.ambient & 1 << n != 0).map(Call::AmbientRaise).collect();
            assert_eq!(self.calls_where(|x| matches!(x, Call::AmbientRaise(_))), want, "ambient");
        } else {
            assert!(!self.calls.iter().any(|x| matches!(x, Call::Capset(..) | Call::CapbsetDrop(_))));
        }
        let want: Vec<Call> = c.preserve_fds.iter().map(|&fd| Call::ClearCloexec(fd)).collect();
        assert_eq!(self.calls_where(|x| matches!(x, Call::ClearCloexec(_))), want, "preserved fds");
        // Each configured id set exactly once, before the exec; the others not at all.
        for (is, configured) in [
            (
                (|x: &Call| matches!(x, Call::Groups(_))) as fn(&Call) -> bool,
                c.groups.is_some() && !self.setgroups_deny,
            ),
            (|x| matches!(x, Call::ResGid(_)), c.gid.is_some()),
            (|x| matches!(x, Call::ResUid(_)), c.uid.is_some()),
        ] {
            assert_eq!(
                self.calls_where(is).len(),
                configured as usize,
                "ids set once if configured: {:?}",
                self.calls
            );
        }
        if self.execs().is_empty() {
            return; // the PATH search failed before any execve (a name too long)
        }
        assert_eq!(self.argv, strings(c.args.0).map(<[u8]>::to_vec).collect::<Vec<_>>(), "argv");
        assert_eq!(self.envp, strings(c.env.0).map(<[u8]>::to_vec).collect::<Vec<_>>(), "envp");
    }
}

impl Kernel for Recorder<'_> {
    fn capbset_read(&mut self, cap: u32) -> Result<bool, Errno> {
        assert!(self.failed.is_none(), "capbset_read after {:?}", self.failed.map(|i| &self.calls[i]));
        self.probes.push(cap);
        if let Some((_, e)) = self.probe_fails.filter(|&(from, _)| cap >= from) {
            return Err(e);
        }
        if cap <= self.last_cap {
            Ok(self.bounding & 1 << cap != 0)
        } else {
            Err(22)
        }
    }
    fn prlimit(&mut self, r: u32, soft: u64, hard: u64) -> KResult {
        // getrlimit(2): EINVAL for resource >= RLIM_NLIMITS or soft > hard.
        assert!(r < 16 && soft <= hard, "prlimit({r}, {soft}, {hard})");
        self.record(Call::Prlimit(r, soft, hard))
    }
    fn write_oom_score_adj(&mut self, v: i32) -> KResult {
        assert!((-1000..=1000).contains(&v), "oom_score_adj {v}");
        self.record(Call::Oom(v))
    }
    fn umask(&mut self, m: u32) {
        // umask(2) silently takes mask & 0777: anything above would be lost, not refused.
        assert!(m <= 0o777, "umask {m:o}");
        // umask cannot fail: an injected failure here is ignored.
        let r = self.record(Call::Umask(m));
        let _ = self.may_go_on(r, true);
    }
    fn install_seccomp(&mut self, flags: u32, p: &[u8]) -> KResult {
        // seccomp(2): EINVAL for an empty program, one over BPF_MAXINSNS, or a partial insn.
        assert!(
            !p.is_empty() && p.len().is_multiple_of(8) && p.len() / 8 <= 4096,
            "seccomp program of {} bytes",
            p.len()
        );
        self.record(Call::Seccomp(flags, p.to_vec()))
    }
    fn chdir(&mut self, p: &CStr) -> KResult {
        let first = !self.calls.iter().any(|c| matches!(c, Call::Chdir(_)));
        let r = self.record(Call::Chdir(c_path(p)));
        // The first chdir's EACCES or EPERM is not a failed step: dmz tries again as the
        // target user (runc's rule).
        self.may_go_on(r, first && matches!(r, Err(1 | 13)))
    }
    fn capbset_drop(&mut self, cap: u32) -> KResult {
        assert!(cap <= self.last_cap, "capbset_drop({cap})");
        self.record(Call::CapbsetDrop(cap))
    }
    fn set_securebits(&mut self, b: u32) -> KResult {
        assert!(b & !0xff == 0, "securebits {b:#x}");
        self.record(Call::Securebits(b))
    }
    fn set_keepcaps(&mut self, k: bool) -> KResult {
        self.record(Call::KeepCaps(k))
    }
    fn fd_owner(&mut self, fd: u32) -> Result<(u32, u64), Errno> {
        assert!(self.failed.is_none() && fd < 3, "fd_owner({fd})");
        self.stdio[fd as usize]
    }
    fn fchown(&mut self, fd: u32, uid: u32) -> KResult {
        // -1 to fchown leaves the owner: the id range check keeps it out.
        assert!(fd < 3 && uid <= i32::MAX as u32, "fchown({fd}, {uid})");
        let r = self.record(Call::Chown(fd, uid));
        // EINVAL, EPERM and EROFS from fchown are not fatal to the transition (runc's rule),
        // nor is EBADF (dmz skips a closed fd).
        self.may_go_on(r, matches!(r, Err(1 | 9 | 22 | 30)))
    }
    fn setgroups_denied(&mut self) -> bool {
        assert!(self.failed.is_none());
        self.setgroups_deny
    }
    fn setgroups(&mut self, g: &[u32]) -> KResult {
        // setgroups(2) takes gid_t; (gid_t)-1 is not a group a process can be given.
        assert!(g.len() <= dmz::config::MAX_GROUPS && !g.contains(&u32::MAX), "setgroups({g:?})");
        self.record(Call::Groups(g.to_vec()))
    }
    fn setresgid(&mut self, g: u32) -> KResult {
        // setresgid(2): -1 leaves the id unchanged: the target would keep the caller's gid.
        assert_ne!(g, u32::MAX, "setresgid(-1) leaves the caller's gid");
        self.record(Call::ResGid(g))
    }
    fn setresuid(&mut self, u: u32) -> KResult {
        // setresuid(2): -1 leaves the id unchanged: the target would keep the caller's uid.
        assert_ne!(u, u32::MAX, "setresuid(-1) leaves the caller's uid");
        self.record(Call::ResUid(u))
    }
    fn capset(&mut self, e: u64, p: u64, i: u64) -> KResult {
        let unknown = !0u64 << self.last_cap << 1;
        assert!((e | p | i) & unknown == 0, "capset with capabilities the kernel does not know");
        self.record(Call::Capset(e, p, i))
    }
    fn ambient_clear_all(&mut self) -> KResult {
        self.record(Call::AmbientClear)
    }
    fn ambient_raise(&mut self, cap: u32) -> KResult {
        assert!(cap <= self.last_cap, "ambient_raise({cap})");
        self.record(Call::AmbientRaise(cap))
    }
    fn set_no_new_privs(&mut self) -> KResult {
        self.record(Call::Nnp)
    }
    fn getresuid(&mut self, ids: &mut [u32; 3]) -> KResult {
        assert!(self.failed.is_none());
        *ids = self.uid;
        Ok(())
    }
    fn getresgid(&mut self, ids: &mut [u32; 3]) -> KResult {
        assert!(self.failed.is_none());
        *ids = self.gid;
        Ok(())
    }
    fn getgroups(&mut self, out: &mut [u32]) -> Result<usize, Errno> {
        assert!(self.failed.is_none());
        // The kernel keeps the groups sorted (groups_sort in kernel/groups.c).
        let mut sorted = self.groups.clone();
        sorted.sort_unstable();
        out.get_mut(..sorted.len()).ok_or(22u16)?.copy_from_slice(&sorted);
        Ok(sorted.len())
    }
    fn capget(&mut self, data: &mut [u32; 6]) -> KResult {
        assert!(self.failed.is_none());
        let [e, p, i] = self.caps;
        *data = [e as u32, p as u32, i as u32, (e >> 32) as u32, (p >> 32) as u32, (i >> 32) as u32];
        Ok(())
    }
    fn ambient_is_set(&mut self, cap: u32) -> Result<bool, Errno> {
        assert!(self.failed.is_none());
        if cap <= self.last_cap {
            Ok(self.ambient & 1 << cap != 0)
        } else {
            Err(22)
        }
    }
    fn get_no_new_privs(&mut self) -> Result<bool, Errno> {
        assert!(self.failed.is_none());
        Ok(self.nnp)
    }
    fn clear_cloexec(&mut self, fd: u32) -> KResult {
        assert!((3..=i32::MAX as u32).contains(&fd), "clear_cloexec({fd})");
        self.record(Call::ClearCloexec(fd))
    }
    fn cloexec_range(&mut self, a: u32, b: u32) -> KResult {
        assert!(a >= 3 && a <= b, "cloexec_range({a}, {b})");
        self.record(Call::CloexecRange(a, b))
    }
    fn execve(&mut self, path: &CStr, argv: &ExecList, envp: &ExecList) -> Errno {
        assert!(self.failed.is_none(), "execve after {:?}", self.failed.map(|i| &self.calls[i]));
        let path = c_path(path);
        assert!(path.len() < 4096, "execve path longer than PATH_MAX");
        let (argv, envp) = (self.list(argv), self.list(envp));
        assert!(!argv.is_empty() && !argv[0].is_empty(), "execve without a program name");
        // The transition only execs a config that passes validation, with every id set
        // (checked at the first execve of the PATH search; decoding again costs a CRC).
        if self.execs().is_empty() {
            let cfg = Config::decode(self.blob).expect("execve for a config that does not decode");
            assert!(
                validates(&mut Recorder::new(self.last_cap), &cfg),
                "execve for a config that fails validation"
            );
            let set = |f: fn(&Call) -> bool| self.calls.iter().any(f);
            let groups = cfg.groups.is_none() || self.setgroups_deny || set(|c| matches!(c, Call::Groups(_)));
            assert!(groups, "execve before setgroups");
            assert!(cfg.gid.is_none() || set(|c| matches!(c, Call::ResGid(_))), "execve before setresgid");
            assert!(cfg.uid.is_none() || set(|c| matches!(c, Call::ResUid(_))), "execve before setresuid");
            (self.argv, self.envp) = (argv, envp);
        }
        // The PATH search goes on only after an errno that means "not here" (execvpe's list).
        assert!(!self.exec_stopped, "execve after an execve failure that ends the search");
        let call = Call::Execve(path);
        let fail = if self.fail_at == Some(self.calls.len()) {
            Some(self.fail_errno)
        } else {
            (self.fail_if)(&call)
        };
        self.calls.push(call);
        match fail {
            Some(e) => {
                self.exec_stopped = !matches!(e, 2 | 13 | 19 | 20 | 110 | 116);
                e
            }
            // A recording kernel's execve returns: ENOENT, so the PATH search goes on.
            None => 2,
        }
    }
    fn report(&mut self, line: &[u8]) {
        self.reports.push(String::from_utf8_lossy(line).into_owned());
    }
}
