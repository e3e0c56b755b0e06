//! Every message dmz can print, word for word: one per step (with the detail each step
//! carries) and one per config problem. The texts are written in src/texts.rs; this pins them.

use dmz::error::{push_errno, Bad, Error, Line, Step};

fn message(e: Error, name: &[u8]) -> String {
    let mut line = Line::default();
    e.write_message(&mut line, name);
    String::from_utf8(line.as_bytes().to_vec()).unwrap()
}

#[test]
fn every_step_message() {
    let steps = [
        (Step::Usage, "dmz: unable to parse arguments: EPERM (/some/path)\n"),
        (Step::OpenConfig, "dmz: unable to open config: ENOENT (/some/path)\n"),
        (Step::ReadConfig, "dmz: unable to read config: ESRCH (/some/path)\n"),
        (Step::LoadConfig, "dmz: unable to load config: EINTR (/some/path)\n"),
        (Step::SetRlimit, "dmz: unable to set rlimit: EIO (resource 4000000004)\n"),
        (Step::SetOomScoreAdj, "dmz: unable to set oom_score_adj: ENXIO (/some/path)\n"),
        (Step::InstallSeccomp, "dmz: unable to install seccomp filter: E2BIG (/some/path)\n"),
        (Step::Chdir, "dmz: unable to change directory: ENOEXEC (/some/path)\n"),
        (Step::DropBoundingSet, "dmz: unable to drop bounding set: EBADF (capability 4000000008)\n"),
        (Step::SetSecurebits, "dmz: unable to set securebits: ECHILD (/some/path)\n"),
        (Step::SetKeepCaps, "dmz: unable to set keep-caps: EAGAIN (/some/path)\n"),
        (Step::ChownStdio, "dmz: unable to change owner of stdio: ENOMEM (fd 4000000011)\n"),
        (Step::SetGroups, "dmz: unable to set groups: EACCES (/some/path)\n"),
        (Step::SetResGid, "dmz: unable to set gid: EFAULT (gid 4000000013)\n"),
        (Step::SetResUid, "dmz: unable to set uid: ENOTBLK (uid 4000000014)\n"),
        (Step::ClearKeepCaps, "dmz: unable to clear keep-caps: EBUSY (/some/path)\n"),
        (Step::SetCaps, "dmz: unable to set capabilities: EEXIST (/some/path)\n"),
        (Step::ClearAmbient, "dmz: unable to clear ambient capabilities: EXDEV (/some/path)\n"),
        (Step::RaiseAmbient, "dmz: unable to raise ambient capability: ENODEV (capability 4000000018)\n"),
        (Step::SetNoNewPrivs, "dmz: unable to set no_new_privs: ENOTDIR (/some/path)\n"),
        (Step::Verify, "dmz: unable to verify credentials: EISDIR (/some/path)\n"),
        (Step::KeepFd, "dmz: unable to keep fd: EINVAL (fd 4000000021)\n"),
        (Step::CloseFds, "dmz: unable to close fds: ENFILE (/some/path)\n"),
        (Step::Exec, "dmz: unable to exec: EMFILE (/some/path)\n"),
        (Step::ReadBoundingSet, "dmz: unable to read bounding set: ENOTTY (capability 4000000024)\n"),
    ];
    for (i, (step, want)) in steps.into_iter().enumerate() {
        let e = Error::new(step, (i + 1) as u16, 4_000_000_000 + i as u32);
        assert_eq!(message(e, b"/some/path"), want);
    }
}

#[test]
fn every_config_problem_message() {
    let bads = [
        (Bad::None, "dmz: unable to load config: EINVAL (/ignored)\n"),
        (Bad::Usage, "dmz: unable to parse arguments: EINVAL (usage: dmz FILE | dmz --fd N)\n"),
        (Bad::TooLarge, "dmz: unable to load config: EFBIG (over 131072 bytes)\n"),
        (Bad::TruncatedHeader, "dmz: unable to load config: EINVAL (truncated header)\n"),
        (Bad::Magic, "dmz: unable to load config: EINVAL (not a dmz config)\n"),
        (Bad::Version, "dmz: unable to load config: EINVAL (format version 4294967290, expected 2)\n"),
        (Bad::TruncatedBody, "dmz: unable to load config: EINVAL (truncated body)\n"),
        (Bad::TrailingBytes, "dmz: unable to load config: EINVAL (trailing bytes after body)\n"),
        (Bad::Crc, "dmz: unable to load config: EINVAL (CRC mismatch)\n"),
        (Bad::Malformed, "dmz: unable to load config: EINVAL (malformed body)\n"),
        (Bad::TrailingInBody, "dmz: unable to load config: EINVAL (trailing bytes inside body)\n"),
        (Bad::Args, "dmz: unable to load config: EINVAL (args: empty, unterminated or too many)\n"),
        (Bad::ProgramName, "dmz: unable to load config: EINVAL (args: empty program name)\n"),
        (Bad::Env, "dmz: unable to load config: EINVAL (env: unterminated or too many)\n"),
        (Bad::Cwd, "dmz: unable to load config: EINVAL (cwd: interior NUL or unterminated)\n"),
        (Bad::Umask, "dmz: unable to load config: EINVAL (umask above 0777: 4294967280)\n"),
        (Bad::RlimitResource, "dmz: unable to load config: EINVAL (rlimits: unknown resource 4294967279)\n"),
        (Bad::RlimitOrder, "dmz: unable to load config: EINVAL (rlimits: soft limit above hard limit for resource 4294967278)\n"),
        (Bad::OomScoreAdj, "dmz: unable to load config: EINVAL (oom_score_adj outside -1000..=1000)\n"),
        (Bad::PreserveFds, "dmz: unable to load config: EINVAL (preserve_fds: not ascending above 2 at fd 4294967276)\n"),
        (Bad::Securebits, "dmz: unable to load config: EINVAL (securebits: unknown bits 4294967275)\n"),
        (Bad::SecurebitsKeepCaps, "dmz: unable to load config: EINVAL (securebits: keep-caps locked off)\n"),
        (Bad::SeccompSize, "dmz: unable to load config: EINVAL (seccomp: program size)\n"),
        (Bad::CapBounding, "dmz: unable to load config: EINVAL (capabilities.bounding: unknown to this kernel: capability 4294967272)\n"),
        (Bad::CapEffective, "dmz: unable to load config: EINVAL (capabilities.effective: unknown to this kernel: capability 4294967271)\n"),
        (Bad::CapPermitted, "dmz: unable to load config: EINVAL (capabilities.permitted: unknown to this kernel: capability 4294967270)\n"),
        (Bad::CapInheritable, "dmz: unable to load config: EINVAL (capabilities.inheritable: unknown to this kernel: capability 4294967269)\n"),
        (Bad::CapAmbient, "dmz: unable to load config: EINVAL (capabilities.ambient: unknown to this kernel: capability 4294967268)\n"),
        (Bad::Id, "dmz: unable to load config: EINVAL (uid, gid or group above 2147483647: 4294967267)\n"),
    ];
    for (i, (bad, want)) in bads.into_iter().enumerate() {
        assert_eq!(message(Error::invalid(bad, u32::MAX - i as u32), b"/ignored"), want);
    }
}

/// What step `verify credentials` found otherwise than configured: always EPERM (the step
/// that should have changed it did not), with the id read back or the first capability that
/// differs.
#[test]
fn every_verify_message() {
    let cases = [
        (Bad::VerifyUid, 0, "uid is 0"),
        (Bad::VerifyGid, 7, "gid is 7"),
        (Bad::VerifyGroups, 0, "groups differ"),
        (Bad::VerifyBounding, 21, "capabilities.bounding: capability 21"),
        (Bad::VerifyEffective, 1, "capabilities.effective: capability 1"),
        (Bad::VerifyPermitted, 2, "capabilities.permitted: capability 2"),
        (Bad::VerifyInheritable, 3, "capabilities.inheritable: capability 3"),
        (Bad::VerifyAmbient, 40, "capabilities.ambient: capability 40"),
        (Bad::VerifyNoNewPrivs, 0, "no_new_privs unset"),
    ];
    for (bad, num, detail) in cases {
        let e = Error::mismatch(bad, num);
        assert_eq!(e.exit_code(), 125);
        assert_eq!(message(e, b"/ignored"), format!("dmz: unable to verify credentials: EPERM ({detail})\n"));
    }
}

#[test]
fn every_errno_name() {
    let names = "EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES \
        EFAULT ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY \
        EFBIG ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS \
        ENOTEMPTY ELOOP";
    for (i, want) in names.split(' ').enumerate() {
        let mut line = Line::default();
        push_errno(&mut line, i as u16 + 1);
        assert_eq!(line.as_bytes(), want.as_bytes());
    }
}

#[test]
fn errno_names_and_numbers() {
    for (errno, want) in
        [(0, "errno 0"), (1, "EPERM"), (40, "ELOOP"), (41, "errno 41"), (65535, "errno 65535")]
    {
        let mut line = Line::default();
        push_errno(&mut line, errno);
        assert_eq!(line.as_bytes(), want.as_bytes());
    }
}

/// A line longer than the buffer is cut at 512 bytes, never overflows.
#[test]
fn long_names_are_cut() {
    let name = vec![b'x'; 600];
    let msg = message(Error::new(Step::Exec, 2, 0), &name);
    assert_eq!(msg.len(), 512);
    assert!(msg.starts_with("dmz: unable to exec: ENOENT (xxx"));
}

/// A step without a number, given no name, has no "( )" at all; steps with a number and
/// config problems always have their detail.
#[test]
fn steps_without_a_name_have_no_detail() {
    for (e, want) in [
        (Error::new(Step::ReadConfig, 9, 0), "dmz: unable to read config: EBADF\n"),
        (Error::new(Step::Exec, 2, 0), "dmz: unable to exec: ENOENT\n"),
        (Error::new(Step::SetResUid, 1, 5), "dmz: unable to set uid: EPERM (uid 5)\n"),
        (Error::invalid(Bad::Crc, 0), "dmz: unable to load config: EINVAL (CRC mismatch)\n"),
        (Error::invalid(Bad::None, 0), "dmz: unable to load config: EINVAL\n"),
    ] {
        assert_eq!(message(e, b""), want);
    }
}

/// The config's strings come NUL-terminated; the name ends at its NUL.
#[test]
fn names_end_at_their_nul() {
    let msg = message(Error::new(Step::Chdir, 2, 0), b"/srv\0");
    assert_eq!(msg, "dmz: unable to change directory: ENOENT (/srv)\n");
}

#[test]
fn a_name_stays_on_one_line() {
    // A program or path with control characters: they show as '?', the line stays one.
    let e = Error::new(Step::Exec, 2, 0);
    assert_eq!(message(e, b"/bin/a\nb\r\x1b[2J\0"), "dmz: unable to exec: ENOENT (/bin/a?b??[2J)\n");
    // A name longer than the line: cut, and the line still ends in ")\n".
    let long = vec![b'x'; 4096];
    let m = message(e, &long);
    assert!(m.starts_with("dmz: unable to exec: ENOENT (xxx") && m.ends_with("x)\n"), "{m}");
    assert_eq!(m.matches('\n').count(), 1);
}
