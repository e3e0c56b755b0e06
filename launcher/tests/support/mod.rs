//! Differential-test support: run the static C probe (tests/probe/probe.c) once through
//! runc 1.1.5 (the oracle) and once through `launcher run --oci` → dmz, and compare what the
//! probe observes.
//!
//! Used with `mod support;` from the test files. Nothing here skips: a missing
//! prerequisite (root, runc, gcc, setcap, unshare, a built dmz) is a panic that says what to do.
//!
//! # Making the two paths comparable
//!
//! runc runs the probe in a container (own rootfs, pid/net/ipc/uts/mount namespaces);
//! the launcher runs it on the host inside `unshare --net`. The probe only prints things
//! that do not depend on that difference, so the observations are compared **verbatim**;
//! nothing is normalized:
//! - `argv[0]` differs (`/probe` vs the host path of the probe copy): the probe skips it.
//! - cwd: the test cases only use directories that exist with the same name in both worlds
//!   (`/`, `/tmp`; the rootfs gets an empty `/tmp`).
//! - HOME: runc adds `HOME` from the *container's* /etc/passwd when the configured env has
//!   none; the launcher looks the uid up in the host's /etc/passwd. The test writes one
//!   passwd and one group file and gives it to both: as the rootfs's files to runc, bind-mounted
//!   over /etc in a private mount namespace to the launcher (see [`PASSWD`]).
//! - rlimits not named in the config are inherited from this test process on both paths.
//! - bind(:80): runc's spec has a network namespace; the launcher runs in `unshare --net`.
//!   Both are fresh namespaces with the default `ip_unprivileged_port_start` (1024), so the
//!   result depends only on the probe's capabilities.
//! - The probe is copied per test (file capabilities are per inode): into the rootfs as
//!   `/probe` for runc, into the test's temp dir for the launcher; `setcap` is applied to
//!   both copies the same way.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where the shared, read-only test inputs live (relative to the launcher crate).
pub const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata");

/// How long one run (runc or launcher) may take before it is killed and the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// Panics unless running as root: runc, setcap, uid changes and `unshare --net` need it.
pub fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "these tests must run as root: they start runc, call setcap and switch uids. Run \
         `cargo test` as root; they are never skipped."
    );
}

fn require_tool(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("`{name}` not found: install it with `apt-get install -y {package}`");
}

// ---------------------------------------------------------------------------------------
// Temp dirs
// ---------------------------------------------------------------------------------------

/// A directory removed (recursively) on drop. Lives under cargo's per-test temp dir
/// (target/tmp), whose path components are all world-searchable here, so a uid-1000 probe
/// can exec a copy inside it.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("DMZKIT_KEEP_TMP").is_none() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// A unique runc container id (`[\w+-.]+`).
fn unique_id(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("dmzkit-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

// ---------------------------------------------------------------------------------------
// Building the C helpers
// ---------------------------------------------------------------------------------------

/// Directory holding the C sources (probe.c and helpers).
pub fn c_source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probe")
}

/// Compiles `tests/probe/<name>.c` with `gcc -static -O2` into
/// target/tmp/<name>-<hash of source and flags>: built once, reused by later test processes
/// while the source is unchanged. Written to a unique name and renamed into place, so
/// parallel test binaries never see a half-written file.
pub fn build_c(name: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    const FLAGS: [&str; 3] = ["-static", "-O2", "-Wall"];
    let src = c_source_dir().join(format!("{name}.c"));
    let text = fs::read(&src).unwrap_or_else(|e| panic!("read C source {}: {e}", src.display()));
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&text, FLAGS).hash(&mut h);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = dir.join(format!("{name}-{:016x}", h.finish()));
    if out.exists() {
        return out;
    }
    let gcc = require_tool("gcc", "gcc");
    // Unique per process and thread: two tests may build the same program at once.
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!("{name}.{}.{seq}.tmp", std::process::id()));
    let res = Command::new(gcc).args(FLAGS).arg("-o").arg(&tmp).arg(&src).output().expect("spawn gcc");
    assert!(
        res.status.success(),
        "gcc -static failed for {} (is the static libc installed? apt-get install -y libc6-dev):\n{}",
        src.display(),
        String::from_utf8_lossy(&res.stderr)
    );
    fs::rename(&tmp, &out).unwrap();
    out
}

/// The static probe, built once per test process.
pub fn probe() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_c("probe")).clone()
}

/// Copies `src` to `dst` (mode 0755) and, if `caps` is given, runs `setcap <caps> dst`.
pub fn install_binary(src: &Path, dst: &Path, caps: Option<&str>) {
    fs::copy(src, dst).unwrap_or_else(|e| panic!("copy {} -> {}: {e}", src.display(), dst.display()));
    fs::set_permissions(dst, fs::Permissions::from_mode(0o755)).unwrap();
    if let Some(caps) = caps {
        let setcap = require_tool("setcap", "libcap2-bin");
        let res = Command::new(setcap).arg(caps).arg(dst).output().expect("spawn setcap");
        assert!(
            res.status.success(),
            "setcap {caps} {} failed: {}",
            dst.display(),
            String::from_utf8_lossy(&res.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------------------

pub fn read_json(rel: &str) -> Value {
    let p = Path::new(TESTDATA).join(rel);
    let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", p.display()))
}

/// The `runc spec` default config (testdata/oci/runc-spec-default.json).
pub fn default_spec() -> Value {
    read_json("oci/runc-spec-default.json")
}

/// The seed reproducer config (testdata/oci/seed-nc-80.json).
pub fn seed_spec() -> Value {
    read_json("oci/seed-nc-80.json")
}

/// The default spec's `process` with `args` replaced by `/probe ARGS...`.
pub fn default_process() -> Value {
    let mut p = default_spec()["process"].clone();
    p["args"] = serde_json::json!(["/probe"]);
    p
}

/// The full spec: the default spec with `process` replaced (and `terminal: false`, since
/// the probe's stdout must be a pipe we can read), and `linux.seccomp` from `opts`.
fn spec_with_process(process: &Value, opts: &RunOpts) -> Value {
    let mut spec = default_spec();
    let mut process = process.clone();
    process["terminal"] = Value::Bool(false);
    spec["process"] = process;
    if let Some(seccomp) = &opts.seccomp {
        spec["linux"]["seccomp"] = seccomp.clone();
    }
    if opts.user_ns {
        for m in spec["mounts"].as_array_mut().into_iter().flatten() {
            if let Some(o) = m["options"].as_array_mut() {
                o.retain(|o| !o.as_str().is_some_and(|o| o.starts_with("gid=")));
            }
        }
    }
    spec
}

// ---------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------

/// Per-run options shared by both paths.
#[derive(Clone, Debug, Default)]
pub struct RunOpts {
    /// `setcap` argument applied to the probe copy, e.g. `Some("cap_net_bind_service=ep")`.
    pub probe_file_caps: Option<String>,
    /// The program to run instead of the probe (must be static); default: the probe.
    pub program: Option<PathBuf>,
    /// Shell commands run by `sh -c` right before exec'ing runc / `unshare` (same text on
    /// both paths), to give the runtime a parent state it must not leak: e.g.
    /// `umask 077` or `exec 7</dev/null` (an inherited fd without CLOEXEC).
    pub parent_sh: Option<String>,
    /// runc only: more static programs copied into the rootfs, as (`/name`, host path),
    /// without file capabilities (e.g. an exec-only trampoline in front of `/probe`).
    pub rootfs_extra: Vec<(String, PathBuf)>,
    /// `linux.seccomp` for config.json, the same on both paths (None: no seccomp section).
    pub seccomp: Option<Value>,
    /// Run the runtime (runc, or the launcher) in a new user namespace where only root is
    /// mapped (`unshare --user --map-root-user`, which writes "deny" to
    /// /proc/self/setgroups). The bundle's mounts lose their `gid=` options, which name
    /// groups not mapped there.
    pub user_ns: bool,
}

impl RunOpts {
    pub fn file_caps(caps: &str) -> RunOpts {
        RunOpts { probe_file_caps: Some(caps.to_string()), ..Default::default() }
    }

    pub fn parent_sh(cmds: &str) -> RunOpts {
        RunOpts { parent_sh: Some(cmds.to_string()), ..Default::default() }
    }
}

/// `program args...`, or `sh -c '<parent_sh>; exec "$@"' sh program args...`; either behind
/// `unshare --user --map-root-user` with `user_ns`.
fn command(opts: &RunOpts, program: &Path) -> Command {
    let mut argv: Vec<std::ffi::OsString> = Vec::new();
    if opts.user_ns {
        argv.extend([
            require_tool("unshare", "util-linux").into(),
            "--user".into(),
            "--map-root-user".into(),
        ]);
    }
    if let Some(cmds) = &opts.parent_sh {
        argv.extend(["/bin/sh".into(), "-c".into(), format!("{cmds}\nexec \"$@\"").into(), "sh".into()]);
    }
    argv.push(program.into());
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]);
    c
}

/// What one run produced.
#[derive(Clone, Debug)]
pub struct Observed {
    /// Which path produced it ("runc", "launcher", ...), for messages.
    pub who: String,
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: String,
}

impl Observed {
    /// The first line starting with `prefix`, without the prefix.
    pub fn get(&self, prefix: &str) -> Option<&str> {
        self.stdout.iter().find_map(|l| l.strip_prefix(prefix))
    }

    /// Panics (with everything observed) unless the run exited 0.
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "{} failed: {}\n{}", self.who, self.status, self.dump());
        self
    }

    pub fn dump(&self) -> String {
        let mut s = format!("--- {} ({}) stdout:\n", self.who, self.status);
        for l in &self.stdout {
            s.push_str(l);
            s.push('\n');
        }
        let _ = write!(s, "--- {} stderr:\n{}", self.who, self.stderr);
        s
    }
}

/// Spawns `cmd` with stdin from /dev/null, or with `stdin_pipe` from a pipe closed at once
/// (EOF), collects stdout/stderr, kills it after `RUN_TIMEOUT`. Returns (status, stdout,
/// stderr) or None on timeout.
fn run_captured(cmd: &mut Command, stdin_pipe: bool) -> Option<(ExitStatus, String, String)> {
    let mut child = cmd
        .stdin(if stdin_pipe { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    drop(child.stdin.take());
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let err = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    status.map(|st| (st, out, err))
}

fn observed(who: &str, (status, out, err): (ExitStatus, String, String)) -> Observed {
    Observed { who: who.to_string(), status, stdout: out.lines().map(str::to_string).collect(), stderr: err }
}

/// The account databases both paths see: runc reads them from the bundle's rootfs, the
/// launcher from /etc, over which [`run_launcher_with`] bind-mounts the same text in a private
/// mount namespace. The test writes both sides, so nothing depends on the machine's accounts.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n";
const GROUP: &str = "root:x:0:\nuser:x:1000:\n";

/// Builds a bundle in `dir`: rootfs/{probe,etc/passwd,etc/group,proc,dev,sys,tmp} and
/// config.json (the default spec with `process`).
fn make_bundle(dir: &Path, process: &Value, opts: &RunOpts) {
    let rootfs = dir.join("rootfs");
    for d in ["proc", "dev", "sys", "etc", "tmp"] {
        fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::write(rootfs.join("etc/passwd"), PASSWD).unwrap();
    fs::write(rootfs.join("etc/group"), GROUP).unwrap();
    let program = opts.program.clone().unwrap_or_else(probe);
    install_binary(&program, &rootfs.join("probe"), opts.probe_file_caps.as_deref());
    for (name, src) in &opts.rootfs_extra {
        let name = name.trim_start_matches('/');
        assert!(!name.contains('/') && name != "probe", "rootfs_extra: bad name {name}");
        install_binary(src, &rootfs.join(name), None);
    }
    let spec = spec_with_process(process, opts);
    fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
}

/// Runs `process` through `runc run`, in a fresh bundle whose rootfs holds the probe as
/// `/probe` (plus `opts.rootfs_extra`).
pub fn run_runc(process: &Value, opts: &RunOpts) -> Observed {
    require_root();
    let runc = require_tool("runc", "runc");
    let tmp = TempDir::new("runc");
    let bundle = tmp.path().join("bundle");
    let state = tmp.path().join("state");
    fs::create_dir_all(&bundle).unwrap();
    fs::create_dir_all(&state).unwrap();
    make_bundle(&bundle, process, opts);
    let id = unique_id("runc");
    let res = run_captured(
        command(opts, &runc)
            .arg("--root")
            .arg(&state)
            .arg("run")
            .arg("--bundle")
            .arg(&bundle)
            .arg(&id)
            .current_dir(tmp.path()),
        false,
    );
    // Always try to delete: a no-op after a clean exit, needed after a failure/timeout.
    let _ = Command::new(&runc)
        .arg("--root")
        .arg(&state)
        .args(["delete", "--force", &id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let res = res.unwrap_or_else(|| panic!("runc run {id} timed out after {RUN_TIMEOUT:?}"));
    observed("runc", res)
}

/// target/<profile>/launcher, as built by cargo for this test.
pub fn launcher_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_launcher"))
}

/// target/<profile>/dmz, next to the launcher (where the launcher looks by default).
pub fn dmz_bin() -> PathBuf {
    let dmz = launcher_bin().with_file_name("dmz");
    if !dmz.exists() {
        panic!("dmz not built: run `cargo build --release --workspace` first (looked for {})", dmz.display());
    }
    dmz
}

/// Runs `process` through `unshare --net <launcher> run --oci config.json` (args[0]
/// `/probe` replaced by the host path of the probe copy). `dmz` overrides the dmz binary
/// via `--dmz`; None lets the launcher find target/<profile>/dmz next to itself.
pub fn run_launcher_with(process: &Value, opts: &RunOpts, dmz: Option<&Path>) -> Observed {
    require_root();
    let unshare = require_tool("unshare", "util-linux");
    let launcher = launcher_bin();
    if dmz.is_none() {
        dmz_bin(); // panics with the build hint if target/<profile>/dmz is missing
    }
    assert!(launcher.exists(), "launcher not built: {}", launcher.display());
    assert_eq!(process["args"][0], "/probe", "process.args[0] must be /probe");
    let tmp = TempDir::new("launcher");
    let program = opts.program.clone().unwrap_or_else(probe);
    let host_probe = tmp.path().join("probe");
    install_binary(&program, &host_probe, opts.probe_file_caps.as_deref());
    let mut process = process.clone();
    process["args"][0] = Value::String(host_probe.to_str().unwrap().to_string());
    let spec = spec_with_process(&process, opts);
    let config = tmp.path().join("config.json");
    fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    fs::write(tmp.path().join("passwd"), PASSWD).unwrap();
    fs::write(tmp.path().join("group"), GROUP).unwrap();
    let mut cmd = command(opts, &unshare);
    // A private mount namespace whose /etc/passwd and /etc/group are the bundle's.
    cmd.args(["--net", "--mount", "/bin/sh", "-c"])
        .arg("mount --bind passwd /etc/passwd && mount --bind group /etc/group && exec \"$@\"")
        .arg("sh")
        .arg(&launcher)
        .arg("run")
        .arg("--oci")
        .arg(&config);
    if let Some(d) = dmz {
        cmd.arg("--dmz").arg(d);
    }
    cmd.current_dir(tmp.path());
    // stdin a pipe, as runc (foreground, no terminal) gives the container: its own pipes for
    // all three, which it gives to the target user with the others.
    let res = run_captured(&mut cmd, true)
        .unwrap_or_else(|| panic!("launcher timed out after {RUN_TIMEOUT:?}: {cmd:?}"));
    observed("launcher", res)
}

/// Runs `unshare --net <program> <args...>` on the host with exactly `env` as environment,
/// cwd `/`, stdin /dev/null. For the seed emulation (runclike → trampoline → probe).
pub fn run_host(who: &str, program: &Path, args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Observed {
    require_root();
    let unshare = require_tool("unshare", "util-linux");
    let mut cmd = Command::new(unshare);
    cmd.arg("--net").arg(program).args(args).env_clear().current_dir("/");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let res = run_captured(&mut cmd, false)
        .unwrap_or_else(|| panic!("{who} timed out after {RUN_TIMEOUT:?}: {cmd:?}"));
    observed(who, res)
}

/// [`run_launcher_with`] with the default dmz.
pub fn run_launcher(process: &Value, opts: &RunOpts) -> Observed {
    run_launcher_with(process, opts, None)
}

// ---------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------

/// A unified-style line diff (LCS): ` ` common, `-` only in `a`, `+` only in `b`.
pub fn line_diff(a: &[String], b: &[String]) -> String {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            let _ = writeln!(out, "  {}", a[i]);
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            let _ = writeln!(out, "- {}", a[i]);
            i += 1;
        } else {
            let _ = writeln!(out, "+ {}", b[j]);
            j += 1;
        }
    }
    out
}

/// Asserts that both runs exited 0 and printed identical observations; on mismatch the
/// panic message is a line diff (`-` = expected/runc, `+` = launcher) plus both stderrs.
pub fn assert_same(case: &str, expected: &Observed, actual: &Observed) {
    let ok = expected.status.success() && actual.status.success() && expected.stdout == actual.stdout;
    if !ok {
        panic!(
            "[{case}] observations differ (- {} / + {}):\n{} status: {} | {} status: {}\n{}\
             --- {} stderr:\n{}\n--- {} stderr:\n{}",
            expected.who,
            actual.who,
            expected.who,
            expected.status,
            actual.who,
            actual.status,
            line_diff(&expected.stdout, &actual.stdout),
            expected.who,
            expected.stderr,
            actual.who,
            actual.stderr,
        );
    }
}

/// Runs `process` through runc and the launcher and asserts identical observations.
/// Returns the runc observation for further checks.
pub fn differential(case: &str, process: &Value, opts: &RunOpts) -> Observed {
    require_root();
    let expected = run_runc(process, opts);
    expected.assert_success();
    let actual = run_launcher(process, opts);
    assert_same(case, &expected, &actual);
    expected
}

/// For configs runc refuses: asserts that both paths fail before the probe runs (non-zero
/// exit, no probe output). Exit codes are not compared: runc exits 1 for every failure,
/// dmz uses 125 (transition failed) / 126 (exec failed) / 127 (not found).
/// Returns (runc, launcher) for further checks on the messages.
pub fn differential_fails(case: &str, process: &Value, opts: &RunOpts) -> (Observed, Observed) {
    require_root();
    let expected = run_runc(process, opts);
    let actual = run_launcher(process, opts);
    for o in [&expected, &actual] {
        assert!(
            !o.status.success() && o.stdout.is_empty(),
            "[{case}] {} should fail before the probe runs, as runc does:\n{}\n{}",
            o.who,
            expected.dump(),
            actual.dump()
        );
    }
    (expected, actual)
}
