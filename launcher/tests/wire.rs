//! The config wire formats, property-tested against serde + postcard.
//!
//! dmz and init read their configs with small hand-written decoders, and dmz's `Writer`
//! writes them. Here serde-derived mirror types ([`mirror`], their field order is the format)
//! encoded by the real `postcard` crate are the reference:
//! - arbitrary configs, within and just past every limit: postcard's bytes decode to the same
//!   values, or are refused when past a limit; the hand-written writer gives the same bytes;
//! - any body (random, or a valid one damaged): the readers never panic, and what they accept
//!   is postcard's canonical encoding of what they decoded (one canonical form: padded
//!   varints, trailing bytes, out-of-range tags refused).

use dmz::config::{MAX_ARGS, MAX_BPF_INSNS, MAX_CONFIG_LEN, MAX_GROUPS, MAX_PRESERVE_FDS, MAX_RLIMITS};
use init::config::{MAX_MOUNTS, MAX_NAME, MAX_UNITS};
use proptest::collection::vec;
use proptest::prelude::*;

/// The bodies as serde sees them. Field order is the wire format: keep in step with
/// dmz/src/config.rs (`Config`) and init/src/config.rs (`Config`, `Unit`, `Mount`, `Watchdog`).
mod mirror {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
    pub struct Dmz {
        pub args: Vec<u8>,
        pub env: Vec<u8>,
        pub cwd: Vec<u8>,
        pub uid: Option<u32>,
        pub gid: Option<u32>,
        pub groups: Option<Vec<u32>>,
        pub chown_stdio: bool,
        pub umask: u32,
        /// bounding, effective, permitted, inheritable, ambient
        pub caps: Option<[u64; 5]>,
        pub securebits: Option<u32>,
        pub no_new_privs: bool,
        /// (resource, soft, hard)
        pub rlimits: Vec<(u32, u64, u64)>,
        pub oom_score_adj: Option<i32>,
        pub preserve_fds: Vec<u32>,
        /// (flags, program)
        pub seccomp: Option<(u32, Vec<u8>)>,
    }

    impl Dmz {
        pub fn from_config(c: &dmz::Config) -> Self {
            Dmz {
                args: c.args.0.to_vec(),
                env: c.env.0.to_vec(),
                cwd: c.cwd.0.to_vec(),
                uid: c.uid,
                gid: c.gid,
                groups: c.groups.as_ref().map(|g| g.to_vec()),
                chown_stdio: c.chown_stdio,
                umask: c.umask,
                caps: c.caps.map(|k| [k.bounding, k.effective, k.permitted, k.inheritable, k.ambient]),
                securebits: c.securebits,
                no_new_privs: c.no_new_privs,
                rlimits: c.rlimits.iter().map(|r| (r.resource, r.soft, r.hard)).collect(),
                oom_score_adj: c.oom_score_adj,
                preserve_fds: c.preserve_fds.to_vec(),
                seccomp: c.seccomp.map(|s| (s.flags, s.program.0.to_vec())),
            }
        }

        /// dmz's `Config` for the same values; `None` if a list is over dmz's maximum.
        pub fn to_config(&self) -> Option<dmz::Config<'_>> {
            use dmz::config::{Bytes, Caps, Rlimit, Seccomp};
            Some(dmz::Config {
                args: Bytes(&self.args),
                env: Bytes(&self.env),
                cwd: Bytes(&self.cwd),
                uid: self.uid,
                gid: self.gid,
                groups: match &self.groups {
                    Some(g) => Some(heapless::Vec::from_slice(g).ok()?),
                    None => None,
                },
                chown_stdio: self.chown_stdio,
                umask: self.umask,
                caps: self.caps.map(|[bounding, effective, permitted, inheritable, ambient]| Caps {
                    bounding,
                    effective,
                    permitted,
                    inheritable,
                    ambient,
                }),
                securebits: self.securebits,
                no_new_privs: self.no_new_privs,
                rlimits: heapless::Vec::from_slice(
                    &self
                        .rlimits
                        .iter()
                        .map(|&(resource, soft, hard)| Rlimit { resource, soft, hard })
                        .collect::<Vec<_>>(),
                )
                .ok()?,
                oom_score_adj: self.oom_score_adj,
                preserve_fds: heapless::Vec::from_slice(&self.preserve_fds).ok()?,
                seccomp: self.seccomp.as_ref().map(|(flags, p)| Seccomp { flags: *flags, program: Bytes(p) }),
            })
        }
    }

    #[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
    pub enum Action {
        Reboot,
        PowerOff,
        Halt,
        Ignore,
    }

    #[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
    pub enum Restart {
        Never,
        OnFailure,
        Always,
    }

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Watchdog {
        pub device: Vec<u8>,
        pub timeout_s: u32,
        pub interval_ms: u32,
    }

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Mount {
        pub source: Vec<u8>,
        pub target: Vec<u8>,
        pub fstype: Vec<u8>,
        pub flags: u64,
        pub data: Vec<u8>,
    }

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Unit {
        pub name: Vec<u8>,
        pub dmz: Vec<u8>,
        pub restart: Restart,
        pub restart_delay_ms: u32,
        pub restart_delay_max_ms: u32,
        pub restart_limit: u32,
        pub stop_signal: u8,
        pub stop_timeout_ms: u32,
        pub timeout_ms: u32,
    }

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Init {
        pub hostname: Vec<u8>,
        pub ctrl_alt_del: Action,
        pub on_error: Action,
        pub error_delay_s: u32,
        pub shutdown_grace_ms: u32,
        pub watchdog: Option<Watchdog>,
        pub mounts: Vec<Mount>,
        pub tasks: Vec<Unit>,
        pub services: Vec<Unit>,
    }

    fn action(a: init::config::Action) -> Action {
        [Action::Reboot, Action::PowerOff, Action::Halt, Action::Ignore][a as usize]
    }

    fn unit(u: init::config::Unit) -> Unit {
        Unit {
            name: u.name.to_vec(),
            dmz: u.dmz.to_vec(),
            restart: [Restart::Never, Restart::OnFailure, Restart::Always][u.restart as usize],
            restart_delay_ms: u.restart_delay_ms,
            restart_delay_max_ms: u.restart_delay_max_ms,
            restart_limit: u.restart_limit,
            stop_signal: u.stop_signal,
            stop_timeout_ms: u.stop_timeout_ms,
            timeout_ms: u.timeout_ms,
        }
    }

    impl Init {
        pub fn from_config(c: &init::config::Config) -> Self {
            Init {
                hostname: c.hostname.to_vec(),
                ctrl_alt_del: action(c.ctrl_alt_del),
                on_error: action(c.on_error),
                error_delay_s: c.error_delay_s,
                shutdown_grace_ms: c.shutdown_grace_ms,
                watchdog: c.watchdog.map(|w| Watchdog {
                    device: w.device.to_vec(),
                    timeout_s: w.timeout_s,
                    interval_ms: w.interval_ms,
                }),
                mounts: c
                    .mounts
                    .iter()
                    .map(|m| Mount {
                        source: m.source.to_vec(),
                        target: m.target.to_vec(),
                        fstype: m.fstype.to_vec(),
                        flags: m.flags,
                        data: m.data.to_vec(),
                    })
                    .collect(),
                tasks: c.tasks.iter().map(unit).collect(),
                services: c.services.iter().map(unit).collect(),
            }
        }
    }
}

use mirror::{Action, Dmz, Init, Mount, Restart, Unit, Watchdog};

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

/// What dmz accepts is postcard's canonical encoding of what it decoded, and its own writer
/// gives the same bytes; what it refuses is a clean config error.
fn check_dmz_body(body: &[u8]) -> Option<Dmz> {
    let b = dmz_blob(body);
    match dmz::Config::decode(&b) {
        Ok(c) => {
            let m = Dmz::from_config(&c);
            assert_eq!(postcard::to_allocvec(&m).unwrap(), body, "accepted bytes are postcard's encoding");
            assert_eq!(postcard::from_bytes::<Dmz>(body).unwrap(), m, "postcard reads the same values");
            let mut out = vec![0u8; b.len()];
            let n = c.encode(&mut out).expect("re-encodes");
            assert_eq!(&out[..n], &b[..], "dmz's writer gives the bytes back");
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
    let caps = proptest::option::of(proptest::array::uniform5(edge_u64()));
    let rlimits = around((0..20u32, edge_u64(), edge_u64()), MAX_RLIMITS);
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
        proptest::option::of((edge_u32(), program)),
    );
    (bytes(40), bytes(40), bytes(20), ids, caps, rest).prop_map(
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
            let c = m.to_config().unwrap();
            let mut out = vec![0u8; MAX_CONFIG_LEN];
            let n = c.encode(&mut out).unwrap();
            prop_assert_eq!(&out[16..n], &body[..]);
        } else {
            prop_assert_eq!(got, None);
            if let Some(c) = m.to_config() {
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
    let m = Dmz { args: b"/bin/true\0".to_vec(), uid: Some(1000), gid: Some(1000), ..Dmz::default() };
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
    let signal = prop_oneof![4 => 1..=64u8, 1 => Just(0u8), 1 => Just(65u8), 1 => 66..128u8];
    (name, dmz, restart, edge_u32(), edge_u32(), edge_u32(), signal, edge_u32(), edge_u32()).prop_map(
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
    /// init's writer writes postcard's bytes (a stop signal is a u8: one byte in postcard,
    /// a varint in init's writer, the same byte below 128).
    #[test]
    fn init_reads_what_postcard_writes(m in init_config()) {
        let body = postcard::to_allocvec(&m).unwrap();
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
        rlimits: (0..MAX_RLIMITS as u32)
            .map(|r| dmz::config::Rlimit { resource: r, soft: 1, hard: u64::MAX })
            .collect(),
        preserve_fds: (3..3 + MAX_PRESERVE_FDS as u32).collect(),
        oom_score_adj: Some(-1000),
        ..Default::default()
    };
    let b = c.encode().unwrap();
    let m = check_dmz_body(&b[16..]).expect("dmz reads what the launcher writes");
    assert_eq!(m.args.iter().filter(|&&x| x == 0).count(), MAX_ARGS);
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
