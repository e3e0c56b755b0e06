//! The transition against a recording kernel: exact call order, a failure injected at every
//! step stops there with the right message and exit status, and validation changes nothing.

use dmz::config::{Bytes, Caps, Config, Rlimit, Seccomp};
use dmz::transition::{Errno, KResult, Kernel};

#[derive(Debug, Clone, PartialEq)]
enum Call {
    Prlimit(u32, u64, u64),
    Oom(i32),
    Umask(u32),
    Seccomp(u32, usize),
    Chdir(String),
    CapbsetDrop(u32),
    Securebits(u32),
    KeepCaps(bool),
    Groups(Vec<u32>),
    ResGid(u32),
    ResUid(u32),
    Capset(u64, u64, u64),
    AmbientClear,
    AmbientRaise(u32),
    Nnp,
    ClearCloexec(u32),
    CloexecRange(u32, u32),
    Execve(String),
    LlCreate([u64; 3]),
    OpenPath(String),
    LlPathRule(u32, u32, u64),
    LlPortRule(u32, u64, u64),
    LlRestrict(u32),
    Close(u32),
}

/// Records every state-changing call; fails the call number `fail_at` (0-based) with
/// `fail_errno`, or any call for which `fail_if` says so.
struct Recorder {
    calls: Vec<Call>,
    last_cap: u32,
    fail_at: Option<usize>,
    fail_errno: Errno,
    fail_if: FailIf,
    reports: Vec<String>,
    /// The Landlock ABI the recorder reports (7: this machine's kernel).
    abi: u32,
    /// The next fd open_path or landlock_create_ruleset returns.
    next_fd: u32,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            calls: vec![],
            last_cap: 40,
            fail_at: None,
            fail_errno: 1,
            fail_if: |_| None,
            reports: vec![],
            abi: 7,
            next_fd: 10,
        }
    }

    fn record(&mut self, c: Call) -> KResult {
        let fail =
            if self.fail_at == Some(self.calls.len()) { Some(self.fail_errno) } else { (self.fail_if)(&c) };
        self.calls.push(c);
        fail.map_or(Ok(()), Err)
    }
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b.strip_suffix(&[0]).unwrap_or(b)).into_owned()
}

impl Kernel for Recorder {
    fn capbset_read(&mut self, cap: u32) -> Result<bool, Errno> {
        if cap <= self.last_cap {
            Ok(true)
        } else {
            Err(22)
        }
    }
    fn prlimit(&mut self, r: u32, soft: u64, hard: u64) -> KResult {
        self.record(Call::Prlimit(r, soft, hard))
    }
    fn write_oom_score_adj(&mut self, v: i32) -> KResult {
        self.record(Call::Oom(v))
    }
    fn umask(&mut self, m: u32) {
        self.calls.push(Call::Umask(m));
    }
    fn install_seccomp(&mut self, flags: u32, p: &[u8]) -> KResult {
        self.record(Call::Seccomp(flags, p.len() / 8))
    }
    fn chdir(&mut self, p: &[u8]) -> KResult {
        assert_eq!(p.last(), Some(&0), "chdir path must be NUL-terminated");
        self.record(Call::Chdir(s(p)))
    }
    fn capbset_drop(&mut self, cap: u32) -> KResult {
        self.record(Call::CapbsetDrop(cap))
    }
    fn set_securebits(&mut self, b: u32) -> KResult {
        self.record(Call::Securebits(b))
    }
    fn set_keepcaps(&mut self, k: bool) -> KResult {
        self.record(Call::KeepCaps(k))
    }
    fn setgroups(&mut self, g: &[u32]) -> KResult {
        self.record(Call::Groups(g.to_vec()))
    }
    fn setresgid(&mut self, g: u32) -> KResult {
        self.record(Call::ResGid(g))
    }
    fn setresuid(&mut self, u: u32) -> KResult {
        self.record(Call::ResUid(u))
    }
    fn capset(&mut self, e: u64, p: u64, i: u64) -> KResult {
        self.record(Call::Capset(e, p, i))
    }
    fn ambient_clear_all(&mut self) -> KResult {
        self.record(Call::AmbientClear)
    }
    fn ambient_raise(&mut self, cap: u32) -> KResult {
        self.record(Call::AmbientRaise(cap))
    }
    fn set_no_new_privs(&mut self) -> KResult {
        self.record(Call::Nnp)
    }
    fn clear_cloexec(&mut self, fd: u32) -> KResult {
        self.record(Call::ClearCloexec(fd))
    }
    fn cloexec_range(&mut self, a: u32, b: u32) -> KResult {
        self.record(Call::CloexecRange(a, b))
    }
    fn execve(&mut self, path: &[u8], argv: &[*const u8], envp: &[*const u8]) -> Errno {
        assert_eq!(path.last(), Some(&0));
        assert!(argv.iter().any(|p| p.is_null()) && envp.iter().any(|p| p.is_null()));
        let _ = self.record(Call::Execve(s(path)));
        // An execve that "succeeds" in a recording kernel still returns: report ENOENT for
        // anything but the program the test expects to find.
        (self.fail_if)(&Call::Execve(s(path))).unwrap_or(2)
    }
    fn report(&mut self, line: &[u8]) {
        self.reports.push(String::from_utf8(line.to_vec()).unwrap());
    }
    fn landlock_abi(&mut self) -> u32 {
        self.abi
    }
    fn landlock_create_ruleset(&mut self, h: &[u64; 3]) -> Result<u32, Errno> {
        self.record(Call::LlCreate(*h))?;
        self.next_fd += 1;
        Ok(self.next_fd - 1)
    }
    fn open_path(&mut self, path: &[u8]) -> Result<u32, Errno> {
        // The kernel reads the path up to its NUL.
        let n = path.iter().position(|&b| b == 0).expect("path must be NUL-terminated");
        self.record(Call::OpenPath(s(&path[..n])))?;
        self.next_fd += 1;
        Ok(self.next_fd - 1)
    }
    fn landlock_add_path_rule(&mut self, rs: u32, fd: u32, access: u64) -> KResult {
        self.record(Call::LlPathRule(rs, fd, access))
    }
    fn landlock_add_port_rule(&mut self, rs: u32, port: u64, access: u64) -> KResult {
        self.record(Call::LlPortRule(rs, port, access))
    }
    fn landlock_restrict_self(&mut self, rs: u32) -> KResult {
        self.record(Call::LlRestrict(rs))
    }
    fn close(&mut self, fd: u32) {
        self.calls.push(Call::Close(fd));
    }
}

struct Owned {
    args: Vec<u8>,
    env: Vec<u8>,
    cwd: Vec<u8>,
    prog: Vec<u8>,
}

fn owned(args: &[&str], env: &[&str], cwd: &str) -> Owned {
    let mut o = Owned { args: vec![], env: vec![], cwd: vec![], prog: vec![0x20; 16] };
    dmz::config::push_strings(&mut o.args, args.iter().map(|a| a.as_bytes())).unwrap();
    dmz::config::push_strings(&mut o.env, env.iter().map(|a| a.as_bytes())).unwrap();
    if !cwd.is_empty() {
        o.cwd = format!("{cwd}\0").into_bytes();
    }
    o
}

fn full(o: &Owned) -> Config<'_> {
    Config {
        args: Bytes(&o.args),
        env: Bytes(&o.env),
        cwd: Bytes(&o.cwd),
        uid: 1000,
        gid: 1000,
        groups: heapless::Vec::from_slice(&[10, 20]).unwrap(),
        umask: 0o027,
        caps: Some(Caps {
            bounding: 1 << 10 | 1 << 13,
            effective: 1 << 10,
            permitted: 1 << 10 | 1 << 13,
            inheritable: 1 << 10,
            ambient: 1 << 10,
        }),
        securebits: None,
        no_new_privs: true,
        rlimits: heapless::Vec::from_slice(&[Rlimit { resource: 7, soft: 100, hard: 200 }]).unwrap(),
        oom_score_adj: Some(-500),
        preserve_fds: heapless::Vec::from_slice(&[5, 6]).unwrap(),
        seccomp: Some(Seccomp { flags: 0, program: Bytes(&o.prog) }),
        landlock: None,
    }
}

fn blob(c: &Config) -> Vec<u8> {
    let mut out = vec![0; dmz::config::MAX_CONFIG_LEN];
    let n = c.encode(&mut out).unwrap();
    out.truncate(n);
    out
}

fn run(k: &mut Recorder, c: &Config) -> i32 {
    dmz::run(k, &blob(c))
}

fn expected_full_sequence() -> Vec<Call> {
    let mut v =
        vec![Call::Prlimit(7, 100, 200), Call::Oom(-500), Call::Umask(0o027), Call::Chdir("/srv".into())];
    v.extend((0..=40).filter(|&c| c != 10 && c != 13).map(Call::CapbsetDrop));
    v.extend([
        Call::KeepCaps(true),
        Call::Groups(vec![10, 20]),
        Call::ResGid(1000),
        Call::ResUid(1000),
        Call::KeepCaps(false),
        Call::Capset(1 << 10, 1 << 10 | 1 << 13, 1 << 10),
        Call::AmbientClear,
        Call::AmbientRaise(10),
        Call::Nnp,
        Call::ClearCloexec(5),
        Call::ClearCloexec(6),
        Call::CloexecRange(3, 4),
        Call::CloexecRange(7, u32::MAX),
        Call::Seccomp(0, 2),
        Call::Execve("/bin/true".into()),
    ]);
    v
}

#[test]
fn full_config_runs_every_step_in_design_order() {
    let o = owned(&["/bin/true", "x"], &["A=1"], "/srv");
    let mut k = Recorder::new();
    let status = run(&mut k, &full(&o));
    assert_eq!(k.calls, expected_full_sequence());
    // The recorder's execve "fails" with ENOENT: 127 and a message naming the program.
    assert_eq!(status, 127);
    assert_eq!(k.reports, vec!["dmz: unable to exec: ENOENT (/bin/true)\n"]);
}

#[test]
fn seccomp_without_nnp_goes_in_before_the_uid_change() {
    let o = owned(&["/bin/true"], &[], "/");
    let mut c = full(&o);
    c.no_new_privs = false;
    let mut k = Recorder::new();
    run(&mut k, &c);
    let pos = |want: &Call| k.calls.iter().position(|c| c == want).unwrap();
    assert!(pos(&Call::Seccomp(0, 2)) < pos(&Call::ResUid(1000)));
    assert!(pos(&Call::Seccomp(0, 2)) > pos(&Call::Umask(0o027)));
    assert!(!k.calls.contains(&Call::Nnp));
    assert_eq!(k.calls.iter().filter(|c| matches!(c, Call::Seccomp(..))).count(), 1);
}

/// A failure injected at each state-changing step stops the transition right there: nothing
/// after it happens, exec never happens, exit 125, and the message names the step.
#[test]
fn failure_at_each_step_stops_there() {
    let o = owned(&["/bin/true"], &[], "/srv");
    let c = full(&o);
    let seq = expected_full_sequence();
    let exec_index = seq.len() - 1;
    let mut seen_steps = std::collections::BTreeSet::new();
    for at in 0..exec_index {
        if matches!(seq[at], Call::Umask(_)) {
            continue; // umask(2) cannot fail
        }
        let mut k = Recorder::new();
        k.fail_at = Some(at);
        k.fail_errno = 1; // EPERM
                          // chdir with EPERM is retried later as the target user (runc's rule); use ENOENT there.
        if matches!(seq[at], Call::Chdir(_)) {
            k.fail_errno = 2;
        }
        let status = run(&mut k, &c);
        assert_eq!(status, 125, "failure at call {at} ({:?})", seq[at]);
        assert_eq!(k.calls, seq[..=at].to_vec(), "calls after a failure at {at} ({:?})", seq[at]);
        assert_eq!(k.reports.len(), 1);
        let msg = &k.reports[0];
        assert!(msg.starts_with("dmz: unable to ") && msg.ends_with(")\n"), "{msg:?}");
        seen_steps.insert(msg.split(':').nth(1).unwrap().to_string());
    }
    let expected_names = [
        " unable to set rlimit",
        " unable to set oom_score_adj",
        " unable to change directory",
        " unable to drop bounding set",
        " unable to set keep-caps",
        " unable to set groups",
        " unable to set gid",
        " unable to set uid",
        " unable to clear keep-caps",
        " unable to set capabilities",
        " unable to clear ambient capabilities",
        " unable to raise ambient capability",
        " unable to set no_new_privs",
        " unable to keep fd",
        " unable to close fds",
        " unable to install seccomp filter",
    ];
    let expected: std::collections::BTreeSet<String> = expected_names.iter().map(|s| s.to_string()).collect();
    assert_eq!(seen_steps, expected);
}

/// Which calls a recorder fails, and with which errno.
type FailIf = fn(&Call) -> Option<Errno>;
/// An edit that makes a valid config invalid.
type Edit = Box<dyn Fn(&mut Config)>;

#[test]
fn failure_messages_are_exact() {
    let o = owned(&["/bin/true"], &[], "/srv");
    let c = full(&o);
    let cases: [(FailIf, &str); 6] = [
        (|c| matches!(c, Call::Prlimit(..)).then_some(1), "dmz: unable to set rlimit: EPERM (resource 7)\n"),
        (
            |c| matches!(c, Call::CapbsetDrop(5)).then_some(1),
            "dmz: unable to drop bounding set: EPERM (capability 5)\n",
        ),
        (|c| matches!(c, Call::ResUid(_)).then_some(11), "dmz: unable to set uid: EAGAIN (uid 1000)\n"),
        (
            |c| matches!(c, Call::AmbientRaise(_)).then_some(1),
            "dmz: unable to raise ambient capability: EPERM (capability 10)\n",
        ),
        (|c| matches!(c, Call::ClearCloexec(6)).then_some(9), "dmz: unable to keep fd: EBADF (fd 6)\n"),
        (|c| matches!(c, Call::Chdir(_)).then_some(20), "dmz: unable to change directory: ENOTDIR (/srv)\n"),
    ];
    for (fail_if, want) in cases {
        let mut k = Recorder::new();
        k.fail_if = fail_if;
        assert_eq!(run(&mut k, &c), 125);
        assert_eq!(k.reports, vec![want.to_string()]);
    }
}

#[test]
fn chdir_permission_error_is_retried_as_the_target_user() {
    let o = owned(&["/bin/true"], &[], "/home/u");
    let c = full(&o);
    let mut k = Recorder::new();
    k.fail_if = |c| matches!(c, Call::Chdir(_)).then_some(13); // EACCES, twice
    assert_eq!(run(&mut k, &c), 125);
    let chdirs: Vec<usize> =
        k.calls.iter().enumerate().filter(|(_, c)| matches!(c, Call::Chdir(_))).map(|(i, _)| i).collect();
    assert_eq!(chdirs.len(), 2, "{:?}", k.calls);
    let uid = k.calls.iter().position(|c| *c == Call::ResUid(1000)).unwrap();
    assert!(chdirs[0] < uid && chdirs[1] > uid);
    assert_eq!(k.reports, vec!["dmz: unable to change directory: EACCES (/home/u)\n"]);
}

#[test]
fn path_lookup_uses_the_targets_path() {
    let o = owned(&["tool", "arg"], &["PATH=/opt/a::/opt/b"], "");
    let mut c = full(&o);
    c.caps = None;
    c.seccomp = None;
    let mut k = Recorder::new();
    k.fail_if = |c| match c {
        Call::Execve(p) if p == "/opt/b/tool" => Some(13), // found, not executable
        _ => None,
    };
    assert_eq!(run(&mut k, &c), 126);
    let execs: Vec<&Call> = k.calls.iter().filter(|c| matches!(c, Call::Execve(_))).collect();
    assert_eq!(
        execs,
        vec![
            &Call::Execve("/opt/a/tool".into()),
            &Call::Execve("./tool".into()),
            &Call::Execve("/opt/b/tool".into())
        ]
    );
    assert_eq!(k.reports, vec!["dmz: unable to exec: EACCES (tool)\n"]);
}

#[test]
fn path_lookup_default_and_not_found() {
    let o = owned(&["nothere"], &["X=1"], "");
    let mut c = full(&o);
    c.caps = None;
    let mut k = Recorder::new();
    assert_eq!(run(&mut k, &c), 127);
    let execs: Vec<String> = k
        .calls
        .iter()
        .filter_map(|c| match c {
            Call::Execve(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    let want: Vec<String> = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        .split(':')
        .map(|d| format!("{d}/nothere"))
        .collect();
    assert_eq!(execs, want);
    assert_eq!(k.reports, vec!["dmz: unable to exec: ENOENT (nothere)\n"]);
}

#[test]
fn no_caps_object_leaves_capabilities_alone() {
    let o = owned(&["/bin/true"], &[], "");
    let mut c = full(&o);
    c.caps = None;
    let mut k = Recorder::new();
    run(&mut k, &c);
    assert!(!k.calls.iter().any(|c| matches!(
        c,
        Call::CapbsetDrop(_) | Call::Capset(..) | Call::AmbientClear | Call::AmbientRaise(_)
    )));
    assert!(k.calls.contains(&Call::KeepCaps(true)) && k.calls.contains(&Call::Groups(vec![10, 20])));
}

#[test]
fn securebits_are_set_before_the_uid_change_with_keep_caps() {
    let o = owned(&["/bin/true"], &[], "");
    let mut c = full(&o);
    c.securebits = Some(0x01 | 0x04); // NOROOT | NO_SETUID_FIXUP
    let mut k = Recorder::new();
    run(&mut k, &c);
    let pos = |want: &Call| k.calls.iter().position(|c| c == want).unwrap();
    assert!(pos(&Call::Securebits(0x15)) < pos(&Call::ResUid(1000)));
    assert!(k.calls.contains(&Call::KeepCaps(false)));
    assert!(!k.calls.contains(&Call::KeepCaps(true)));
    // With SECBIT_KEEP_CAPS configured, keep-caps stays on.
    c.securebits = Some(0x10);
    let mut k = Recorder::new();
    run(&mut k, &c);
    assert!(!k.calls.iter().any(|c| matches!(c, Call::KeepCaps(_))));
}

#[test]
fn empty_groups_are_still_set() {
    let o = owned(&["/bin/true"], &[], "");
    let mut c = full(&o);
    c.groups.clear();
    let mut k = Recorder::new();
    run(&mut k, &c);
    assert!(k.calls.contains(&Call::Groups(vec![])));
}

/// Invalid configs change nothing: no call at all reaches the kernel.
#[test]
fn invalid_configs_change_nothing() {
    let o = owned(&["/bin/true"], &[], "/");
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|c| c.caps.as_mut().unwrap().effective |= 1 << 41),
            "dmz: unable to load config: EINVAL (capabilities.effective: unknown to this kernel: capability 41)\n",
        ),
        (Box::new(|c| c.args = Bytes(b"")), "dmz: unable to load config: EINVAL (args: empty, unterminated or too many)\n"),
        (Box::new(|c| c.args = Bytes(b"\0")), "dmz: unable to load config: EINVAL (args: empty program name)\n"),
        (Box::new(|c| c.args = Bytes(b"/bin/x")), "dmz: unable to load config: EINVAL (args: empty, unterminated or too many)\n"),
        (Box::new(|c| c.env = Bytes(b"A=1")), "dmz: unable to load config: EINVAL (env: unterminated or too many)\n"),
        (Box::new(|c| c.cwd = Bytes(b"/a\0b\0")), "dmz: unable to load config: EINVAL (cwd: interior NUL or unterminated)\n"),
        (Box::new(|c| c.umask = 0o1777), "dmz: unable to load config: EINVAL (umask above 0777: 1023)\n"),
        (
            Box::new(|c| c.rlimits[0].resource = 16),
            "dmz: unable to load config: EINVAL (rlimits: unknown resource 16)\n",
        ),
        (
            Box::new(|c| c.rlimits[0].soft = 201),
            "dmz: unable to load config: EINVAL (rlimits: soft limit above hard limit for resource 7)\n",
        ),
        (Box::new(|c| c.oom_score_adj = Some(1001)), "dmz: unable to load config: EINVAL (oom_score_adj outside -1000..=1000)\n"),
        (
            Box::new(|c| c.preserve_fds = heapless::Vec::from_slice(&[4, 4]).unwrap()),
            "dmz: unable to load config: EINVAL (preserve_fds: not ascending above 2 at fd 4)\n",
        ),
        (
            Box::new(|c| c.preserve_fds = heapless::Vec::from_slice(&[2]).unwrap()),
            "dmz: unable to load config: EINVAL (preserve_fds: not ascending above 2 at fd 2)\n",
        ),
        (Box::new(|c| c.securebits = Some(0x100)), "dmz: unable to load config: EINVAL (securebits: unknown bits 256)\n"),
        (Box::new(|c| c.securebits = Some(0x20)), "dmz: unable to load config: EINVAL (securebits: keep-caps locked off)\n"),
        (Box::new(|c| c.seccomp.as_mut().unwrap().program = Bytes(&[0; 12])), "dmz: unable to load config: EINVAL (seccomp: program size)\n"),
        (Box::new(|c| c.seccomp.as_mut().unwrap().program = Bytes(&[])), "dmz: unable to load config: EINVAL (seccomp: program size)\n"),
    ];
    for (edit, want) in cases {
        let mut c = full(&o);
        edit(&mut c);
        let mut k = Recorder::new();
        assert_eq!(run(&mut k, &c), 125, "{want}");
        assert_eq!(k.calls, vec![], "{want}");
        assert_eq!(k.reports, vec![want.to_string()]);
    }
}

#[test]
fn unknown_capability_is_judged_against_the_running_kernel() {
    let o = owned(&["/bin/true"], &[], "/");
    let mut c = full(&o);
    c.caps.as_mut().unwrap().bounding |= 1 << 40;
    let mut k = Recorder::new();
    k.last_cap = 39; // an older kernel without CAP_CHECKPOINT_RESTORE
    assert_eq!(run(&mut k, &c), 125);
    assert_eq!(k.calls, vec![]);
    assert_eq!(
        k.reports,
        vec!["dmz: unable to load config: EINVAL (capabilities.bounding: unknown to this kernel: capability 40)\n"]
    );
    // On that kernel, the bounding set is dropped only up to cap 39.
    c.caps.as_mut().unwrap().bounding &= !(1 << 40);
    let mut k = Recorder::new();
    k.last_cap = 39;
    run(&mut k, &c);
    assert!(!k.calls.contains(&Call::CapbsetDrop(40)));
    assert!(k.calls.contains(&Call::CapbsetDrop(39)));
}

#[test]
fn header_problems_are_named() {
    let o = owned(&["/bin/true"], &[], "/");
    let good = blob(&full(&o));
    let mut cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..10].to_vec(), "load config: EINVAL (truncated header)"),
        (good[..good.len() - 1].to_vec(), "load config: EINVAL (truncated body)"),
        ([&good[..], b"x"].concat(), "load config: EINVAL (trailing bytes after body)"),
        (vec![0u8; dmz::config::MAX_CONFIG_LEN + 1], "load config: EFBIG (over 131072 bytes)"),
    ];
    let mut magic = good.clone();
    magic[0] = b'X';
    cases.push((magic, "load config: EINVAL (not a dmz config)"));
    let mut version = good.clone();
    version[4] = 7;
    cases.push((version, "load config: EINVAL (format version 7, expected 2)"));
    let mut crc = good.clone();
    let last = crc.len() - 1;
    crc[last] ^= 1;
    cases.push((crc, "load config: EINVAL (CRC mismatch)"));
    for (b, want) in cases {
        let mut k = Recorder::new();
        assert_eq!(dmz::run(&mut k, &b), 125);
        assert_eq!(k.calls, vec![]);
        assert_eq!(k.reports, vec![format!("dmz: unable to {want}\n")]);
    }
}

#[test]
fn encode_decode_round_trip() {
    let o = owned(&["/bin/true", "", "a b"], &["A=1", "B="], "/x");
    let c = full(&o);
    let b = blob(&c);
    assert_eq!(Config::decode(&b).unwrap(), c);
    let mut minimal = full(&o);
    minimal.caps = None;
    minimal.securebits = Some(3);
    minimal.oom_score_adj = Some(i32::MIN);
    minimal.seccomp = None;
    minimal.groups.clear();
    minimal.rlimits[0].hard = u64::MAX;
    let b = blob(&minimal);
    assert_eq!(Config::decode(&b).unwrap(), minimal);
}

/// PATH candidates longer than PATH_MAX (4096 bytes with the NUL) are refused with
/// ENAMETOOLONG before anything is executed from that directory; exactly 4096 is tried.
#[test]
fn path_candidates_are_bounded_by_path_max() {
    let prog = "tool";
    let fits = format!("/{}", "d".repeat(4096 - 1 - prog.len() - 1 - 1)); // dir + '/' + prog + NUL = 4096
    let too_long = format!("{fits}x");
    for (path, exec_tries, status, report) in [
        (format!("PATH=/a:{fits}"), 2, 127, "dmz: unable to exec: ENOENT (tool)\n"),
        (format!("PATH=/a:{too_long}:/b"), 1, 126, "dmz: unable to exec: ENAMETOOLONG (tool)\n"),
    ] {
        let o = owned(&[prog], &[path.as_str()], "");
        let mut c = full(&o);
        c.caps = None;
        c.seccomp = None;
        let mut k = Recorder::new();
        assert_eq!(run(&mut k, &c), status);
        let execs: Vec<&Call> = k.calls.iter().filter(|c| matches!(c, Call::Execve(_))).collect();
        assert_eq!(execs.len(), exec_tries);
        assert_eq!(execs[0], &Call::Execve("/a/tool".into()));
        if exec_tries == 2 {
            assert_eq!(execs[1], &Call::Execve(format!("{fits}/tool")));
            assert_eq!(format!("{fits}/tool").len() + 1, 4096);
        }
        assert_eq!(k.reports, vec![report.to_string()]);
    }
}

/// An empty PATH is the current directory only; a trailing ':' adds it at the end.
#[test]
fn empty_path_entries_are_the_current_directory() {
    for (path, want) in [("PATH=", vec!["./tool"]), ("PATH=/a:", vec!["/a/tool", "./tool"])] {
        let o = owned(&["tool"], &[path], "");
        let mut c = full(&o);
        c.caps = None;
        c.seccomp = None;
        let mut k = Recorder::new();
        assert_eq!(run(&mut k, &c), 127);
        let execs: Vec<String> = k
            .calls
            .iter()
            .filter_map(|c| match c {
                Call::Execve(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(execs, want);
    }
}

// Landlock (docs/design.md §3 steps 4a, 4b, 12b).

const FS_READ: u64 = 1 << 2 | 1 << 3; // read_file, read_dir
const FS_WRITE: u64 = 1 << 1; // write_file
const TRUNCATE: u64 = 1 << 14;
const BIND: u64 = 1;

fn landlock(best_effort: bool) -> dmz::landlock::Landlock<'static> {
    dmz::landlock::Landlock {
        best_effort,
        handled: [FS_READ | FS_WRITE | TRUNCATE, BIND | 2, 3],
        paths: Bytes(b"/usr\0/var/log/www\0"),
        path_access: heapless::Vec::from_slice(&[FS_READ as u32, (FS_WRITE | TRUNCATE) as u32]).unwrap(),
        ports: heapless::Vec::from_slice(&[1 << 16 | 80]).unwrap(),
    }
}

fn position(calls: &[Call], want: &Call) -> usize {
    calls.iter().position(|c| c == want).unwrap_or_else(|| panic!("{want:?} not in {calls:?}"))
}

/// With no_new_privs: the ruleset is built as the caller (before the uid change) and enforced
/// right after no_new_privs, before the fds step and the late seccomp filter.
#[test]
fn landlock_with_nnp_builds_early_and_restricts_after_nnp() {
    let o = owned(&["/bin/true"], &[], "/srv");
    let mut c = full(&o);
    c.landlock = Some(landlock(false));
    let mut k = Recorder::new();
    assert_eq!(run(&mut k, &c), 127);
    let h = [FS_READ | FS_WRITE | TRUNCATE, BIND | 2, 3];
    let ll = [
        Call::LlCreate(h),
        Call::OpenPath("/usr".into()),
        Call::LlPathRule(10, 11, FS_READ),
        Call::Close(11),
        Call::OpenPath("/var/log/www".into()),
        Call::LlPathRule(10, 12, FS_WRITE | TRUNCATE),
        Call::Close(12),
        Call::LlPortRule(10, 80, BIND),
    ];
    let at = position(&k.calls, &ll[0]);
    assert_eq!(k.calls[at..at + ll.len()], ll[..]);
    assert_eq!(
        k.calls[at - 1],
        Call::Umask(0o027),
        "built right after umask, before chdir and the uid change"
    );
    let restrict = position(&k.calls, &Call::LlRestrict(10));
    assert_eq!(k.calls[restrict - 1], Call::Nnp);
    assert_eq!(k.calls[restrict + 1], Call::Close(10));
    assert!(restrict < position(&k.calls, &Call::ClearCloexec(5)));
    assert!(restrict < position(&k.calls, &Call::Seccomp(0, 2)));
    // Everything else is the design order, unchanged.
    let rest: Vec<Call> = k
        .calls
        .iter()
        .filter(|c| !ll.contains(c) && !matches!(c, Call::LlRestrict(_) | Call::Close(_)))
        .cloned()
        .collect();
    assert_eq!(rest, expected_full_sequence());
}

/// Without no_new_privs, landlock_restrict_self needs CAP_SYS_ADMIN, which the uid change takes
/// away: the ruleset is enforced before it, and before the early seccomp filter.
#[test]
fn landlock_without_nnp_restricts_before_the_uid_change_and_the_filter() {
    let o = owned(&["/bin/true"], &[], "/srv");
    let mut c = full(&o);
    c.no_new_privs = false;
    c.landlock = Some(landlock(false));
    let mut k = Recorder::new();
    run(&mut k, &c);
    let restrict = position(&k.calls, &Call::LlRestrict(10));
    assert_eq!(k.calls[restrict - 1], Call::LlPortRule(10, 80, BIND));
    assert_eq!(k.calls[restrict + 1], Call::Close(10));
    assert_eq!(k.calls[restrict + 2], Call::Seccomp(0, 2));
    assert!(restrict < position(&k.calls, &Call::ResUid(1000)));
    assert_eq!(k.calls.iter().filter(|c| matches!(c, Call::LlRestrict(_))).count(), 1);
}

/// Best-effort on an ABI 2 kernel (Linux 6.1): truncate, the net rights and the scopes are
/// dropped; the port rule is skipped; the rest is enforced.
#[test]
fn best_effort_drops_what_the_abi_lacks() {
    let o = owned(&["/bin/true"], &[], "");
    let mut c = full(&o);
    c.landlock = Some(landlock(true));
    let mut k = Recorder::new();
    k.abi = 2;
    run(&mut k, &c);
    let ll: Vec<&Call> = k
        .calls
        .iter()
        .filter(|c| {
            matches!(c, Call::LlCreate(_) | Call::LlPathRule(..) | Call::LlPortRule(..) | Call::LlRestrict(_))
        })
        .collect();
    assert_eq!(
        ll,
        vec![
            &Call::LlCreate([FS_READ | FS_WRITE, 0, 0]),
            &Call::LlPathRule(10, 11, FS_READ),
            &Call::LlPathRule(10, 12, FS_WRITE),
            &Call::LlRestrict(10)
        ]
    );
    // A kernel without Landlock (ABI 0): best-effort enforces nothing and creates no ruleset.
    let mut k = Recorder::new();
    k.abi = 0;
    run(&mut k, &c);
    assert!(!k
        .calls
        .iter()
        .any(|c| matches!(c, Call::LlCreate(_) | Call::OpenPath(_) | Call::LlRestrict(_))));
    assert_eq!(k.reports, vec!["dmz: unable to exec: ENOENT (/bin/true)\n"]);
}

/// Strict mode refuses, before any state changes, the first right the running ABI lacks.
#[test]
fn strict_mode_names_the_first_missing_right() {
    let o = owned(&["/bin/true"], &[], "");
    for (abi, handled, want) in [
        (2, [FS_READ | TRUNCATE, 0, 0], "landlock ABI 2: no truncate"),
        (0, [FS_READ, 0, 0], "landlock ABI 0: no fs rights"),
        (1, [FS_READ | 1 << 13, 0, 0], "landlock ABI 1: no refer"),
        (3, [FS_READ, BIND, 0], "landlock ABI 3: no tcp rights"),
        (4, [1 << 15, 0, 0], "landlock ABI 4: no ioctl_dev"),
        (5, [FS_READ, 0, 2], "landlock ABI 5: no scopes"),
    ] {
        let mut c = full(&o);
        let mut l = landlock(false);
        l.handled = handled;
        l.ports.clear();
        c.landlock = Some(l);
        let mut k = Recorder::new();
        k.abi = abi;
        assert_eq!(run(&mut k, &c), 125);
        assert_eq!(k.calls, vec![], "{want}");
        assert_eq!(k.reports, vec![format!("dmz: unable to load config: EINVAL ({want})\n")]);
        // The same config in best-effort mode runs.
        c.landlock.as_mut().unwrap().best_effort = true;
        let mut k = Recorder::new();
        k.abi = abi;
        assert_eq!(run(&mut k, &c), 127, "{want}");
    }
}

/// A failure at each Landlock call stops the transition there, with a message naming the path
/// or port; nothing is executed.
#[test]
fn landlock_failures_stop_the_transition() {
    let o = owned(&["/bin/true"], &[], "");
    let mut c = full(&o);
    c.landlock = Some(landlock(false));
    let cases: [(FailIf, &str); 5] = [
        (|c| matches!(c, Call::LlCreate(_)).then_some(38), "create landlock ruleset: ENOSYS (/bin/true)"),
        (
            |c| matches!(c, Call::OpenPath(p) if p == "/var/log/www").then_some(2),
            "add landlock rule: ENOENT (/var/log/www)",
        ),
        (|c| matches!(c, Call::LlPathRule(_, 11, _)).then_some(22), "add landlock rule: EINVAL (/usr)"),
        (|c| matches!(c, Call::LlPortRule(..)).then_some(22), "add landlock rule: EINVAL (port 80)"),
        (|c| matches!(c, Call::LlRestrict(_)).then_some(1), "enforce landlock ruleset: EPERM (/bin/true)"),
    ];
    for (fail_if, want) in cases {
        let mut k = Recorder::new();
        k.fail_if = fail_if;
        assert_eq!(run(&mut k, &c), 125, "{want}");
        assert_eq!(k.reports, vec![format!("dmz: unable to {want}\n")]);
        assert!(!k.calls.iter().any(|c| matches!(c, Call::Execve(_))), "{want}");
        // A failed path rule still closes its path fd.
        if want.contains("(/usr)") {
            assert_eq!(k.calls.last(), Some(&Call::Close(11)));
        }
    }
}

#[test]
fn bad_landlock_path_lists_change_nothing() {
    let o = owned(&["/bin/true"], &[], "");
    let paths: [&'static [u8]; 4] = [b"usr\0/x\0", b"/usr\0/x", b"/usr\0", b"\0/x\0"];
    for paths in paths {
        let mut c = full(&o);
        let mut l = landlock(true);
        l.paths = Bytes(paths);
        c.landlock = Some(l);
        let mut k = Recorder::new();
        assert_eq!(run(&mut k, &c), 125);
        assert_eq!(k.calls, vec![]);
        assert_eq!(k.reports, vec!["dmz: unable to load config: EINVAL (landlock: bad paths)\n"]);
    }
}

#[test]
fn landlock_round_trip() {
    let o = owned(&["/bin/true"], &[], "");
    let mut c = full(&o);
    c.landlock = Some(landlock(true));
    assert_eq!(Config::decode(&blob(&c)).unwrap(), c);
}
