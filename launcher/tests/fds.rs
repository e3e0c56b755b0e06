//! Only stdio and the preserved fds reach the target; the config fd never does.
//!
//! - launcher → dmz with systemd socket activation (LISTEN_FDS=2, LISTEN_PID = the launcher's
//!   PID, which stays the target's): fds 3 and 4 pass, 5 and 6 (open, not close-on-exec) do
//!   not, and LISTEN_FDS/LISTEN_PID reach the target's env with the same PID.
//! - dmz with an explicitly preserved fd: it passes, another open fd does not, and a preserved
//!   fd that is not open stops dmz (125) before the target starts.

mod support;

use dmz::config::{Bytes, Config};
use std::process::Command;
use support::*;

fn fds(o: &Observed) -> Vec<String> {
    o.stdout.iter().filter(|l| l.starts_with("fd=")).cloned().collect()
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn socket_activation_fds_pass_and_nothing_else() {
    require_root();
    let probe = probe();
    let dir = TempDir::new("fds");
    let cfg = dir.path().join("config.json");
    let mut spec = default_spec();
    spec["process"]["args"] = serde_json::json!([probe.to_str().unwrap()]);
    spec["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
    std::fs::write(&cfg, serde_json::to_string(&spec).unwrap()).unwrap();
    // The shell opens 3..6 without close-on-exec, sets LISTEN_PID to its own PID and execs the
    // launcher, so launcher, dmz and the probe all have that PID.
    let script = format!(
        "exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null; \
         LISTEN_FDS=2 LISTEN_PID=$$ LISTEN_FDNAMES=a:b exec {} run --oci {} 2>/dev/null",
        launcher_bin().display(),
        cfg.display()
    );
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    let o = Observed {
        who: "launcher".into(),
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    o.assert_success();
    assert_eq!(fds(&o), vec!["fd=0", "fd=1", "fd=2", "fd=3", "fd=4"], "{}", o.dump());
    assert!(o.stdout.contains(&"env=LISTEN_FDS=2".to_string()), "{}", o.dump());
    assert!(o.stdout.contains(&"env=LISTEN_FDNAMES=a:b".to_string()), "{}", o.dump());
    let pid = o.get("env=LISTEN_PID=").expect("LISTEN_PID passed").to_string();
    assert!(pid.parse::<u32>().is_ok(), "{}", o.dump());

    // Without LISTEN_PID matching, nothing passes.
    let script = format!(
        "exec 3</dev/null 4</dev/null; LISTEN_FDS=2 LISTEN_PID=1 exec {} run --oci {} 2>/dev/null",
        launcher_bin().display(),
        cfg.display()
    );
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let got: Vec<&str> = stdout.lines().filter(|l| l.starts_with("fd=")).collect();
    assert_eq!(got, vec!["fd=0", "fd=1", "fd=2"], "{stdout}");
    assert!(!stdout.contains("LISTEN_"), "{stdout}");
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn explicitly_preserved_fd_passes_and_must_be_open() {
    require_root();
    let probe = probe();
    let dir = TempDir::new("fds-explicit");
    let mut args = Vec::new();
    dmz::config::push_strings(&mut args, [probe.to_str().unwrap().as_bytes()]).unwrap();
    let cfg = Config {
        args: Bytes(&args),
        env: Bytes(b""),
        cwd: Bytes(b"/\0"),
        umask: 0o022,
        preserve_fds: heapless::Vec::from_slice(&[5]).unwrap(),
        ..Config::default()
    };
    let mut blob = vec![0; dmz::config::MAX_CONFIG_LEN];
    let n = cfg.encode(&mut blob).unwrap();
    let pcfg = dir.path().join("c.pcfg");
    std::fs::write(&pcfg, &blob[..n]).unwrap();
    // fds 4, 5 and 6 open in the caller; the config preserves only 5.
    let run = |fds: &str| {
        let script = format!("exec {fds}; exec \"$0\" \"$1\"");
        Command::new("sh").arg("-c").arg(script).arg(dmz_bin()).arg(&pcfg).output().unwrap()
    };
    let out = run("4</dev/null 5</dev/null 6</dev/null");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<&str> = stdout.lines().filter(|l| l.starts_with("fd=")).collect();
    assert_eq!(got, vec!["fd=0", "fd=1", "fd=2", "fd=5"], "{stdout}");

    let out = run("4</dev/null 6</dev/null");
    assert_eq!(out.status.code(), Some(125));
    assert!(out.stdout.is_empty(), "the target started");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "dmz: unable to keep fd: EBADF (fd 5)\n");
}
