//! What the fuzz targets share: a kernel that checks every value the transition hands it, and
//! the blob helpers.
//!
//! [`Checker`] stands in for the kernel under `dmz::run`. It asserts, call by call, what must
//! hold of any value that reaches a syscall (each assertion names the kernel rule), that no
//! call follows a failed one (fail closed), and at `execve` that the config passes
//! `dmz::validate` and that argv/envp point at NUL-terminated strings inside the config. After
//! the run, [`Checker::check_run`] compares what was applied with what the config says.

use dmz::config::{strings, Config, Rlimit, HEADER_LEN};
use dmz::transition::{Errno, KResult, Kernel};

/// One state-changing call, as the kernel saw it.
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
    Execve { path: Vec<u8>, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>> },
}

/// The checking kernel. `blob` is the config buffer dmz runs from (argv and envp must point
/// into it).
pub struct Checker<'b> {
    pub blob: &'b [u8],
    /// The kernel's last capability (PR_CAPBSET_READ answers EINVAL above it).
    pub last_cap: u32,
    /// Index of the call to fail, with `errno`.
    pub fail_at: Option<usize>,
    pub errno: Errno,
    /// The first call that failed (its index).
    pub failed: Option<usize>,
    pub calls: Vec<Call>,
    pub reports: Vec<Vec<u8>>,
    /// An injected execve failure that ends the PATH search happened.
    exec_stopped: bool,
    /// The credentials as the calls left them, for dmz's read-back: uid, gid, groups,
    /// effective, permitted, inheritable, bounding, ambient, no_new_privs.
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    caps: [u64; 3],
    bounding: u64,
    ambient: u64,
    nnp: bool,
}

/// Validates `cfg` against `k` with buffers of the sizes dmz's [`dmz::Prepared`] may use.
pub fn validates<K: Kernel>(k: &mut K, cfg: &Config) -> bool {
    let mut ptrs = vec![core::ptr::null(); dmz::transition::PTR_SLOTS];
    let mut path = vec![0u8; dmz::transition::PATH_MAX];
    dmz::validate(k, cfg, &mut dmz::Prepared::new(&mut ptrs, &mut path)).is_ok()
}

impl<'b> Checker<'b> {
    pub fn new(blob: &'b [u8], last_cap: u32, fail_at: Option<usize>, errno: Errno) -> Self {
        Checker {
            blob,
            last_cap,
            fail_at,
            errno,
            failed: None,
            calls: vec![],
            reports: vec![],
            exec_stopped: false,
            uid: 0,
            gid: 0,
            groups: vec![],
            caps: [!0 >> (63 - last_cap.min(63)), !0 >> (63 - last_cap.min(63)), 0],
            bounding: !0 >> (63 - last_cap.min(63)),
            ambient: 0,
            nnp: false,
        }
    }

    fn record(&mut self, c: Call) -> KResult {
        assert!(
            self.failed.is_none(),
            "{c:?} after the failed call {:?}",
            self.failed.map(|i| &self.calls[i])
        );
        let i = self.calls.len();
        self.calls.push(c);
        if self.fail_at == Some(i) {
            self.failed = Some(i);
            return Err(self.errno);
        }
        Ok(())
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
    fn list(&self, ptrs: &[*const u8]) -> Vec<Vec<u8>> {
        let n = ptrs.iter().position(|p| p.is_null()).expect("pointer array without NULL");
        ptrs[..n].iter().map(|&p| self.string_at(p)).collect()
    }

    /// After `dmz::run(self, blob)` returned `code`: one report line, the documented exit
    /// status, and — when the config decoded — the calls are what it names.
    /// (A run by [`run_quiet`] reports nothing.)
    pub fn check_run(&self, code: i32) {
        if let Some(line) = self.reports.first() {
            assert_eq!(self.reports.len(), 1, "one line on stderr, got {:?}", self.reports);
            let text = String::from_utf8_lossy(line);
            assert!(line.starts_with(b"dmz: unable to ") && line.ends_with(b"\n"), "{text}");
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line: {text:?}");
        }
        let failed_before_exec = self.failed.is_some_and(|i| !matches!(self.calls[i], Call::Execve { .. }));
        let valid = Config::decode(self.blob).ok().filter(|cfg| {
            let mut k = Checker::new(self.blob, self.last_cap, None, 0);
            validates(&mut k, cfg)
        });
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

    /// Everything the transition applied, against the config.
    fn check_applied(&self, c: &Config) {
        let before =
            |pred: &dyn Fn(&Call) -> bool| self.calls.iter().filter(|c| pred(c)).cloned().collect::<Vec<_>>();
        let rl: Vec<Rlimit> = c.rlimits.to_vec();
        let got: Vec<Call> = before(&|x| matches!(x, Call::Prlimit(..)));
        assert_eq!(got, rl.iter().map(|r| Call::Prlimit(r.resource, r.soft, r.hard)).collect::<Vec<_>>());
        assert_eq!(
            before(&|x| matches!(x, Call::Oom(_))),
            c.oom_score_adj.map(Call::Oom).into_iter().collect::<Vec<_>>()
        );
        assert_eq!(before(&|x| matches!(x, Call::Umask(_))), vec![Call::Umask(c.umask)]);
        let sc = c.seccomp.map(|s| Call::Seccomp(s.flags, s.program.0.to_vec()));
        assert_eq!(before(&|x| matches!(x, Call::Seccomp(..))), sc.into_iter().collect::<Vec<_>>());
        if !c.cwd.0.is_empty() {
            assert!(self.calls.contains(&Call::Chdir(c.cwd.0.to_vec())), "cwd not applied");
        }
        assert_eq!(self.calls.contains(&Call::Nnp), c.no_new_privs);
        if let Some(k) = c.caps {
            let drops: Vec<u32> = self
                .calls
                .iter()
                .filter_map(|x| if let Call::CapbsetDrop(n) = x { Some(*n) } else { None })
                .collect();
            let want: Vec<u32> = (0..=self.last_cap).filter(|&n| k.bounding & 1 << n == 0).collect();
            assert_eq!(drops, want, "bounding set");
            assert!(self.calls.contains(&Call::Capset(k.effective, k.permitted, k.inheritable)), "capset");
            let raised: Vec<u32> = self
                .calls
                .iter()
                .filter_map(|x| if let Call::AmbientRaise(n) = x { Some(*n) } else { None })
                .collect();
            assert_eq!(raised, (0..64).filter(|&n| k.ambient & 1 << n != 0).collect::<Vec<u32>>(), "ambient");
        } else {
            assert!(!self.calls.iter().any(|x| matches!(x, Call::Capset(..) | Call::CapbsetDrop(_))));
        }
        let kept: Vec<u32> = self
            .calls
            .iter()
            .filter_map(|x| if let Call::ClearCloexec(n) = x { Some(*n) } else { None })
            .collect();
        assert_eq!(kept, c.preserve_fds.to_vec(), "preserved fds");
        // Each configured id set exactly once, before the exec; the others not at all.
        for (is, configured) in [
            ((|x: &Call| matches!(x, Call::Groups(_))) as fn(&Call) -> bool, c.groups.is_some()),
            (|x| matches!(x, Call::ResGid(_)), c.gid.is_some()),
            (|x| matches!(x, Call::ResUid(_)), c.uid.is_some()),
        ] {
            let n = self.calls.iter().filter(|x| is(x)).count();
            assert_eq!(n, configured as usize, "ids set once if configured: {:?}", self.calls);
        }
        let Some(Call::Execve { argv, envp, .. }) =
            self.calls.iter().find(|x| matches!(x, Call::Execve { .. }))
        else {
            return; // the PATH search failed before any execve (a name too long)
        };
        assert_eq!(argv, &strings(c.args.0).map(<[u8]>::to_vec).collect::<Vec<_>>(), "argv");
        assert_eq!(envp, &strings(c.env.0).map(<[u8]>::to_vec).collect::<Vec<_>>(), "envp");
    }
}

/// A path argument: its NUL last and only there.
fn c_path(p: &[u8]) -> bool {
    p.iter().position(|&b| b == 0) == Some(p.len().wrapping_sub(1))
}

impl Kernel for Checker<'_> {
    fn capbset_read(&mut self, cap: u32) -> Result<bool, Errno> {
        assert!(self.failed.is_none(), "capbset_read after {:?}", self.failed.map(|i| &self.calls[i]));
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
        let _ = self.record(Call::Umask(m));
        // umask cannot fail: an injected failure here is ignored.
        if self.failed == Some(self.calls.len() - 1) {
            self.failed = None;
            self.fail_at = None;
        }
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
    fn chdir(&mut self, p: &[u8]) -> KResult {
        assert!(c_path(p), "chdir path {p:?}");
        let first = !self.calls.iter().any(|c| matches!(c, Call::Chdir(_)));
        let r = self.record(Call::Chdir(p.to_vec()));
        // The first chdir's EACCES or EPERM is not a failed step: dmz tries again as the
        // target user (runc's rule).
        if r.is_err() && first && matches!(self.errno, 1 | 13) {
            self.failed = None;
            self.fail_at = None;
        }
        r
    }
    fn capbset_drop(&mut self, cap: u32) -> KResult {
        assert!(cap <= self.last_cap, "capbset_drop({cap})");
        self.record(Call::CapbsetDrop(cap))?;
        self.bounding &= !(1 << cap);
        Ok(())
    }
    fn set_securebits(&mut self, b: u32) -> KResult {
        assert!(b & !0xff == 0, "securebits {b:#x}");
        self.record(Call::Securebits(b))
    }
    fn set_keepcaps(&mut self, k: bool) -> KResult {
        self.record(Call::KeepCaps(k))
    }
    fn setgroups(&mut self, g: &[u32]) -> KResult {
        // setgroups(2) takes gid_t; (gid_t)-1 is not a group a process can be given.
        assert!(g.len() <= dmz::config::MAX_GROUPS && !g.contains(&u32::MAX), "setgroups({g:?})");
        self.record(Call::Groups(g.to_vec()))?;
        self.groups = g.to_vec();
        Ok(())
    }
    fn setresgid(&mut self, g: u32) -> KResult {
        // setresgid(2): -1 leaves the id unchanged: the target would keep the caller's gid.
        assert_ne!(g, u32::MAX, "setresgid(-1) leaves the caller's gid");
        self.record(Call::ResGid(g))?;
        self.gid = g;
        Ok(())
    }
    fn setresuid(&mut self, u: u32) -> KResult {
        // setresuid(2): -1 leaves the id unchanged: the target would keep the caller's uid.
        assert_ne!(u, u32::MAX, "setresuid(-1) leaves the caller's uid");
        self.record(Call::ResUid(u))?;
        self.uid = u;
        Ok(())
    }
    fn capset(&mut self, e: u64, p: u64, i: u64) -> KResult {
        let unknown = !0u64 << self.last_cap << 1;
        assert!((e | p | i) & unknown == 0, "capset with capabilities the kernel does not know");
        self.record(Call::Capset(e, p, i))?;
        self.caps = [e, p, i];
        Ok(())
    }
    fn ambient_clear_all(&mut self) -> KResult {
        self.record(Call::AmbientClear)?;
        self.ambient = 0;
        Ok(())
    }
    fn ambient_raise(&mut self, cap: u32) -> KResult {
        assert!(cap <= self.last_cap, "ambient_raise({cap})");
        self.record(Call::AmbientRaise(cap))?;
        self.ambient |= 1 << cap;
        Ok(())
    }
    fn set_no_new_privs(&mut self) -> KResult {
        self.record(Call::Nnp)?;
        self.nnp = true;
        Ok(())
    }
    fn fd_owner(&mut self, fd: u32) -> Result<(u32, u64), Errno> {
        assert!(self.failed.is_none() && fd < 3, "fd_owner({fd})");
        Ok((0, 0))
    }
    fn fchown(&mut self, fd: u32, uid: u32) -> KResult {
        // -1 to fchown leaves the owner: the id range check keeps it out.
        assert!(fd < 3 && uid <= i32::MAX as u32, "fchown({fd}, {uid})");
        let r = self.record(Call::Chown(fd, uid));
        // EINVAL, EPERM and EROFS from fchown are not fatal to the transition (runc's rule),
        // nor is EBADF (dmz skips a closed fd): an injected one of those is not a failed step.
        if r.is_err() && matches!(self.errno, 1 | 9 | 22 | 30) {
            self.failed = None;
            self.fail_at = None;
        }
        r
    }
    fn setgroups_denied(&mut self) -> bool {
        assert!(self.failed.is_none());
        false
    }
    fn getresuid(&mut self, ids: &mut [u32; 3]) -> KResult {
        assert!(self.failed.is_none());
        *ids = [self.uid; 3];
        Ok(())
    }
    fn getresgid(&mut self, ids: &mut [u32; 3]) -> KResult {
        assert!(self.failed.is_none());
        *ids = [self.gid; 3];
        Ok(())
    }
    fn getgroups(&mut self, out: &mut [u32]) -> Result<usize, Errno> {
        assert!(self.failed.is_none());
        let n = self.groups.len();
        out.get_mut(..n).ok_or(22u16)?.copy_from_slice(&self.groups);
        Ok(n)
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
    fn execve(&mut self, path: &[u8], argv: &[*const u8], envp: &[*const u8]) -> Errno {
        assert!(c_path(path), "execve path {path:?}");
        assert!(path.len() <= 4096, "execve path longer than PATH_MAX");
        let (argv, envp) = (self.list(argv), self.list(envp));
        assert!(!argv.is_empty() && !argv[0].is_empty(), "execve without a program name");
        // The transition only execs a config that passes validation, with every id set
        // (checked at the first execve of the PATH search; decoding again costs a CRC).
        if !self.calls.iter().any(|c| matches!(c, Call::Execve { .. })) {
            let cfg = Config::decode(self.blob).expect("execve for a config that does not decode");
            let mut k = Checker::new(self.blob, self.last_cap, None, 0);
            assert!(validates(&mut k, &cfg), "execve for a config that fails validation");
            let set = |f: fn(&Call) -> bool| self.calls.iter().any(f);
            assert!(cfg.groups.is_none() || set(|c| matches!(c, Call::Groups(_))), "execve before setgroups");
            assert!(cfg.gid.is_none() || set(|c| matches!(c, Call::ResGid(_))), "execve before setresgid");
            assert!(cfg.uid.is_none() || set(|c| matches!(c, Call::ResUid(_))), "execve before setresuid");
        }
        // The PATH search goes on only after an errno that means "not here" (execvpe's list).
        assert!(!self.exec_stopped, "execve after an execve failure that ends the search");
        let i = self.calls.len();
        self.calls.push(Call::Execve { path: path.to_vec(), argv, envp });
        if self.fail_at == Some(i) {
            self.exec_stopped = !matches!(self.errno, 2 | 13 | 19 | 20 | 110 | 116);
            return self.errno;
        }
        // A checking kernel's execve returns: ENOENT, so the PATH search goes on.
        2
    }
    fn report(&mut self, line: &[u8]) {
        self.reports.push(line.to_vec());
    }
}

/// `dmz::run` without its report: the same decode, validation and transition, and the exit
/// status of the error. Writing the message decodes dmz's packed texts from their start, which
/// under coverage instrumentation costs more than everything else; the targets run the real
/// `dmz::run` on a share of their inputs and this on the rest.
pub fn run_quiet<K: Kernel>(k: &mut K, blob: &[u8]) -> i32 {
    let mut cfg = Config::default();
    let err = match cfg.decode_into(blob) {
        Err(e) => e,
        Ok(()) => {
            let mut ptrs = vec![core::ptr::null(); dmz::transition::PTR_SLOTS];
            let mut path = vec![0u8; dmz::transition::PATH_MAX];
            let mut p = dmz::Prepared::new(&mut ptrs, &mut path);
            match dmz::validate(k, &cfg, &mut p) {
                Err(e) => e,
                Ok(()) => dmz::transition(k, &cfg, &mut p),
            }
        }
    };
    err.exit_code()
}

/// `blob` with its header's length and CRC made right for its body (the magic and version
/// are kept), so mutations reach the body decoder instead of stopping at the CRC.
pub fn fix_header(blob: &mut [u8]) {
    if blob.len() >= HEADER_LEN {
        let (head, body) = blob.split_at_mut(HEADER_LEN);
        let (magic, version) = ([head[0], head[1], head[2], head[3]], u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        dmz::config::write_header(head, magic, version, body);
    }
}

/// Runs a compiled dmz config through `dmz::run` against the checking kernel (no failure
/// injected, last capability 40) and checks the run. For the compiler targets: what the
/// launcher writes must decode and validate.
pub fn run_compiled(blob: &[u8]) {
    let cfg =
        Config::decode(blob).unwrap_or_else(|e| panic!("the launcher wrote a config dmz refuses: {e:?}"));
    let again = launcher::wire::Dmz::from_config(&cfg).blob().expect("re-encodes");
    assert_eq!(again, blob, "the launcher's blob is postcard's encoding of what dmz decodes");
    let mut k = Checker::new(blob, 40, None, 0);
    let code = dmz::run(&mut k, blob);
    assert_eq!(k.reports.len(), 1, "dmz::run reports once");
    k.check_run(code);
}

/// A refusal or warning is one line (it is printed after "launcher: ").
pub fn one_line(msg: &str) {
    assert!(!msg.is_empty() && !msg.contains('\n'), "not one line: {msg:?}");
}

/// A seccomp profile → (flags, program) for `arch`, as the launcher compiles `linux.seccomp`
/// (kernel 6.1 for Docker's minKernel conditions; warnings must be one line).
pub fn compile_profile(
    file: &str,
    at: &str,
    profile: &serde_json::Value,
    c: &launcher::oci::Compiled,
    arch: launcher::seccomp::Arch,
) -> Result<Option<(u32, Vec<u8>)>, String> {
    use launcher::seccomp::{compile, KernelVersion, Target};
    let bounding = launcher::names::cap_names(c.caps.map_or(0, |k| k.bounding));
    let target = Target { arch, kernel: KernelVersion(6, 1) };
    let filter = compile(file, at, profile, &bounding, &target, &mut |w| one_line(&w))?;
    Ok(filter.map(|f| (f.flags, f.program)))
}
