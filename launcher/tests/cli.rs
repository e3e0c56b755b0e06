//! The launcher's command line: setpriv-style flags alone and over --oci, name resolution,
//! errors (one line, file and JSON path, a suggestion), runc's ambient rule and --strict,
//! inspect/compile round trips, check, and --sealed against the CVE-2019-5736 pattern.

mod support;

use serde_json::json;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use support::*;

fn launcher(args: &[&str]) -> Output {
    Command::new(launcher_bin()).args(args).output().unwrap()
}

fn lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout).lines().map(String::from).collect()
}

fn has(o: &Output, line: &str) -> bool {
    lines(o).iter().any(|l| l == line)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A config.json with the given process object, in a fresh temp dir.
fn config(dir: &TempDir, process: serde_json::Value) -> String {
    let mut spec = default_spec();
    spec["process"] = process;
    let p = dir.path().join("config.json");
    std::fs::write(&p, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    p.display().to_string()
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn flags_alone_apply_everything() {
    require_root();
    let probe = probe();
    let o = launcher(&[
        "run",
        "--user",
        "1000:1001",
        "--groups",
        "5,7",
        "--bounding-set",
        "-all,+kill,+net_bind_service",
        "--caps",
        "kill",
        "--inh-caps",
        "+kill",
        "--ambient-caps",
        "+kill",
        "--nnp",
        "--rlimit",
        "nofile=100:200",
        "--rlimit",
        "RLIMIT_CORE=0",
        "--umask",
        "027",
        "--cwd",
        "/tmp",
        "--clear-env",
        "--env",
        "A=1",
        "--env",
        "A=2",
        "--",
        probe.to_str().unwrap(),
        "x",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for want in [
        "arg[1]=x",
        "Uid: 1000 1000 1000 1000",
        "Gid: 1001 1001 1001 1001",
        "Groups: 5 7",
        "CapInh: 0000000000000020",
        "CapPrm: 0000000000000020",
        "CapEff: 0000000000000020",
        "CapBnd: 0000000000000420",
        "CapAmb: 0000000000000020",
        "NoNewPrivs: 1",
        "rlimit 7 100 200",
        "rlimit 4 0 0",
        "umask=0027",
        "cwd=/tmp",
        "env=A=2",
    ] {
        assert!(has(&o, want), "missing {want:?} in\n{}", lines(&o).join("\n"));
    }
    let env: Vec<String> = lines(&o).into_iter().filter(|l| l.starts_with("env=")).collect();
    assert_eq!(env, vec!["env=A=2"], "--clear-env leaves only --env");
}

/// Without --oci the target gets this process's environment; a variable a config cannot carry
/// (not UTF-8) is left out with a warning naming it, never silently.
#[test]
fn flags_alone_name_the_variables_they_cannot_pass() {
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("cli-env");
    let out = dir.path().join("a.pcfg");
    let run = |extra: &[&str]| {
        Command::new(launcher_bin())
            .arg("compile")
            .args(extra)
            .args(["-o", out.to_str().unwrap(), "--", "/bin/true"])
            .env("DMZKIT_GOOD", "1")
            .env("DMZKIT_BAD", std::ffi::OsStr::from_bytes(b"\xff"))
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "launcher: warning: environment variable DMZKIT_BAD is not UTF-8: not passed to the target\n"
    );
    let v = inspect_json_of(&out);
    let env: Vec<&str> = v["env"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert!(env.contains(&"DMZKIT_GOOD=1"), "{env:?}");
    assert!(!env.iter().any(|e| e.starts_with("DMZKIT_BAD")), "{env:?}");
    // --clear-env passes nothing of this environment: nothing to warn about.
    let o = run(&["--clear-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

/// `launcher inspect --json PCFG`, parsed.
fn inspect_json_of(pcfg: &std::path::Path) -> serde_json::Value {
    let o = launcher(&["inspect", "--json", pcfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn flags_override_the_oci_file() {
    require_root();
    let probe = probe();
    let dir = TempDir::new("cli-override");
    let mut p = default_process();
    p["args"] = json!([probe.to_str().unwrap()]);
    p["user"] = json!({"uid": 1000, "gid": 1000});
    p["env"] = json!(["PATH=/bin", "KEEP=1", "OVER=file"]);
    let cfg = config(&dir, p);
    let o = launcher(&["run", "--oci", &cfg, "--user", "0:0", "--env", "OVER=flag", "--umask", "0077"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for want in ["Uid: 0 0 0 0", "env=KEEP=1", "env=OVER=flag", "umask=0077", "env=HOME=/root"] {
        assert!(has(&o, want), "missing {want:?} in\n{}", lines(&o).join("\n"));
    }
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn user_and_group_names_come_from_etc() {
    require_root();
    let probe = probe();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let nobody: Vec<&str> = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("nobody in /etc/passwd")
        .split(':')
        .collect();
    let group = std::fs::read_to_string("/etc/group").unwrap();
    let adm: Vec<&str> =
        group.lines().find(|l| l.starts_with("adm:")).expect("adm in /etc/group").split(':').collect();
    let o = launcher(&["run", "--user", "nobody", "--groups", "adm", "--", probe.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(has(&o, &format!("Uid: {0} {0} {0} {0}", nobody[2])), "{}", lines(&o).join("\n"));
    assert!(has(&o, &format!("Gid: {0} {0} {0} {0}", nobody[3])), "{}", lines(&o).join("\n"));
    assert!(has(&o, &format!("Groups: {}", adm[2])), "{}", lines(&o).join("\n"));

    let o = launcher(&["run", "--user", "no-such-user-here", "--", "/bin/true"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(stderr(&o), "launcher: --user: no user \"no-such-user-here\" in /etc/passwd\n");
}

#[test]
fn errors_name_the_file_the_json_path_and_a_fix() {
    let dir = TempDir::new("cli-errors");
    let marker = dir.path().join("started");
    let touch = json!(["/bin/sh", "-c", format!("echo > {}", marker.display())]);
    let cases: Vec<(serde_json::Value, String)> = vec![
        (
            json!({"args": touch, "cwd": "/", "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_BIND_SERVIC"]}}),
            "process.capabilities.bounding[2]: unknown capability \"CAP_NET_BIND_SERVIC\" (did you mean CAP_NET_BIND_SERVICE?)".into(),
        ),
        (
            json!({"args": touch, "cwd": "/", "noNewPrivilege": true}),
            "process.noNewPrivilege: unknown field `noNewPrivilege`, expected one of `terminal`".into(),
        ),
        (json!({"args": touch, "cwd": "/", "user": {"uid": "x"}}), "process.user.uid: invalid type: string \"x\", expected u32".into()),
        (json!({"args": touch, "cwd": "/", "env": ["PATH=/bin", "JUNK"]}), "process.env[1]: \"JUNK\" is not KEY=VALUE".into()),
        (
            json!({"args": touch, "cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILES", "soft": 1, "hard": 1}]}),
            "process.rlimits[0].type: unknown rlimit \"RLIMIT_NOFILES\" (did you mean RLIMIT_NOFILE?)".into(),
        ),
        (json!({"args": touch, "cwd": "tmp"}), "process.cwd: \"tmp\" is not an absolute path".into()),
        (json!({"args": [], "cwd": "/"}), "process.args: must not be empty".into()),
        (json!({"args": touch, "cwd": "/", "oomScoreAdj": 5000}), "process.oomScoreAdj: 5000 is outside -1000..=1000".into()),
        (
            json!({"args": touch, "cwd": "/", "capabilities": {"effective": ["CAP_KILL"], "permitted": []}}),
            "capabilities.effective: not in permitted, capset(2) refuses: CAP_KILL".into(),
        ),
    ];
    for (process, want) in cases {
        let cfg = config(&dir, process);
        let o = launcher(&["run", "--oci", &cfg]);
        let err = stderr(&o);
        let last = err.lines().last().unwrap_or("");
        assert!(last.starts_with(&format!("launcher: {cfg}: {want}")), "got {last:?}, want {want:?}");
        assert_eq!(o.status.code(), Some(125), "{err}");
        assert!(!marker.exists(), "the target ran despite: {want}");
    }
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"process\": ").unwrap();
    let o = launcher(&["run", "--oci", bad.to_str().unwrap()]);
    assert!(
        stderr(&o).starts_with(&format!("launcher: {}: invalid JSON: EOF while parsing", bad.display())),
        "{}",
        stderr(&o)
    );
    let o = launcher(&["run", "--caps", "+net_bind_servic", "--", "/bin/true"]);
    assert_eq!(
        stderr(&o),
        "launcher: --caps: unknown capability \"net_bind_servic\" (did you mean CAP_NET_BIND_SERVICE?)\n"
    );
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn ambient_caps_runc_cannot_raise_are_skipped_or_refused_under_strict() {
    require_root();
    let probe = probe();
    let dir = TempDir::new("cli-ambient");
    let mut p = default_process();
    p["args"] = json!([probe.to_str().unwrap()]);
    // runc spec's own default: ambient caps, no inheritable set.
    let cfg = config(&dir, p);
    let o = launcher(&["run", "--oci", &cfg]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(has(&o, "CapAmb: 0000000000000000"), "{}", lines(&o).join("\n"));
    let warn = format!(
        "launcher: {cfg}: capabilities.ambient: not raised (not in both permitted and inheritable, as runc): CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE"
    );
    assert!(stderr(&o).lines().any(|l| l == warn), "{}", stderr(&o));
    let o = launcher(&["run", "--strict", "--oci", &cfg]);
    assert_eq!(o.status.code(), Some(125));
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).ends_with(&format!("{} (refused: --strict)\n", warn.trim_start_matches("launcher: "))),
        "{}",
        stderr(&o)
    );
}

#[test]
fn inspect_and_compile_round_trip() {
    let dir = TempDir::new("cli-roundtrip");
    let mut p = seed_spec()["process"].clone();
    p["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615u64}]);
    p["oomScoreAdj"] = json!(-17);
    p["user"]["additionalGids"] = json!([4, 24]);
    let cfg = config(&dir, p);
    let a = dir.path().join("a.pcfg");
    let b = dir.path().join("b.pcfg");
    let j = dir.path().join("a.json");
    let o = launcher(&[
        "compile",
        "--oci",
        &cfg,
        "--securebits",
        "+noroot,+keep_caps",
        "-o",
        a.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = launcher(&["inspect", "--json", a.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(&j, &o.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["args"], json!(["/usr/bin/nc.openbsd", "-l", "80"]));
    assert_eq!(v["capabilities"]["bounding"], json!(["CAP_NET_BIND_SERVICE"]));
    assert_eq!(v["securebits"], json!(["noroot", "keep_caps"]));
    assert_eq!(v["user"], json!({"uid": 1000, "gid": 1000, "additionalGids": [4, 24], "umask": "0022"}));
    assert_eq!(v["oomScoreAdj"], json!(-17));
    let o = launcher(&["compile", "--from-json", j.to_str().unwrap(), "-o", b.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "pcfg -> JSON -> pcfg changed the bytes"
    );
    let o2 = launcher(&["inspect", "--json", b.to_str().unwrap()]);
    assert_eq!(std::fs::read(&j).unwrap(), o2.stdout, "JSON -> pcfg -> JSON changed");
    let text = launcher(&["inspect", a.to_str().unwrap()]);
    assert!(has(&text, "caps.bounding     CAP_NET_BIND_SERVICE"), "{}", lines(&text).join("\n"));
    assert!(has(&text, "rlimit            RLIMIT_CORE soft 0 hard unlimited"), "{}", lines(&text).join("\n"));
    // A damaged file is reported like dmz reports it.
    let mut bytes = std::fs::read(&a).unwrap();
    bytes[4] = 9;
    std::fs::write(&b, &bytes).unwrap();
    let o = launcher(&["inspect", b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        stderr(&o),
        format!("launcher: {}: load config: EINVAL (format version 9, expected 2)\n", b.display())
    );
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn check_reports_and_fails_on_what_would_fail() {
    require_root();
    let dir = TempDir::new("cli-check");
    let mut p = default_process();
    p["args"] = json!(["/bin/true"]);
    let cfg = config(&dir, p.clone());
    let o = launcher(&["check", "--oci", &cfg]);
    assert_eq!(o.status.code(), Some(0), "{}", lines(&o).join("\n"));
    assert!(lines(&o).iter().any(|l| l.starts_with(
        "warn: not applied (dmz runs the process in the caller's root and namespaces): hostname"
    )));
    assert!(lines(&o).iter().any(|l| l.starts_with("warn: capabilities.ambient: not raised")));
    assert!(has(&o, "ok:   program: /bin/true"));

    p["capabilities"]["inheritable"] = json!(["CAP_SYS_ADMIN"]);
    p["args"] = json!(["no-such-program"]);
    let cfg = config(&dir, p);
    let o = launcher(&["check", "--oci", &cfg]);
    assert_eq!(o.status.code(), Some(1), "{}", lines(&o).join("\n"));
    assert!(
        has(&o, "FAIL: capabilities.inheritable: not in bounding, capset(2) refuses: CAP_SYS_ADMIN"),
        "{}",
        lines(&o).join("\n")
    );
    assert!(
        has(&o, "FAIL: program \"no-such-program\": not found in the target's PATH (dmz would exit 127)"),
        "{}",
        lines(&o).join("\n")
    );
}

/// CVE-2019-5736: the target re-executes /proc/self/exe, which at that moment is dmz; while
/// that dmz instance runs, an attacker holds /proc/PID/exe open and, once it exits, writes
/// through it. Without --sealed that rewrites the dmz file on disk; with --sealed it reaches
/// only a sealed memfd copy, and the write fails.
#[test]
#[ignore = "needs root: scripts/test runs it"]
fn sealed_protects_the_dmz_file_from_proc_self_exe() {
    require_root();
    for sealed in [false, true] {
        let dir = TempDir::new("cli-sealed");
        let victim = dir.path().join("dmz");
        std::fs::copy(dmz_bin(), &victim).unwrap();
        let original = std::fs::read(&victim).unwrap();
        let mut args = vec!["run", "--dmz", victim.to_str().unwrap()];
        if sealed {
            args.push("--sealed");
        }
        // The target is /proc/self/exe itself: dmz runs again and reads a config from stdin,
        // which this test holds open, so the window is deterministic.
        args.extend(["--", "/proc/self/exe", "--fd", "0"]);
        let mut child = Command::new(launcher_bin())
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
            != b"/proc/self/exe\0--fd\x000\0"
        {
            assert!(std::time::Instant::now() < deadline, "dmz never re-executed itself");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // The attacker's handle on the running executable.
        let exe = rustix::fs::open(
            format!("/proc/{pid}/exe").as_str(),
            rustix::fs::OFlags::PATH,
            rustix::fs::Mode::empty(),
        )
        .expect("open /proc/PID/exe");
        drop(child.stdin.take()); // EOF: the re-executed dmz fails (empty config) and exits
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(125), "{}", String::from_utf8_lossy(&out.stderr));
        let through = format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&exe));
        let write =
            std::fs::OpenOptions::new().write(true).open(&through).and_then(|mut f| f.write_all(b"PWNED"));
        let now = std::fs::read(&victim).unwrap();
        if sealed {
            assert!(write.is_err(), "the write through /proc/PID/exe succeeded");
            assert_eq!(now, original, "the dmz file changed despite --sealed");
        } else {
            // The control: without --sealed the attack works, so the test can tell.
            write.expect("write through /proc/PID/exe");
            assert_eq!(&now[..5], b"PWNED");
        }
    }
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn seccomp_profile_from_the_command_line() {
    require_root();
    let dir = TempDir::new("cli-seccomp");
    let profile = dir.path().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_RISCV64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    )
    .unwrap();
    let target = dir.path().join("made");
    let o = launcher(&[
        "run",
        "--nnp",
        "--seccomp",
        profile.to_str().unwrap(),
        "--",
        "/bin/mkdir",
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("Operation not permitted"), "{}", stderr(&o));
    assert!(!target.exists());
    let probe = probe();
    let o =
        launcher(&["run", "--nnp", "--seccomp", profile.to_str().unwrap(), "--", probe.to_str().unwrap()]);
    assert!(has(&o, "Seccomp: 2"), "{}", lines(&o).join("\n"));
    // The control: without the profile, mkdir works.
    let o = launcher(&["run", "--", "/bin/mkdir", target.to_str().unwrap()]);
    assert!(o.status.success() && target.is_dir(), "{}", stderr(&o));

    std::fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_EROR"}]}"#).unwrap();
    let o = launcher(&["run", "--seccomp", profile.to_str().unwrap(), "--", "/bin/true"]);
    assert_eq!(o.status.code(), Some(125));
    let err = stderr(&o);
    assert!(err.starts_with(&format!("launcher: {}: syscalls[0].action: ", profile.display())), "{err}");
}

/// `--pcfg` reads a compiled file, so `check` can judge an image's config on its machine: a
/// seccomp filter compiled for another architecture fails the check (its bad-arch action would
/// meet the target's first syscall), the native one passes. `inspect` names the architectures.
#[test]
#[ignore = "needs root: scripts/test runs it"]
fn check_a_compiled_file_for_this_machine() {
    let dir = TempDir::new("cli-check-pcfg");
    let cfg = format!("{TESTDATA}/oci/runc-spec-default.json");
    let profile = format!("{TESTDATA}/seccomp/moby-default.json");
    let native = std::env::consts::ARCH; // the launcher's names are Rust's
                                         // Docker's archMap: x86_64's filter also covers x86 (and x32), aarch64's covers arm.
    let foreign = if native == "riscv64" { "x86_64" } else { "riscv64" };
    let compile = |arch: Option<&str>, out: &str| {
        let out = dir.path().join(out);
        let mut args = vec!["compile", "--oci", &cfg, "--seccomp", &profile, "-o", out.to_str().unwrap()];
        args.extend(arch.map(|a| ["--arch", a]).into_iter().flatten());
        let o = launcher(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        out.display().to_string()
    };
    let native_file = compile(None, "native.pcfg");
    let foreign_file = compile(Some(foreign), "foreign.pcfg");

    let o = launcher(&["check", "--pcfg", &native_file]);
    assert_eq!(o.status.code(), Some(0), "{}", lines(&o).join("\n"));
    let seccomp = lines(&o).into_iter().find(|l| l.contains("seccomp:")).unwrap();
    assert!(seccomp.starts_with("ok:   seccomp: ") && seccomp.contains(native), "{seccomp}");

    let o = launcher(&["check", "--pcfg", &foreign_file]);
    assert_eq!(o.status.code(), Some(1), "{}", lines(&o).join("\n"));
    let seccomp = lines(&o).into_iter().find(|l| l.contains("seccomp:")).unwrap();
    assert!(
        seccomp.starts_with("FAIL: seccomp: ")
            && seccomp.ends_with(&format!(", for {foreign}: not for this machine ({native})")),
        "{seccomp}"
    );

    let o = launcher(&["inspect", "--json", &foreign_file]);
    let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["seccomp"]["architectures"], json!([foreign]));
    // The list is checked against the program on the way back.
    v["seccomp"]["architectures"] = json!([native]);
    let j = dir.path().join("edited.json");
    std::fs::write(&j, v.to_string()).unwrap();
    let o = launcher(&["compile", "--from-json", j.to_str().unwrap(), "-o", "/dev/null"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        stderr(&o),
        format!(
            "launcher: {}: seccomp.architectures: [\"{native}\"] does not match the program ([\"{foreign}\"])\n",
            j.display()
        )
    );

    // A damaged file is refused with dmz's words.
    let mut bytes = std::fs::read(&native_file).unwrap();
    bytes[0] = b'X';
    std::fs::write(&native_file, &bytes).unwrap();
    let o = launcher(&["check", "--pcfg", &native_file]);
    assert_eq!(o.status.code(), Some(125));
    let prefix = format!("launcher: {native_file}: load config: EINVAL (");
    assert!(stderr(&o).starts_with(&prefix), "{}", stderr(&o));
}

// ---- Bad input: one line, a documented exit status, never a panic ----

/// `inspect --json` of a plain config, as a JSON value to edit.
fn inspect_json(dir: &TempDir) -> serde_json::Value {
    let pcfg = dir.path().join("base.pcfg");
    let o = launcher(&[
        "compile",
        "--clear-env",
        "--env",
        "A=1",
        "-o",
        pcfg.to_str().unwrap(),
        "--",
        "/bin/true",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    inspect_json_of(&pcfg)
}

/// Asserts `o` failed before running anything with exit 125 and exactly one stderr line that
/// starts with `prefix`.
fn assert_one_line_error(o: &Output, prefix: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(125), "{prefix}: {err}");
    assert!(err.starts_with(prefix) && err.lines().count() == 1, "expected {prefix:?}..., got {err:?}");
}

/// An `inspect --json` file edited into something dmz refuses (empty args, values out of
/// range, too many entries): `check` and `compile` refuse it in one line naming the field,
/// instead of panicking (empty args), reporting it as fine, or writing a file dmz cannot load.
#[test]
fn edited_json_that_dmz_would_refuse_is_refused_by_every_subcommand() {
    let dir = TempDir::new("cli-bad-json");
    let base = inspect_json(&dir);
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("/args", json!([]), "args: must not be empty"),
        ("/args", json!([""]), "args[0]: empty program name"),
        ("/args", json!(vec!["/bin/true"; 1025]), "args: 1025 entries, at most 1024"),
        ("/env", json!(vec!["A=1"; 1025]), "env: 1025 entries, at most 1024"),
        ("/cwd", json!(""), "cwd: empty"),
        ("/user/umask", json!("1777"), "user.umask: 0o1777 is above 0o777"),
        ("/user/additionalGids", json!((0..65).collect::<Vec<u32>>()), "user.additionalGids: 65 entries"),
        ("/rlimits", json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]), "rlimits[0]: soft limit 10"),
        (
            "/rlimits",
            json!([{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]),
            "rlimits[1]: resource 4 is set twice",
        ),
        ("/oomScoreAdj", json!(1001), "oomScoreAdj: 1001 is outside"),
        ("/preserveFds", json!([4, 3]), "preserveFds[1]: 3: fds must be ascending"),
        ("/preserveFds", json!([2]), "preserveFds[0]: 2: fds must be ascending, above 2"),
        ("/seccomp", json!({"flags": 0, "instructions": 0, "program": ""}), "seccomp: a program of 0 bytes"),
        ("/args", json!(["/bin/true", "x".repeat(140_000)]), "the compiled config is larger than"),
    ];
    for (i, (at, value, msg)) in cases.into_iter().enumerate() {
        let mut v = base.clone();
        *v.pointer_mut(at).unwrap() = value;
        let file = dir.path().join(format!("bad{i}.json"));
        std::fs::write(&file, v.to_string()).unwrap();
        let file = file.to_str().unwrap();
        let prefix = format!("launcher: {file}: {msg}");
        assert_one_line_error(&launcher(&["check", "--from-json", file]), &prefix);
        let out = dir.path().join(format!("bad{i}.pcfg"));
        let o = launcher(&["compile", "--from-json", file, "-o", out.to_str().unwrap()]);
        assert_one_line_error(&o, &prefix);
        assert!(!out.exists(), "{msg}: compile wrote a file dmz refuses");
    }
}

/// A compiled file (hand-made, or from an older launcher) that dmz would refuse: `check
/// --pcfg` says why in one line; it used to panic on empty args and on an unknown rlimit.
#[test]
fn check_of_a_pcfg_that_dmz_would_refuse() {
    let dir = TempDir::new("cli-bad-pcfg");
    let write = |name: &str, cfg: dmz::Config| {
        let mut buf = vec![0u8; dmz::config::MAX_CONFIG_LEN];
        let n = cfg.encode(&mut buf).unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, &buf[..n]).unwrap();
        p.display().to_string()
    };
    let args = dmz::config::Bytes(b"/bin/true\0");
    let empty = write("empty-args.pcfg", dmz::Config::default());
    let o = launcher(&["check", "--pcfg", &empty]);
    assert_one_line_error(&o, &format!("launcher: {empty}: args: must not be empty"));

    let mut rlimits = heapless::Vec::new();
    rlimits.push(dmz::config::Rlimit { resource: 99, soft: 1, hard: 1 }).unwrap();
    let rlimit = write("rlimit.pcfg", dmz::Config { args, rlimits, ..Default::default() });
    let o = launcher(&["check", "--pcfg", &rlimit]);
    assert_one_line_error(&o, &format!("launcher: {rlimit}: rlimits[0].type: unknown rlimit \"99\""));

    let umask = write("umask.pcfg", dmz::Config { args, umask: 0o7777, ..Default::default() });
    let o = launcher(&["run", "--pcfg", &umask]);
    assert_one_line_error(&o, &format!("launcher: {umask}: user.umask: 0o7777 is above 0o777"));
}

/// A reader that goes away (`launcher check ... | head -1`) ends the launcher with an error
/// line, not an abort.
#[test]
fn check_into_a_closed_pipe_is_an_error_not_a_panic() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(launcher_bin()).args(["check", "--", "/bin/true"]).stdout(writer).output().unwrap();
    assert_one_line_error(&o, "launcher: stdout: Broken pipe");
}

// ---- The run path: which dmz, which fds, which memfd ----

/// `--dmz dmz` is the file `./dmz` that the launcher checked, not a `dmz` that a PATH search
/// would find elsewhere.
#[test]
fn dmz_named_without_a_slash_is_the_file_that_was_checked() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("cli-dmz-name");
    let (here, elsewhere) = (dir.path().join("here"), dir.path().join("elsewhere"));
    for (d, word) in [(&here, "checked"), (&elsewhere, "from-PATH")] {
        std::fs::create_dir(d).unwrap();
        let f = d.join("dmz");
        std::fs::write(&f, format!("#!/bin/sh\necho {word} \"$1\"\n")).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let o = Command::new(launcher_bin())
        .current_dir(&here)
        .env("PATH", format!("{}:/usr/bin:/bin", elsewhere.display()))
        .args(["run", "--dmz", "dmz", "--", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "checked --fd\n", "{}", stderr(&o));
}

/// Socket activation with more fds than dmz can keep open: refused, instead of passing 64
/// while LISTEN_FDS tells the target there are more.
#[test]
fn more_listen_fds_than_dmz_keeps_are_refused() {
    let script = format!(
        "LISTEN_PID=$$ LISTEN_FDS=65 exec {} run --dmz {} -- /bin/echo ran",
        launcher_bin().display(),
        dmz_bin().display()
    );
    let o = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert_one_line_error(&o, "launcher: LISTEN_FDS=65: dmz passes at most 64 fds (3..=66)\n");
    assert!(o.stdout.is_empty(), "{}", String::from_utf8_lossy(&o.stdout));
}

/// `--sealed` under `vm.memfd_noexec`: with 1, a memfd created without MFD_EXEC is sealed
/// non-executable, so the launcher asks for MFD_EXEC; with 2 the kernel allows no executable
/// memfd and the launcher says so in one line. The sysctl is per pid namespace and new
/// namespaces start from their parent's value: each case sets it in a fresh one, so nothing
/// outside the test changes and nothing needs restoring. Without the sysctl (before Linux
/// 6.3) the kernel refuses MFD_EXEC itself, and --sealed must still work.
#[test]
#[ignore = "needs root: scripts/test runs it"]
fn sealed_under_memfd_noexec() {
    require_root();
    let run = |setup: &str| {
        let script = format!(
            "{setup}exec {} run --dmz {} --sealed -- /bin/echo sealed-ran",
            launcher_bin().display(),
            dmz_bin().display()
        );
        Command::new("unshare").args(["--pid", "--fork", "sh", "-c", &script]).output().unwrap()
    };
    if !std::path::Path::new("/proc/sys/vm/memfd_noexec").exists() {
        let o = run("");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "sealed-ran\n", "{}", stderr(&o));
        return;
    }
    for level in [0, 1] {
        let o = run(&format!("echo {level} > /proc/sys/vm/memfd_noexec && "));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "sealed-ran\n", "level {level}: {}", stderr(&o));
    }
    let o = run("echo 2 > /proc/sys/vm/memfd_noexec && ");
    assert_one_line_error(
        &o,
        "launcher: --sealed: this kernel refuses executable memfds (vm.memfd_noexec = 2",
    );
    assert!(o.stdout.is_empty());
}

// ---- check: a filter installed before the uid change ----

/// Without no_new_privs dmz installs the filter before the uid change, so the filter sees the
/// rest of the transition. `check` runs the compiled program on those syscalls and warns
/// about each one it does not allow, and above all about an errno of 0, which makes
/// setresuid report success without changing anything. With no_new_privs the filter goes in
/// last, and nothing is said.
#[test]
fn check_warns_about_a_pre_nnp_filter_that_blocks_or_fakes_a_step() {
    let dir = TempDir::new("cli-pre-nnp");
    let profile = dir.path().join("profile.json");
    let write = |rules: serde_json::Value| {
        std::fs::write(&profile, json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}).to_string())
            .unwrap()
    };
    write(json!([
        {"names": ["setresuid", "setresuid32"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0},
        {"names": ["capset"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["prctl"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 24, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
    ]));
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--user", "1000:1000", "--bounding-set", "-all,+kill", "--seccomp"];
        args.push(profile.to_str().unwrap());
        args.extend(extra);
        args.extend(["--", "/bin/true"]);
        let o = launcher(&args);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        lines(&o).into_iter().filter(|l| l.contains("before the uid change")).collect::<Vec<_>>()
    };
    let head = "warn: seccomp: installed before the uid change (no_new_privs is off), the filter answers";
    assert_eq!(
        check(&[]),
        vec![
            format!("{head} prctl(PR_CAPBSET_DROP) with SCMP_ACT_KILL_PROCESS: the transition would fail there"),
            format!("{head} setresuid(1000) with SCMP_ACT_ERRNO(0): it would report success without taking effect"),
            format!("{head} capset with SCMP_ACT_ERRNO(1): the transition would fail there"),
        ]
    );
    assert_eq!(check(&["--nnp"]), Vec::<String>::new());
    // A filter that leaves the transition alone is said to.
    write(json!([{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]));
    assert_eq!(
        check(&[]),
        vec!["ok:   seccomp: installed before the uid change (no_new_privs is off); it allows every later step"]
    );
}

/// With nobody reading stderr any more, a failing launcher still exits with its own status
/// (writing the error line used to abort it).
#[test]
fn an_error_into_a_closed_stderr_keeps_its_exit_status() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(launcher_bin()).args(["check", "--", ""]).stderr(writer).output().unwrap();
    assert_eq!(o.status.code(), Some(125));
}

/// A TOML syntax error is one line: where, and what (not the quoted source line and a caret).
#[test]
fn init_toml_syntax_error_is_one_line() {
    let dir = TempDir::new("cli-toml");
    let toml = dir.path().join("init.toml");
    std::fs::write(&toml, format!("x = {}{}\n", "[".repeat(1000), "]".repeat(1000))).unwrap();
    let o = launcher(&["compile", "--init", toml.to_str().unwrap(), "-o", "/dev/null"]);
    assert_one_line_error(&o, &format!("launcher: {}: TOML parse error at line 1, column ", toml.display()));
}

/// A service's cgroup keys: compiled and shown back by `inspect`; a bad value is refused in
/// one line naming the service and key, and no file is written.
#[test]
fn init_cgroup_keys_compile_inspect_and_refuse() {
    let dir = TempDir::new("cli-cgroup");
    let toml = dir.path().join("init.toml");
    let pcfg = dir.path().join("init.pcfg");
    let unit = "[[service]]\nname = \"web\"\nprocess = { args = [\"/bin/true\"] }\n";
    std::fs::write(
        &toml,
        format!("{unit}memory_max = 33554432\npids_max = \"max\"\ncpu_max = \"max 100000\"\n"),
    )
    .unwrap();
    let o = launcher(&["compile", "--init", toml.to_str().unwrap(), "-o", pcfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = launcher(&["inspect", "--json", pcfg.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &v["service"][0];
    assert_eq!(
        (&s["memory_max"], &s["pids_max"], &s["cpu_max"]),
        (&json!(33554432), &json!("max"), &json!("max 100000"))
    );
    assert!(s.get("cpu_weight").is_none(), "{s}");
    std::fs::remove_file(&pcfg).unwrap();
    std::fs::write(&toml, format!("{unit}cpu_weight = 20000\n")).unwrap();
    let o = launcher(&["compile", "--init", toml.to_str().unwrap(), "-o", pcfg.to_str().unwrap()]);
    let want = format!(
        "launcher: {}: service[0].cpu_weight: 20000: expected an integer in 1..=10000",
        toml.display()
    );
    assert_one_line_error(&o, &want);
    assert!(!pcfg.exists(), "nothing written");
}
