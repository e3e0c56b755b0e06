//! Booting one image under `qemu-system-*` and collecting its serial console.
//!
//! Common options (docs/design.md §9): `-m 256 -display none -monitor none -serial stdio
//! -no-reboot`, `console=<tty> rdinit=/init panic=-1 quiet`, stdin from /dev/null. A VM that
//! outlives its deadline is killed. QEMU's exit status says nothing about success (a kernel
//! panic also ends it cleanly with `panic=-1 -no-reboot`): callers check the console markers.

use crate::arch::Arch;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Tcg,
    Kvm,
}

/// What one boot produced.
#[derive(Debug)]
pub struct Boot {
    /// Console lines, `\r` removed.
    pub lines: Vec<String>,
    /// When each line arrived, from QEMU's launch (parallel to `lines`).
    pub at: Vec<Duration>,
    /// Launch to QEMU's exit (or to the kill at the deadline).
    pub elapsed: Duration,
    /// The deadline passed and the VM was killed.
    pub timed_out: bool,
    /// QEMU's stderr (errors such as a missing firmware).
    pub stderr: String,
}

impl Boot {
    /// The last `n` console lines, for reports.
    pub fn tail(&self, n: usize) -> String {
        let from = self.lines.len().saturating_sub(n);
        self.lines[from..].join("\n")
    }
}

pub struct Spec<'a> {
    pub arch: Arch,
    pub kernel: &'a Path,
    pub initrd: &'a Path,
    pub accel: Accel,
    pub deadline: Duration,
    /// Extra kernel command-line words.
    pub append: &'a str,
    /// Echo console lines to stderr as they arrive.
    pub echo: bool,
}

/// The QEMU command line for `spec`.
pub fn command(spec: &Spec) -> Command {
    let (qemu, _) = spec.arch.qemu();
    let mut c = Command::new(qemu);
    c.args(spec.arch.machine_args());
    c.args([
        "-m",
        "256",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-nodefaults",
    ]);
    match spec.accel {
        Accel::Tcg => c.args(["-accel", "tcg"]),
        Accel::Kvm => c.args(["-accel", "kvm"]),
    };
    c.arg("-kernel").arg(spec.kernel).arg("-initrd").arg(spec.initrd);
    let mut append = format!("console={} rdinit=/init panic=-1 quiet", spec.arch.console());
    if !spec.append.is_empty() {
        append.push(' ');
        append.push_str(spec.append);
    }
    c.arg("-append").arg(append);
    c
}

/// Boots and collects the console until QEMU exits or the deadline passes.
pub fn boot(spec: &Spec) -> Result<Boot, String> {
    run(command(spec), spec.deadline, spec.echo)
}

/// Runs a QEMU command line and collects its console (stdout) until QEMU exits or `deadline`
/// passes (then it is killed); `echo` shows each line on stderr as it arrives.
pub fn run(cmd: Command, deadline: Duration, echo: bool) -> Result<Boot, String> {
    run_until(cmd, deadline, echo, None)
}

/// [`run`], but QEMU is killed as soon as a console line contains `until` (when what was to
/// be measured inside the VM is over; `timed_out` stays false then).
pub fn run_until(
    mut cmd: Command,
    deadline: Duration,
    echo: bool,
    until: Option<&str>,
) -> Result<Boot, String> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", crate::cmd::show(&cmd)))?;
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).replace('\r', "");
                    if tx.send(line.trim_end_matches('\n').to_string()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut stderr = child.stderr.take().expect("piped stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut lines = Vec::new();
    let mut at = Vec::new();
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if echo {
                    eprintln!("  | {line}");
                }
                let done = until.is_some_and(|u| line.contains(u));
                lines.push(line);
                at.push(start.elapsed());
                if done {
                    let _ = child.kill();
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                let _ = child.kill();
                break;
            }
        }
    }
    let _ = child.wait();
    let elapsed = start.elapsed();
    // The reader ends at EOF, which the kill or QEMU's exit brings.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        lines.push(line);
        at.push(elapsed);
    }
    let _ = reader.join();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Boot { lines, at, elapsed, timed_out, stderr })
}

/// Whether KVM works for x86_64 here: `/dev/kvm` exists and a boot of `initrd` under KVM
/// reaches `marker` within a short deadline. (On this project's machines `/dev/kvm` is a
/// software module: `-cpu host` aborts and other CPU models run far slower than TCG, so KVM
/// is only ever an optimisation that must prove itself.)
pub fn kvm_works(kernel: &Path, initrd: &Path, marker: &str) -> bool {
    if !Path::new("/dev/kvm").exists() {
        return false;
    }
    let spec = Spec {
        arch: Arch::X86_64,
        kernel,
        initrd,
        accel: Accel::Kvm,
        deadline: Duration::from_secs(6),
        append: "",
        echo: false,
    };
    match boot(&spec) {
        Ok(b) => !b.timed_out && b.lines.iter().any(|l| l.contains(marker)),
        Err(_) => false,
    }
}
