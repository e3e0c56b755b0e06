//! launcher: setpriv-style flags (`--user`, `--caps`, `--securebits`, `--rlimit`, ...) parsed
//! and applied on top of a base config, as `launcher compile -- CMD` does. The result must
//! be dmz's canonical encoding, validate and run through the checking kernel; every refusal
//! is one line.
//!
//! Input: the arguments, separated by NUL bytes.
#![no_main]

use clap::Parser;
use dmzkit_fuzz::{one_line, run_compiled};
use launcher::{consistency, flags::Flags, oci::Compiled};
use libfuzzer_sys::fuzz_target;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    flags: Flags,
    #[arg(last = true)]
    args: Vec<String>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let args = std::iter::once("launcher").chain(text.split('\0'));
    let Ok(cli) = Cli::try_parse_from(args) else { return };
    let mut c = Compiled {
        args: if cli.args.is_empty() { vec!["/bin/true".into()] } else { cli.args },
        env: vec!["PATH=/bin".into()],
        uid: Some(1000),
        gid: Some(1000),
        umask: 0o022,
        ..Compiled::default()
    };
    if let Err(e) = cli.flags.apply(&mut c) {
        return one_line(&e);
    }
    if let Err(e) = consistency::reconcile("command line", &mut c, false, &mut |_| {}) {
        return one_line(&e);
    }
    match c.encode() {
        Ok(blob) => run_compiled(&blob),
        Err(e) => one_line(&e),
    }
});
