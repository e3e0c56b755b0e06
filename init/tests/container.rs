//! Container mode against real processes, the way tini's and dumb-init's suites test it:
//! exit statuses, signal forwarding, reaping (as PID 1 of a pid namespace and as subreaper),
//! -w, -e, -p, --dmz and the terminal's foreground process group.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

#[test]
fn exit_codes_pass_through() {
    for code in [0, 1, 2, 3, 7, 42, 64, 99, 100, 124, 125, 126, 127, 128, 129, 150, 200, 254, 255] {
        let o = run_init(&["-s", "--", "sh", "-c", &format!("exit {code}")], T);
        assert_eq!(o.code(), Some(code), "exit {code}: {o:?}");
        assert_eq!(o.stderr, "", "exit {code}: init said something");
    }
}

#[test]
fn death_by_signal_is_128_plus_signal() {
    for (sig, name) in [(1, "HUP"), (2, "INT"), (9, "KILL"), (10, "USR1"), (11, "SEGV"), (15, "TERM")] {
        let o = run_init(&["-s", "--", "sh", "-c", &format!("kill -{name} $$; sleep 5")], T);
        assert_eq!(o.code(), Some(128 + sig), "SIG{name}: {o:?}");
    }
}

#[test]
fn command_not_found_or_not_executable() {
    let o = run_init(&["-s", "--", "no-such-command-dmzkit"], T);
    assert_eq!(o.code(), Some(127), "{o:?}");
    assert_eq!(o.stderr, "init: unable to exec: ENOENT (no-such-command-dmzkit)\n");

    let o = run_init(&["-s", "--", "/no/such/path"], T);
    assert_eq!(o.code(), Some(127), "{o:?}");

    let dir = scratch("not-executable");
    let file = dir.join("data");
    std::fs::write(&file, "not a program").unwrap();
    let o = run_init(&["-s", "--", file.to_str().unwrap()], T);
    assert_eq!(o.code(), Some(126), "{o:?}");
    assert_eq!(o.stderr, format!("init: unable to exec: EACCES ({})\n", file.display()));

    // A name with a newline cannot split the line or forge another one.
    let o = run_init(&["-s", "--", "/no/such\ninit: forged"], T);
    assert_eq!(o.code(), Some(127), "{o:?}");
    assert_eq!(o.stderr, "init: unable to exec: ENOENT (/no/such?init: forged)\n");

    // Found in PATH: the lookup uses init's environment.
    let o = finish(
        start(Command::new(init_bin()).args(["-s", "--", "true"]).env("PATH", "/nonexistent:/bin")),
        T,
    );
    assert_eq!(o.code(), Some(0), "{o:?}");
}

#[test]
fn tini_style_arguments() {
    // Without `--`, when not PID 1, the first non-option starts the command (tini's `tini cmd`).
    let o = run_init(&["-s", "sh", "-c", "exit 5"], T);
    assert_eq!(o.code(), Some(5), "{o:?}");
    // Options after the command belong to the command.
    let o = run_init(&["-s", "--", "sh", "-c", "echo \"$0 $1\"", "-s", "-g"], T);
    assert_eq!(o.stdout, "-s -g\n");
    // Usage errors: 125 and the usage text.
    let o = run_init(&["-s"], T);
    assert_eq!(o.code(), Some(125));
    assert!(o.stderr.starts_with("init: no command given\nusage: init "), "{}", o.stderr);
    let o = run_init(&["-x", "--", "true"], T);
    assert_eq!(o.code(), Some(125));
    assert!(o.stderr.starts_with("init: unknown option: -x\n"), "{}", o.stderr);
    let o = run_init(&["-x\ry", "--", "true"], T);
    assert!(o.stderr.starts_with("init: unknown option: -x?y\nusage: "), "{}", o.stderr);
    let o = run_init(&["-e", "256", "--", "true"], T);
    assert_eq!(o.code(), Some(125));
    let o = run_init(&["-p", "SIGNOPE", "--", "true"], T);
    assert_eq!(o.code(), Some(125));
    let o = run_init(&["-h"], T);
    assert_eq!(o.code(), Some(0));
    assert!(o.stdout.starts_with("usage: init "));
}

#[test]
fn warns_when_it_cannot_reap() {
    let o = run_init(&["--", "true"], T);
    assert_eq!(o.code(), Some(0));
    assert_eq!(
        o.stderr,
        "init: warning: not PID 1 and not a child subreaper (use -s): orphaned processes will not be reaped\n"
    );
    let o = finish(start(Command::new(init_bin()).args(["--", "true"]).env("TINI_SUBREAPER", "1")), T);
    assert_eq!(o.stderr, "", "TINI_SUBREAPER acts as -s");
}

/// Starts init with a command that prints a line once it is ready, and returns the child and
/// the reader positioned after that line.
fn start_ready(args: &[&str]) -> (std::process::Child, BufReader<std::process::ChildStdout>, String) {
    let mut child = start(Command::new(init_bin()).args(args));
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    (child, out, line)
}

#[test]
fn forwards_every_catchable_signal_to_the_command() {
    // The command traps a set of signals and reports each; the last one (TERM) ends it.
    let names = ["HUP", "INT", "QUIT", "USR1", "USR2", "PIPE", "ALRM", "CONT", "TSTP", "URG", "WINCH", "PWR"];
    let script = format!(
        "for s in {}; do trap \"echo got $s\" $s; done; trap 'echo got TERM; exit 42' TERM; echo ready; \
         while :; do sleep 0.02; done",
        names.join(" ")
    );
    let (mut child, mut out, ready) = start_ready(&["-s", "--", "sh", "-c", &script]);
    assert_eq!(ready, "ready\n");
    let pid = child.id() as i32;
    for name in names.iter().chain(["TERM"].iter()) {
        let num = init::signal::parse(name.as_bytes()).unwrap();
        kill(pid, num as i32);
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, format!("got {name}\n"), "after SIG{name}");
    }
    child.stdout = Some(out.into_inner());
    let o = finish(child, T);
    assert_eq!(o.code(), Some(42), "{o:?}");
}

#[test]
fn forwards_realtime_signals() {
    let script = "trap 'echo got 40; exit 0' 40; echo ready; while :; do sleep 0.02; done";
    let (mut child, mut out, _) = start_ready(&["-s", "--", "sh", "-c", script]);
    kill(child.id() as i32, 40);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "got 40\n");
    child.stdout = Some(out.into_inner());
    assert_eq!(finish(child, T).code(), Some(0));
}

/// The command starts a grandchild in its own process group position (same group as the
/// command) that reports SIGTERM; returns whether the grandchild got it.
fn group_forwarding(extra: &[&str]) -> (bool, Outcome) {
    let script = "sh -c 'trap \"echo grandchild got TERM; exit 0\" TERM; echo ready $$; \
                  while :; do sleep 0.02; done' 2>/dev/null & wait";
    let mut args = vec!["-s"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    let (child, mut out, ready) = start_ready(&args);
    let grandchild: i32 = ready.trim().strip_prefix("ready ").unwrap().parse().unwrap();
    kill(child.id() as i32, 15);
    // The command (sh in `wait`) dies of SIGTERM either way; with -g the grandchild reports and
    // exits. Without -g it keeps running, holding the pipe: SIGKILL (which it cannot report).
    let o = finish(child, T);
    if !eventually(Duration::from_secs(1), || !alive(grandchild)) {
        kill(grandchild, 9);
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    (rest.contains("grandchild got TERM"), o)
}

#[test]
fn forwards_to_the_process_group_with_g() {
    let (got, o) = group_forwarding(&["-g", "-w"]);
    assert!(got, "with -g the whole group gets the signal: {o:?}");
    assert_eq!(o.code(), Some(128 + 15), "{o:?}");
    let (got, o) = group_forwarding(&[]);
    assert!(!got, "without -g only the command gets it: {o:?}");
    assert_eq!(o.code(), Some(128 + 15), "{o:?}");
}

#[test]
fn wait_for_all_descendants_with_w() {
    let o = run_init(&["-s", "-w", "--", "sh", "-c", "sleep 0.6 & exit 3"], T);
    assert_eq!(o.code(), Some(3), "{o:?}");
    assert!(o.elapsed >= Duration::from_millis(600), "-w returned before the background job ended: {o:?}");
    let o = run_init(&["-s", "--", "sh", "-c", "sleep 0.6 & exit 3"], T);
    assert_eq!(o.code(), Some(3), "{o:?}");
    assert!(o.elapsed < Duration::from_millis(500), "without -w init waited: {o:?}");
}

#[test]
fn remaps_expected_exit_codes_with_e() {
    let o = run_init(&["-s", "-e", "3", "-e7", "--", "sh", "-c", "exit 7"], T);
    assert_eq!(o.code(), Some(0), "{o:?}");
    let o = run_init(&["-s", "-e", "3", "--", "sh", "-c", "exit 3"], T);
    assert_eq!(o.code(), Some(0), "{o:?}");
    let o = run_init(&["-s", "-e", "3", "--", "sh", "-c", "exit 4"], T);
    assert_eq!(o.code(), Some(4), "{o:?}");
    let o = run_init(&["-s", "-e", "143", "--", "sh", "-c", "kill $$"], T);
    assert_eq!(o.code(), Some(0), "128+SIGTERM remapped: {o:?}");
}

#[test]
fn subreaper_reaps_hundreds_of_orphans() {
    // Each `sh -c 'sleep … &'` exits at once, orphaning its sleep, which the subreaper inherits.
    let n = 300;
    let script = format!("for i in $(seq {n}); do sh -c 'sleep 0.3 &'; done");
    let o = run_init(&["-s", "-v", "-w", "--", "sh", "-c", &script], Duration::from_secs(60));
    assert_eq!(o.code(), Some(0), "{}", o.stderr);
    let reaped = o.stderr.lines().filter(|l| l.starts_with("init: reaped pid ")).count();
    assert_eq!(reaped, n, "every orphaned sleep is reaped by init:\n{}", o.stderr);
    assert!(o.stderr.contains("init: command exited status 0\n"));
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn reaps_zombies_as_pid1_of_a_pid_namespace() {
    require_root();
    // As PID 1 no -s is needed and no warning is printed. 100 orphans are inherited (they sleep
    // until killed, so a slow machine counts them all); once they are killed, not one zombie
    // remains (polled for up to 10 s).
    let script = "for i in $(seq 100); do sh -c 'sleep 600 &'; done; \
        orphans=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$2==\"(sleep)\" && $4==1 {print $1}'); \
        echo orphans=$(echo $orphans | wc -w); \
        kill $orphans; \
        for i in $(seq 100); do \
            zombies=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$3==\"Z\" || $2==\"(sleep)\"' | wc -l); \
            [ $zombies = 0 ] && break; sleep 0.1; \
        done; \
        echo zombies=$zombies; \
        echo pid=$$ ppid=$PPID";
    let o = finish(
        start(Command::new("unshare").args([
            "--pid",
            "--fork",
            "--mount-proc",
            init_bin(),
            "--",
            "sh",
            "-c",
            script,
        ])),
        T,
    );
    assert_eq!(o.code(), Some(0), "{o:?}");
    assert_eq!(o.stdout, "orphans=100\nzombies=0\npid=2 ppid=1\n", "{o:?}");
    assert_eq!(o.stderr, "");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn pid1_forwards_signals_from_outside_the_namespace() {
    require_root();
    let mut child = start(Command::new("unshare").args([
        "--pid",
        "--fork",
        init_bin(),
        "--",
        "sh",
        "-c",
        "trap 'exit 9' USR1; echo ready; while :; do sleep 0.02; done",
    ]));
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // init is unshare's only child.
    let unshare = child.id();
    let init_pid: i32 = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill(init_pid, 10);
    let o = finish(child, T);
    assert_eq!(o.code(), Some(9), "{o:?}");
}

#[test]
fn parent_death_signal_with_p() {
    // sh starts init in the background and exits; init gets SIGTERM (-p), forwards it to its
    // command, and exits.
    let dir = scratch("pdeathsig");
    let log = dir.join("stderr");
    // The parent lives until init is surely past its option parsing.
    let script =
        format!("{} -s -v -p SIGTERM -- sleep 30 2>{} & echo $!; sleep 0.5", init_bin(), log.display());
    let o = finish(start(Command::new("sh").args(["-c", &script])), T);
    let init_pid: i32 = o.stdout.trim().parse().unwrap();
    assert!(eventually(Duration::from_secs(5), || !alive(init_pid)), "init outlived its parent");
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(err.contains("init: forwarded signal 15\n"), "{err}");
    assert!(err.contains("init: command killed signal 15\n"), "{err}");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn runs_the_command_through_dmz() {
    require_root();
    let dir = scratch("dmz");
    let cfg = dir.join("probe.pcfg");
    const NET_BIND_SERVICE: u64 = 1 << 10;
    std::fs::write(
        &cfg,
        dmz_blob(
            &["/bin/cat", "/proc/self/status"],
            &["PATH=/bin"],
            1000,
            1001,
            Some(NET_BIND_SERVICE),
            true,
        ),
    )
    .unwrap();
    let o = run_init(&["-s", "--dmz", cfg.to_str().unwrap()], T);
    assert_eq!(o.code(), Some(0), "{o:?}");
    let s = &o.stdout;
    assert_eq!(status_line(s, "Uid").unwrap(), "Uid: 1000 1000 1000 1000");
    assert_eq!(status_line(s, "Gid").unwrap(), "Gid: 1001 1001 1001 1001");
    assert_eq!(status_line(s, "Groups").unwrap(), "Groups:");
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_line(s, key).unwrap(), format!("{key}: 0000000000000400"));
    }
    assert_eq!(status_line(s, "NoNewPrivs").unwrap(), "NoNewPrivs: 1");

    // CMD after `--` replaces the config's program and arguments; PATH is the config's.
    let o = run_init(&["-s", "--dmz", cfg.to_str().unwrap(), "--", "sh", "-c", "id -u; echo $PATH"], T);
    assert_eq!(o.code(), Some(0), "{o:?}");
    assert_eq!(o.stdout, "1000\n/bin\n");

    // The exit status of the target, as without dmz.
    let o = run_init(&["-s", "--dmz", cfg.to_str().unwrap(), "--", "sh", "-c", "exit 33"], T);
    assert_eq!(o.code(), Some(33));

    // dmz's own failures keep dmz's codes and messages.
    let o = run_init(&["-s", "--dmz", cfg.to_str().unwrap(), "--", "no-such-program"], T);
    assert_eq!(o.code(), Some(127), "{o:?}");
    assert_eq!(o.stderr, "dmz: unable to exec: ENOENT (no-such-program)\n");
    let o = run_init(&["-s", "--dmz", "/nonexistent.pcfg"], T);
    assert_eq!(o.code(), Some(125));
    assert_eq!(o.stderr, "init: unable to read dmz config: ENOENT (/nonexistent.pcfg)\n");
    let bad = dir.join("bad.pcfg");
    std::fs::write(&bad, b"DMZK garbage").unwrap();
    let o = run_init(&["-s", "--dmz", bad.to_str().unwrap()], T);
    assert_eq!(o.code(), Some(125));
    assert!(o.stderr.starts_with("dmz: unable to load config: EINVAL"), "{}", o.stderr);
}

/// /proc/PID/stat fields after the command name: state, ppid, pgrp, session, tty_nr, tpgid.
fn stat_fields(stat: &str) -> Vec<i64> {
    let rest = stat.rsplit_once(')').unwrap().1;
    rest.split_whitespace().skip(1).take(5).map(|f| f.parse().unwrap()).collect()
}

#[test]
fn command_gets_its_own_foreground_process_group() {
    // Without a terminal: a process group of its own all the same.
    let o = run_init(&["-s", "--", "sh", "-c", "echo $$; cat /proc/$$/stat"], T);
    let (pid, stat) = o.stdout.split_once('\n').unwrap();
    let pid: i64 = pid.parse().unwrap();
    let f = stat_fields(stat);
    assert_eq!(f[1], pid, "pgrp is the command's pid");
    assert_eq!(f[4], -1, "no terminal, no foreground group");

    // With a terminal on stdin (script(1) makes a pty the controlling terminal): the command's
    // group is the foreground group, so ctrl-C and ctrl-Z reach it rather than init.
    let inner = format!("{} -s -- sh -c 'echo $$; cat /proc/$$/stat'", init_bin());
    let o =
        finish(start(Command::new("script").args(["-qec", &inner, "/dev/null"]).stdin(Stdio::piped())), T);
    assert_eq!(o.code(), Some(0), "{o:?}");
    let mut lines = o.stdout.lines().map(|l| l.trim_end_matches('\r'));
    let pid: i64 = lines.next().unwrap().parse().unwrap();
    let f = stat_fields(lines.next().unwrap());
    assert_eq!(f[1], pid, "pgrp is the command's pid");
    assert_eq!(f[4], pid, "the command's group is the terminal's foreground group");
}

#[test]
#[ignore = "needs root (namespaces, uid changes): scripts/test runs it"]
fn a_dmz_config_cannot_preserve_inits_signalfd() {
    // init's signalfd is the first fd it opens: 3 here. A config preserving fd 3 must not
    // hand it to the command; with nothing else at 3 the transition fails on it (EBADF).
    let dir = scratch("dmz-preserve");
    let cfg = dir.join("keep3.pcfg");
    let blob =
        dmz_blob_preserving(&["/bin/ls", "-l", "/proc/self/fd/"], &["PATH=/bin"], 0, 0, None, false, &[3]);
    std::fs::write(&cfg, blob).unwrap();
    let o = run_init(&["-s", "--dmz", cfg.to_str().unwrap()], T);
    assert!(!o.stdout.contains("signalfd"), "init's signalfd reached the command:\n{}", o.stdout);
    assert_eq!(o.code(), Some(125), "{o:?}");
    assert!(o.stderr.starts_with("dmz: unable to keep fd: EBADF"), "{}", o.stderr);
}
