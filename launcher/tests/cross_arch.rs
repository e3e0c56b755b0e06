//! Each architecture's dmz, run under qemu-user, performs a real transition on this kernel
//! (qemu-user passes the syscalls through), and the target — a native program started by
//! dmz's execve — observes it.
//!
//! Needs root, `qemu-user-static`, and the cross builds
//! (`cargo build --release -p dmz --target T`; scripts/test does both).

mod support;

use std::path::PathBuf;
use std::process::Command;
use support::{require_root, TempDir};

const TARGETS: [(&str, &str); 5] = [
    ("x86_64-unknown-linux-musl", "qemu-x86_64-static"),
    ("aarch64-unknown-linux-musl", "qemu-aarch64-static"),
    ("armv7-unknown-linux-gnueabihf", "qemu-arm-static"),
    ("riscv64gc-unknown-linux-gnu", "qemu-riscv64-static"),
    ("i686-unknown-linux-musl", "qemu-i386-static"),
];

fn target_dir() -> PathBuf {
    // target/release/launcher → target/
    PathBuf::from(env!("CARGO_BIN_EXE_launcher")).parent().unwrap().parent().unwrap().to_path_buf()
}

#[test]
#[ignore = "needs root and qemu-user: scripts/test runs it"]
fn every_arch_performs_the_transition() {
    require_root();
    let tmp = TempDir::new("cross");
    let dir = tmp.path();
    let cfg = dir.join("config.json");
    std::fs::write(
        &cfg,
        r#"{"ociVersion": "1.0.2", "process": {
            "user": {"uid": 1000, "gid": 1001, "additionalGids": [5, 7], "umask": 63},
            "args": ["grep", "-E", "^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Umask):", "/proc/self/status"],
            "env": ["PATH=/usr/bin:/bin"], "cwd": "/",
            "capabilities": {"bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"], "effective": ["CAP_KILL"],
                "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
            "noNewPrivileges": true}}"#,
    )
    .unwrap();
    let pcfg = dir.join("config.pcfg");
    let out = Command::new(env!("CARGO_BIN_EXE_launcher"))
        .args(["compile", "--oci"])
        .arg(&cfg)
        .arg("-o")
        .arg(&pcfg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want = "Umask:\t0077\nUid:\t1000\t1000\t1000\t1000\nGid:\t1001\t1001\t1001\t1001\nGroups:\t5 7 \n\
CapInh:\t0000000000000020\nCapPrm:\t0000000000000020\nCapEff:\t0000000000000020\nCapBnd:\t0000000000000420\n\
CapAmb:\t0000000000000020\nNoNewPrivs:\t1\n";
    let mut failures = Vec::new();
    for (target, qemu) in TARGETS {
        let dmz = target_dir().join(target).join("release/dmz");
        assert!(
            dmz.is_file(),
            "{} missing: run `cargo build --release -p dmz --target {target}`",
            dmz.display()
        );
        let out = Command::new(qemu).arg(&dmz).arg(&pcfg).output().unwrap_or_else(|e| {
            panic!("cannot run {qemu} ({e}): install qemu-user-static (scripts/setup does)")
        });
        let got = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || got != want {
            failures.push(format!(
                "{target}: status {:?}\nstdout:\n{got}stderr:\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
