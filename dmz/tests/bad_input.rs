//! The real dmz binary on bad input: each problem gets its exact one-line message and exit
//! status, and the target never starts (it would create a marker file).
//!

mod support;

use dmz::config::{Bytes, Caps, Config, MAX_CONFIG_LEN};
use std::path::Path;
use std::process::{Command, Output};
use support::{encode, list, Scratch, DMZ};

/// A config whose target, if it ever ran, would create the marker file.
fn encode_with<'a>(marker: &Path, edit: impl FnOnce(&mut Config<'a>)) -> Vec<u8> {
    let script = format!("echo started > {}", marker.display());
    // Leaked: a few bytes per test process, and it lets edits borrow with the same lifetime.
    let args: &'a [u8] = Vec::leak(list(&["/bin/sh", "-c", &script]));
    let env: &'a [u8] = Vec::leak(list(&["PATH=/usr/bin:/bin"]));
    let mut c =
        Config { args: Bytes(args), env: Bytes(env), cwd: Bytes(b"/\0"), umask: 0o022, ..Config::default() };
    edit(&mut c);
    encode(&c)
}

fn run_file(s: &Scratch, blob: &[u8]) -> Output {
    Command::new(DMZ).arg(s.config(blob)).output().unwrap()
}

fn assert_refused(s: &Scratch, out: &Output, code: i32, msg: &str) {
    assert_eq!(String::from_utf8_lossy(&out.stderr), format!("{msg}\n"));
    assert_eq!(out.status.code(), Some(code), "{msg}");
    assert!(out.stdout.is_empty());
    assert!(!s.marker().exists(), "the target started despite: {msg}");
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn good_config_starts_the_target() {
    // The control for every refusal below: the same config, unmodified, does start.
    let s = Scratch::new("good");
    let out = run_file(&s, &encode_with(&s.marker(), |_| {}));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.marker().exists());
}

#[test]
fn header_and_body_problems() {
    let s = Scratch::new("header");
    let good = encode_with(&s.marker(), |_| {});
    let mut cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..9].to_vec(), "truncated header"),
        (good[..good.len() - 3].to_vec(), "truncated body"),
        ([&good[..], b"\0"].concat(), "trailing bytes after body"),
    ];
    let mut m = good.clone();
    m[..4].copy_from_slice(b"ELF\x7f");
    cases.push((m, "not a dmz config"));
    let mut v = good.clone();
    v[4] = 1;
    cases.push((v, "format version 1, expected 2"));
    let mut c = good.clone();
    c[20] ^= 0x40;
    cases.push((c, "CRC mismatch"));
    for (blob, what) in cases {
        let out = run_file(&s, &blob);
        assert_refused(&s, &out, 125, &format!("dmz: unable to load config: EINVAL ({what})"));
    }
}

#[test]
fn oversized_config() {
    let s = Scratch::new("big");
    let blob = vec![b'D'; MAX_CONFIG_LEN + 100];
    let out = run_file(&s, &blob);
    assert_refused(&s, &out, 125, "dmz: unable to load config: EFBIG (over 131072 bytes)");
}

#[test]
fn invalid_values() {
    let s = Scratch::new("invalid");
    let m = s.marker();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            encode_with(&m, |c| {
                c.caps = Some(Caps { bounding: 1 << 63, ..Default::default() });
            }),
            "capabilities.bounding: unknown to this kernel: capability 63",
        ),
        (encode_with(&m, |c| c.cwd = Bytes(b"/tm\0p\0")), "cwd: interior NUL or unterminated"),
        (encode_with(&m, |c| c.args = Bytes(b"")), "args: empty, unterminated or too many"),
        (encode_with(&m, |c| c.args = Bytes(b"\0-c\0")), "args: empty program name"),
        // -1 to setresuid is "leave unchanged": a hand-made file must not keep the caller's
        // root that way either.
        (
            encode_with(&m, |c| (c.uid, c.gid) = (Some(u32::MAX), Some(u32::MAX))),
            "uid, gid or group above 2147483647: 4294967295",
        ),
        (encode_with(&m, |c| c.gid = Some(1 << 31)), "uid, gid or group above 2147483647: 2147483648"),
        (
            encode_with(&m, |c| c.groups = Some(heapless::Vec::from_slice(&[1, 4294967294]).unwrap())),
            "uid, gid or group above 2147483647: 4294967294",
        ),
    ];
    for (blob, what) in cases {
        let out = run_file(&s, &blob);
        assert_refused(&s, &out, 125, &format!("dmz: unable to load config: EINVAL ({what})"));
    }
}

#[test]
fn capability_above_the_running_kernels_last_cap() {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap().trim().parse().unwrap();
    assert!(last < 63, "this test needs a kernel whose last capability is below 63");
    let s = Scratch::new("lastcap");
    let blob = encode_with(&s.marker(), |c| {
        c.caps = Some(Caps { bounding: !0 >> (62 - last), permitted: 1 << (last + 1), ..Default::default() })
    });
    let out = run_file(&s, &blob);
    let msg = format!(
        "dmz: unable to load config: EINVAL (capabilities.bounding: unknown to this kernel: capability {})",
        last + 1
    );
    assert_refused(&s, &out, 125, &msg);
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn missing_and_non_executable_targets() {
    let s = Scratch::new("exec");
    let m = s.marker();
    let notexec = s.0.join("notexec.sh");
    std::fs::write(&notexec, format!("#!/bin/sh\necho started > {}\n", m.display())).unwrap();
    let notexec_arg = format!("{}", notexec.display());
    let args_missing = list(&["/nonexistent/program"]);
    let out = run_file(&s, &encode_with(&m, |c| c.args = Bytes(&args_missing)));
    assert_refused(&s, &out, 127, "dmz: unable to exec: ENOENT (/nonexistent/program)");

    let args_path = list(&["no-such-program-dmzkit"]);
    let out = run_file(&s, &encode_with(&m, |c| c.args = Bytes(&args_path)));
    assert_refused(&s, &out, 127, "dmz: unable to exec: ENOENT (no-such-program-dmzkit)");

    let args_notexec = list(&[&notexec_arg]);
    let out = run_file(&s, &encode_with(&m, |c| c.args = Bytes(&args_notexec)));
    assert_refused(&s, &out, 126, &format!("dmz: unable to exec: EACCES ({notexec_arg})"));

    // Found in PATH but not executable: 126, like a shell.
    let env = list(&[&format!("PATH={}", s.0.display())]);
    let args_name = list(&["notexec.sh"]);
    let out = run_file(
        &s,
        &encode_with(&m, |c| {
            c.args = Bytes(&args_name);
            c.env = Bytes(&env);
        }),
    );
    assert_refused(&s, &out, 126, "dmz: unable to exec: EACCES (notexec.sh)");
}

#[test]
fn usage_and_unreadable_configs() {
    let s = Scratch::new("usage");
    for args in [&[][..], &["--fd"][..], &["--fd", "x"][..], &["-x"][..], &["a", "b"][..]] {
        let out = Command::new(DMZ).args(args).output().unwrap();
        assert_refused(
            &s,
            &out,
            125,
            "dmz: unable to parse arguments: EINVAL (usage: dmz FILE | dmz --fd N)",
        );
    }
    let out = Command::new(DMZ).arg(s.0.join("missing.pcfg")).output().unwrap();
    assert_refused(
        &s,
        &out,
        125,
        &format!("dmz: unable to open config: ENOENT ({})", s.0.join("missing.pcfg").display()),
    );
    let out = Command::new(DMZ).args(["--fd", "77"]).output().unwrap();
    assert_refused(&s, &out, 125, "dmz: unable to read config: EBADF");
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn config_from_an_inherited_fd_or_a_pipe() {
    let s = Scratch::new("fd");
    let blob = encode_with(&s.marker(), |_| {});
    let f = s.0.join("cfg.pcfg");
    std::fs::write(&f, &blob).unwrap();
    // A file on fd 7, and the same bytes through a pipe on stdin.
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec 7<\"$1\"; exec \"$0\" --fd 7")
        .arg(DMZ)
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.marker().exists());
    std::fs::remove_file(s.marker()).unwrap();
    let mut child =
        Command::new(DMZ).args(["--fd", "0"]).stdin(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &blob).unwrap();
    drop(child.stdin.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(s.marker().exists());
}
