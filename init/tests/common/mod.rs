//! Shared helpers for init's tests: run the real binary, with a deadline, and read what it
//! and its children printed.
#![allow(dead_code)] // each test file uses a different subset

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub fn init_bin() -> &'static str {
    env!("CARGO_BIN_EXE_init")
}

/// These tests start real processes as root (namespaces, uid changes); they fail, never skip,
/// when that is not possible.
pub fn require_root() {
    assert!(rustix::process::geteuid().is_root(), "init's tests must run as root");
}

/// What a finished process left behind.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }
}

/// Waits for `child` up to `limit`; kills it (and fails the test) past that.
pub fn finish(mut child: Child, limit: Duration) -> Outcome {
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("still running after {limit:?}; stderr so far:\n{err}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_string(&mut stdout).unwrap();
    }
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut stderr).unwrap();
    }
    Outcome { status, stdout, stderr, elapsed }
}

/// Starts `cmd` with stdin from /dev/null, stdout/stderr captured, and every signal at its
/// default action: a signal ignored by whoever started the tests (nohup, a CI runner) would
/// stay ignored through every exec, and a shell cannot trap a signal it inherits ignored, so
/// the forwarding tests would wait forever. (`env --default-signal` execs, the pid stays.)
pub fn start(cmd: &mut Command) -> Child {
    let mut wrapped = Command::new("env");
    wrapped.arg("--default-signal").arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
}

/// Runs init with `args` to completion (at most `limit`).
pub fn run_init(args: &[&str], limit: Duration) -> Outcome {
    finish(start(Command::new(init_bin()).args(args)), limit)
}

/// A fresh directory under the target dir, removed first if it exists.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether process `pid` still exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s.rsplit_once(')').map(|(_, rest)| !rest.trim_start().starts_with('Z')).unwrap_or(false),
        Err(_) => false,
    }
}

/// Polls `cond` every 10 ms for up to `limit`.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Sends `sig` to `pid`.
pub fn kill(pid: i32, sig: i32) {
    // SAFETY: test code; any signal number the kernel knows.
    let sig = unsafe { rustix::process::Signal::from_raw_unchecked(sig) };
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), sig).expect("kill");
}

/// A dmz config blob, encoded with the dmz library itself.
pub fn dmz_blob(args: &[&str], env: &[&str], uid: u32, gid: u32, caps: Option<u64>, nnp: bool) -> Vec<u8> {
    let join = |items: &[&str]| {
        let mut v = Vec::new();
        dmz::config::push_strings(&mut v, items.iter().map(|s| s.as_bytes())).unwrap();
        v
    };
    let (a, e) = (join(args), join(env));
    let cfg = dmz::Config {
        args: dmz::config::Bytes(&a),
        env: dmz::config::Bytes(&e),
        cwd: dmz::config::Bytes(b"/\0"),
        uid,
        gid,
        groups: heapless::Vec::new(),
        umask: 0o022,
        caps: caps.map(|c| dmz::config::Caps {
            bounding: c,
            effective: c,
            permitted: c,
            inheritable: c,
            ambient: c,
        }),
        securebits: None,
        no_new_privs: nnp,
        rlimits: heapless::Vec::new(),
        oom_score_adj: None,
        preserve_fds: heapless::Vec::new(),
        seccomp: None,
        landlock: None,
    };
    let mut buf = vec![0u8; 1 << 16];
    let n = cfg.encode(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// The `Key:` line of a /proc/PID/status dump, whitespace collapsed ("Uid: 1000 1000 1000 1000").
pub fn status_line(dump: &str, key: &str) -> Option<String> {
    dump.lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
}
