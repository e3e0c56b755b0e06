//! The real dmz binary at the edges of its memory and of what the kernel lets it probe: it
//! runs under a 32 KiB stack (its memory follows the config, not its limits), the largest
//! config still runs, from a file and from a pipe, and a caller's seccomp filter that makes
//! PR_CAPBSET_READ fail fails the config instead of shrinking the bounding-set drop.

mod support;

use dmz::config::{Bytes, Caps, Config, Rlimit, MAX_ARGS, MAX_CONFIG_LEN, MAX_ENV};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::{encode, list, Scratch, DMZ};

/// Root, no groups, the given program and environment: what a root caller can run.
fn root_config<'a>(args: &'a [u8], env: &'a [u8]) -> Config<'a> {
    Config { args: Bytes(args), env: Bytes(env), umask: 0o022, ..Config::default() }
}

/// `dmz ARGS` with the stack limited to `kib` KiB (soft and hard, as `ulimit -s` sets).
fn dmz_with_stack(kib: u32, args: &[&Path]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -s {kib} && exec \"$0\" \"$@\""))
        .arg(DMZ)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Under `ulimit -s 32` dmz still reads, checks and refuses: one line and 125, never a
/// SIGSEGV (it used to need ~150 KiB of stack before doing anything).
#[test]
fn refuses_cleanly_under_a_32_kib_stack() {
    let s = Scratch::new("refuse");
    let out = dmz_with_stack(32, &[Path::new("/nonexistent")]);
    assert_eq!(stderr(&out), "dmz: unable to open config: ENOENT (/nonexistent)\n");
    assert_eq!(out.status.code(), Some(125));

    let args = list(&["/bin/true"]);
    let mut bad_cwd = root_config(&args, b"");
    bad_cwd.cwd = Bytes(b"/tm\0p\0");
    for (blob, want) in [
        (encode(&bad_cwd), "cwd: interior NUL or unterminated"),
        (encode(&bad_cwd)[..9].to_vec(), "truncated header"),
    ] {
        let out = dmz_with_stack(32, &[&s.config(&blob)]);
        assert_eq!(stderr(&out), format!("dmz: unable to load config: EINVAL ({want})\n"));
        assert_eq!(out.status.code(), Some(125));
    }
}

/// The whole transition and a PATH search under `ulimit -s 32`.
#[test]
#[ignore = "needs root: scripts/test runs it"]
fn runs_the_target_under_a_32_kib_stack() {
    let s = Scratch::new("stack");
    let args = list(&["sh", "-c", "echo ran"]);
    let env = list(&["PATH=/nonexistent:/usr/bin:/bin"]);
    let out = dmz_with_stack(32, &[&s.config(&encode(&root_config(&args, &env)))]);
    assert_eq!(stderr(&out), "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
    assert_eq!(out.status.code(), Some(0));
}

/// A config that sets RLIMIT_STACK to 32 KiB: the limit is in force from the transition's
/// first step, so the PATH search after it must fit too.
#[test]
#[ignore = "needs root: scripts/test runs it"]
fn config_setting_a_32_kib_stack_limit_before_the_path_search() {
    let s = Scratch::new("rlimit");
    let args = list(&["sh", "-c", "ulimit -s"]);
    let env = list(&["PATH=/nonexistent:/usr/bin:/bin"]);
    let mut c = root_config(&args, &env);
    let stack = linux_raw_sys::general::RLIMIT_STACK;
    c.rlimits.push(Rlimit { resource: stack, soft: 32 << 10, hard: 32 << 10 }).unwrap();
    let cfg = s.config(&encode(&c));
    // With the caller's default stack limit (only the config lowers it), and under 32 KiB.
    for out in [Command::new(DMZ).arg(&cfg).output().unwrap(), dmz_with_stack(32, &[&cfg])] {
        assert_eq!(stderr(&out), "");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "32\n");
    }
}

/// The largest config dmz takes: exactly MAX_CONFIG_LEN bytes, MAX_ARGS arguments and MAX_ENV
/// environment entries, all of which reach the target; from a file and from a pipe.
#[test]
#[ignore = "needs root: scripts/test runs it"]
fn largest_config_runs() {
    let s = Scratch::new("largest");
    // sh -c SCRIPT NAME A1..: $# counts the A's; /proc/$$/environ is the environment exec
    // gave the shell, one NUL per entry.
    let script = "echo $#; tr -cd '\\000' < /proc/$$/environ | wc -c";
    let fixed = ["/bin/sh", "-c", script, "sh"];
    let mut env: Vec<String> = (1..MAX_ENV).map(|i| format!("V{i}=x")).collect();
    env.push("PATH=/usr/bin:/bin".into());
    let env_refs: Vec<&str> = env.iter().map(String::as_str).collect();
    let env = list(&env_refs);
    // One long argument takes up what is left of the size.
    let mut pad = 0;
    let blob = loop {
        let mut a: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
        a.extend((a.len()..MAX_ARGS - 1).map(|i| i.to_string()));
        a.push("p".repeat(pad));
        assert_eq!(a.len(), MAX_ARGS);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let args = list(&refs);
        let mut blob = vec![0; MAX_CONFIG_LEN];
        match root_config(&args, &env).encode(&mut blob) {
            Ok(MAX_CONFIG_LEN) => break blob,
            Ok(n) => pad += MAX_CONFIG_LEN - n,
            // The longer length prefix took the last bytes: one less.
            Err(_) => pad -= 1,
        }
    };
    let want = format!("{}\n{MAX_ENV}\n", MAX_ARGS - fixed.len());

    let out = Command::new(DMZ).arg(s.config(&blob)).output().unwrap();
    assert_eq!(stderr(&out), "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);

    let mut child =
        Command::new(DMZ).args(["--fd", "0"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // More than a pipe holds: written from another thread while dmz reads.
    let writer = std::thread::spawn(move || stdin.write_all(&blob).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    assert_eq!(out.status.code(), Some(0));
}

/// A header naming a body over the limit is refused before anything is mapped or run.
#[test]
fn header_naming_a_body_over_the_limit_is_refused() {
    let s = Scratch::new("over");
    let args = list(&["/bin/true", &"p".repeat(MAX_CONFIG_LEN - 16)]);
    let c = root_config(&args, b"");
    let mut body = vec![0; 2 * MAX_CONFIG_LEN];
    // Encoded without the size limit: header, then the body the decoder would read.
    let mut w = dmz::config::Writer::new(&mut body);
    w.bytes(c.args.0).unwrap();
    let n = w.len();
    assert!(16 + n > MAX_CONFIG_LEN);
    let mut blob = vec![0; 16];
    dmz::config::write_header(&mut blob, dmz::config::MAGIC, dmz::config::VERSION, &body[..n]);
    blob.extend_from_slice(&body[..n]);
    let out = Command::new(DMZ).arg(s.config(&blob)).output().unwrap();
    assert_eq!(stderr(&out), "dmz: unable to load config: EFBIG (over 131072 bytes)\n");
    assert_eq!(out.status.code(), Some(125));
}

/// A caller whose seccomp filter makes PR_CAPBSET_READ fail with EPERM: dmz fails the config
/// (it used to take the error for "no capability 1", drop only capability 0 and run the
/// target with the rest of the bounding set). Needs gcc.
#[test]
fn seccomp_failing_capbset_read_fails_the_config() {
    let s = Scratch::new("capbset");
    let helper = s.0.join("capbset_eperm");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/capbset_eperm.c");
    let gcc = Command::new("gcc").args(["-O2", "-o"]).arg(&helper).arg(&src).output();
    let gcc = gcc.expect("gcc is needed for this test (scripts/setup installs it)");
    assert!(gcc.status.success(), "gcc: {}", String::from_utf8_lossy(&gcc.stderr));

    let args = list(&["/bin/sh", "-c", "echo ran"]);
    let mut c = root_config(&args, b"");
    c.caps = Some(Caps::default());
    let out = Command::new(&helper).arg(DMZ).arg(s.config(&encode(&c))).output().unwrap();
    assert_eq!(stderr(&out), "dmz: unable to read bounding set: EPERM (capability 32)\n");
    assert_eq!(out.status.code(), Some(125));
    assert!(out.stdout.is_empty(), "the target ran");
}
