//! launcher: compiles an OCI `config.json` (the `process` part) into a dmz config, then either
//! execs dmz with it in the same process (`run`) or writes it to a file (`compile`).
//!
//! Exit status: 125 when the launcher fails before exec (bad input, dmz missing), like dmz;
//! 2 for command-line usage errors. After exec, dmz's and then the target's status apply.

use launcher::{check, compile_seccomp, consistency, flags, init_config, oci, say, seccomp, validate, view};

use clap::{Parser, Subcommand};
use rustix::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "launcher", version, about = "Run a process through the dmz privilege transition")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Where the settings come from: an OCI config, an `inspect --json` output, or only flags.
#[derive(clap::Args, Default)]
struct Source {
    /// OCI runtime config (config.json); its `process` object is applied, flags override it.
    #[arg(long, value_name = "CONFIG.json", conflicts_with = "from_json")]
    oci: Option<PathBuf>,
    /// A config as `launcher inspect --json` prints it.
    #[arg(long, value_name = "FILE.json")]
    from_json: Option<PathBuf>,
    /// A compiled config, as `compile` writes it (e.g. to check an image's file on its machine).
    #[arg(long, value_name = "FILE.pcfg", conflicts_with_all = ["oci", "from_json"])]
    pcfg: Option<PathBuf>,
    /// Refuse instead of adjusting (runc skips, with a warning, an ambient capability that is
    /// not both permitted and inheritable).
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    flags: flags::Flags,
    /// The program and its arguments (replace process.args).
    #[arg(last = true, value_name = "CMD [ARGS]")]
    args: Vec<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Apply the settings through dmz and exec the program (same PID).
    Run {
        #[command(flatten)]
        source: Source,
        /// dmz binary (default: $DMZKIT_DMZ, else `dmz` next to this launcher).
        #[arg(long, value_name = "PATH")]
        dmz: Option<PathBuf>,
        /// Execute dmz from a sealed in-memory copy, so nothing running as the target can
        /// modify the dmz file on disk through /proc/PID/exe (the CVE-2019-5736 pattern). Use it
        /// when the target is untrusted and may run as root in the caller's mount namespace.
        #[arg(long)]
        sealed: bool,
    },
    /// Write the compiled config to a file (for images; run it with `dmz FILE`), or with
    /// --init the system-mode config of `init` from a TOML file.
    Compile {
        #[command(flatten)]
        source: Source,
        /// init's system-mode config (TOML; see init/README.md) instead of a dmz config.
        #[arg(long, value_name = "INIT.toml", conflicts_with_all = ["oci", "from_json", "pcfg"])]
        init: Option<PathBuf>,
        #[arg(short, long, value_name = "FILE.pcfg")]
        output: PathBuf,
        /// Architecture whose dmz will run the file: the seccomp filter is compiled for it
        /// (x86_64, aarch64, arm, riscv64, x86; default: this launcher's).
        #[arg(long, value_name = "ARCH", value_parser = seccomp::Arch::parse)]
        arch: Option<seccomp::Arch>,
        /// Kernel version ("6.1") that Docker profiles' minKernel conditions are evaluated
        /// against (default: the running kernel, as Docker does).
        #[arg(long, value_name = "X.Y", value_parser = parse_kernel)]
        kernel: Option<seccomp::KernelVersion>,
    },
    /// Show what a compiled config holds.
    Inspect {
        #[arg(value_name = "FILE.pcfg")]
        file: PathBuf,
        /// As JSON (which `compile --from-json` turns back into the same file).
        #[arg(long)]
        json: bool,
    },
    /// Report what would be applied, what would not, and whether this machine can do it.
    /// Exit status 1 if anything would fail.
    Check {
        #[command(flatten)]
        source: Source,
    },
}

/// Exit status for failures before exec (docs/design.md §4).
const FAILED: u8 = dmz::error::FAILED as u8;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(msg) => {
            say(&msg);
            ExitCode::from(FAILED)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.cmd {
        Cmd::Run { source, dmz, sealed } => {
            let (compiled, _) = load(&source, true, seccomp::Arch::native(), None)?;
            let dmz = find_dmz(dmz)?;
            exec_dmz(&dmz, compiled, sealed).map(|()| ExitCode::SUCCESS)
        }
        Cmd::Compile { source, init, output, arch, kernel } => {
            let blob = match init {
                Some(toml) => {
                    let target =
                        init_config::Target { arch: arch.unwrap_or_else(seccomp::Arch::native), kernel };
                    init_config::compile_file(&toml, &target, &mut |w| say(&w))?
                }
                None => {
                    load(&source, true, arch.unwrap_or_else(seccomp::Arch::native), kernel)?.0.encode()?
                }
            };
            std::fs::write(&output, blob).map_err(|e| format!("{}: {e}", output.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Inspect { file, json } => {
            let blob = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            if let Some(json) = init_config::inspect(&blob) {
                let json = json.map_err(|e| format!("{}: {e}", file.display()))?;
                emit(&format!("{}\n", to_json(&json)?))?;
                return Ok(ExitCode::SUCCESS);
            }
            let view = view::decode(&blob).map_err(|e| format!("{}: {e}", file.display()))?;
            emit(&if json { format!("{}\n", to_json(&view)?) } else { view.to_text() })?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check { source } => {
            let (compiled, not_applied) = load(&source, false, seccomp::Arch::native(), None)?;
            let mut failed = false;
            let mut report = String::new();
            for f in check::check(&compiled, &not_applied) {
                let (tag, m) = match f {
                    check::Finding::Ok(m) => ("ok:  ", m),
                    check::Finding::Warn(m) => ("warn:", m),
                    check::Finding::Fail(m) => {
                        failed = true;
                        ("FAIL:", m)
                    }
                };
                report.push_str(&format!("{tag} {m}\n"));
            }
            emit(&report)?;
            Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
    }
}

/// Writes `text` to stdout; a closed or full stdout is an error line, not a panic.
fn emit(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(|e| format!("stdout: {e}"))
}

fn to_json(v: &impl serde::Serialize) -> Result<String, String> {
    serde_json::to_string_pretty(v).map_err(|e| format!("cannot print JSON: {e}"))
}

/// Builds the final settings: the source (config.json, inspect JSON, or this process), then
/// the flags, then the seccomp profile (config.json's `linux.seccomp` or `--seccomp`),
/// compiled for `arch`, then runc's adjustments. With `apply`, adjustments are made (and
/// warned about) and refusals are errors; without (check), everything is left for the report.
/// Also returns the config.json sections that will not be applied.
fn load(
    src: &Source,
    apply: bool,
    arch: seccomp::Arch,
    kernel: Option<seccomp::KernelVersion>,
) -> Result<(oci::Compiled, Vec<String>), String> {
    let mut not_applied = Vec::new();
    let mut profile = None;
    let (name, mut compiled) = if let Some(path) = &src.oci {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
        let spec = oci::parse(&name, &text)?;
        not_applied = spec.not_applied;
        profile = spec.seccomp.map(|p| (name.clone(), "linux.seccomp", p));
        let mut process = spec.process;
        if !src.args.is_empty() {
            process.args = Some(src.args.clone());
        }
        let mut c = oci::compile(&name, &process)?;
        src.flags.apply(&mut c)?;
        validate::bare_program_needs_path(&c).map_err(|e| format!("{name}: {e}"))?;
        oci::add_home(&mut c);
        (name, c)
    } else if let Some(path) = src.from_json.as_ref().or(src.pcfg.as_ref()) {
        let name = path.display().to_string();
        let v: view::View = if src.pcfg.is_some() {
            let blob = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
            view::decode(&blob).map_err(|e| format!("{name}: {e}"))?
        } else {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?
        };
        let mut c = v.to_compiled().map_err(|e| format!("{name}: {e}"))?;
        if !src.args.is_empty() {
            c.args = src.args.clone();
        }
        src.flags.apply(&mut c)?;
        (name, c)
    } else {
        if src.args.is_empty() {
            return Err(
                "no program: give --oci CONFIG.json, --from-json FILE, --pcfg FILE, or -- CMD [ARGS]".into(),
            );
        }
        let mut c = flags::Current::read(src.flags.clear_env).base();
        c.args = src.args.clone();
        src.flags.apply(&mut c)?;
        ("command line".to_string(), c)
    };
    if let Some(path) = &src.flags.seccomp {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
        let value = serde_json::from_str(&text).map_err(|e| format!("{file}: invalid JSON: {e}"))?;
        profile = Some((file, "", value));
    }
    if let Some((file, at, value)) = &profile {
        compiled.seccomp = compile_seccomp(file, at, value, &compiled, arch, kernel)?;
    }
    validate::validate(&compiled).map_err(|e| format!("{name}: {e}"))?;
    if apply {
        if !not_applied.is_empty() {
            say(&format!(
                "{name}: not applied (dmz runs the process in the caller's root and namespaces): {}",
                not_applied.join(", ")
            ));
        }
        consistency::reconcile(&name, &mut compiled, src.strict, &mut |w| say(&w))?;
    }
    Ok((compiled, not_applied))
}

fn parse_kernel(s: &str) -> Result<seccomp::KernelVersion, String> {
    seccomp::KernelVersion::from_release(s)
        .ok_or_else(|| format!("expected a kernel version such as 6.1, not {s:?}"))
}

/// `--dmz`, else `$DMZKIT_DMZ`, else `dmz` next to this executable.
fn find_dmz(flag: Option<PathBuf>) -> Result<PathBuf, String> {
    let path = match flag.or_else(|| std::env::var_os("DMZKIT_DMZ").map(PathBuf::from)) {
        Some(p) => p,
        None => {
            let exe = std::env::current_exe().map_err(|e| format!("cannot locate this executable: {e}"))?;
            exe.with_file_name("dmz")
        }
    };
    if !path.is_file() {
        return Err(format!("dmz not found at {} (use --dmz or DMZKIT_DMZ)", path.display()));
    }
    // The file just checked is the one executed: a bare name ("dmz") is the file in the
    // current directory, as the check above read it, never a PATH search.
    std::path::absolute(&path).map_err(|e| format!("dmz at {}: {e}", path.display()))
}

/// Puts the blob in a sealed memfd and execs `dmz --fd N` in this process (same PID). The
/// memfd is the only fd this launcher leaves open across exec (std opens everything else
/// close-on-exec); dmz closes it right after reading.
fn exec_dmz(dmz: &Path, mut compiled: oci::Compiled, sealed: bool) -> Result<(), String> {
    pass_systemd_env(&mut compiled)?;
    let blob = compiled.encode()?;
    let fd = sealed_memfd("dmz-config", &blob, false)
        .map_err(|e| format!("cannot create the config memfd: {e}"))?;
    // With --sealed, dmz runs from a sealed, close-on-exec memfd copy: /proc/PID/exe then names
    // that memfd, which nobody can write, instead of the file on disk.
    let (program, _exe_fd) = if sealed {
        let bytes = std::fs::read(dmz).map_err(|e| format!("{}: {e}", dmz.display()))?;
        let exe = sealed_memfd("dmz", &bytes, true).map_err(|e| match e {
            rustix::io::Errno::ACCESS => "--sealed: this kernel refuses executable memfds \
                 (vm.memfd_noexec = 2 in this pid namespace); run without --sealed"
                .to_string(),
            e => format!("cannot create the dmz memfd: {e}"),
        })?;
        (PathBuf::from(format!("/proc/self/fd/{}", exe.as_raw_fd())), Some(exe))
    } else {
        (dmz.to_path_buf(), None)
    };
    let err = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(&program).arg("--fd").arg(fd.as_raw_fd().to_string()).exec()
    };
    Err(format!("cannot exec {}: {err}", dmz.display()))
}

/// A memfd holding `bytes`, sealed against any change. `exe`: the memfd holds dmz itself,
/// to be executed. The config fd must survive exec (dmz reads and closes it); the
/// executable's must not (execve opens it by path first, and the target must not inherit it).
///
/// An executable memfd is asked for with MFD_EXEC (Linux 6.3+): with `vm.memfd_noexec = 1`
/// a memfd created without it is sealed non-executable, and with 2 only non-executable ones
/// are allowed (memfd_create fails with EACCES). Kernels before 6.3 refuse the unknown flag
/// with EINVAL; their memfds are executable without it. References: memfd_create(2),
/// Documentation/admin-guide/sysctl/vm.rst.
fn sealed_memfd(name: &str, bytes: &[u8], exe: bool) -> rustix::io::Result<OwnedFd> {
    use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};
    let fd = if exe {
        let flags = MemfdFlags::ALLOW_SEALING | MemfdFlags::CLOEXEC;
        match memfd_create(name, flags | MemfdFlags::EXEC) {
            Err(rustix::io::Errno::INVAL) => memfd_create(name, flags)?,
            r => r?,
        }
    } else {
        memfd_create(name, MemfdFlags::ALLOW_SEALING)?
    };
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = rustix::io::write(&fd, rest)?;
        rest = &rest[n..];
    }
    fcntl_add_seals(&fd, SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE)?;
    // dmz reads from the current offset.
    rustix::fs::seek(&fd, rustix::fs::SeekFrom::Start(0))?;
    Ok(fd)
}

/// systemd's per-service variables, which name this PID and so stay true along launcher →
/// dmz → target (nothing forks):
/// - socket activation (sd_listen_fds(3)): when LISTEN_PID is this process, fds
///   3..3+LISTEN_FDS pass through, with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES;
/// - readiness and watchdog (sd_notify(3), sd_watchdog_enabled(3)): NOTIFY_SOCKET, and
///   WATCHDOG_USEC with WATCHDOG_PID when that is this process.
///
/// They reach the target's env unless the config sets them itself.
///
/// More fds than dmz can keep is an error: passing fewer while LISTEN_FDS names them all
/// would make the target use fds it does not have.
fn pass_systemd_env(c: &mut oci::Compiled) -> Result<(), String> {
    let var = |k: &str| std::env::var(k).ok();
    let ours = |k: &str| var(k).and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let mut pass = vec!["NOTIFY_SOCKET"];
    if ours("LISTEN_PID") {
        if let Some(n) = var("LISTEN_FDS").and_then(|n| n.parse::<u32>().ok()) {
            let max = dmz::config::MAX_PRESERVE_FDS as u32;
            if n > max {
                return Err(format!("LISTEN_FDS={n}: dmz passes at most {max} fds (3..={})", 2 + max));
            }
            for fd in 3..3 + n {
                if !c.preserve_fds.contains(&fd) {
                    c.preserve_fds.push(fd);
                }
            }
            c.preserve_fds.sort_unstable();
            pass.extend(["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]);
        }
    }
    if ours("WATCHDOG_PID") {
        pass.extend(["WATCHDOG_USEC", "WATCHDOG_PID"]);
    }
    for key in pass {
        if let Some(v) = var(key) {
            if !c.env.iter().any(|e| e.split_once('=').is_some_and(|(k, _)| k == key)) {
                c.env.push(format!("{key}={v}"));
            }
        }
    }
    Ok(())
}
