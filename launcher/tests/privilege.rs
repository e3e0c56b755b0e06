//! The target gets what its config names and never more:
//! - an id the kernel would read as "leave unchanged" (4294967295 is -1 to setresuid) is
//!   refused at every source, so the target never keeps the caller's root;
//! - a credential step that a filter made "succeed" without doing anything is caught when dmz
//!   reads its credentials back, before exec;
//! - flags change only what they name, so an unprivileged caller can sandbox itself.

mod support;

use serde_json::json;
use std::process::{Command, Output};
use support::*;

fn launcher(args: &[&str]) -> Output {
    Command::new(launcher_bin()).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A config.json holding only the given process object, in `dir`.
fn config(dir: &TempDir, name: &str, process: serde_json::Value) -> String {
    let spec = json!({ "ociVersion": "1.0.2", "process": process });
    let p = dir.path().join(name);
    std::fs::write(&p, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    p.display().to_string()
}

const RANGE: &str = "is above 2147483647, the largest id runc accepts";

/// Before: `uid=0(root) gid=0(root)` — setresuid(-1, -1, -1) leaves every id unchanged.
#[test]
#[ignore = "needs root: scripts/test runs it"]
fn uid_and_gid_4294967295_never_run_the_target_as_root() {
    require_root();
    let o = launcher(&["run", "--user", "4294967295:4294967295", "--", "/usr/bin/id"]);
    assert_eq!(o.status.code(), Some(125), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), "", "the target ran");
    assert_eq!(stderr(&o), format!("launcher: --user: uid 4294967295 {RANGE}\n"));

    let o = launcher(&["run", "--user", "0:4294967295", "--", "/usr/bin/id"]);
    assert_eq!((o.status.code(), stdout(&o)), (Some(125), String::new()));
    assert_eq!(stderr(&o), format!("launcher: --user: gid 4294967295 {RANGE}\n"));

    let o = launcher(&["run", "--user", "0:0", "--groups", "5,2147483648", "--", "/usr/bin/id"]);
    assert_eq!((o.status.code(), stdout(&o)), (Some(125), String::new()));
    assert_eq!(stderr(&o), format!("launcher: --groups: gid 2147483648 {RANGE}\n"));
}

/// The same ids from config.json and from `inspect --json` output: one line naming the field.
#[test]
fn ids_above_2147483647_are_refused_in_config_json_and_json() {
    let dir = TempDir::new("ids");
    let marker = dir.path().join("started");
    let touch = json!(["/bin/sh", "-c", format!("echo > {}", marker.display())]);
    for (user, field, id) in [
        (json!({"uid": 4294967295u32, "gid": 0}), "process.user.uid", 4294967295u32),
        (json!({"uid": 0, "gid": 4294967295u32}), "process.user.gid", 4294967295),
        (
            json!({"uid": 0, "gid": 0, "additionalGids": [1, 2147483648u32]}),
            "process.user.additionalGids[1]",
            2147483648,
        ),
    ] {
        let cfg = config(&dir, "config.json", json!({"args": touch, "cwd": "/", "user": user}));
        for cmd in ["run", "check"] {
            let o = launcher(&[cmd, "--oci", &cfg]);
            assert_eq!(stderr(&o), format!("launcher: {cfg}: {field}: {id} {RANGE}\n"), "{cmd}");
            assert_eq!(o.status.code(), Some(125), "{cmd}");
        }
        assert!(!marker.exists(), "the target ran with {field} = {id}");
    }

    // inspect --json output edited by hand.
    let good = config(&dir, "good.json", json!({"args": touch, "cwd": "/", "user": {"uid": 1, "gid": 1}}));
    let pcfg = dir.path().join("a.pcfg");
    let o = launcher(&["compile", "--oci", &good, "-o", pcfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = launcher(&["inspect", "--json", pcfg.to_str().unwrap()]);
    let view: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for (field, id) in [("uid", 4294967295u32), ("gid", 2147483648)] {
        let mut v = view.clone();
        v["user"][field] = json!(id);
        let j = dir.path().join("edited.json");
        std::fs::write(&j, serde_json::to_string(&v).unwrap()).unwrap();
        let o = launcher(&["compile", "--from-json", j.to_str().unwrap(), "-o", pcfg.to_str().unwrap()]);
        assert_eq!(stderr(&o), format!("launcher: {}: user.{field}: {id} {RANGE}\n", j.display()));
        assert_eq!(o.status.code(), Some(125));
    }
    let mut v = view.clone();
    v["user"]["additionalGids"] = json!([7, 4294967295u32]);
    let j = dir.path().join("edited.json");
    std::fs::write(&j, serde_json::to_string(&v).unwrap()).unwrap();
    let o = launcher(&["run", "--from-json", j.to_str().unwrap()]);
    assert_eq!(
        stderr(&o),
        format!("launcher: {}: user.additionalGids[1]: 4294967295 {RANGE}\n", j.display())
    );
    assert_eq!(o.status.code(), Some(125));
    assert!(!marker.exists());
}

/// A filter installed before the uid change (no no_new_privs) that answers setresuid with
/// `SCMP_ACT_ERRNO(0)`: the call "succeeds" and changes nothing. dmz reads the ids back and
/// refuses to exec. Before: the target ran as uid 0 with the config saying 1000.
#[test]
#[ignore = "needs root: scripts/test runs it"]
fn a_filter_that_fakes_setresuid_is_caught_before_exec() {
    require_root();
    let dir = TempDir::new("fake-setresuid");
    let marker = dir.path().join("started");
    let process = json!({
        "args": ["/bin/sh", "-c", format!("id > {}", marker.display())],
        "cwd": "/",
        "user": {"uid": 1000, "gid": 1000},
        "noNewPrivileges": false,
    });
    let mut spec = json!({ "ociVersion": "1.0.2", "process": process });
    spec["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["setresuid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0}]
    });
    let cfg = dir.path().join("config.json");
    std::fs::write(&cfg, spec.to_string()).unwrap();
    let o = launcher(&["run", "--oci", cfg.to_str().unwrap()]);
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert_eq!(ran, "", "the target ran");
    assert_eq!(stderr(&o), "dmz: unable to verify credentials: EPERM (uid is 0)\n");
    assert_eq!(o.status.code(), Some(125));
}

/// Flags change only what they name (setpriv's semantics): a caller without privileges can
/// set no_new_privs, a seccomp filter and an rlimit and drop a capability from its (empty)
/// sets. Before: `dmz: unable to set groups: EPERM` (the groups, uid and gid were always set).
#[test]
#[ignore = "needs root: scripts/test runs it"]
fn an_unprivileged_caller_sandboxes_itself_with_flags() {
    require_root(); // to become uid 65534 with setpriv
    let probe = probe();
    let dir = TempDir::new("unprivileged");
    let profile = dir.path().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let o = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"])
        .arg(launcher_bin())
        .args(["run", "--nnp", "--seccomp", profile.to_str().unwrap(), "--rlimit", "nofile=64:128"])
        .args(["--caps", "-net_raw", "--inh-caps", "-all", "--", probe.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    for want in [
        "Uid: 65534 65534 65534 65534",
        "Gid: 65534 65534 65534 65534",
        "Groups:",
        "CapPrm: 0000000000000000",
        "CapEff: 0000000000000000",
        "NoNewPrivs: 1",
        "Seccomp: 2",
        "rlimit 7 64 128",
    ] {
        assert!(out.lines().any(|l| l == want), "missing {want:?} in\n{out}");
    }
    // Naming a uid still needs the privilege to change it, and says so.
    let o = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"])
        .arg(launcher_bin())
        .args(["run", "--user", "0:0", "--", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(stderr(&o), "dmz: unable to set groups: EPERM (/bin/true)\n");
}
