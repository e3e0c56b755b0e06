//! qemu-tests: boots real Debian kernels on x86_64, aarch64, armv7 and riscv64 under QEMU with
//! dmzkit's binaries as PID 1 and reports what was checked from inside.

mod arch;
mod cmd;
mod kernel;
mod setup;

use arch::Arch;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "qemu-tests", about = "Boot dmzkit images on four architectures under QEMU")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ArchSel {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "aarch64")]
    Aarch64,
    #[value(name = "armv7")]
    Armv7,
    #[value(name = "riscv64")]
    Riscv64,
    All,
}

impl ArchSel {
    fn arches(self) -> Vec<Arch> {
        match self {
            ArchSel::X86_64 => vec![Arch::X86_64],
            ArchSel::Aarch64 => vec![Arch::Aarch64],
            ArchSel::Armv7 => vec![Arch::Armv7],
            ArchSel::Riscv64 => vec![Arch::Riscv64],
            ArchSel::All => arch::ALL.to_vec(),
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what is missing (QEMU system emulators), or say what is.
    Setup {
        #[arg(long, value_enum, default_value = "all")]
        arch: ArchSel,
    },
    /// Download (or show the cached) Debian kernels and print their versions.
    FetchKernels {
        #[arg(long, value_enum, default_value = "all")]
        arch: ArchSel,
        /// Re-resolve the meta-packages even when a kernel is cached.
        #[arg(long)]
        refresh: bool,
    },
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("qemu-tests: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.cmd {
        Cmd::Setup { arch } => {
            setup::ensure(&arch.arches(), true)?;
            println!("setup: everything needed is installed");
        }
        Cmd::FetchKernels { arch, refresh } => {
            let cache = kernel::cache_dir(&target_dir());
            for a in arch.arches() {
                let k = kernel::get(&cache, a, refresh)?;
                println!("{a}: {} {} ({})", k.package, k.version, k.image.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
