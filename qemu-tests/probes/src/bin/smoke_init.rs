//! `smoke-init`: a stand-in PID 1 that checks the boot pipeline itself (kernel, initramfs,
//! console, dmz, probes, power-off) without dmzkit's init.
//!
//! It mounts proc, devtmpfs and a tmpfs on /run, runs the commands of `/etc/smoke.tab` one
//! after the other (one per line: `TAG PROGRAM ARGS...`, space separated), reaping every
//! child while it waits (orphans included), reports each exit status as
//! `DMZKIT-OBS TAG exit N` (128+signal for a signal death), then prints `DMZKIT-END
//! smoke-init` and powers off.
#![no_std]
#![no_main]

use core::ffi::CStr;
use linux_raw_sys::general as nr;
use qemu_probes::{read_file, sys, Line, OBS};

linker::entry!(main);

/// Upper bound of /etc/smoke.tab (a handful of short lines).
const TAB_MAX: usize = 4096;
/// Most arguments on one line (program included).
const ARGS_MAX: usize = 15;

fn main(_args: linker::Args) -> i32 {
    Line::new(b"DMZKIT-BOOT smoke-init boottime-ms ").dec(sys::boottime_ms()).emit();
    for (src, dst, fs) in [
        (&b"proc\0"[..], &b"/proc\0"[..], &b"proc\0"[..]),
        (b"devtmpfs\0", b"/dev\0", b"devtmpfs\0"),
        (b"tmpfs\0", b"/run\0", b"tmpfs\0"),
    ] {
        if let Err(e) = sys::mount(src, dst, fs, nr::MS_NOSUID) {
            Line::new(OBS).push(b"smoke-init mount-error ").push(&dst[..dst.len() - 1]).sp().errno(e).emit();
        }
    }
    let mut tab = [0u8; TAB_MAX];
    let len = match read_file(b"/etc/smoke.tab\0", &mut tab) {
        Ok(t) => t.len(),
        Err(e) => {
            Line::new(OBS).push(b"smoke-init tab-error ").errno(e).emit();
            0
        }
    };
    for line in tab[..len].split_mut(|&b| b == b'\n') {
        run_line(line);
    }
    Line::new(b"DMZKIT-END smoke-init boottime-ms ").dec(sys::boottime_ms()).emit();
    sys::sync();
    let _ = sys::reboot(nr::LINUX_REBOOT_CMD_POWER_OFF);
    // PID 1 must not exit (the kernel would panic): say why and wait.
    Line::new(OBS).push(b"smoke-init poweroff-failed 1").emit();
    loop {
        sys::sleep_ms(3_600_000);
    }
}

/// Runs one `TAG PROGRAM ARGS...` line (modified in place: spaces become NULs) to completion.
fn run_line(line: &mut [u8]) {
    // Split at spaces into NUL-terminated words (the line's own bytes, plus a NUL we can
    // only write if there is room: the last word ends at the slice's end).
    let mut starts = [0usize; ARGS_MAX + 1];
    let mut n = 0;
    let mut in_word = false;
    for (i, b) in line.iter_mut().enumerate() {
        if *b == b' ' || *b == b'\r' {
            *b = 0;
            in_word = false;
        } else if !in_word {
            if n == starts.len() {
                break;
            }
            starts[n] = i;
            n += 1;
            in_word = true;
        }
    }
    if n < 2 || line.first() == Some(&b'#') {
        return;
    }
    // Copy the words into a buffer with room for every terminator.
    let mut words = [0u8; 1024];
    let mut ends = [0usize; ARGS_MAX];
    let mut at = 0;
    let tag_end = line[starts[0]..].iter().position(|&b| b == 0).map_or(line.len(), |p| starts[0] + p);
    let tag = &line[starts[0]..tag_end];
    for (k, &s) in starts[1..n].iter().enumerate() {
        let w = &line[s..];
        let w = &w[..w.iter().position(|&b| b == 0).unwrap_or(w.len())];
        if at + w.len() + 1 > words.len() {
            return;
        }
        words[at..at + w.len()].copy_from_slice(w);
        words[at + w.len()] = 0;
        at += w.len() + 1;
        ends[k] = at;
    }
    let mut argv = [c""; ARGS_MAX];
    let mut from = 0;
    for (k, &end) in ends[..n - 1].iter().enumerate() {
        argv[k] = CStr::from_bytes_with_nul(&words[from..end]).unwrap_or(c"");
        from = end;
    }
    let env = [c"PATH=/bin", c"HOME=/"];
    match sys::fork() {
        Ok(0) => {
            let e = sys::execv(&argv[..n - 1], &env);
            Line::new(OBS).push(tag).push(b" exec-error ").errno(e).emit();
            sys::exit(127);
        }
        Ok(child) => {
            // Reap everything; stop when the command itself has ended.
            loop {
                match sys::wait4(-1, 0) {
                    Ok((pid, status)) if pid == child => {
                        Line::new(OBS).push(tag).push(b" exit ").dec(decode(status) as u64).emit();
                        return;
                    }
                    Ok(_) => {}
                    Err(e) if e == linux_raw_sys::errno::EINTR as u16 => {}
                    Err(_) => return,
                }
            }
        }
        Err(e) => {
            Line::new(OBS).push(tag).push(b" fork-error ").errno(e).emit();
        }
    }
}

/// A wait status as a shell would show it: the exit code, or 128 + the signal.
fn decode(status: i32) -> i32 {
    let sig = status & 0x7f;
    if sig == 0 {
        (status >> 8) & 0xff
    } else {
        128 + sig
    }
}
