//! `probe MODE ARGS...`: the in-VM test program, one static binary per architecture.
//!
//! | mode | what it does |
//! |---|---|
//! | `observe TAG [bindPORT] [hold]` | reports hostname, credentials, caps, NNP, seccomp, umask, rlimits, what fds 0-2 are (`fd0`..`fd2`: a path, or `closed`), timing; optionally binds 0.0.0.0:PORT (key `bind`), optionally stays up |
//! | `setcap SRC DST` | mounts a tmpfs on DST's directory, copies SRC to DST and gives the copy `cap_net_bind_service=ep` (security.capability xattr) |
//! | `orphans N` | leaves N orphans (half already zombies) to PID 1 and checks that they are reaped |
//! | `crash TAG` | reports its start time, then kills itself with SIGSEGV |
//! | `ignore-term TAG` | ignores SIGTERM and stays up |
//! | `modload MODDIR [PARAMS]` | loads watchdog.ko + i6300esb.ko with PARAMS (e.g. `heartbeat=2`; for an init that arms the watchdog itself) |
//! | `watchdog MODDIR` | loads watchdog.ko + i6300esb.ko, opens /dev/watchdog, sets the timeout, pets it, magic-closes it |
//! | `signal-init SIG MS` | after MS milliseconds, sends signal SIG to PID 1 (asks init to shut down) |
//! | `say LINES...` | writes each argument as a line to stdout (a service whose output init captures) |
//! | `kmsg PATTERN MS` | after MS milliseconds, reports the text of every kernel log record (/dev/kmsg) containing PATTERN (key `line`, tag `kmsg`) |
//! | `stamp-exec PROG ARGS...` | (as the kernel's rdinit) writes its CLOCK_BOOTTIME start to [`STAMP`], then execs PROG |
//! | `exec-time TAG` | reports its exec time and [`STAMP`]'s (`exec-us`, `init-us`), then stays up |
//! | `notify TAG MS MSG` | after MS milliseconds, sends MSG (e.g. `READY=1`) to `$NOTIFY_SOCKET` (key `sent`: MSG or the errno), then stays up |
//! | `ready-fd TAG FD MS` | after MS milliseconds, writes a newline to fd FD (s6's readiness notification; key `sent`), then stays up |
//!
//! Output: see the crate docs (`DMZKIT-OBS`, `DMZKIT-TEST`).
#![no_std]
#![no_main]

use linux_raw_sys::general as nr;
use qemu_probes::{obs, parse_dec, read_file, sys, verdict, Line, OBS};

linker::entry!(main);

fn main(args: linker::Args) -> i32 {
    let arg = |i| args.get(i).map(|s: &core::ffi::CStr| s.to_bytes()).unwrap_or(b"");
    let rest =
        |from: usize| (from..args.len()).map(move |i| args.get(i).map(|s| s.to_bytes()).unwrap_or(b""));
    match arg(1) {
        b"observe" => observe(
            arg(2),
            rest(3).find_map(|a| a.strip_prefix(b"bind").and_then(parse_dec)).map(|p| p as u16),
            rest(3).any(|a| a == b"hold"),
        ),
        b"setcap" => setcap(arg(2), arg(3)),
        b"orphans" => orphans(parse_dec(arg(2)).unwrap_or(4) as usize),
        b"crash" => crash(arg(2)),
        b"ignore-term" => ignore_term(arg(2)),
        b"watchdog" => watchdog(arg(2)),
        b"modload" => match load_watchdog_modules(arg(2), arg(3)) {
            Ok(()) => {
                verdict(b"modload", true, b"watchdog.ko, i6300esb.ko");
                0
            }
            Err((what, e)) => {
                Line::new(qemu_probes::TEST).push(b"modload FAIL ").push(what).push(b": ").errno(e).emit();
                1
            }
        },
        b"stamp-exec" => stamp_exec(&args),
        b"exec-time" => exec_time(arg(2)),
        b"say" => {
            rest(2).for_each(|l| Line::default().push(l).emit());
            0
        }
        b"kmsg" => kmsg(arg(2), parse_dec(arg(3)).unwrap_or(0)),
        b"signal-init" => signal_init(parse_dec(arg(2)).unwrap_or(0) as u32, parse_dec(arg(3)).unwrap_or(0)),
        b"repeat" => repeat(arg(2), parse_dec(arg(3)).unwrap_or(0) as usize, &args),
        b"notify" => {
            let path = args.env(b"NOTIFY_SOCKET").unwrap_or(b"");
            ready_then_stay(
                arg(2),
                parse_dec(arg(3)).unwrap_or(0),
                || sys::send_unix_dgram(path, arg(4)),
                arg(4),
            )
        }
        b"ready-fd" => {
            let fd = parse_dec(arg(3)).unwrap_or(3) as i32;
            ready_then_stay(arg(2), parse_dec(arg(4)).unwrap_or(0), || sys::write(fd, b"\n"), b"newline")
        }
        _ => {
            linker::write_all(
                2,
                b"usage: probe observe|setcap|orphans|crash|ignore-term|watchdog|signal-init|stamp-exec|exec-time|repeat|notify|ready-fd ...\n",
            );
            2
        }
    }
}

/// Copies `s` into a fixed NUL-terminated buffer (paths given on the command line).
fn cpath(s: &[u8], buf: &mut [u8; 256]) -> Option<usize> {
    if s.len() >= buf.len() || s.contains(&0) {
        return None;
    }
    buf[..s.len()].copy_from_slice(s);
    buf[s.len()] = 0;
    Some(s.len() + 1)
}

/// Timing: when this program was exec'd (CLOCK_BOOTTIME). As root, also the kernel log's
/// clock: the timestamp of the kernel's "Run /init as init process" record, and of a record
/// written now, next to a CLOCK_BOOTTIME reading, so the harness can put every probe's exec
/// time on the printk clock.
fn timing(tag: &[u8]) {
    let now = sys::boottime_us();
    Line::new(OBS).push(tag).push(b" exec-us ").dec(now).emit();
    if sys::geteuid() == 0 {
        kmsg_clock(tag);
    }
}

/// The text the kernel logs right before it executes the initramfs's /init.
const RUN_INIT: &[u8] = b"Run /init as init process";

fn kmsg_clock(tag: &[u8]) {
    let fd = match sys::open(b"/dev/kmsg\0", nr::O_RDWR | nr::O_NONBLOCK | nr::O_CLOEXEC, 0) {
        Ok(fd) => fd,
        // EPERM without CAP_SYSLOG (dmesg_restrict): a root service with reduced caps.
        Err(e) if e == linux_raw_sys::errno::EPERM as u16 => return,
        Err(e) => {
            Line::new(OBS).push(tag).push(b" kmsg-error ").errno(e).emit();
            return;
        }
    };
    let mut mark = Line::default();
    mark.push(b"<6>qemu-probes: clock ").push(tag);
    let len = mark.as_bytes().len();
    mark.push(b"\n"); // a record without its newline stays open (not yet readable)
    let before = sys::boottime_us();
    let _ = sys::write(fd, mark.as_bytes());
    let after = sys::boottime_us();
    let mut rec = [0u8; 2048];
    let (mut init_us, mut mark_us) = (None, None);
    loop {
        // One record per read: "PRI,SEQ,TS_US,FLAGS;MESSAGE\n"; EAGAIN at the end, EPIPE
        // when records were overwritten (reading goes on).
        match sys::read(fd, &mut rec) {
            Ok(n) => {
                let r = &rec[..n];
                let Some(semi) = r.iter().position(|&b| b == b';') else { continue };
                let ts = r[..semi].split(|&b| b == b',').nth(2).and_then(qemu_probes::parse_dec);
                let msg = &r[semi + 1..];
                if msg.starts_with(RUN_INIT) {
                    init_us = init_us.or(ts);
                } else if msg.starts_with(&mark.as_bytes()[3..len]) {
                    mark_us = ts;
                }
            }
            Err(e) if e == linux_raw_sys::errno::EPIPE as u16 => {}
            Err(_) => break,
        }
    }
    sys::close(fd);
    if let Some(i) = init_us {
        Line::new(OBS).push(tag).push(b" kmsg-run-init-us ").dec(i).emit();
    }
    if let Some(m) = mark_us {
        Line::new(OBS).push(tag).push(b" kmsg-clock ").dec(m).sp().dec((before + after) / 2).emit();
    }
}

/// The /proc/self/status fields a config controls.
const STATUS_KEYS: [&[u8]; 12] = [
    b"Umask",
    b"Uid",
    b"Gid",
    b"Groups",
    b"CapInh",
    b"CapPrm",
    b"CapEff",
    b"CapBnd",
    b"CapAmb",
    b"NoNewPrivs",
    b"Seccomp",
    b"Seccomp_filters",
];

/// RLIMIT_* numbers and names reported.
const RLIMITS: [(u32, &[u8]); 5] = [
    (nr::RLIMIT_CORE, b"rlimit-core"),
    (nr::RLIMIT_NPROC, b"rlimit-nproc"),
    (nr::RLIMIT_NOFILE, b"rlimit-nofile"),
    (nr::RLIMIT_MEMLOCK, b"rlimit-memlock"),
    (nr::RLIMIT_STACK, b"rlimit-stack"),
];

fn observe(tag: &[u8], bind: Option<u16>, hold: bool) -> i32 {
    timing(tag);
    let mut host = [0u8; 65];
    let n = sys::hostname(&mut host);
    obs(tag, b"hostname", &host[..n]);
    let mut buf = [0u8; 4096];
    match read_file(b"/proc/self/status\0", &mut buf) {
        Ok(status) => {
            for line in status.split(|&b| b == b'\n') {
                let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
                if STATUS_KEYS.contains(&&line[..colon]) {
                    let mut l = Line::new(OBS);
                    l.push(tag).sp().push(&line[..colon]);
                    for f in qemu_probes::fields(&line[colon + 1..]) {
                        l.sp().push(f);
                    }
                    l.emit();
                }
            }
        }
        Err(e) => {
            Line::new(OBS).push(tag).push(b" status-error ").errno(e).emit();
        }
    }
    for (n, key) in [(b'0', &b"fd0"[..]), (b'1', b"fd1"), (b'2', b"fd2")] {
        let mut target = [0u8; 256];
        let path = [b'/', b'p', b'r', b'o', b'c', b'/', b's', b'e', b'l', b'f', b'/', b'f', b'd', b'/', n, 0];
        match sys::readlink(&path, &mut target) {
            Ok(len) => obs(tag, key, &target[..len]),
            Err(_) => obs(tag, key, b"closed"),
        }
    }
    for (res, name) in RLIMITS {
        let mut l = Line::new(OBS);
        l.push(tag).sp().push(name).sp();
        match sys::getrlimit(res) {
            Ok((soft, hard)) => l.limit(soft).sp().limit(hard),
            Err(e) => l.errno(e),
        };
        l.emit();
    }
    if let Some(port) = bind {
        let mut l = Line::new(OBS);
        l.push(tag).push(b" bind ");
        match sys::bind_tcp4(port) {
            Ok(_) => l.push(b"ok 0.0.0.0:").dec(port as u64),
            Err(e) => l.errno(e),
        };
        l.emit();
    }
    obs(tag, b"done", b"1");
    if hold {
        loop {
            sys::sleep_ms(3_600_000);
        }
    }
    0
}

/// struct vfs_cap_data, revision 2 (include/uapi/linux/capability.h): magic_etc, then
/// {permitted, inheritable} for caps 0–31 and 32–63, all little-endian.
fn vfs_cap_v2(permitted: u64, effective: bool) -> [u8; 20] {
    let mut v = [0u8; 20];
    let magic = nr::VFS_CAP_REVISION_2 | if effective { nr::VFS_CAP_FLAGS_EFFECTIVE } else { 0 };
    v[0..4].copy_from_slice(&magic.to_le_bytes());
    v[4..8].copy_from_slice(&(permitted as u32).to_le_bytes());
    v[12..16].copy_from_slice(&((permitted >> 32) as u32).to_le_bytes());
    v
}

fn setcap(src: &[u8], dst: &[u8]) -> i32 {
    timing(b"setcap");
    let (mut s, mut d) = ([0u8; 256], [0u8; 256]);
    let (Some(sn), Some(dn)) = (cpath(src, &mut s), cpath(dst, &mut d)) else {
        verdict(b"setcap", false, b"bad path");
        return 1;
    };
    match copy_with_caps(&s[..sn], &d[..dn]) {
        Ok(()) => {
            verdict(b"setcap", true, b"cap_net_bind_service=ep set on a tmpfs copy");
            0
        }
        Err((what, e)) => {
            let mut l = Line::new(qemu_probes::TEST);
            l.push(b"setcap FAIL ").push(what).push(b": ").errno(e).emit();
            1
        }
    }
}

fn copy_with_caps(src: &[u8], dst: &[u8]) -> Result<(), (&'static [u8], sys::Errno)> {
    // A fresh tmpfs without MS_NOSUID: on a nosuid mount (as /run usually is) the kernel
    // ignores file capabilities at exec.
    let slash =
        dst.iter().rposition(|&b| b == b'/').filter(|&i| i > 0).ok_or((&b"destination directory"[..], 22))?;
    let mut dir = [0u8; 256];
    dir[..slash].copy_from_slice(&dst[..slash]);
    let dir = &dir[..slash + 1];
    match sys::mkdir(dir, 0o755) {
        Ok(_) => {}
        Err(e) if e == linux_raw_sys::errno::EEXIST as u16 => {}
        Err(e) => return Err((b"mkdir", e)),
    }
    sys::mount(b"tmpfs\0", dir, b"tmpfs\0", nr::MS_NODEV).map_err(|e| (&b"mount tmpfs"[..], e))?;
    let inf = sys::open(src, nr::O_RDONLY | nr::O_CLOEXEC, 0).map_err(|e| (&b"open source"[..], e))?;
    let outf = sys::open(dst, nr::O_WRONLY | nr::O_CREAT | nr::O_TRUNC | nr::O_CLOEXEC, 0o755)
        .map_err(|e| (&b"create copy"[..], e))?;
    let mut buf = [0u8; 4096];
    loop {
        let n = sys::read(inf, &mut buf).map_err(|e| (&b"read"[..], e))?;
        if n == 0 {
            break;
        }
        let mut done = 0;
        while done < n {
            done += sys::write(outf, &buf[done..n]).map_err(|e| (&b"write"[..], e))?;
        }
    }
    // After the data: any later write would make the kernel drop the capability xattr.
    let cap = vfs_cap_v2(1 << nr::CAP_NET_BIND_SERVICE, true);
    sys::fsetxattr(outf, b"security.capability\0", &cap, 0).map_err(|e| (&b"fsetxattr"[..], e))?;
    sys::close(outf);
    sys::close(inf);
    Ok(())
}

/// Leaves `n` orphans to PID 1 (the first half exit before their parent does, so they are
/// already zombies when reparented; the second half exit after) and checks, a while later,
/// that none is left: PID 1 must have reaped them.
fn orphans(n: usize) -> i32 {
    let n = n.clamp(2, 64);
    let Ok((rd, wr)) = sys::pipe() else {
        verdict(b"zombies", false, b"pipe failed");
        return 1;
    };
    match sys::fork() {
        Ok(0) => {
            // The middle process: forks the orphans, reports their pids, exits.
            for i in 0..n {
                match sys::fork() {
                    Ok(0) => {
                        if i >= n / 2 {
                            sys::sleep_ms(300);
                        }
                        sys::exit(0);
                    }
                    Ok(pid) => {
                        let _ = sys::write(wr, &(pid as u32).to_ne_bytes());
                    }
                    Err(_) => sys::exit(1),
                }
            }
            sys::sleep_ms(50); // let the first half exit while their parent is alive
            sys::exit(0);
        }
        Ok(mid) => {
            sys::close(wr);
            let _ = sys::wait4(mid as isize, 0);
            let mut pids = [0u8; 4 * 64];
            let mut got = 0;
            while let Ok(k) = sys::read(rd, &mut pids[got..]) {
                if k == 0 {
                    break;
                }
                got += k;
            }
            sys::close(rd);
            // Give PID 1 time to reap them (the slower half exit 300 ms after forking).
            let mut left = 0;
            for _ in 0..30 {
                sys::sleep_ms(200);
                left = pids[..got]
                    .chunks(4)
                    .filter(|c| alive(u32::from_ne_bytes([c[0], c[1], c[2], c[3]])))
                    .count();
                if left == 0 {
                    break;
                }
            }
            let mut l = Line::new(qemu_probes::TEST);
            l.push(b"zombies ").push(if left == 0 && got / 4 == n { b"PASS " } else { b"FAIL " });
            l.dec((got / 4) as u64)
                .push(b" orphans, ")
                .dec(left as u64)
                .push(b" not reaped after PID 1 inherited them");
            l.emit();
            (left != 0) as i32
        }
        Err(_) => {
            verdict(b"zombies", false, b"fork failed");
            1
        }
    }
}

/// True while /proc/<pid> exists (running or an unreaped zombie).
fn alive(pid: u32) -> bool {
    let mut path = Line::default();
    path.push(b"/proc/").dec(pid as u64).push(b"/stat\0");
    let mut buf = [0u8; 512];
    read_file(path.as_bytes(), &mut buf).is_ok()
}

fn crash(tag: &[u8]) -> i32 {
    timing(tag);
    obs(tag, b"crashing", b"SIGSEGV");
    let _ = sys::kill(sys::getpid(), nr::SIGSEGV);
    // Not reached: SIGSEGV's default action ends the process.
    1
}

fn ignore_term(tag: &[u8]) -> i32 {
    let ok = sys::ignore_signal(nr::SIGTERM).is_ok();
    timing(tag);
    obs(tag, b"ignoring-sigterm", if ok { b"1" } else { b"0" });
    loop {
        sys::sleep_ms(3_600_000);
    }
}

/// WDIOC_* from include/uapi/linux/watchdog.h: _IOR('W', 5, int), _IOWR('W', 6, int),
/// _IOR('W', 7, int) in the generic ioctl encoding (x86, arm, riscv).
const WDIOC_KEEPALIVE: u32 = 0x8004_5705;
const WDIOC_SETTIMEOUT: u32 = 0xC004_5706;
const WDIOC_GETTIMEOUT: u32 = 0x8004_5707;
/// The timeout set: long enough that a slow TCG VM cannot miss it between pets.
const WATCHDOG_TIMEOUT_S: i32 = 30;

/// finit_module of `MODDIR/watchdog.ko` then `MODDIR/i6300esb.ko` (the driver needs the
/// watchdog core), the latter with module parameters `esb_params`. EEXIST (built in or
/// already loaded) is fine.
fn load_watchdog_modules(moddir: &[u8], esb_params: &[u8]) -> Result<(), (&'static [u8], sys::Errno)> {
    let mut params = Line::default();
    params.push(esb_params).push(b"\0");
    for (m, module_params) in [(&b"/watchdog.ko\0"[..], &b"\0"[..]), (b"/i6300esb.ko\0", params.as_bytes())] {
        let mut p = Line::default();
        p.push(moddir).push(m);
        let fd =
            sys::open(p.as_bytes(), nr::O_RDONLY | nr::O_CLOEXEC, 0).map_err(|e| (&b"open module"[..], e))?;
        let r = sys::finit_module(fd, module_params);
        sys::close(fd);
        match r {
            Ok(_) => obs(b"modules", b"loaded", &m[1..m.len() - 1]),
            Err(e) if e == linux_raw_sys::errno::EEXIST as u16 => {}
            Err(e) => return Err((b"finit_module", e)),
        }
    }
    Ok(())
}

fn watchdog(moddir: &[u8]) -> i32 {
    let fail = |what: &[u8], e: sys::Errno| {
        Line::new(qemu_probes::TEST).push(b"watchdog FAIL ").push(what).push(b": ").errno(e).emit();
        1
    };
    if let Err((what, e)) = load_watchdog_modules(moddir, b"") {
        return fail(what, e);
    }
    let fd = match sys::open(b"/dev/watchdog\0", nr::O_WRONLY | nr::O_CLOEXEC, 0) {
        Ok(fd) => fd,
        Err(e) => return fail(b"open /dev/watchdog", e),
    };
    let mut t = WATCHDOG_TIMEOUT_S;
    if let Err(e) = sys::ioctl_int(fd, WDIOC_SETTIMEOUT, &mut t) {
        return fail(b"WDIOC_SETTIMEOUT", e);
    }
    let mut got = 0;
    if let Err(e) = sys::ioctl_int(fd, WDIOC_GETTIMEOUT, &mut got) {
        return fail(b"WDIOC_GETTIMEOUT", e);
    }
    for _ in 0..3 {
        let mut dummy = 0;
        if let Err(e) = sys::ioctl_int(fd, WDIOC_KEEPALIVE, &mut dummy) {
            return fail(b"WDIOC_KEEPALIVE", e);
        }
        sys::sleep_ms(100);
    }
    // Magic close: 'V' just before close disarms the watchdog (without nowayout).
    if let Err(e) = sys::write(fd, b"V") {
        return fail(b"write V", e);
    }
    sys::close(fd);
    let mut l = Line::new(qemu_probes::TEST);
    l.push(b"watchdog ").push(if got == WATCHDOG_TIMEOUT_S { b"PASS " } else { b"FAIL " });
    l.push(b"i6300esb timeout ").idec(got as i64).push(b" s, petted 3 times, magic close");
    l.emit();
    (got != WATCHDOG_TIMEOUT_S) as i32
}

/// After `delay_ms`, `send` (a readiness notification); reports `sent` (`what`, or the
/// errno), then stays up as a service does.
fn ready_then_stay(tag: &[u8], delay_ms: u64, send: impl FnOnce() -> sys::Res, what: &[u8]) -> ! {
    sys::sleep_ms(delay_ms);
    match send() {
        Ok(_) => obs(tag, b"sent", what),
        Err(e) => Line::new(OBS).push(tag).push(b" sent ").errno(e).emit(),
    }
    loop {
        sys::sleep_ms(3_600_000);
    }
}

fn signal_init(sig: u32, delay_ms: u64) -> i32 {
    sys::sleep_ms(delay_ms);
    match sys::kill(1, sig) {
        Ok(_) => 0,
        Err(e) => {
            Line::new(OBS).push(b"signal-init error ").errno(e).emit();
            1
        }
    }
}

/// The kernel log's records so far (/dev/kmsg, non-blocking: until EAGAIN), each read whole
/// (`PRIO,SEQ,USEC,FLAGS;TEXT\n`); the TEXT of those containing `pattern`, reported.
fn kmsg(pattern: &[u8], delay_ms: u64) -> i32 {
    sys::sleep_ms(delay_ms);
    let fd = match sys::open(b"/dev/kmsg\0", nr::O_RDONLY | nr::O_NONBLOCK | nr::O_CLOEXEC, 0) {
        Ok(fd) => fd,
        Err(e) => {
            Line::new(OBS).push(b"kmsg error ").errno(e).emit();
            return 1;
        }
    };
    let mut buf = [0u8; 2048];
    loop {
        match sys::read(fd, &mut buf) {
            Ok(n) if n > 0 => {
                let rec = &buf[..n];
                let text = rec.iter().position(|&b| b == b';').map_or(rec, |i| &rec[i + 1..]);
                let text = &text[..text.iter().position(|&b| b == b'\n').unwrap_or(text.len())];
                if text.windows(pattern.len().max(1)).any(|w| w == pattern) {
                    obs(b"kmsg", b"line", text);
                }
            }
            Err(e) if e as u32 == linux_raw_sys::errno::EPIPE => {} // records overwritten meanwhile
            _ => break,
        }
    }
    sys::close(fd);
    0
}

/// Where `stamp-exec` leaves its start time (µs of CLOCK_BOOTTIME, decimal): the initramfs
/// root, writable before any mount and readable by every user.
const STAMP: &[u8] = b"/boot-stamp-us\0";

/// The boot benchmark's start: run by the kernel as rdinit (`rdinit=/bin/probe -- stamp-exec
/// /init`), it reads CLOCK_BOOTTIME first, writes it to [`STAMP`] (a file, not the console:
/// the serial port is slow under emulation and this time counts) and execs the init under
/// test as the same PID 1, with the kernel's environment.
fn stamp_exec(args: &linker::Args) -> i32 {
    let start = sys::boottime_us();
    let mut l = Line::default();
    l.dec(start);
    let flags = nr::O_WRONLY | nr::O_CREAT | nr::O_TRUNC | nr::O_CLOEXEC;
    match sys::open(STAMP, flags, 0o644) {
        Ok(fd) => {
            let _ = sys::write(fd, l.as_bytes());
            sys::close(fd);
        }
        Err(e) => Line::new(OBS).push(b"boot stamp-error ").errno(e).emit(),
    }
    let e = sys::exec_args(args, 2);
    Line::new(OBS).push(b"boot exec-error ").errno(e).emit();
    127
}

/// The boot benchmark's end: the first service reports when it was exec'd and when
/// `stamp-exec` started (both CLOCK_BOOTTIME), then stays up (a service that exits would be
/// restarted).
fn exec_time(tag: &[u8]) -> i32 {
    let now = sys::boottime_us();
    let mut buf = [0u8; 32];
    let stamp = read_file(STAMP, &mut buf).ok().and_then(|b| parse_dec(qemu_probes::fields(b).next()?));
    let mut l = Line::new(OBS);
    l.push(tag).push(b" init-us ");
    match stamp {
        Some(t) => l.dec(t),
        None => l.push(b"none"),
    };
    l.emit();
    Line::new(OBS).push(tag).push(b" exec-us ").dec(now).emit();
    loop {
        sys::sleep_ms(3_600_000);
    }
}

/// Most runs `repeat` times.
const MAX_RUNS: usize = 64;

/// `repeat TAG N PROG ARGS...`: runs PROG N times, one after the other (fork, exec, wait;
/// its stdout to /dev/null), and reports each run's wall time from fork to reaped as
/// `TAG run-us MIN MEDIAN MAX`, then the verdict TAG: PASS when every run exited 0.
fn repeat(tag: &[u8], n: usize, args: &linker::Args) -> i32 {
    let n = n.clamp(1, MAX_RUNS);
    let mut us = [0u64; MAX_RUNS];
    for t in us.iter_mut().take(n) {
        let start = sys::boottime_us();
        let pid = match sys::fork() {
            Ok(0) => {
                sys::close(1);
                let _ = sys::open(b"/dev/null\0", nr::O_WRONLY, 0); // the lowest free fd: 1
                sys::exit(match sys::exec_args(args, 4) {
                    e if e == linux_raw_sys::errno::ENOENT as u16 => 127,
                    _ => 126,
                })
            }
            Ok(pid) => pid,
            Err(e) => {
                Line::new(qemu_probes::TEST).push(tag).push(b" FAIL fork: ").errno(e).emit();
                return 1;
            }
        };
        match sys::wait4(pid as isize, 0) {
            Ok((_, 0)) => *t = sys::boottime_us() - start,
            Ok((_, status)) => {
                Line::new(qemu_probes::TEST).push(tag).push(b" FAIL wait status ").dec(status as u64).emit();
                return 1;
            }
            Err(e) => {
                Line::new(qemu_probes::TEST).push(tag).push(b" FAIL wait: ").errno(e).emit();
                return 1;
            }
        }
    }
    let runs = &mut us[..n];
    runs.sort_unstable();
    let (min, median, max) = (runs[0], runs[n / 2], runs[n - 1]);
    Line::new(OBS).push(tag).push(b" run-us ").dec(min).sp().dec(median).sp().dec(max).emit();
    verdict(tag, true, b"every run exited 0");
    0
}
