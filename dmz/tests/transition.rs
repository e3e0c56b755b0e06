//! The transition against a recording kernel: exact call order, a failure injected at every
//! step stops there with the right message and exit status, and validation changes nothing.

#[path = "support/recorder.rs"]
mod recorder;

use dmz::config::{Bytes, Caps, Config, Rlimit, Seccomp};
use recorder::{Call, FailIf, Fake, Recorder};

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
        uid: Some(1000),
        gid: Some(1000),
        groups: Some(heapless::Vec::from_slice(&[20, 10]).unwrap()),
        chown_stdio: true,
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
    }
}

fn blob(c: &Config) -> Vec<u8> {
    let mut out = vec![0; dmz::config::MAX_CONFIG_LEN];
    let n = c.encode(&mut out).unwrap();
    out.truncate(n);
    out
}

/// Runs `c`'s blob (leaked: the recorder keeps it to check execve's arguments against).
fn run(k: &mut Recorder<'static>, c: &Config) -> i32 {
    k.run(blob(c).leak())
}

fn expected_full_sequence() -> Vec<Call> {
    let mut v =
        vec![Call::Prlimit(7, 100, 200), Call::Oom(-500), Call::Umask(0o027), Call::Chdir("/srv".into())];
    v.extend((0..=40).filter(|&c| c != 10 && c != 13).map(Call::CapbsetDrop));
    v.extend([
        Call::KeepCaps(true),
        Call::Chown(0, 1000),
        Call::Chown(1, 1000),
        Call::Chown(2, 1000),
        Call::Groups(vec![20, 10]),
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
        Call::Seccomp(0, vec![0x20; 16]),
        Call::Execve("/bin/true".into()),
    ]);
    v
}

#[test]
fn full_config_runs_every_step_in_design_order() {
    let o = owned(&["/bin/true", "x"], &["A=1"], "/srv");
    let mut k = Recorder::new(40);
    let status = run(&mut k, &full(&o));
    assert_eq!(k.calls, expected_full_sequence());
    // The recorder's execve "fails" with ENOENT: 127 and a message naming the program.
    assert_eq!(status, 127);
    assert_eq!(k.reports, vec!["dmz: unable to exec: ENOENT (/bin/true)\n"]);
    k.check_run(status); // and everything applied is what the config names
}

#[test]
fn seccomp_without_nnp_goes_in_before_the_uid_change() {
    let o = owned(&["/bin/true"], &[], "/");
    let mut c = full(&o);
    c.no_new_privs = false;
    let mut k = Recorder::new(40);
    run(&mut k, &c);
    assert!(k.position(&Call::Seccomp(0, vec![0x20; 16])) < k.position(&Call::ResUid(1000)));
    assert!(k.position(&Call::Seccomp(0, vec![0x20; 16])) > k.position(&Call::Umask(0o027)));
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
        let mut k = Recorder::new(40);
        k.fail_at = Some(at);
        k.fail_errno = 1; // EPERM
                          // chdir with EPERM is retried later as the target user (runc's rule); use ENOENT there.
        if matches!(seq[at], Call::Chdir(_)) {
            k.fail_errno = 2;
        }
        // fchown's EPERM is not fatal (runc's rule); EIO is.
        if matches!(seq[at], Call::Chown(..)) {
            k.fail_errno = 5;
        }
        let status = run(&mut k, &c);
        assert_eq!(status, 125, "failure at call {at} ({:?})", seq[at]);
        k.check_run(status);
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
        " unable to change owner of stdio",
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
        let mut k = Recorder::new(40);
        k.fail_if = fail_if;
        assert_eq!(run(&mut k, &c), 125);
        assert_eq!(k.reports, vec![want.to_string()]);
    }
}

#[test]
fn chdir_permission_error_is_retried_as_the_target_user() {
    let o = owned(&["/bin/true"], &[], "/home/u");
    let c = full(&o);
    let mut k = Recorder::new(40);
    k.fail_if = |c| matches!(c, Call::Chdir(_)).then_some(13); // EACCES, twice
    assert_eq!(run(&mut k, &c), 125);
    let chdirs: Vec<usize> =
        k.calls.iter().enumerate().filter(|(_, c)| matches!(c, Call::Chdir(_))).map(|(i, _)| i).collect();
    assert_eq!(chdirs.len(), 2, "{:?}", k.calls);
    let uid = k.position(&Call::ResUid(1000));
    assert!(chdirs[0] < uid && chdirs[1] > uid);
    assert_eq!(k.reports, vec!["dmz: unable to change directory: EACCES (/home/u)\n"]);
}

#[test]
fn path_lookup_uses_the_targets_path() {
    let o = owned(&["tool", "arg"], &["PATH=/opt/a::/opt/b"], "");
    let mut c = full(&o);
    c.caps = None;
    c.seccomp = None;
    let mut k = Recorder::new(40);
    k.fail_if = |c| match c {
        Call::Execve(p) if p == b"/opt/b/tool" => Some(13), // found, not executable
        _ => None,
    };
    assert_eq!(run(&mut k, &c), 126);
    assert_eq!(k.execs(), ["/opt/a/tool", "./tool", "/opt/b/tool"]);
    assert_eq!(k.reports, vec!["dmz: unable to exec: EACCES (tool)\n"]);
}

#[test]
fn path_lookup_default_and_not_found() {
    let o = owned(&["nothere"], &["X=1"], "");
    let mut c = full(&o);
    c.caps = None;
    let mut k = Recorder::new(40);
    assert_eq!(run(&mut k, &c), 127);
    let want: Vec<String> = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        .split(':')
        .map(|d| format!("{d}/nothere"))
        .collect();
    assert_eq!(k.execs(), want);
    assert_eq!(k.reports, vec!["dmz: unable to exec: ENOENT (nothere)\n"]);
}

#[test]
fn no_caps_object_leaves_capabilities_alone() {
    let o = owned(&["/bin/true"], &[], "");
    let mut c = full(&o);
    c.caps = None;
    let mut k = Recorder::new(40);
    run(&mut k, &c);
    assert!(!k.calls.iter().any(|c| matches!(
        c,
        Call::CapbsetDrop(_) | Call::Capset(..) | Call::AmbientClear | Call::AmbientRaise(_)
    )));
    assert!(k.calls.contains(&Call::KeepCaps(true)) && k.calls.contains(&Call::Groups(vec![20, 10])));
}

#[test]
fn securebits_are_set_before_the_uid_change_with_keep_caps() {
    let o = owned(&["/bin/true"], &[], "");
    let mut c = full(&o);
    c.securebits = Some(0x01 | 0x04); // NOROOT | NO_SETUID_FIXUP
    let mut k = Recorder::new(40);
    run(&mut k, &c);
    assert!(k.position(&Call::Securebits(0x15)) < k.position(&Call::ResUid(1000)));
    assert!(k.calls.contains(&Call::KeepCaps(false)));
    assert!(!k.calls.contains(&Call::KeepCaps(true)));
    // With SECBIT_KEEP_CAPS configured, keep-caps stays on.
    c.securebits = Some(0x10);
    let mut k = Recorder::new(40);
    run(&mut k, &c);
    assert!(!k.calls.iter().any(|c| matches!(c, Call::KeepCaps(_))));
}

#[test]
fn empty_groups_are_still_set() {
    let o = owned(&["/bin/true"], &[], "");
    let mut c = full(&o);
    c.groups.as_mut().unwrap().clear();
    let mut k = Recorder::new(40);
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
        // -1 to setresuid: "leave unchanged", the caller's root.
        (Box::new(|c| c.uid = Some(u32::MAX)), "dmz: unable to load config: EINVAL (uid, gid or group above 2147483647: 4294967295)\n"),
        (Box::new(|c| c.gid = Some(1 << 31)), "dmz: unable to load config: EINVAL (uid, gid or group above 2147483647: 2147483648)\n"),
        (
            Box::new(|c| c.groups.as_mut().unwrap()[1] = u32::MAX),
            "dmz: unable to load config: EINVAL (uid, gid or group above 2147483647: 4294967295)\n",
        ),
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
        let mut k = Recorder::new(40);
        assert_eq!(run(&mut k, &c), 125, "{want}");
        assert_eq!(k.calls, vec![], "{want}");
        assert_eq!(k.reports, vec![want.to_string()]);
        k.check_run(125);
    }
}

#[test]
fn unknown_capability_is_judged_against_the_running_kernel() {
    let o = owned(&["/bin/true"], &[], "/");
    let mut c = full(&o);
    c.caps.as_mut().unwrap().bounding |= 1 << 40;
    let mut k = Recorder::new(39); // an older kernel without CAP_CHECKPOINT_RESTORE
    assert_eq!(run(&mut k, &c), 125);
    assert_eq!(k.calls, vec![]);
    assert_eq!(
        k.reports,
        vec!["dmz: unable to load config: EINVAL (capabilities.bounding: unknown to this kernel: capability 40)\n"]
    );
    // On that kernel, the bounding set is dropped only up to cap 39.
    c.caps.as_mut().unwrap().bounding &= !(1 << 40);
    let mut k = Recorder::new(39);
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
        let mut k = Recorder::new(40);
        assert_eq!(k.run(&b), 125);
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
    minimal.groups = None;
    minimal.uid = None;
    minimal.chown_stdio = false;
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
        let mut k = Recorder::new(40);
        assert_eq!(run(&mut k, &c), status);
        let execs = k.execs();
        assert_eq!(execs.len(), exec_tries);
        assert_eq!(execs[0], "/a/tool");
        if exec_tries == 2 {
            assert_eq!(execs[1], format!("{fits}/tool"));
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
        let mut k = Recorder::new(40);
        assert_eq!(run(&mut k, &c), 127);
        assert_eq!(k.execs(), want);
    }
}

/// A step that "succeeds" without doing anything (a seccomp filter installed before the uid
/// change answering `SCMP_ACT_ERRNO(0)`, an LSM) is caught when dmz reads its credentials
/// back: exit 125 and a message naming what differs, before the late filter and before exec.
#[test]
fn a_faked_credential_step_is_caught_before_exec() {
    let o = owned(&["/bin/true"], &[], "/srv");
    let c = full(&o);
    let cases: [(Fake, &str); 8] = [
        (|c| matches!(c, Call::ResUid(_)), "uid is 0"),
        (|c| matches!(c, Call::ResGid(_)), "gid is 0"),
        (|c| matches!(c, Call::Groups(_)), "groups differ"),
        (|c| matches!(c, Call::CapbsetDrop(21)), "capabilities.bounding: capability 21"),
        (|c| matches!(c, Call::Capset(..)), "capabilities.effective: capability 0"),
        (|c| matches!(c, Call::AmbientRaise(_)), "capabilities.ambient: capability 10"),
        (|c| matches!(c, Call::AmbientClear), "capabilities.ambient: capability 3"),
        (|c| matches!(c, Call::Nnp), "no_new_privs unset"),
    ];
    for (fake, detail) in cases {
        let mut k = Recorder::new(40);
        k.fake = fake;
        k.ambient = 1 << 3; // what the caller had, for AmbientClear
        assert_eq!(run(&mut k, &c), 125, "{detail}");
        assert_eq!(k.reports, vec![format!("dmz: unable to verify credentials: EPERM ({detail})\n")]);
        let nnp = k.position(&Call::Nnp);
        assert_eq!(k.calls.len(), nnp + 1, "{detail}: nothing after the check: {:?}", &k.calls[nnp..]);
    }
    // With every step done, the same config reaches exec.
    let mut k = Recorder::new(40);
    k.ambient = 1 << 3;
    assert_eq!(run(&mut k, &c), 127);
    assert_eq!(k.calls.last(), Some(&Call::Execve("/bin/true".into())));
}

/// A bounding cap the caller never had is not dropped again (dropping needs CAP_SETPCAP even
/// then), and does not count as a difference.
#[test]
fn caps_already_out_of_the_bounding_set_are_left() {
    let o = owned(&["/bin/true"], &[], "");
    let c = full(&o);
    let mut k = Recorder::new(40);
    k.bounding &= !(1 << 21 | 1 << 13); // 13 is configured, 21 is not
    assert_eq!(run(&mut k, &c), 127, "{:?}", k.reports);
    assert!(!k.calls.contains(&Call::CapbsetDrop(21)));
    assert!(k.calls.contains(&Call::CapbsetDrop(20)));
}

/// runc's fixStdioPermissions: fds 0–2 go to the target uid unless already its or /dev/null
/// (1:3); EINVAL, EPERM and EROFS are not fatal, a closed fd is skipped, other errors are.
#[test]
fn stdio_is_given_to_the_target_uid() {
    let o = owned(&["/bin/true"], &[], "");
    let c = full(&o);
    let mut k = Recorder::new(40);
    k.stdio = [Ok((0, 1 << 32 | 3)), Ok((1000, 0)), Ok((0, 136 << 32 | 2))];
    assert_eq!(run(&mut k, &c), 127);
    let chowns: Vec<&Call> = k.calls.iter().filter(|c| matches!(c, Call::Chown(..))).collect();
    assert_eq!(chowns, [&Call::Chown(2, 1000)]);
    assert!(k.position(&Call::Chown(2, 1000)) < k.position(&Call::Groups(vec![20, 10])));

    for errno in [22, 1, 30] {
        let mut k = Recorder::new(40);
        k.fail_if = match errno {
            22 => |c| matches!(c, Call::Chown(..)).then_some(22),
            1 => |c| matches!(c, Call::Chown(..)).then_some(1),
            _ => |c| matches!(c, Call::Chown(..)).then_some(30),
        };
        assert_eq!(run(&mut k, &c), 127, "errno {errno}: {:?}", k.reports);
    }
    let mut k = Recorder::new(40);
    k.stdio = [Err(9), Err(13), Ok((0, 0))];
    assert_eq!(run(&mut k, &c), 125);
    assert_eq!(k.reports, vec!["dmz: unable to change owner of stdio: EACCES (fd 1)\n"]);
    assert!(!k.calls.iter().any(|c| matches!(c, Call::Chown(..) | Call::Groups(_))));
    let mut k = Recorder::new(40);
    k.fail_if = |c| matches!(c, Call::Chown(1, _)).then_some(5);
    assert_eq!(run(&mut k, &c), 125);
    assert_eq!(k.reports, vec!["dmz: unable to change owner of stdio: EIO (fd 1)\n"]);

    // Not asked for, or no uid change: nothing is looked at.
    for edit in [|c: &mut Config| c.chown_stdio = false, |c: &mut Config| c.uid = None] {
        let mut c = full(&o);
        edit(&mut c);
        let mut k = Recorder::new(40);
        k.stdio = [Err(5); 3];
        assert_eq!(run(&mut k, &c), 127, "{:?}", k.reports);
        assert!(!k.calls.iter().any(|c| matches!(c, Call::Chown(..))));
    }
}

/// In a user namespace whose /proc/self/setgroups says "deny", runc skips setgroups; so does
/// dmz, and the read-back does not expect the configured groups.
#[test]
fn setgroups_denied_in_a_user_namespace_is_skipped() {
    let o = owned(&["/bin/true"], &[], "");
    let c = full(&o);
    let mut k = Recorder::new(40);
    k.setgroups_deny = true;
    assert_eq!(run(&mut k, &c), 127, "{:?}", k.reports);
    assert!(!k.calls.iter().any(|c| matches!(c, Call::Groups(_))));
    assert!(k.calls.contains(&Call::ResUid(1000)));
}

/// `None` leaves uid, gid and groups as they are (setpriv's semantics for flags that are not
/// given): no setresuid, setresgid or setgroups at all, so an unprivileged caller gets through.
#[test]
fn ids_and_groups_not_configured_are_left_unchanged() {
    let o = owned(&["/bin/true"], &[], "");
    let mut c = full(&o);
    (c.uid, c.gid, c.groups) = (None, None, None);
    let mut k = Recorder::new(40);
    k.fail_if =
        |c| matches!(c, Call::Groups(_) | Call::ResGid(_) | Call::ResUid(_) | Call::Chown(..)).then_some(1);
    assert_eq!(run(&mut k, &c), 127, "{:?}", k.reports);
    assert!(!k.calls.iter().any(|c| matches!(c, Call::Groups(_) | Call::ResGid(_) | Call::ResUid(_))));
    // Each on its own.
    c.gid = Some(5);
    let mut k = Recorder::new(40);
    assert_eq!(run(&mut k, &c), 127);
    assert!(k.calls.contains(&Call::ResGid(5)));
    assert!(!k.calls.iter().any(|c| matches!(c, Call::Groups(_) | Call::ResUid(_))));
}

/// The kernel's last capability is found by bisection: 6 PR_CAPBSET_READ probes, whatever
/// it is, and the bounding drop then covers exactly 0..=last.
#[test]
fn last_capability_is_found_in_six_probes() {
    for last in [0, 1, 5, 31, 32, 40, 41, 62, 63] {
        let o = owned(&["/bin/true"], &[], "");
        let mut c = full(&o);
        c.caps = Some(Caps::default());
        let mut k = Recorder::new(last); // with every capability the kernel knows
        run(&mut k, &c);
        // The bisection never asks for capability 0 (every kernel has it); the bounding
        // drop's and the read-back's own reads start there.
        let bisection = k.probes.iter().position(|&p| p == 0).unwrap_or(k.probes.len());
        assert_eq!(bisection, 6, "last cap {last}: probes {:?}", k.probes);
        let drops: Vec<u32> = k
            .calls
            .iter()
            .filter_map(|c| match c {
                Call::CapbsetDrop(n) => Some(*n),
                _ => None,
            })
            .collect();
        assert_eq!(drops, (0..=last).collect::<Vec<_>>(), "last cap {last}");
    }
}

/// Only EINVAL ends the probe. Any other error (a caller's seccomp filter, an LSM) fails the
/// config before anything changes: taken as "no such capability", it would leave every
/// capability above it in the bounding set.
#[test]
fn probe_error_other_than_einval_fails_the_config() {
    for (from, errno, name) in [(1, 1, "EPERM"), (0, 13, "EACCES"), (40, 95, "errno 95")] {
        let o = owned(&["/bin/true"], &[], "");
        let mut k = Recorder::new(40);
        k.probe_fails = Some((from, errno));
        assert_eq!(run(&mut k, &full(&o)), 125);
        assert_eq!(k.calls, vec![], "nothing may change after a failed probe");
        let at = k.probes.last().unwrap();
        assert!(*at >= from);
        assert_eq!(k.reports, vec![format!("dmz: unable to read bounding set: {name} (capability {at})\n")]);
    }
}

/// Without a capabilities object nothing uses the last capability: no probe.
#[test]
fn no_probe_without_capabilities() {
    let o = owned(&["/bin/true"], &[], "");
    let mut c = full(&o);
    c.caps = None;
    let mut k = Recorder::new(40);
    run(&mut k, &c);
    assert_eq!(k.probes, Vec::<u32>::new());
    assert!(k.calls.contains(&Call::Execve("/bin/true".into())));
}

/// exec hands the kernel only argv/envp that validation built: a transition run without
/// validation, or after one that failed partway over the lists an earlier one built, calls
/// no execve (there is nothing to exec: ENOENT, exit 127).
#[test]
fn exec_uses_only_the_lists_validation_built() {
    let o = owned(&["/bin/true"], &["A=1"], "");
    let c = Config { args: Bytes(&o.args), env: Bytes(&o.env), ..Config::default() };
    let mut ptrs = vec![core::ptr::null(); dmz::transition::PTR_SLOTS];
    let mut path = vec![0u8; dmz::transition::PATH_MAX];
    let mut p = dmz::Prepared::new(&mut ptrs, &mut path);
    let mut k = Recorder::new(40);
    let e = dmz::transition(&mut k, &c, &mut p);
    assert_eq!((e.step, e.exit_code()), (dmz::Step::Exec, 127));
    assert!(!k.calls.iter().any(|c| matches!(c, Call::Execve(_))), "{:?}", k.calls);

    // Validated, then a config whose argv lacks its final NUL: its first pointer went over
    // the earlier argv before validation refused it.
    let mut k = Recorder::new(40);
    assert!(dmz::validate(&mut k, &c, &mut p).is_ok());
    let bad = Config { args: Bytes(b"/bin/false"), ..c.clone() };
    assert!(dmz::validate(&mut k, &bad, &mut p).is_err());
    let e = dmz::transition(&mut k, &c, &mut p);
    assert_eq!((e.step, e.exit_code()), (dmz::Step::Exec, 127));
    assert!(!k.calls.iter().any(|c| matches!(c, Call::Execve(_))), "{:?}", k.calls);
}
