//! systemd integration: the example units verify, socket activation (LISTEN_FDS/LISTEN_PID and
//! the socket itself) and readiness (NOTIFY_SOCKET) reach the target through launcher → dmz.
//!
//! Needs root, systemd's tools (systemd-analyze, systemd-socket-activate), python3, and
//! unshare/ip for a private network namespace.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/systemd")
}

fn tool(name: &str) -> PathBuf {
    let out = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().unwrap();
    assert!(out.status.success(), "{name} not found: install systemd (scripts/setup does)");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
#[ignore = "needs root and systemd tools: scripts/test runs it"]
fn example_units_verify() {
    require_root();
    let dir = TempDir::new("units");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !(name.ends_with(".service") || name.ends_with(".socket")) {
            continue;
        }
        // Point ExecStart at the binaries just built; everything else stays as shipped.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("/usr/local/bin/launcher", launcher_bin().to_str().unwrap())
            .replace("/usr/local/bin/dmz", dmz_bin().to_str().unwrap());
        std::fs::write(dir.path().join(&name), text).unwrap();
        names.push(name);
    }
    assert!(names.len() >= 5, "examples missing: {names:?}");
    names.sort();
    let units: Vec<PathBuf> = names.iter().filter(|n| !n.contains('@')).map(|n| dir.path().join(n)).collect();
    let out =
        Command::new(tool("systemd-analyze")).args(["verify", "--man=no"]).args(&units).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = err.lines().filter(|l| l.contains("dmzkit")).collect();
    assert!(out.status.success() && ours.is_empty(), "systemd-analyze verify:\n{err}");
    // A template is verified through an instance name.
    let inst = dir.path().join("dmzkit-echo@1.service");
    std::fs::copy(dir.path().join("dmzkit-echo@.service"), &inst).unwrap();
    let out = Command::new(tool("systemd-analyze")).args(["verify", "--man=no"]).arg(&inst).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !err.lines().any(|l| l.contains("dmzkit")), "{err}");
}

#[test]
#[ignore = "needs root and systemd tools: scripts/test runs it"]
fn socket_activation_reaches_the_target_with_the_same_pid() {
    require_root();
    let dir = TempDir::new("socket-activate");
    // The target runs as uid 1000 and writes its report here.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let report = dir.path().join("report");
    let cfg = dir.path().join("config.json");
    let mut spec = default_spec();
    // The target reports its PID, LISTEN_* and what fd 3 is, then answers on the socket.
    spec["process"]["args"] = serde_json::json!([
        "/bin/sh",
        "-c",
        format!(
            "echo \"pid=$$ fds=$LISTEN_FDS listen_pid=$LISTEN_PID fd3=$(readlink /proc/$$/fd/3)\" > {}",
            report.display()
        )
    ]);
    spec["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
    std::fs::write(&cfg, spec.to_string()).unwrap();
    let script = format!(
        "ip link set lo up && \
         {sa} -l 127.0.0.1:7777 {launcher} run --oci {cfg} 2>/dev/null & \
         for i in $(seq 100); do python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 7777)).close()' 2>/dev/null && break; sleep 0.05; done; \
         wait",
        sa = tool("systemd-socket-activate").display(),
        launcher = launcher_bin().display(),
        cfg = cfg.display()
    );
    let out = Command::new("unshare").args(["--net", "sh", "-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = std::fs::read_to_string(&report).expect("the target ran");
    let field = |k: &str| line.split_whitespace().find_map(|f| f.strip_prefix(k)).unwrap_or("").to_string();
    assert_eq!(field("fds="), "1", "{line}");
    assert_eq!(field("listen_pid="), field("pid="), "LISTEN_PID must be the target's own PID: {line}");
    assert!(field("fd3=").starts_with("socket:["), "{line}");
}

#[test]
#[ignore = "needs root and systemd tools: scripts/test runs it"]
fn notify_socket_passes_through() {
    require_root();
    let dir = TempDir::new("notify");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let cfg = dir.path().join("config.json");
    let mut spec = default_spec();
    spec["process"]["args"] = serde_json::json!([
        "/usr/bin/python3",
        "-c",
        "import os, socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])"
    ]);
    spec["process"]["user"] = serde_json::json!({"uid": 0, "gid": 0});
    std::fs::write(&cfg, spec.to_string()).unwrap();
    let out = Command::new(launcher_bin())
        .args(["run", "--oci"])
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &sock_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut buf = [0u8; 64];
    let n = sock.recv(&mut buf).expect("READY=1 from the target");
    assert_eq!(&buf[..n], b"READY=1");
}
