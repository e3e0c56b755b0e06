//! Benchmark helper, not part of init: run as a service of system mode, it waits a second,
//! prints PID 1's memory lines from /proc/1/status and /proc/1/smaps_rollup prefixed with
//! `rss-probe: `, then asks PID 1 to power off (SIGUSR2). scripts/bench-init boots it under QEMU on each architecture.
//! Built with the same no-libc link recipe as init: `cargo build --release -p init --example
//! rss_probe --features rss-probe --target T`.
#![no_std]
#![no_main]

use rustix::fs::{Mode, OFlags};

linker::entry!(main);

fn main(_: linker::Args) -> i32 {
    let _ = rustix::thread::nanosleep(&rustix::thread::Timespec { tv_sec: 1, tv_nsec: 0 });
    // status: what the brief asks for; smaps_rollup: counted from the page tables. Kernels
    // before 6.2 batch RSS counter updates per task (SPLIT_RSS_COUNTING, 64 faults), so a
    // process as small as init can show a VmRSS far below what it really maps.
    show(c"/proc/1/status", &[b"VmRSS:", b"RssAnon:", b"RssFile:", b"RssShmem:"]);
    show(c"/proc/1/smaps_rollup", &[b"Rss:", b"Anonymous:"]);
    let _ = rustix::process::kill_process(rustix::process::Pid::INIT, rustix::process::Signal::USR2);
    0
}

/// Prints the lines of `path` that start with one of `keys`, as `rss-probe: <file> <line>`.
fn show(path: &core::ffi::CStr, keys: &[&[u8]]) {
    let mut buf = [0u8; 4096];
    let mut n = 0;
    if let Ok(f) = rustix::fs::open(path, OFlags::RDONLY, Mode::empty()) {
        while let Ok(k @ 1..) = rustix::io::read(&f, &mut buf[n..]) {
            n += k;
        }
    }
    for line in buf[..n].split(|&b| b == b'\n') {
        if keys.iter().any(|k| line.starts_with(k)) {
            linker::write_all(1, b"rss-probe: ");
            linker::write_all(1, path.to_bytes());
            linker::write_all(1, b" ");
            linker::write_all(1, line);
            linker::write_all(1, b"\n");
        }
    }
}
