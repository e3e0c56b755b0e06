//! `init`: a static no-libc PID 1.
//!
//! - `init [OPTIONS] [--] CMD [ARGS...]`: container mode (src/container.rs), the tini job.
//! - `init` as PID 1 without arguments (the kernel starting it): system mode
//!   (src/system.rs). As PID 1, container mode needs `--` or an option first, so stray words
//!   the kernel passes on from its command line never turn a boot into container mode.
//! - `init poweroff|reboot|halt`, or init called by one of those names: asks PID 1 to shut
//!   down (SIGUSR2, SIGTERM, SIGUSR1, as busybox init understands them).
#![no_std]
#![no_main]

mod child;
mod container;
mod events;
mod log;
mod sys;
mod system;

use init::signal::{SIGTERM, SIGUSR1, SIGUSR2};
use log::{Log, Msg};

linker::entry!(main);

fn main(args: linker::Args) -> i32 {
    if let Some(sig) = control_request(&args) {
        return match sys::kill(1, sig) {
            Ok(()) => 0,
            Err(e) => {
                Log::new(false).emit(Msg::error().unable(b"signal PID 1", e, b""));
                1
            }
        };
    }
    let pid1 = sys::getpid() == 1;
    let first = args.get(1).map_or(&b""[..], |a| a.to_bytes());
    if pid1 && !first.starts_with(b"-") {
        system::main(&args)
    }
    container::main(args, pid1)
}

/// The signal for `init poweroff|reboot|halt`, or for init invoked as `poweroff`, `reboot`
/// or `halt` (a symlink), with no other argument.
fn control_request(args: &linker::Args) -> Option<u8> {
    let arg0 = args.get(0).map_or(&b""[..], |a| a.to_bytes());
    let name = arg0.rsplit(|&b| b == b'/').next().unwrap_or(arg0);
    let word = match (name, args.len()) {
        (b"poweroff" | b"reboot" | b"halt", 1) => name,
        (_, 2) => args.get(1).map_or(&b""[..], |a| a.to_bytes()),
        _ => return None,
    };
    match word {
        b"poweroff" => Some(SIGUSR2),
        b"reboot" => Some(SIGTERM),
        b"halt" => Some(SIGUSR1),
        _ => None,
    }
}
