//! launcher: compiles an OCI `config.json` (the `process` part) into a dmz config, then either
//! execs dmz with it in the same process (`run`) or writes it to a file (`compile`).
//!
//! Exit status: 125 when the launcher fails before exec (bad input, dmz missing), like dmz;
//! 2 for command-line usage errors. After exec, dmz's and then the target's status apply.

mod init_config;
mod inspect;
mod names;
mod oci;

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

#[derive(Subcommand)]
enum Cmd {
    /// Apply config.json's process settings through dmz and exec the program (same PID).
    Run {
        /// OCI runtime config (config.json); its `process` object is applied.
        #[arg(long, value_name = "CONFIG.json")]
        oci: PathBuf,
        /// dmz binary (default: $DMZKIT_DMZ, else `dmz` next to this launcher).
        #[arg(long, value_name = "PATH")]
        dmz: Option<PathBuf>,
        /// Replace process.args.
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Write the compiled config to a file (for images; run it with `dmz FILE`), or with
    /// --init the system-mode config of `init` from a TOML file.
    Compile {
        #[arg(long, value_name = "CONFIG.json", required_unless_present = "init", conflicts_with = "init")]
        oci: Option<PathBuf>,
        /// init's system-mode config (TOML; see init/README.md).
        #[arg(long, value_name = "INIT.toml")]
        init: Option<PathBuf>,
        #[arg(short, long, value_name = "FILE.pcfg")]
        output: PathBuf,
        /// Replace process.args.
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Show what a compiled config holds, as JSON.
    Inspect {
        #[arg(value_name = "FILE.pcfg")]
        file: PathBuf,
    },
}

/// Exit status for failures before exec (DESIGN §4).
const FAILED: u8 = 125;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("launcher: {msg}");
            ExitCode::from(FAILED)
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::Run { oci, dmz, args } => {
            let compiled = load(&oci, args)?;
            let dmz = find_dmz(dmz)?;
            exec_dmz(&dmz, compiled)
        }
        Cmd::Compile { oci, init, output, args } => {
            let blob = match (oci, init) {
                (_, Some(toml)) => init_config::compile_file(&toml, &mut |w| eprintln!("launcher: {w}"))?,
                (Some(oci), None) => load(&oci, args)?.encode()?,
                (None, None) => unreachable!("clap requires --oci or --init"),
            };
            std::fs::write(&output, blob).map_err(|e| format!("{}: {e}", output.display()))
        }
        Cmd::Inspect { file } => {
            let blob = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let json = init_config::inspect(&blob)
                .unwrap_or_else(|| inspect::to_json(&blob))
                .map_err(|e| format!("{}: {e}", file.display()))?;
            println!("{}", serde_json::to_string_pretty(&json).expect("JSON value serializes"));
            Ok(())
        }
    }
}

/// Reads and compiles config.json; `args`, if given, replace process.args. Warnings and the
/// list of sections not applied go to stderr, one line each.
fn load(path: &Path, args: Vec<String>) -> Result<oci::Compiled, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let mut spec = oci::parse(&name, &text)?;
    if spec.seccomp.is_some() {
        return Err(format!(
            "{name}: linux.seccomp: seccomp profiles are not supported by this launcher yet"
        ));
    }
    if !spec.not_applied.is_empty() {
        eprintln!(
            "launcher: {name}: not applied (dmz runs the process in the caller's root and namespaces): {}",
            spec.not_applied.join(", ")
        );
    }
    if !args.is_empty() {
        spec.process.args = Some(args);
    }
    let mut compiled = oci::compile(&name, &spec.process, &mut |w| eprintln!("launcher: {w}"))?;
    add_home(&mut compiled);
    Ok(compiled)
}

/// runc sets HOME from the user's passwd entry when the config's env has none ("/" if the user
/// has no entry). dmz runs on the caller's root, so that is the host's /etc/passwd.
fn add_home(c: &mut oci::Compiled) {
    if c.env.iter().any(|e| e.starts_with("HOME=")) {
        return;
    }
    let home = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 6 && f[2].parse() == Ok(c.uid)).then(|| f[5].to_string())
            })
        })
        .unwrap_or_else(|| "/".to_string());
    c.env.push(format!("HOME={home}"));
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
    Ok(path)
}

/// Puts the blob in a sealed memfd and execs `dmz --fd N` in this process (same PID). The
/// memfd is the only fd this launcher leaves open across exec (std opens everything else
/// close-on-exec); dmz closes it right after reading.
fn exec_dmz(dmz: &Path, mut compiled: oci::Compiled) -> Result<(), String> {
    pass_listen_fds(&mut compiled);
    let blob = compiled.encode()?;
    let fd = sealed_memfd(&blob).map_err(|e| format!("cannot create the config memfd: {e}"))?;
    let err = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(dmz).arg("--fd").arg(fd.as_raw_fd().to_string()).exec()
    };
    Err(format!("cannot exec {}: {err}", dmz.display()))
}

/// A memfd holding `blob`, sealed against any change, and not close-on-exec.
fn sealed_memfd(blob: &[u8]) -> rustix::io::Result<OwnedFd> {
    use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};
    let fd = memfd_create("dmz-config", MemfdFlags::ALLOW_SEALING)?;
    let mut rest = blob;
    while !rest.is_empty() {
        let n = rustix::io::write(&fd, rest)?;
        rest = &rest[n..];
    }
    fcntl_add_seals(&fd, SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE)?;
    Ok(fd)
}

/// systemd socket activation (sd_listen_fds(3)): when LISTEN_PID is this process — and it
/// stays the target's PID, since launcher → dmz → target never forks — the fds 3..3+LISTEN_FDS
/// pass through, and LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES reach the target's env.
fn pass_listen_fds(c: &mut oci::Compiled) {
    let var = |k: &str| std::env::var(k).ok();
    let (Some(fds), Some(pid)) = (var("LISTEN_FDS"), var("LISTEN_PID")) else { return };
    if pid.parse::<u32>().ok() != Some(std::process::id()) {
        return;
    }
    let Ok(n) = fds.parse::<u32>() else { return };
    for fd in 3..3 + n {
        if !c.preserve_fds.contains(&fd) {
            c.preserve_fds.push(fd);
        }
    }
    c.preserve_fds.sort_unstable();
    for key in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
        if let Some(v) = var(key) {
            if !c.env.iter().any(|e| e.split_once('=').is_some_and(|(k, _)| k == key)) {
                c.env.push(format!("{key}={v}"));
            }
        }
    }
}
