//! The compiled system-mode config: one schema, encoded by `launcher compile --init`, decoded
//! zero-copy by init.
//!
//! Layout of a blob (integers little-endian), the same header shape as a dmz config:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `DMZI` |
//! | 4 | 2 | format version ([`VERSION`]) |
//! | 6 | 2 | reserved, 0 |
//! | 8 | 4 | body length in bytes |
//! | 12 | 4 | CRC-32 (IEEE) of the body |
//! | 16 | n | postcard body: [`Config`] |
//!
//! The body is in the postcard 1.x wire format, written out by hand for [`Config`]'s fields
//! in order (see dmz's config module for why not serde): unsigned integers are LEB128
//! varints, enums their discriminant as a varint, `Option` one byte 0/1 then the value, byte
//! strings and sequences a varint length then the items. Each task and service carries a
//! complete dmz config blob, header included, which init hands to the dmz transition in the
//! forked child. Paths that reach a syscall are stored with their terminating NUL.

use dmz::config::crc32;
use heapless::Vec;

pub const MAGIC: [u8; 4] = *b"DMZI";
pub const VERSION: u16 = 1;
pub const HEADER_LEN: usize = 16;

/// Largest config init reads: room for every unit carrying a large dmz config. init maps
/// exactly the file's size, so the bound only limits what a corrupt file can make it map.
pub const MAX_CONFIG_LEN: usize = 4 << 20;
/// Maximum number of tasks, and separately of services: the size of init's fixed tables.
pub const MAX_UNITS: usize = 32;
/// Maximum number of extra mounts.
pub const MAX_MOUNTS: usize = 32;
/// Longest task or service name (they appear in every log line about the unit).
pub const MAX_NAME: usize = 32;
/// Shortest first restart delay init honours: a crash-looping service with a configured delay
/// of 0 would otherwise be restarted in a busy loop.
pub const MIN_RESTART_DELAY_MS: u32 = 100;

/// What init does on a shutdown request or after a fatal error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Action {
    Reboot = 0,
    PowerOff = 1,
    Halt = 2,
    /// Only for ctrl-alt-del: do nothing.
    Ignore = 3,
}

impl Action {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Action::Reboot,
            1 => Action::PowerOff,
            2 => Action::Halt,
            3 => Action::Ignore,
            _ => return None,
        })
    }

    /// The word used in the TOML file, on the kernel command line and in log lines.
    pub fn name(self) -> &'static str {
        match self {
            Action::Reboot => "reboot",
            Action::PowerOff => "poweroff",
            Action::Halt => "halt",
            Action::Ignore => "ignore",
        }
    }

    pub fn from_name(s: &[u8]) -> Option<Self> {
        [Action::Reboot, Action::PowerOff, Action::Halt, Action::Ignore]
            .into_iter()
            .find(|a| a.name().as_bytes() == s)
    }
}

/// When a service that exited is started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Restart {
    Never = 0,
    /// After an exit status other than 0 or a death by signal.
    OnFailure = 1,
    Always = 2,
}

impl Restart {
    pub fn name(self) -> &'static str {
        match self {
            Restart::Never => "never",
            Restart::OnFailure => "on-failure",
            Restart::Always => "always",
        }
    }
}

/// One extra mount, `mount(source, target, fstype, flags, data)`; the target directory is
/// created first if missing. Strings end in NUL; `data` may be empty (no data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mount<'a> {
    pub source: &'a [u8],
    pub target: &'a [u8],
    pub fstype: &'a [u8],
    /// MS_* flags.
    pub flags: u64,
    pub data: &'a [u8],
}

/// A hardware watchdog kept alive while init runs, closed with the magic 'V' at shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watchdog<'a> {
    /// Device path with its NUL, e.g. "/dev/watchdog\0".
    pub device: &'a [u8],
    /// Seconds for WDIOC_SETTIMEOUT; 0 keeps the driver's timeout.
    pub timeout_s: u32,
    /// Milliseconds between keep-alives (must be well below the timeout).
    pub interval_ms: u32,
}

/// A task (run once, in order, waited for) or a service (supervised).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit<'a> {
    /// [A-Za-z0-9._-], 1..=MAX_NAME bytes, no NUL.
    pub name: &'a [u8],
    /// A complete dmz config blob (header + body).
    pub dmz: &'a [u8],
    pub restart: Restart,
    /// First restart delay; each consecutive restart doubles it, up to `restart_delay_max_ms`.
    pub restart_delay_ms: u32,
    pub restart_delay_max_ms: u32,
    /// Consecutive restarts allowed before the service is given up; 0 is no limit. A run that
    /// lasted at least `restart_delay_max_ms` resets the count and the delay.
    pub restart_limit: u32,
    /// Signal sent to the service's process group to stop it (1..=64).
    pub stop_signal: u8,
    /// How long to wait after the stop signal before SIGKILL.
    pub stop_timeout_ms: u32,
}

/// Everything system mode needs besides the kernel command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config<'a> {
    /// Empty leaves the kernel's hostname.
    pub hostname: &'a [u8],
    /// What SIGINT (ctrl-alt-del, with RB_DISABLE_CAD) does.
    pub ctrl_alt_del: Action,
    /// What happens after a fatal error before the supervision loop...
    pub on_error: Action,
    /// ...after this many seconds.
    pub error_delay_s: u32,
    /// After the services are stopped: how long the remaining processes get between SIGTERM
    /// and SIGKILL.
    pub shutdown_grace_ms: u32,
    pub watchdog: Option<Watchdog<'a>>,
    pub mounts: Vec<Mount<'a>, MAX_MOUNTS>,
    pub tasks: Vec<Unit<'a>, MAX_UNITS>,
    pub services: Vec<Unit<'a>, MAX_UNITS>,
}

/// What is wrong with a blob. `Copy`, one byte; [`Invalid::text`] says it in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Invalid {
    TooLarge,
    TruncatedHeader,
    Magic,
    Version,
    TruncatedBody,
    TrailingBytes,
    Crc,
    Malformed,
    TrailingInBody,
    Name,
    UnitDmz,
    Path,
    Signal,
    Watchdog,
}

impl Invalid {
    pub fn text(self) -> &'static str {
        match self {
            Invalid::TooLarge => "larger than the maximum of 4 MiB",
            Invalid::TruncatedHeader => "truncated header",
            Invalid::Magic => "bad magic: not an init config",
            Invalid::Version => "unsupported format version",
            Invalid::TruncatedBody => "truncated body",
            Invalid::TrailingBytes => "trailing bytes after body",
            Invalid::Crc => "CRC mismatch",
            Invalid::Malformed => "malformed body",
            Invalid::TrailingInBody => "trailing bytes inside body",
            Invalid::Name => "bad task or service name",
            Invalid::UnitDmz => "bad dmz config in a task or service",
            Invalid::Path => "path not NUL-terminated or with interior NUL",
            Invalid::Signal => "stop signal outside 1..=64",
            Invalid::Watchdog => "watchdog interval is 0",
        }
    }
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// `s` ends in its only NUL.
fn c_string(s: &[u8]) -> bool {
    s.iter().position(|&b| b == 0) == Some(s.len().wrapping_sub(1))
}

/// A unit name: printable, without spaces, so log lines split on spaces.
pub fn valid_name(s: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && s.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl<'a> Config<'a> {
    /// Checks the header, decodes the body and validates every field, each unit's dmz config
    /// included (its structure; the values are validated by the transition in the child).
    #[inline(never)]
    pub fn decode(blob: &'a [u8]) -> Result<Self, Invalid> {
        if blob.len() > MAX_CONFIG_LEN {
            return Err(Invalid::TooLarge);
        }
        if blob.len() < HEADER_LEN {
            return Err(Invalid::TruncatedHeader);
        }
        let (head, body) = blob.split_at(HEADER_LEN);
        if head[..4] != MAGIC {
            return Err(Invalid::Magic);
        }
        if u16::from_le_bytes([head[4], head[5]]) != VERSION {
            return Err(Invalid::Version);
        }
        let len = le32(&head[8..]) as usize;
        if body.len() < len {
            return Err(Invalid::TruncatedBody);
        }
        if body.len() > len {
            return Err(Invalid::TrailingBytes);
        }
        if crc32(body) != le32(&head[12..]) {
            return Err(Invalid::Crc);
        }
        let mut r = Reader(body);
        let cfg = r.config().ok_or(Invalid::Malformed)?;
        if !r.0.is_empty() {
            return Err(Invalid::TrailingInBody);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), Invalid> {
        for m in &self.mounts {
            let data_ok = m.data.is_empty() || c_string(m.data);
            if !(c_string(m.source) && c_string(m.target) && c_string(m.fstype) && data_ok) {
                return Err(Invalid::Path);
            }
        }
        if let Some(w) = &self.watchdog {
            if !c_string(w.device) {
                return Err(Invalid::Path);
            }
            if w.interval_ms == 0 {
                return Err(Invalid::Watchdog);
            }
        }
        for u in self.tasks.iter().chain(self.services.iter()) {
            if !valid_name(u.name) {
                return Err(Invalid::Name);
            }
            if dmz::Config::decode(u.dmz).is_err() {
                return Err(Invalid::UnitDmz);
            }
            if !(1..=64).contains(&u.stop_signal) {
                return Err(Invalid::Signal);
            }
        }
        Ok(())
    }

    /// Encodes header + body into `out`; returns the blob's length, or `None` if it does not
    /// fit (or exceeds [`MAX_CONFIG_LEN`]).
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let limit = out.len().min(MAX_CONFIG_LEN);
        let (head, body) = out.get_mut(..limit)?.split_at_mut_checked(HEADER_LEN)?;
        let mut w = Writer { buf: body, len: 0 };
        w.config(self)?;
        let n = w.len;
        let crc = crc32(&body[..n]);
        head[..4].copy_from_slice(&MAGIC);
        head[4..6].copy_from_slice(&VERSION.to_le_bytes());
        head[6..8].copy_from_slice(&[0, 0]);
        head[8..12].copy_from_slice(&(n as u32).to_le_bytes());
        head[12..16].copy_from_slice(&crc.to_le_bytes());
        Some(HEADER_LEN + n)
    }
}

/// Decoder for the body.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn varint(&mut self, max_bytes: u32) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..max_bytes {
            let b = self.byte()?;
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint(5)?).ok()
    }

    fn u8(&mut self) -> Option<u8> {
        u8::try_from(self.varint(2)?).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        if n > self.0.len() {
            return None;
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(b)
    }

    fn vec<T, const N: usize>(&mut self, mut f: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T, N>> {
        let n = self.u32()?;
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(f(self)?).ok()?;
        }
        Some(v)
    }

    fn action(&mut self) -> Option<Action> {
        Action::from_u8(self.u8()?)
    }

    fn unit(&mut self) -> Option<Unit<'a>> {
        Some(Unit {
            name: self.bytes()?,
            dmz: self.bytes()?,
            restart: match self.u8()? {
                0 => Restart::Never,
                1 => Restart::OnFailure,
                2 => Restart::Always,
                _ => return None,
            },
            restart_delay_ms: self.u32()?,
            restart_delay_max_ms: self.u32()?,
            restart_limit: self.u32()?,
            stop_signal: self.u8()?,
            stop_timeout_ms: self.u32()?,
        })
    }

    #[inline(never)]
    fn config(&mut self) -> Option<Config<'a>> {
        Some(Config {
            hostname: self.bytes()?,
            ctrl_alt_del: self.action()?,
            on_error: self.action()?,
            error_delay_s: self.u32()?,
            shutdown_grace_ms: self.u32()?,
            watchdog: match self.byte()? {
                0 => None,
                1 => {
                    Some(Watchdog { device: self.bytes()?, timeout_s: self.u32()?, interval_ms: self.u32()? })
                }
                _ => return None,
            },
            mounts: self.vec(|r| {
                Some(Mount {
                    source: r.bytes()?,
                    target: r.bytes()?,
                    fstype: r.bytes()?,
                    flags: r.varint(10)?,
                    data: r.bytes()?,
                })
            })?,
            tasks: self.vec(Self::unit)?,
            services: self.vec(Self::unit)?,
        })
    }
}

/// Encoder for the body: the mirror image of [`Reader`].
struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn byte(&mut self, b: u8) -> Option<()> {
        *self.buf.get_mut(self.len)? = b;
        self.len += 1;
        Some(())
    }

    fn varint(&mut self, mut v: u64) -> Option<()> {
        while v >= 0x80 {
            self.byte(v as u8 | 0x80)?;
            v >>= 7;
        }
        self.byte(v as u8)
    }

    fn bytes(&mut self, b: &[u8]) -> Option<()> {
        self.varint(b.len() as u64)?;
        let end = self.len.checked_add(b.len())?;
        self.buf.get_mut(self.len..end)?.copy_from_slice(b);
        self.len = end;
        Some(())
    }

    fn unit(&mut self, u: &Unit) -> Option<()> {
        self.bytes(u.name)?;
        self.bytes(u.dmz)?;
        self.varint(u.restart as u64)?;
        self.varint(u.restart_delay_ms as u64)?;
        self.varint(u.restart_delay_max_ms as u64)?;
        self.varint(u.restart_limit as u64)?;
        self.varint(u.stop_signal as u64)?;
        self.varint(u.stop_timeout_ms as u64)
    }

    fn config(&mut self, c: &Config) -> Option<()> {
        self.bytes(c.hostname)?;
        self.varint(c.ctrl_alt_del as u64)?;
        self.varint(c.on_error as u64)?;
        self.varint(c.error_delay_s as u64)?;
        self.varint(c.shutdown_grace_ms as u64)?;
        match &c.watchdog {
            None => self.byte(0)?,
            Some(w) => {
                self.byte(1)?;
                self.bytes(w.device)?;
                self.varint(w.timeout_s as u64)?;
                self.varint(w.interval_ms as u64)?;
            }
        }
        self.varint(c.mounts.len() as u64)?;
        for m in &c.mounts {
            self.bytes(m.source)?;
            self.bytes(m.target)?;
            self.bytes(m.fstype)?;
            self.varint(m.flags)?;
            self.bytes(m.data)?;
        }
        self.varint(c.tasks.len() as u64)?;
        for u in &c.tasks {
            self.unit(u)?;
        }
        self.varint(c.services.len() as u64)?;
        for u in &c.services {
            self.unit(u)?;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dmz_blob() -> std::vec::Vec<u8> {
        let cfg = dmz::Config {
            args: dmz::config::Bytes(b"/bin/true\0"),
            env: dmz::config::Bytes(b""),
            cwd: dmz::config::Bytes(b"/\0"),
            uid: 1000,
            gid: 1000,
            groups: Vec::new(),
            umask: 0o22,
            caps: None,
            securebits: None,
            no_new_privs: true,
            rlimits: Vec::new(),
            oom_score_adj: None,
            preserve_fds: Vec::new(),
            seccomp: None,
        };
        let mut buf = vec![0u8; 4096];
        let n = cfg.encode(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    fn unit<'a>(name: &'a [u8], dmz: &'a [u8]) -> Unit<'a> {
        Unit {
            name,
            dmz,
            restart: Restart::OnFailure,
            restart_delay_ms: 500,
            restart_delay_max_ms: 30_000,
            restart_limit: 5,
            stop_signal: 15,
            stop_timeout_ms: 3000,
        }
    }

    fn sample(dmz: &[u8]) -> Config<'_> {
        let mut c = Config {
            hostname: b"edge-1",
            ctrl_alt_del: Action::Reboot,
            on_error: Action::PowerOff,
            error_delay_s: 10,
            shutdown_grace_ms: 2000,
            watchdog: Some(Watchdog { device: b"/dev/watchdog\0", timeout_s: 30, interval_ms: 10_000 }),
            mounts: Vec::new(),
            tasks: Vec::new(),
            services: Vec::new(),
        };
        c.mounts
            .push(Mount { source: b"tmpfs\0", target: b"/var\0", fstype: b"tmpfs\0", flags: 6, data: b"" })
            .unwrap();
        c.tasks.push(unit(b"setup", dmz)).unwrap();
        c.services.push(unit(b"web", dmz)).unwrap();
        c.services.push(unit(b"probe.1", dmz)).unwrap();
        c
    }

    fn encode(c: &Config) -> std::vec::Vec<u8> {
        let mut buf = vec![0u8; 1 << 16];
        let n = c.encode(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn round_trips() {
        let d = dmz_blob();
        let c = sample(&d);
        let blob = encode(&c);
        assert_eq!(Config::decode(&blob), Ok(c));
    }

    #[test]
    fn refuses_damage() {
        let d = dmz_blob();
        let blob = encode(&sample(&d));
        let mut bad = blob.clone();
        bad[0] = b'X';
        assert_eq!(Config::decode(&bad), Err(Invalid::Magic));
        let mut bad = blob.clone();
        bad[4] = 9;
        assert_eq!(Config::decode(&bad), Err(Invalid::Version));
        let mut bad = blob.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(Config::decode(&bad), Err(Invalid::Crc));
        assert_eq!(Config::decode(&blob[..blob.len() - 1]), Err(Invalid::TruncatedBody));
        let mut long = blob.clone();
        long.push(0);
        assert_eq!(Config::decode(&long), Err(Invalid::TrailingBytes));
        assert_eq!(Config::decode(&blob[..10]), Err(Invalid::TruncatedHeader));
    }

    #[test]
    fn validates_fields() {
        let d = dmz_blob();
        let mut c = sample(&d);
        c.services[0].name = b"has space";
        assert_eq!(Config::decode(&encode(&c)), Err(Invalid::Name));
        let mut c = sample(&d);
        c.services[1].stop_signal = 65;
        assert_eq!(Config::decode(&encode(&c)), Err(Invalid::Signal));
        let mut c = sample(&d);
        c.mounts[0].target = b"/var";
        assert_eq!(Config::decode(&encode(&c)), Err(Invalid::Path));
        let mut c = sample(&d);
        c.tasks[0].dmz = &d[..d.len() - 1];
        assert_eq!(Config::decode(&encode(&c)), Err(Invalid::UnitDmz));
        let mut c = sample(&d);
        c.watchdog.as_mut().unwrap().interval_ms = 0;
        assert_eq!(Config::decode(&encode(&c)), Err(Invalid::Watchdog));
    }

    #[test]
    fn encode_refuses_a_short_buffer() {
        let d = dmz_blob();
        let c = sample(&d);
        let n = encode(&c).len();
        let mut buf = vec![0u8; n - 1];
        assert_eq!(c.encode(&mut buf), None);
    }
}
