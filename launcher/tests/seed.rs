//! The seed scenario (docs/design.md §2, testdata/oci/seed-nc-80.json) end to end, with the probe
//! (carrying `cap_net_bind_service=ep`) in place of nc:
//! uid/gid 1000, NNP, bounding = eff = perm = {NET_BIND_SERVICE}, no ambient.
//!
//! - launcher → dmz → probe must bind port 80 with CapPrm = CapEff = 0x400, NoNewPrivs 1:
//!   dmz applies the caps itself and does the last execve.
//! - The bug being prevented, reproduced two ways:
//!   runc → exec-only trampoline → probe, and a small C "runc-like" program
//!   (tests/probe/runclike.c: bounding drop, keepcaps, setresuid, capset 0x400, NNP) →
//!   trampoline → probe. Both lose the capability (CapPrm 0, bind EACCES); without the
//!   trampoline, or without NNP, the capability survives. This shows the launcher result
//!   is not an artefact of the probe or the machine.
//!
//! Needs root, runc, gcc (static libc), setcap, unshare and a built dmz; nothing is skipped.

mod support;

use std::ffi::OsStr;

use serde_json::{json, Value};
use support::*;

const CAP_NBS_ONLY: &str = "0000000000000400";

fn seed_process() -> Value {
    let mut p = seed_spec()["process"].clone();
    assert_eq!(p["args"], json!(["/usr/bin/nc.openbsd", "-l", "80"]), "seed config changed?");
    p["args"][0] = json!("/probe");
    p
}

fn file_caps() -> RunOpts {
    RunOpts::file_caps("cap_net_bind_service=ep")
}

fn assert_kept(o: &Observed, nnp: &str) {
    o.assert_success();
    assert_eq!(o.get("Uid: "), Some("1000 1000 1000 1000"), "{}", o.dump());
    assert_eq!(o.get("CapPrm: "), Some(CAP_NBS_ONLY), "{}", o.dump());
    assert_eq!(o.get("CapEff: "), Some(CAP_NBS_ONLY), "{}", o.dump());
    assert_eq!(o.get("CapBnd: "), Some(CAP_NBS_ONLY), "{}", o.dump());
    assert_eq!(o.get("NoNewPrivs: "), Some(nnp), "{}", o.dump());
    assert_eq!(o.get("bind80="), Some("ok"), "{}", o.dump());
}

fn assert_lost(o: &Observed) {
    o.assert_success();
    assert_eq!(o.get("Uid: "), Some("1000 1000 1000 1000"), "{}", o.dump());
    assert_eq!(o.get("CapPrm: "), Some("0000000000000000"), "{}", o.dump());
    assert_eq!(o.get("CapEff: "), Some("0000000000000000"), "{}", o.dump());
    assert_eq!(o.get("NoNewPrivs: "), Some("1"), "{}", o.dump());
    assert_eq!(o.get("bind80="), Some("EACCES"), "{}", o.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn seed_through_launcher_and_dmz_binds_80() {
    require_root();
    let o = run_launcher(&seed_process(), &file_caps());
    assert_kept(&o, "1");
    assert!(o.stdout.contains(&"arg[1]=-l".to_string()) && o.stdout.contains(&"arg[2]=80".to_string()));
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn seed_through_runc_binds_80() {
    require_root();
    assert_kept(&run_runc(&seed_process(), &file_caps()), "1");
}

/// The seed process with `/trampoline` in front of `/probe` (runc-dmz's position).
fn via_trampoline(mut p: Value) -> (Value, RunOpts) {
    p["args"] = json!(["/trampoline", "/probe", "-l", "80"]);
    let mut opts = file_caps();
    opts.rootfs_extra.push(("/trampoline".into(), build_c("trampoline")));
    (p, opts)
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn seed_through_runc_and_exec_only_trampoline_loses_cap() {
    require_root();
    let (p, opts) = via_trampoline(seed_process());
    assert_lost(&run_runc(&p, &opts));
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn seed_through_runc_and_trampoline_without_nnp_binds_80() {
    require_root();
    let mut p = seed_process();
    p["noNewPrivileges"] = json!(false);
    let (p, opts) = via_trampoline(p);
    assert_kept(&run_runc(&p, &opts), "0");
}

/// A per-test copy of the probe with `cap_net_bind_service=ep`.
fn capable_probe(dir: &TempDir) -> std::path::PathBuf {
    let p = dir.path().join("probe");
    install_binary(&probe(), &p, Some("cap_net_bind_service=ep"));
    p
}

const ENV: &[(&str, &str)] = &[("PATH", "/usr/bin:/bin"), ("TERM", "xterm")];

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn runclike_direct_exec_binds_80() {
    let dir = TempDir::new("seed");
    let probe = capable_probe(&dir);
    let o = run_host("runclike", &build_c("runclike"), &[OsStr::new("--nnp"), probe.as_os_str()], ENV);
    assert_kept(&o, "1");
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn runclike_then_exec_only_trampoline_loses_cap() {
    let dir = TempDir::new("seed");
    let probe = capable_probe(&dir);
    let tramp = build_c("trampoline");
    let o = run_host(
        "runclike+trampoline",
        &build_c("runclike"),
        &[OsStr::new("--nnp"), tramp.as_os_str(), probe.as_os_str()],
        ENV,
    );
    assert_lost(&o);
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn runclike_then_trampoline_without_nnp_binds_80() {
    let dir = TempDir::new("seed");
    let probe = capable_probe(&dir);
    let tramp = build_c("trampoline");
    let o =
        run_host("runclike+trampoline", &build_c("runclike"), &[tramp.as_os_str(), probe.as_os_str()], ENV);
    assert_kept(&o, "0");
}
