//! `init`: a static no-libc PID 1.
//!
//! - `init [OPTIONS] [--] CMD [ARGS...]`: container mode (src/container.rs), the tini job.
//! - `init` as PID 1 without arguments (the kernel starting it): system mode
//!   (src/system.rs). As PID 1, container mode needs `--` or an option first, so stray words
//!   the kernel passes on from its command line never turn a boot into container mode.
//! - `init poweroff|reboot|halt`, or init called by one of those names, when not PID 1: asks
//!   PID 1 to shut down (SIGUSR2, SIGTERM, SIGUSR1, as busybox init understands them). As
//!   PID 1 such a word is one the kernel passed on from its command line: system mode.
//! - `init status [NAME]`, `init start|stop|restart NAME`, `init reload`, when not PID 1:
//!   a request to PID 1 over its control socket (src/control.rs).
#![no_std]
#![no_main]

mod cgroup;
mod child;
mod container;
mod control;
mod events;
mod log;
mod output;
mod sys;
mod system;

use init::signal::{SIGTERM, SIGUSR1, SIGUSR2};
use init::text::eq;
use log::Log;

linker::entry!(main);

fn main(args: linker::Args) -> i32 {
    let pid1 = sys::getpid() == 1;
    // As PID 1 the words are the kernel's: a bare `reboot` on its command line reaches init
    // as an argument, and signalling itself would end PID 1.
    if let Some(sig) = control_request(&args).filter(|_| !pid1) {
        return match sys::kill(1, sig) {
            Ok(()) => 0,
            Err(e) => {
                Log::new(false).error_unable(b"signal PID 1", e, None);
                1
            }
        };
    }
    let first = arg(&args, 1);
    if !pid1 && control::is_request(first) {
        return control::client(&args);
    }
    if pid1 && !first.starts_with(b"-") {
        system::main(&args)
    }
    container::main(args, pid1)
}

/// The signal for `init poweroff|reboot|halt`, or for init invoked as `poweroff`, `reboot`
/// or `halt` (a symlink), with no other argument.
fn control_request(args: &linker::Args) -> Option<u8> {
    const WORDS: [(&[u8], u8); 3] = [(b"poweroff", SIGUSR2), (b"reboot", SIGTERM), (b"halt", SIGUSR1)];
    let word = match args.len() {
        1 => arg(args, 0).rsplit(|&b| b == b'/').next()?, // the name it was invoked by
        2 => arg(args, 1),
        _ => return None,
    };
    WORDS.iter().find(|(w, _)| eq(w, word)).map(|&(_, sig)| sig)
}

/// Argument `i`, empty when there is none.
#[inline(never)]
fn arg(args: &linker::Args, i: usize) -> &[u8] {
    args.get(i).map_or(b"", |a| a.to_bytes())
}
