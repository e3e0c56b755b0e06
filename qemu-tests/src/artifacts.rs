//! Building what goes into an image: dmz, init and the probes for the target architecture
//! (static, no libc), and the host launcher that compiles their configs.

use crate::arch::Arch;
use crate::cmd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The binaries for one architecture.
#[derive(Clone, Debug)]
pub struct Artifacts {
    pub dmz: PathBuf,
    pub probe: PathBuf,
    pub smoke_init: PathBuf,
    /// dmzkit's init.
    pub init: PathBuf,
    /// The host launcher (compiles `.pcfg` files).
    pub launcher: PathBuf,
}

fn cargo() -> Command {
    // `cargo run` sets $CARGO to the cargo that built us; use the same one.
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // A nested build must not inherit variables meant for the outer build of this binary.
    for v in ["CARGO_PRIMARY_PACKAGE", "CARGO_MANIFEST_DIR", "CARGO_BIN_NAME", "CARGO_CRATE_NAME"] {
        c.env_remove(v);
    }
    c
}

/// Builds the host launcher and, for each arch, dmz, the probes and init.
pub fn build(root: &Path, target_dir: &Path, arches: &[Arch]) -> Result<Vec<(Arch, Artifacts)>, String> {
    eprintln!("build: launcher (host)");
    cmd::run(cargo().args(["build", "--release", "-q", "-p", "launcher"]).current_dir(root))?;
    let launcher = target_dir.join("release/launcher");
    let mut out = Vec::new();
    for &a in arches {
        eprintln!("build: dmz, qemu-probes, init for {}", a.rust_target());
        let mut c = cargo();
        c.args([
            "build",
            "--release",
            "-q",
            "--target",
            a.rust_target(),
            "-p",
            "dmz",
            "-p",
            "qemu-probes",
            "-p",
            "init",
        ]);
        cmd::run(c.current_dir(root))?;
        let bin = target_dir.join(a.rust_target()).join("release");
        out.push((
            a,
            Artifacts {
                dmz: bin.join("dmz"),
                probe: bin.join("probe"),
                smoke_init: bin.join("smoke-init"),
                init: bin.join("init"),
                launcher: launcher.clone(),
            },
        ));
    }
    Ok(out)
}
