//! The config wire formats, property-tested against serde + postcard.
//!
//! The launcher writes every config by encoding its serde wire types (launcher/src/wire.rs,
//! their field order is the format) with the `postcard` crate. dmz and init read them with
//! small hand-written decoders, and keep small hand-written writers for their own tests. Here:
//! - arbitrary configs, within and just past every limit: postcard's bytes → dmz's (init's)
//!   reader → the same values, or refused exactly when a limit or validity rule is broken;
//!   dmz's and init's writers give postcard's bytes for any values;
//! - any body (random, or a valid one damaged): the readers never panic, and what they accept
//!   is postcard's canonical encoding of what they decoded (one canonical form: padded
//!   varints, trailing bytes, out-of-range tags refused).

use dmz::config::{MAX_ARGS, MAX_BPF_INSNS, MAX_CONFIG_LEN, MAX_GROUPS, MAX_PRESERVE_FDS, MAX_RLIMITS};
use init::config::{MAX_LOG_FILE, MAX_MOUNTS, MAX_NAME, MAX_UNITS};
use proptest::collection::vec;
use proptest::prelude::*;

use launcher::wire::{Action, Caps, Dmz, Init, Mount, Output, Restart, Rlimit, Seccomp, Unit, Watchdog};

/// `m`'s args, env and cwd as dmz holds them: each string followed by its NUL (written out
/// here, not through the launcher's serde helpers).
fn text_bytes(m: &Dmz) -> [Vec<u8>; 3] {
    let join = |list: &[String]| list.iter().flat_map(|s| s.bytes().chain([0])).collect();
    [join(&m.args), join(&m.env), join(m.cwd.as_slice())]
}

/// dmz's `Config` for the same values (for dmz's own writer), its strings in `text` (from
/// [`text_bytes`]); `None` if a list is over dmz's maximum.
fn to_dmz_config<'a>(m: &'a Dmz, text: &'a [Vec<u8>; 3]) -> Option<dmz::Config<'a>> {
    use dmz::config::Bytes;
    Some(dmz::Config {
        args: Bytes(&text[0]),
        env: Bytes(&text[1]),
        cwd: Bytes(&text[2]),
        uid: m.uid,
        gid: m.gid,
        groups: match &m.groups {
            Some(g) => Some(heapless::Vec::from_slice(g).ok()?),
            None => None,
        },
        chown_stdio: m.chown_stdio,
        umask: m.umask,
        caps: m.caps.map(|k| dmz::config::Caps {
            bounding: k.bounding,
            effective: k.effective,
            permitted: k.permitted,
            inheritable: k.inheritable,
            ambient: k.ambient,
        }),
        securebits: m.securebits,
        no_new_privs: m.no_new_privs,
        rlimits: heapless::Vec::from_slice(
            &m.rlimits
                .iter()
                .map(|r| dmz::config::Rlimit { resource: r.resource, soft: r.soft, hard: r.hard })
                .collect::<Vec<_>>(),
        )
        .ok()?,
        oom_score_adj: m.oom_score_adj,
        preserve_fds: heapless::Vec::from_slice(&m.preserve_fds).ok()?,
        seccomp: m
            .seccomp
            .as_ref()
            .map(|s| dmz::config::Seccomp { flags: s.flags, program: Bytes(&s.program) }),
    })
}

/// init's `Unit` for the same values.
fn init_unit(u: &Unit) -> init::config::Unit<'_> {
    use init::config as i;
    i::Unit {
        name: &u.name,
        dmz: &u.dmz,
        restart: [i::Restart::Never, i::Restart::OnFailure, i::Restart::Always][u.restart as usize],
        restart_delay_ms: u.restart_delay_ms,
        restart_delay_max_ms: u.restart_delay_max_ms,
        restart_limit: u.restart_limit,
        stop_signal: u.stop_signal,
        stop_timeout_ms: u.stop_timeout_ms,
        timeout_ms: u.timeout_ms,
        output: [i::Output::Console, i::Output::Capture][u.output as usize],
        log_file: &u.log_file,
        log_max_bytes: u.log_max_bytes,
        cgroup: &u.cgroup,
        ready: u.ready,
        ready_timeout_ms: u.ready_timeout_ms,
        watchdog_ms: u.watchdog_ms,
        after: &u.after,
        requires: &u.requires,
    }
}

/// init's writer's bytes for the same values: its `Config` with its lists as items.
fn init_writer_body(m: &Init) -> Vec<u8> {
    use init::config as i;
    let action =
        |a: Action| [i::Action::Reboot, i::Action::PowerOff, i::Action::Halt, i::Action::Ignore][a as usize];
    let mounts: Vec<i::Mount> = m
        .mounts
        .iter()
        .map(|x| i::Mount {
            source: &x.source,
            target: &x.target,
            fstype: &x.fstype,
            flags: x.flags,
            data: &x.data,
        })
        .collect();
    let tasks: Vec<i::Unit> = m.tasks.iter().map(init_unit).collect();
    let services: Vec<i::Unit> = m.services.iter().map(init_unit).collect();
    let c = i::Config {
        hostname: &m.hostname,
        ctrl_alt_del: action(m.ctrl_alt_del),
        on_error: action(m.on_error),
        error_delay_s: m.error_delay_s,
        shutdown_grace_ms: m.shutdown_grace_ms,
        watchdog: m.watchdog.as_ref().map(|w| i::Watchdog {
            device: &w.device,
            timeout_s: w.timeout_s,
            interval_ms: w.interval_ms,
        }),
        mounts: i::List::Items(&mounts),
        tasks: i::List::Items(&tasks),
        services: i::List::Items(&services),
    };
    let mut out = vec![0u8; i::MAX_CONFIG_LEN];
    let n = c.encode(&mut out).expect("fits");
    out.truncate(n);
    out.split_off(16)
}

/// Header + `body`, with `magic` and the current version.
fn blob(magic: [u8; 4], version: u32, body: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    dmz::config::write_header(&mut b, magic, version, body);
    b.extend_from_slice(body);
    b
}

fn dmz_blob(body: &[u8]) -> Vec<u8> {
    blob(dmz::config::MAGIC, dmz::config::VERSION, body)
}

fn init_blob(body: &[u8]) -> Vec<u8> {
    blob(init::config::MAGIC, init::config::VERSION, body)
}

/// What dmz accepts its own writer gives back, and is postcard's canonical encoding of what
/// it decoded; what it refuses is a clean config error. `None`: refused, or accepted with
/// args, env or cwd that are not UTF-8 strings each ending with a NUL (dmz takes any bytes
/// there; the launcher's `Dmz` holds strings, and postcard refuses those bytes as a `Dmz`).
fn check_dmz_body(body: &[u8]) -> Option<Dmz> {
    let b = dmz_blob(body);
    match dmz::Config::decode(&b) {
        Ok(c) => {
            let mut out = vec![0u8; b.len()];
            let n = c.encode(&mut out).expect("re-encodes");
            assert_eq!(&out[..n], &b[..], "dmz's writer gives the bytes back");
            let Some(m) = Dmz::from_config(&c) else {
                let text = |s: &[u8]| {
                    (s.is_empty() || s.ends_with(&[0]))
                        && dmz::config::strings(s).all(|x| std::str::from_utf8(x).is_ok())
                };
                let cwd_ok = text(c.cwd.0) && c.cwd.0.iter().filter(|&&x| x == 0).count() <= 1;
                assert!(!(text(c.args.0) && text(c.env.0) && cwd_ok), "{c:?} has only strings");
                assert!(postcard::from_bytes::<Dmz>(body).is_err(), "postcard refuses them too");
                return None;
            };
            assert_eq!(postcard::to_allocvec(&m).unwrap(), body, "accepted bytes are postcard's encoding");
            assert_eq!(postcard::from_bytes::<Dmz>(body).unwrap(), m, "postcard reads the same values");
            Some(m)
        }
        Err(e) => {
            assert_eq!((e.step, e.exit_code()), (dmz::Step::LoadConfig, 125), "{e:?}");
            None
        }
    }
}

/// The same for init: accepted bytes are postcard's canonical encoding and init's writer's.
fn check_init_body(body: &[u8]) -> Option<Init> {
    let b = init_blob(body);
    let c = init::config::Config::decode(&b).ok()?;
    let m = Init::from_config(&c);
    assert_eq!(postcard::to_allocvec(&m).unwrap(), body, "accepted bytes are postcard's encoding");
    assert_eq!(postcard::from_bytes::<Init>(body).unwrap(), m, "postcard reads the same values");
    let mut out = vec![0u8; b.len()];
    let n = c.encode(&mut out).expect("re-encodes");
    assert_eq!(&out[..n], &b[..], "init's writer gives the bytes back");
    Some(m)
}

/// Lists of `s`: short, or one either side of `max`.
fn around<S: Strategy + Clone>(s: S, max: usize) -> impl Strategy<Value = Vec<S::Value>> {
    prop_oneof![vec(s.clone(), 0..4), vec(s, max - 1..=max + 1)]
}

fn edge_u32() -> impl Strategy<Value = u32> + Clone {
    prop_oneof![Just(0), Just(u32::MAX), Just(u32::MAX - 1), 0..200u32, any::<u32>()]
}

fn edge_u64() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![Just(0), Just(u64::MAX), Just(1 << 63), Just(u32::MAX as u64 + 1), any::<u64>()]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> + Clone {
    vec(any::<u8>(), 0..max)
}

fn dmz_config() -> impl Strategy<Value = Dmz> {
    let ids = (
        proptest::option::of(edge_u32()),
        proptest::option::of(edge_u32()),
        proptest::option::of(around(edge_u32(), MAX_GROUPS)),
        any::<bool>(),
        edge_u32(),
    );
    let caps = proptest::option::of(proptest::array::uniform5(edge_u64())).prop_map(|k| {
        k.map(|[bounding, effective, permitted, inheritable, ambient]| Caps {
            bounding,
            effective,
            permitted,
            inheritable,
            ambient,
        })
    });
    let rlimit =
        (0..20u32, edge_u64(), edge_u64()).prop_map(|(resource, soft, hard)| Rlimit { resource, soft, hard });
    let rlimits = around(rlimit, MAX_RLIMITS);
    let program = prop_oneof![
        bytes(64),
        // Near BPF_MAXINSNS, and near the largest config dmz reads.
        (MAX_BPF_INSNS * 8 - 8..=MAX_BPF_INSNS * 8 + 8).prop_map(|n| vec![0x15; n]),
        (MAX_CONFIG_LEN - 120..=MAX_CONFIG_LEN - 100).prop_map(|n| vec![6; n]),
    ];
    let rest = (
        proptest::option::of(edge_u32()),
        any::<bool>(),
        rlimits,
        proptest::option::of(prop_oneof![-1001..=1001i32, any::<i32>()]),
        around(edge_u32(), MAX_PRESERVE_FDS),
        proptest::option::of((edge_u32(), program).prop_map(|(flags, program)| Seccomp { flags, program })),
    );
    let strings = || vec("[^\0]{0,8}", 0..6);
    let cwd = proptest::option::of("[^\0]{0,16}");
    (strings(), strings(), cwd, ids, caps, rest).prop_map(
        |(args, env, cwd, (uid, gid, groups, chown_stdio, umask), caps, rest)| {
            let (securebits, no_new_privs, rlimits, oom_score_adj, preserve_fds, seccomp) = rest;
            Dmz {
                args,
                env,
                cwd,
                uid,
                gid,
                groups,
                chown_stdio,
                umask,
                caps,
                securebits,
                no_new_privs,
                rlimits,
                oom_score_adj,
                preserve_fds,
                seccomp,
            }
        },
    )
}

/// Within every limit of dmz's decoder (lists and total size).
fn dmz_fits(m: &Dmz, body_len: usize) -> bool {
    m.groups.as_ref().map_or(0, Vec::len) <= MAX_GROUPS
        && m.rlimits.len() <= MAX_RLIMITS
        && m.preserve_fds.len() <= MAX_PRESERVE_FDS
        && 16 + body_len <= MAX_CONFIG_LEN
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// postcard bytes → dmz's reader → the same values, or refused exactly when past a limit;
    /// dmz's writer writes postcard's bytes.
    #[test]
    fn dmz_reads_what_postcard_writes(m in dmz_config()) {
        let body = postcard::to_allocvec(&m).unwrap();
        let got = check_dmz_body(&body);
        if dmz_fits(&m, body.len()) {
            prop_assert_eq!(got.as_ref(), Some(&m));
            let text = text_bytes(&m);
            let c = to_dmz_config(&m, &text).unwrap();
            let mut out = vec![0u8; MAX_CONFIG_LEN];
            let n = c.encode(&mut out).unwrap();
            prop_assert_eq!(&out[16..n], &body[..]);
        } else {
            prop_assert_eq!(got, None);
            let text = text_bytes(&m);
            if let Some(c) = to_dmz_config(&m, &text) {
                // Only the size is over: the writer refuses it too.
                prop_assert!(c.encode(&mut vec![0u8; MAX_CONFIG_LEN + 64]).is_err());
            }
        }
    }

    /// Any body: no panic; accepted only in postcard's canonical form.
    #[test]
    fn dmz_any_body(body in bytes(200)) {
        check_dmz_body(&body);
    }

    /// A valid body damaged (bytes changed, inserted, removed): the same.
    #[test]
    fn dmz_damaged_body(m in dmz_config(), edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4)) {
        let mut body = postcard::to_allocvec(&m).unwrap();
        damage(&mut body, edits);
        check_dmz_body(&body);
    }
}

/// A valid dmz config blob for init's units.
fn unit_dmz() -> Vec<u8> {
    let m = Dmz { args: vec!["/bin/true".into()], uid: Some(1000), gid: Some(1000), ..Dmz::default() };
    dmz_blob(&postcard::to_allocvec(&m).unwrap())
}

fn c_string() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop_oneof![
        4 => "[a-z/]{1,12}".prop_map(|s| format!("{s}\0").into_bytes()),
        1 => bytes(8),
    ]
}

fn unit() -> impl Strategy<Value = Unit> + Clone {
    let name = prop_oneof![
        4 => "[A-Za-z0-9._-]{1,32}".prop_map(String::into_bytes),
        1 => Just(vec![b'x'; MAX_NAME + 1]),
        1 => bytes(6),
    ];
    let dmz = prop_oneof![4 => Just(unit_dmz()), 1 => bytes(20)];
    let restart = prop_oneof![Just(Restart::Never), Just(Restart::OnFailure), Just(Restart::Always)];
    let signal = prop_oneof![4 => 1..=64u8, 1 => Just(0u8), 1 => Just(65u8), 1 => 66..=255u8];
    let output = prop_oneof![Just(Output::Console), Just(Output::Capture)];
    let log_file = prop_oneof![
        2 => Just(vec![]),
        2 => c_string(),
        1 => Just([&[b'/'; MAX_LOG_FILE - 1][..], b"\0"].concat()),
        1 => Just([&[b'/'; MAX_LOG_FILE][..], b"\0"].concat()),
        1 => bytes(6),
    ];
    let cgroup = prop_oneof![
        2 => Just(vec![]),
        2 => Just(b"16777216\0\0\0max 100000\0".to_vec()),
        1 => bytes(8),
    ];
    let list = || prop_oneof![4 => "([a-z]{1,4} ){0,3}".prop_map(String::into_bytes), 1 => bytes(6)];
    let ready = prop_oneof![Just(0u32), Just(1), Just(2), 3..=1000u32, edge_u32()];
    let more = (output, log_file, edge_u32(), cgroup, ready, edge_u32(), edge_u32(), list(), list());
    (name, dmz, restart, edge_u32(), edge_u32(), edge_u32(), signal, edge_u32(), edge_u32(), more).prop_map(
        |(
            name,
            dmz,
            restart,
            restart_delay_ms,
            restart_delay_max_ms,
            restart_limit,
            stop_signal,
            stop_timeout_ms,
            timeout_ms,
            (output, log_file, log_max_bytes, cgroup, ready, ready_timeout_ms, watchdog_ms, after, requires),
        )| {
            Unit {
                name,
                dmz,
                restart,
                restart_delay_ms,
                restart_delay_max_ms,
                restart_limit,
                stop_signal,
                stop_timeout_ms,
                timeout_ms,
                output,
                log_file,
                log_max_bytes,
                cgroup,
                ready,
                ready_timeout_ms,
                watchdog_ms,
                after,
                requires,
            }
        },
    )
}

fn init_config() -> impl Strategy<Value = Init> {
    let action =
        prop_oneof![Just(Action::Reboot), Just(Action::PowerOff), Just(Action::Halt), Just(Action::Ignore)];
    let watchdog = proptest::option::of(
        (c_string(), edge_u32(), edge_u32()).prop_map(|(device, timeout_s, interval_ms)| Watchdog {
            device,
            timeout_s,
            interval_ms,
        }),
    );
    let mount = (c_string(), c_string(), c_string(), edge_u64(), prop_oneof![Just(vec![]), c_string()])
        .prop_map(|(source, target, fstype, flags, data)| Mount { source, target, fstype, flags, data });
    let lists = (around(mount, MAX_MOUNTS), around(unit(), MAX_UNITS), around(unit(), MAX_UNITS));
    (bytes(12), action.clone(), action, edge_u32(), edge_u32(), watchdog, lists).prop_map(
        |(
            hostname,
            ctrl_alt_del,
            on_error,
            error_delay_s,
            shutdown_grace_ms,
            watchdog,
            (mounts, tasks, services),
        )| {
            Init {
                hostname,
                ctrl_alt_del,
                on_error,
                error_delay_s,
                shutdown_grace_ms,
                watchdog,
                mounts,
                tasks,
                services,
            }
        },
    )
}

/// A path init hands to a syscall: its NUL last and only there.
fn is_c_string(s: &[u8]) -> bool {
    s.iter().position(|&b| b == 0) == Some(s.len().wrapping_sub(1))
}

/// Everything init's decoder checks, written out independently.
fn init_valid(m: &Init) -> bool {
    let unit_ok = |u: &Unit| {
        !u.name.is_empty()
            && u.name.len() <= MAX_NAME
            && u.name.iter().all(|&b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && (1..=64).contains(&u.stop_signal)
            && dmz::Config::decode(&u.dmz).is_ok()
            && (u.log_file.is_empty() || is_c_string(&u.log_file) && u.log_file.len() <= MAX_LOG_FILE)
            && (u.cgroup.is_empty()
                || (u.cgroup.iter().filter(|&&b| b == 0).count() == 4 && u.cgroup.ends_with(&[0])))
            && u.ready != 2
            && [&u.after, &u.requires]
                .iter()
                .all(|l| l.iter().all(|&b| b == b' ' || b.is_ascii_alphanumeric() || b"._-".contains(&b)))
    };
    let mount_ok = |m: &Mount| {
        is_c_string(&m.source)
            && is_c_string(&m.target)
            && is_c_string(&m.fstype)
            && (m.data.is_empty() || is_c_string(&m.data))
    };
    m.watchdog.as_ref().is_none_or(|w| is_c_string(&w.device) && w.interval_ms != 0)
        && m.mounts.len() <= MAX_MOUNTS
        && m.tasks.len() <= MAX_UNITS
        && m.services.len() <= MAX_UNITS
        && m.mounts.iter().all(mount_ok)
        && m.tasks.iter().chain(&m.services).all(unit_ok)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// postcard bytes → init's reader → the same values, or refused exactly when invalid;
    /// init's writer writes postcard's bytes, whatever the values (a stop signal is a u8: one
    /// byte, not a varint, above 127 too).
    #[test]
    fn init_reads_what_postcard_writes(m in init_config()) {
        let body = postcard::to_allocvec(&m).unwrap();
        prop_assert_eq!(&init_writer_body(&m), &body, "init's writer writes postcard's bytes");
        let got = check_init_body(&body);
        if init_valid(&m) {
            prop_assert_eq!(got.as_ref(), Some(&m));
        } else {
            prop_assert_eq!(got, None);
        }
    }

    #[test]
    fn init_any_body(body in bytes(200)) {
        check_init_body(&body);
    }

    #[test]
    fn init_damaged_body(m in init_config(), edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4)) {
        let mut body = postcard::to_allocvec(&m).unwrap();
        damage(&mut body, edits);
        check_init_body(&body);
    }
}

/// The launcher's own writer (through `Compiled::encode`) gives postcard's bytes for
/// configs with the most arguments and environment entries dmz takes.
#[test]
fn launcher_writes_postcard_bytes_at_the_list_limits() {
    let c = launcher::oci::Compiled {
        args: (0..MAX_ARGS).map(|i| format!("a{i}")).collect(),
        env: (0..dmz::config::MAX_ENV).map(|i| format!("K{i}=v")).collect(),
        cwd: Some("/".into()),
        uid: Some(i32::MAX as u32),
        groups: Some((0..MAX_GROUPS as u32).collect()),
        rlimits: (0..MAX_RLIMITS as u32).map(|r| Rlimit { resource: r, soft: 1, hard: u64::MAX }).collect(),
        preserve_fds: (3..3 + MAX_PRESERVE_FDS as u32).collect(),
        oom_score_adj: Some(-1000),
        ..Default::default()
    };
    let b = c.encode().unwrap();
    let m = check_dmz_body(&b[16..]).expect("dmz reads what the launcher writes");
    assert_eq!(m.args.len(), MAX_ARGS);
    // One more argument is refused by the launcher, not written.
    let mut over = c.clone();
    over.args.push("x".into());
    assert!(over.encode().is_err());
}

/// Applies `edits` to `body`: (where, byte, how) with how 0 = change, 1 = insert, else remove
/// (or append at the end).
fn damage(body: &mut Vec<u8>, edits: Vec<(prop::sample::Index, u8, u8)>) {
    for (at, byte, how) in edits {
        let i = at.index(body.len() + 1);
        match how {
            0 if i < body.len() => body[i] = byte,
            1 => body.insert(i, byte),
            _ if i < body.len() => {
                body.remove(i);
            }
            _ => body.push(byte),
        }
    }
}

/// The `n` for which `len(n)` is `target`, where `len` grows by one with `n` near there.
fn sized(target: usize, len: impl Fn(usize) -> usize) -> usize {
    let mut n = target;
    while len(n) > target {
        n -= len(n) - target;
    }
    assert_eq!(len(n), target);
    n
}

/// The whole-blob maximum, at it and one byte past it: dmz (128 KiB) and init (4 MiB) read a
/// blob of exactly their maximum, refuse one byte more, and the launcher's writer refuses to
/// write it.
#[test]
fn blobs_at_and_just_past_the_size_limit() {
    let dmz_with = |n: usize| Dmz {
        args: vec!["/bin/true".into()],
        seccomp: Some(Seccomp { flags: 0, program: vec![6; n] }),
        ..Dmz::default()
    };
    let n = sized(MAX_CONFIG_LEN, |n| 16 + postcard::to_allocvec(&dmz_with(n)).unwrap().len());
    let at = dmz_with(n).encode().expect("a blob of exactly the maximum is written");
    assert_eq!(at.len(), MAX_CONFIG_LEN);
    assert_eq!(check_dmz_body(&at[16..]), Some(dmz_with(n)));
    let past = postcard::to_allocvec(&dmz_with(n + 1)).unwrap();
    assert_eq!(dmz_blob(&past).len(), MAX_CONFIG_LEN + 1);
    assert_eq!(check_dmz_body(&past), None, "dmz refuses one byte more");
    assert!(dmz_with(n + 1).encode().is_err(), "the launcher does not write it");

    let max = init::config::MAX_CONFIG_LEN;
    let init_with = |n: usize| Init {
        hostname: vec![b'h'; n],
        ctrl_alt_del: Action::Reboot,
        on_error: Action::Reboot,
        error_delay_s: 0,
        shutdown_grace_ms: 0,
        watchdog: None,
        mounts: vec![],
        tasks: vec![],
        services: vec![],
    };
    let n = sized(max, |n| 16 + postcard::to_allocvec(&init_with(n)).unwrap().len());
    let at = init_with(n).blob().expect("a blob of exactly the maximum is written");
    assert_eq!(at.len(), max);
    assert_eq!(check_init_body(&at[16..]), Some(init_with(n)));
    let past = postcard::to_allocvec(&init_with(n + 1)).unwrap();
    assert_eq!(check_init_body(&past), None, "init refuses one byte more");
    assert_eq!(
        init::config::Config::decode(&init_blob(&past)),
        Err(init::config::Invalid::Format(dmz::error::Bad::TooLarge))
    );
    assert_eq!(init_with(n + 1).blob(), None, "the launcher does not write it");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A valid body with bytes after it: refused by both readers (postcard's `from_bytes`
    /// would ignore them).
    #[test]
    fn trailing_bytes_are_refused(d in dmz_config(), i in init_config(), extra in vec(any::<u8>(), 1..8)) {
        let mut body = postcard::to_allocvec(&d).unwrap();
        if check_dmz_body(&body).is_some() {
            body.extend(&extra);
            prop_assert_eq!(check_dmz_body(&body), None);
        }
        let mut body = postcard::to_allocvec(&i).unwrap();
        if check_init_body(&body).is_some() {
            body.extend(&extra);
            prop_assert_eq!(check_init_body(&body), None);
        }
    }

    /// An enum tag past the last variant (an action past 3, a restart policy past 2) in an
    /// otherwise valid init config: refused.
    #[test]
    fn out_of_range_enum_tags_are_refused(
        hostname in bytes(12),
        u in unit(),
        action in 4..128u8,
        restart in 3..128u8,
        output in 2..128u8,
    ) {
        // A valid unit: the generator's restart policy and numbers, a valid name, signal and
        // dmz config.
        let u = Unit {
            name: b"svc".to_vec(),
            dmz: unit_dmz(),
            stop_signal: 15,
            log_file: vec![],
            cgroup: vec![],
            ready: 0,
            after: vec![],
            requires: vec![],
            ..u
        };
        let m = Init {
            hostname,
            ctrl_alt_del: Action::Halt,
            on_error: Action::PowerOff,
            error_delay_s: 1,
            shutdown_grace_ms: 1,
            watchdog: None,
            mounts: vec![],
            tasks: vec![],
            services: vec![u.clone()],
        };
        let body = postcard::to_allocvec(&m).unwrap();
        prop_assert_eq!(check_init_body(&body), Some(m.clone()));
        // ctrl_alt_del and on_error follow the hostname.
        let at = postcard::to_allocvec(&m.hostname).unwrap().len();
        for i in [at, at + 1] {
            let mut bad = body.clone();
            bad[i] = action;
            prop_assert_eq!(check_init_body(&bad), None);
        }
        // The only service is last; its restart policy follows its name and dmz config.
        let unit_len = postcard::to_allocvec(&u).unwrap().len();
        let at = body.len() - unit_len + postcard::to_allocvec(&(&u.name, &u.dmz)).unwrap().len();
        let mut bad = body.clone();
        bad[at] = restart;
        prop_assert_eq!(check_init_body(&bad), None);
        // The tags in range are read back as those variants.
        for (tag, want) in [(0u8, Restart::Never), (1, Restart::OnFailure), (2, Restart::Always)] {
            let mut ok = body.clone();
            ok[at] = tag;
            prop_assert_eq!(check_init_body(&ok).map(|c| c.services[0].restart), Some(want));
        }
        // The output tag comes before the (empty) log file, its maximum, the (empty) cgroup
        // values and the readiness fields, last.
        let tail = (&u.log_file, u.log_max_bytes, &u.cgroup, u.ready, u.ready_timeout_ms, u.watchdog_ms, &u.after, &u.requires);
        let at = body.len() - postcard::to_allocvec(&tail).unwrap().len() - 1;
        let mut bad = body.clone();
        bad[at] = output;
        prop_assert_eq!(check_init_body(&bad), None);
        for (tag, want) in [(0u8, Output::Console), (1, Output::Capture)] {
            let mut ok = body.clone();
            ok[at] = tag;
            prop_assert_eq!(check_init_body(&ok).map(|c| c.services[0].output), Some(want));
        }
    }
}
