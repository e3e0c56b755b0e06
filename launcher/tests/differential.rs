//! Differential tests: the same OCI `process` run through runc 1.1.5 (the oracle) and through
//! `launcher run --oci` → dmz must give the probe (tests/probe/probe.c) identical
//! observations: ids, groups, all five capability sets, NoNewPrivs, Seccomp, rlimits, umask,
//! cwd, environment, open fds, and whether bind(0.0.0.0:80) works.
//!
//! Needs root, runc, gcc (static libc), setcap (libcap2-bin), unshare (util-linux) and a built
//! dmz (`cargo build --release --workspace`); a missing prerequisite fails the test, nothing is
//! skipped. Run: `cargo test --release -p launcher --test differential`.
//!
//! The `runc_oracle_*` tests run only runc and pin down the runc behaviours the launcher must
//! mimic, so that a change of the oracle (another runc version) shows up as its own failure
//! rather than as a confusing difference.

mod support;

use serde_json::{json, Value};
use support::*;

const NBS: &str = "CAP_NET_BIND_SERVICE";

/// The default spec's process (`runc spec`), running `/probe`, with changes applied.
fn process(f: impl FnOnce(&mut Value)) -> Value {
    let mut p = default_process();
    f(&mut p);
    p
}

fn user(p: &mut Value, uid: u32, gid: u32) {
    p["user"] = json!({ "uid": uid, "gid": gid });
}

/// Replaces the capabilities object (missing sets are absent, i.e. empty).
fn caps(p: &mut Value, c: Value) {
    p["capabilities"] = c;
}

fn nnp(p: &mut Value, on: bool) {
    p["noNewPrivileges"] = Value::Bool(on);
}

/// The seed config's process (testdata/oci/seed-nc-80.json) with the probe in place of nc:
/// uid/gid 1000, bounding = {NET_BIND_SERVICE}, eff = perm = {AUDIT_WRITE, KILL,
/// NET_BIND_SERVICE} (the kernel keeps only what is in bounding), no ambient, NNP on.
fn seed_process() -> Value {
    let mut p = seed_spec()["process"].clone();
    assert_eq!(p["args"][0], "/usr/bin/nc.openbsd", "seed config changed?");
    p["args"][0] = json!("/probe");
    p
}

fn file_caps_nbs() -> RunOpts {
    RunOpts::file_caps("cap_net_bind_service=ep")
}

// ---------------------------------------------------------------------------------------
// The oracle alone (runc): behaviours the launcher has to reproduce.
// ---------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn runc_oracle_root_default() {
    require_root();
    let r = run_runc(&default_process(), &RunOpts::default());
    r.assert_success();
    // The default spec lists ambient caps but no inheritable set: raising ambient needs the
    // cap in inheritable, so runc's ambient raise fails and runc ignores it silently.
    assert_eq!(r.get("CapAmb: "), Some("0000000000000000"), "{}", r.dump());
    assert_eq!(r.get("CapInh: "), Some("0000000000000000"), "{}", r.dump());
    // bounding = eff = perm = {AUDIT_WRITE, KILL, NET_BIND_SERVICE} = bits 29, 5, 10
    for set in ["CapPrm: ", "CapEff: ", "CapBnd: "] {
        assert_eq!(r.get(set), Some("0000000020000420"), "{set}\n{}", r.dump());
    }
    assert_eq!(r.get("NoNewPrivs: "), Some("1"));
    assert_eq!(r.get("Groups:"), Some(""));
    // HOME is added from the container's /etc/passwd when the env has none.
    assert!(r.stdout.contains(&"env=HOME=/root".to_string()), "{}", r.dump());
    // Only stdio is open.
    let fds: Vec<_> = r.stdout.iter().filter(|l| l.starts_with("fd=")).collect();
    assert_eq!(fds, ["fd=0", "fd=1", "fd=2"], "{}", r.dump());
    assert_eq!(r.get("umask="), Some("0022"));
    assert_eq!(r.get("bind80="), Some("ok"));
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn runc_oracle_forces_umask_0022_and_closes_inherited_fds() {
    require_root();
    let r = run_runc(&default_process(), &RunOpts::parent_sh("umask 077; exec 7</dev/null"));
    r.assert_success();
    assert_eq!(r.get("umask="), Some("0022"), "{}", r.dump());
    assert!(!r.stdout.contains(&"fd=7".to_string()), "{}", r.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn runc_oracle_env_rules() {
    require_root();
    // Duplicate keys: the last one wins and appears once. An empty HOME counts as unset and
    // is replaced from /etc/passwd.
    let p = process(|p| {
        user(p, 1000, 1000);
        p["env"] = json!(["X=1", "HOME=", "X=2"]);
    });
    let r = run_runc(&p, &RunOpts::default());
    r.assert_success();
    let env: Vec<_> = r.stdout.iter().filter(|l| l.starts_with("env=")).cloned().collect();
    // uid 1000's home in the bundle's /etc/passwd (support::PASSWD).
    assert_eq!(env, ["env=HOME=/home/user", "env=X=2"], "{}", r.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn runc_oracle_rejects_env_without_equals() {
    require_root();
    let p = process(|p| p["env"] = json!(["PATH=/bin", "NOEQ"]));
    let r = run_runc(&p, &RunOpts::default());
    assert!(!r.status.success(), "{}", r.dump());
    assert!(r.stderr.contains("invalid environment variable"), "{}", r.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn runc_oracle_dedups_additional_gids() {
    require_root();
    let p = process(|p| p["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [1000, 7, 7, 0]}));
    let r = run_runc(&p, &RunOpts::default());
    r.assert_success();
    assert_eq!(r.get("Groups: "), Some("0 7 1000"), "{}", r.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn runc_oracle_seed_binds_80() {
    // docs/design.md §2: runc's own exec gives the file-capable probe 0x400 even with NNP.
    require_root();
    let r = run_runc(&seed_process(), &file_caps_nbs());
    r.assert_success();
    assert_eq!(r.get("CapPrm: "), Some("0000000000000400"), "{}", r.dump());
    assert_eq!(r.get("CapEff: "), Some("0000000000000400"), "{}", r.dump());
    assert_eq!(r.get("NoNewPrivs: "), Some("1"));
    assert_eq!(r.get("bind80="), Some("ok"), "{}", r.dump());
}

// ---------------------------------------------------------------------------------------
// runc vs launcher → dmz
// ---------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_root_default_caps() {
    // The runc-spec default: root, 3 caps in bounding/eff/perm/ambient, no inheritable, NNP.
    differential("root_default_caps", &default_process(), &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_root_with_args() {
    let p = process(|p| p["args"] = json!(["/probe", "one", "two words", "", "--x=y"]));
    differential("root_with_args", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_nonroot_1000() {
    let p = process(|p| user(p, 1000, 1000));
    differential("nonroot_1000", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_additional_gids() {
    let p = process(|p| p["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [7, 5, 100, 65534]}));
    differential("additional_gids", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_additional_gids_duplicates() {
    // runc removes duplicates (see runc_oracle_dedups_additional_gids).
    let p = process(|p| p["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [1000, 7, 7, 0]}));
    differential("additional_gids_duplicates", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_root_gid_only_change() {
    let p = process(|p| p["user"] = json!({"uid": 0, "gid": 1000, "additionalGids": [5]}));
    differential("root_gid_only_change", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_caps_bounding_only_nonroot() {
    let p = process(|p| {
        user(p, 1000, 1000);
        nnp(p, false);
        caps(p, json!({ "bounding": [NBS, "CAP_KILL"] }));
    });
    differential("caps_bounding_only_nonroot", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_caps_bounding_only_root() {
    // Root exec recomputes permitted from bounding: P' = bounding.
    let p = process(|p| {
        nnp(p, false);
        caps(p, json!({ "bounding": [NBS, "CAP_KILL", "CAP_CHOWN"] }));
    });
    differential("caps_bounding_only_root", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_caps_effective_permitted_nonroot() {
    // Without file caps or ambient a non-root exec ends with empty permitted.
    let p = process(|p| {
        user(p, 1000, 1000);
        nnp(p, false);
        caps(p, json!({ "bounding": [NBS, "CAP_KILL"], "effective": [NBS], "permitted": [NBS, "CAP_KILL"] }));
    });
    differential("caps_effective_permitted_nonroot", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_caps_effective_permitted_root() {
    let p = process(|p| {
        caps(
            p,
            json!({
                "bounding": [NBS, "CAP_KILL", "CAP_SETUID"],
                "effective": [NBS],
                "permitted": [NBS, "CAP_KILL"]
            }),
        );
    });
    differential("caps_effective_permitted_root", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_caps_inheritable_nonroot() {
    // Inheritable survives exec unchanged.
    let p = process(|p| {
        user(p, 1000, 1000);
        nnp(p, false);
        caps(
            p,
            json!({
                "bounding": [NBS, "CAP_KILL"],
                "inheritable": [NBS, "CAP_KILL"],
                "permitted": [NBS, "CAP_KILL"]
            }),
        );
    });
    differential("caps_inheritable_nonroot", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_caps_inheritable_only_nonroot() {
    // Inheritable without permitted/effective: allowed (inheritable ⊆ bounding, and the
    // runtime still holds a full permitted set when it calls capset).
    let p = process(|p| {
        user(p, 1000, 1000);
        nnp(p, false);
        caps(p, json!({ "bounding": [NBS, "CAP_KILL"], "inheritable": [NBS, "CAP_KILL"] }));
    });
    differential("caps_inheritable_only_nonroot", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_caps_inheritable_outside_bounding_fails() {
    // capset(2): the new inheritable set must be a subset of old inheritable ∪ bounding;
    // CAP_KILL is not in bounding, so runc fails ("unable to apply caps: operation not
    // permitted") and the target never starts. dmz must refuse too.
    let p = process(|p| {
        user(p, 1000, 1000);
        nnp(p, false);
        caps(p, json!({ "bounding": [NBS], "inheritable": [NBS, "CAP_KILL"] }));
    });
    let (runc, dmz) = differential_fails("caps_inheritable_outside_bounding", &p, &RunOpts::default());
    assert!(runc.stderr.contains("unable to apply caps: operation not permitted"), "{}", runc.dump());
    assert_eq!(dmz.status.code(), Some(125), "transition failure is 125 (docs/design.md §4)\n{}", dmz.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_caps_ambient_nonroot() {
    // Ambient with inheritable + permitted: a non-root exec keeps it; bind(:80) works.
    let p = process(|p| {
        user(p, 1000, 1000);
        caps(
            p,
            json!({
                "bounding": [NBS], "effective": [NBS], "permitted": [NBS],
                "inheritable": [NBS], "ambient": [NBS]
            }),
        );
    });
    let r = differential("caps_ambient_nonroot", &p, &RunOpts::default());
    assert_eq!(r.get("bind80="), Some("ok"), "{}", r.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_caps_ambient_without_inheritable_nonroot() {
    // Ambient listed but not inheritable: runc drops it silently; bind(:80) fails.
    let p = process(|p| {
        user(p, 1000, 1000);
        caps(p, json!({ "bounding": [NBS], "effective": [NBS], "permitted": [NBS], "ambient": [NBS] }));
    });
    differential("caps_ambient_without_inheritable_nonroot", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_caps_combined_root() {
    let p = process(|p| {
        caps(
            p,
            json!({
                "bounding": ["CAP_CHOWN", "CAP_KILL", NBS, "CAP_SETUID", "CAP_SYS_ADMIN"],
                "effective": [NBS, "CAP_CHOWN"],
                "permitted": [NBS, "CAP_CHOWN", "CAP_KILL"],
                "inheritable": ["CAP_KILL", NBS],
                "ambient": ["CAP_KILL"]
            }),
        );
    });
    differential("caps_combined_root", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_caps_combined_nonroot() {
    let p = process(|p| {
        p["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
        caps(
            p,
            json!({
                "bounding": ["CAP_CHOWN", "CAP_KILL", NBS, "CAP_SETUID"],
                "effective": [NBS, "CAP_CHOWN"],
                "permitted": [NBS, "CAP_CHOWN", "CAP_KILL"],
                "inheritable": ["CAP_KILL", NBS],
                "ambient": [NBS, "CAP_KILL"]
            }),
        );
    });
    differential("caps_combined_nonroot", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_no_caps_at_all() {
    let p = process(|p| {
        p.as_object_mut().unwrap().remove("capabilities");
    });
    differential("no_caps_at_all", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_nnp_on_root() {
    let p = process(|p| nnp(p, true));
    differential("nnp_on_root", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_nnp_off_root() {
    let p = process(|p| nnp(p, false));
    differential("nnp_off_root", &p, &RunOpts::default());
}

/// uid 1000, bounding = eff = perm = {NET_BIND_SERVICE}, no ambient.
fn nbs_nonroot(nnp_on: bool) -> Value {
    process(|p| {
        user(p, 1000, 1000);
        nnp(p, nnp_on);
        caps(p, json!({ "bounding": [NBS], "effective": [NBS], "permitted": [NBS] }));
    })
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_file_caps_nnp_on_nonroot() {
    // The seed bug (docs/design.md §2): must bind, with CapPrm = CapEff = 0x400.
    let r = differential("file_caps_nnp_on_nonroot", &nbs_nonroot(true), &file_caps_nbs());
    assert_eq!(r.get("bind80="), Some("ok"), "{}", r.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_file_caps_nnp_off_nonroot() {
    let r = differential("file_caps_nnp_off_nonroot", &nbs_nonroot(false), &file_caps_nbs());
    assert_eq!(r.get("bind80="), Some("ok"), "{}", r.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_no_file_caps_nnp_on_nonroot() {
    let r = differential("no_file_caps_nnp_on_nonroot", &nbs_nonroot(true), &RunOpts::default());
    assert_eq!(r.get("bind80="), Some("EACCES"), "{}", r.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_no_file_caps_nnp_off_nonroot() {
    let r = differential("no_file_caps_nnp_off_nonroot", &nbs_nonroot(false), &RunOpts::default());
    assert_eq!(r.get("bind80="), Some("EACCES"), "{}", r.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_file_caps_outside_bounding_fails() {
    // The file says cap_net_bind_service=ep but bounding lacks it. Because the file's
    // effective bit is set and the exec cannot grant all of the file's permitted caps, the
    // kernel fails execve with EPERM (commoncap.c, "legacy capability-dumb binaries").
    // runc: "exec /probe: operation not permitted", exit 1. dmz must fail the same exec.
    let p = process(|p| {
        user(p, 1000, 1000);
        caps(p, json!({ "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"] }));
    });
    let (runc, dmz) = differential_fails("file_caps_outside_bounding", &p, &file_caps_nbs());
    assert!(runc.stderr.contains("exec /probe: operation not permitted"), "{}", runc.dump());
    assert_eq!(dmz.status.code(), Some(126), "exec failure is 126 (docs/design.md §4)\n{}", dmz.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_seed_config() {
    let r = differential("seed_config", &seed_process(), &file_caps_nbs());
    assert_eq!(r.get("bind80="), Some("ok"), "{}", r.dump());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_rlimits() {
    // Only lowering (this machine's root lacks CAP_SYS_RESOURCE in its bounding set, so no
    // runtime can raise a hard limit here); CORE raises the soft limit up to the hard one.
    let p = process(|p| {
        p["rlimits"] = json!([
            { "type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000 },
            // NPROC counts every task of the real uid, here root's on the whole machine (the
            // parallel tests, runc's Go threads, builds): a low limit makes runc's clone fail
            // with EAGAIN at random. High enough never to bite, low enough to be a change.
            { "type": "RLIMIT_NPROC", "soft": 30000, "hard": 40000 },
            { "type": "RLIMIT_CORE", "soft": 4096, "hard": 8192 }
        ]);
    });
    differential("rlimits", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_rlimits_nonroot() {
    let p = process(|p| {
        user(p, 1000, 1000);
        p["rlimits"] = json!([
            { "type": "RLIMIT_NOFILE", "soft": 64, "hard": 128 },
            { "type": "RLIMIT_STACK", "soft": 1048576, "hard": 8388608 }
        ]);
    });
    differential("rlimits_nonroot", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_no_rlimits() {
    // Nothing configured: every limit is inherited (runc's Go runtime does not leak its
    // raised NOFILE soft limit into the container).
    let p = process(|p| {
        p.as_object_mut().unwrap().remove("rlimits");
    });
    differential("no_rlimits", &p, &RunOpts::parent_sh("ulimit -n 1000"));
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_umask_0077() {
    let p = process(|p| {
        user(p, 1000, 1000);
        p["user"]["umask"] = json!(0o077);
    });
    differential("umask_0077", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_umask_default_under_parent_077() {
    // No umask configured: runc sets 0022 whatever its parent's umask is.
    differential("umask_default", &default_process(), &RunOpts::parent_sh("umask 077"));
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_inherited_fd_closed() {
    // An fd inherited without CLOEXEC by the runtime must not reach the target.
    differential(
        "inherited_fd_closed",
        &default_process(),
        &RunOpts::parent_sh("exec 7</dev/null 9</dev/null"),
    );
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_cwd_tmp() {
    let p = process(|p| {
        user(p, 1000, 1000);
        p["cwd"] = json!("/tmp");
    });
    differential("cwd_tmp", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_env_several_no_path() {
    // No PATH, no HOME (runc adds HOME from /etc/passwd), values with spaces, '=' and empty.
    let p = process(|p| {
        user(p, 1000, 1000);
        p["env"] = json!(["A=1", "B=two words", "C=x=y", "EMPTY=", "ZZ_last=z"]);
    });
    differential("env_several_no_path", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_env_explicit_home() {
    let p = process(|p| p["env"] = json!(["HOME=/somewhere", "TERM=dumb"]));
    differential("env_explicit_home", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_env_empty() {
    let p = process(|p| p["env"] = json!([]));
    differential("env_empty", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_env_duplicates_and_empty_home() {
    // runc: the last duplicate wins; "HOME=" counts as unset.
    let p = process(|p| {
        user(p, 1000, 1000);
        p["env"] = json!(["X=1", "HOME=", "X=2"]);
    });
    differential("env_duplicates_and_empty_home", &p, &RunOpts::default());
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn diff_env_uid_not_in_passwd() {
    // runc: a uid without a passwd entry gets HOME=/ (its built-in default user).
    let p = process(|p| {
        user(p, 1234, 1234);
        p["env"] = json!(["A=1"]);
    });
    let r = differential("env_uid_not_in_passwd", &p, &RunOpts::default());
    assert!(r.stdout.contains(&"env=HOME=/".to_string()), "{}", r.dump());
}

#[test]
#[ignore = "needs runc and root: scripts/test runs it"]
fn diff_stdio_given_to_the_target_user() {
    // runc's fixStdioPermissions: fds 0-2, root-owned pipes here, go to uid 1000, so the
    // target can reopen /dev/stdout (a /dev/null stdio is left: dmz/tests/transition.rs).
    let p = process(|p| user(p, 1000, 1000));
    let r = differential("stdio_given_to_the_target_user", &p, &RunOpts::default());
    assert_eq!(r.get("stdio="), Some("1000 1000 1000"), "{}", r.dump());
    assert_eq!(r.get("reopen1="), Some("ok"), "{}", r.dump());
}

#[test]
#[ignore = "needs runc and root: scripts/test runs it"]
fn diff_setgroups_denied_in_a_user_namespace() {
    // `unshare --user --map-root-user` writes "deny" to /proc/self/setgroups: setgroups(2)
    // fails for everyone there, and runc skips it (additionalGids included).
    let p = process(|p| p["user"] = json!({"uid": 0, "gid": 0, "additionalGids": [0]}));
    let opts = RunOpts { user_ns: true, ..Default::default() };
    let r = differential("setgroups_denied_in_a_user_namespace", &p, &opts);
    assert_eq!(r.get("Uid: "), Some("0 0 0 0"), "{}", r.dump());
}

// ---------------------------------------------------------------------------------------
// A bare program name and the PATH of process.env (docs/runc-differences.md).
// ---------------------------------------------------------------------------------------

/// runc looks args[0] up in the PATH of process.env, and without one it finds nothing: a
/// bare name fails before anything runs, where dmz's own fallback (a default PATH) would
/// have run a program from the host's /usr/bin. For OCI sources the launcher refuses the
/// same config, in one line, before exec; with a PATH both run the program.
#[test]
#[ignore = "needs runc and root: scripts/test runs it"]
fn diff_bare_program_name_needs_path_in_process_env() {
    require_root();
    // runc, no PATH: refused, whatever the directory holds.
    let bare = process(|p| {
        p["args"] = json!(["probe"]);
        p["env"] = json!(["TERM=xterm"]);
        p["cwd"] = json!("/");
    });
    let runc = run_runc(&bare, &RunOpts::default());
    assert!(!runc.status.success() && runc.stdout.is_empty(), "{}", runc.dump());
    assert!(runc.stderr.contains("executable file not found in $PATH"), "{}", runc.dump());
    // runc, an empty PATH: the same.
    let empty = process(|p| {
        p["args"] = json!(["probe"]);
        p["env"] = json!(["PATH="]);
        p["cwd"] = json!("/");
    });
    let runc = run_runc(&empty, &RunOpts::default());
    assert!(!runc.status.success() && runc.stdout.is_empty(), "{}", runc.dump());
    // runc, PATH=/: found and run.
    let with_path = process(|p| {
        p["args"] = json!(["probe"]);
        p["env"] = json!(["PATH=/"]);
    });
    run_runc(&with_path, &RunOpts::default()).assert_success();

    // The launcher: the probe's directory holds it, and the host's /bin holds `true`; neither
    // is looked for without a PATH.
    let dir = TempDir::new("bare-name");
    install_binary(&probe(), &dir.path().join("probe"), None);
    let run = |process: &Value, name: &str| {
        let mut spec = default_spec();
        spec["process"] = process.clone();
        spec["process"]["terminal"] = json!(false);
        spec["process"]["cwd"] = json!(dir.path());
        let cfg = dir.path().join(name);
        std::fs::write(&cfg, spec.to_string()).unwrap();
        let o = std::process::Command::new(launcher_bin())
            .args(["run", "--oci"])
            .arg(&cfg)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (o, cfg.display().to_string())
    };
    for (p, name) in [(&bare, "bare.json"), (&empty, "empty.json")] {
        let (o, cfg) = run(p, name);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{name}: {err}");
        assert!(o.stdout.is_empty(), "{name}: the program ran");
        assert_eq!(
            err,
            format!(
                "launcher: {cfg}: process.args[0]: \"probe\" is not a path and process.env has no PATH \
                 (runc finds nothing then): give an absolute path or set PATH\n"
            )
        );
    }
    let mut p = bare.clone();
    p["args"] = json!(["true"]);
    let (o, _) = run(&p, "true.json");
    assert_eq!(o.status.code(), Some(125), "{}", String::from_utf8_lossy(&o.stderr));
    let mut p = with_path.clone();
    p["env"] = json!([format!("PATH={}", dir.path().display())]);
    let (o, _) = run(&p, "with-path.json");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Uid:"), "the probe ran");
}

// ---------------------------------------------------------------------------------------
// Deliberate differences from runc (docs/runc-differences.md): runc's side pinned here.
// ---------------------------------------------------------------------------------------

/// runc 1.1 ignores a capability name it does not know, with a warning, and runs the process
/// without it; the launcher refuses the config (a typo must not quietly change privileges).
#[test]
#[ignore = "needs runc and root: scripts/test runs it"]
fn runc_oracle_ignores_unknown_capability_names() {
    require_root();
    let p = process(|p| {
        user(p, 1000, 1000);
        caps(p, json!({"bounding": [NBS, "CAP_NET_BIND_SERVIC"]}));
    });
    let runc = run_runc(&p, &RunOpts::default());
    runc.assert_success();
    assert_eq!(runc.get("CapBnd: "), Some("0000000000000400"), "{}", runc.dump());
    assert!(runc.stderr.contains("CAP_NET_BIND_SERVIC"), "runc warns: {}", runc.dump());
    let ours = run_launcher(&p, &RunOpts::default());
    assert_eq!(ours.status.code(), Some(125), "{}", ours.dump());
    assert!(ours.stdout.is_empty());
    assert!(ours.stderr.contains("unknown capability \"CAP_NET_BIND_SERVIC\""), "{}", ours.dump());
}

/// Started without CAP_SETPCAP, runc 1.1 skips the bounding-set drop without a word and the
/// process keeps the caller's bounding set; dmz fails (dropping needs CAP_SETPCAP), so the
/// configured bounding set is never silently wider.
#[test]
#[ignore = "needs runc and root: scripts/test runs it"]
fn runc_oracle_skips_the_bounding_drop_without_setpcap() {
    require_root();
    let p = process(|p| caps(p, json!({"bounding": [NBS]})));
    let opts = RunOpts::parent_sh("set -- setpriv --bounding-set -setpcap -- \"$@\"");
    let runc = run_runc(&p, &opts);
    runc.assert_success();
    let bnd = runc.get("CapBnd: ").unwrap_or_default().to_string();
    assert_ne!(bnd, "0000000000000400", "runc applied the bounding set after all: {}", runc.dump());
    let ours = run_launcher(&p, &opts);
    assert_eq!(ours.status.code(), Some(125), "{}", ours.dump());
    assert!(ours.stdout.is_empty());
    assert!(ours.stderr.contains("EPERM"), "{}", ours.dump());
}

/// runc 1.1 applies a resource named twice in process.rlimits once per entry (the last one
/// holds); the launcher refuses the config, which cannot mean both.
#[test]
#[ignore = "needs runc and root: scripts/test runs it"]
fn runc_oracle_applies_a_repeated_rlimit_in_order() {
    require_root();
    let p = process(|p| {
        p["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
            {"type": "RLIMIT_NOFILE", "soft": 50, "hard": 60},
        ]);
    });
    let runc = run_runc(&p, &RunOpts::default());
    runc.assert_success();
    assert!(runc.stdout.contains(&"rlimit 7 50 60".to_string()), "{}", runc.dump());
    let ours = run_launcher(&p, &RunOpts::default());
    assert_eq!(ours.status.code(), Some(125), "{}", ours.dump());
    assert!(
        ours.stderr.contains("process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\""),
        "{}",
        ours.dump()
    );
}
