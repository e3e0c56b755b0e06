//! The compiled system-mode config: one schema, encoded by `launcher compile --init`, decoded
//! zero-copy by init.
//!
//! Layout of a blob (integers little-endian), the same header shape as a dmz config:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `DMZI` |
//! | 4 | 4 | format version ([`VERSION`]) |
//! | 8 | 4 | body length in bytes |
//! | 12 | 4 | CRC-32 (IEEE) of the body |
//! | 16 | n | postcard body: [`Config`] |
//!
//! The header check, the body's reader and their errors are dmz's (one codec for both
//! formats, `dmz::config`); init adds its magic, version and fields. The body is in the
//! postcard 1.x wire format, for [`Config`]'s fields in order, written by the launcher with
//! serde + postcard (launcher/src/wire.rs) and read here by hand (see dmz's
//! config module for why not serde): unsigned integers are LEB128 varints, enums their
//! discriminant as a varint, `Option` one byte 0/1 then the value, byte strings and sequences
//! a varint length then the items. Each task and service carries a
//! complete dmz config blob, header included, which init hands to the dmz transition in the
//! forked child. Paths that reach a syscall are stored with their terminating NUL.

use dmz::config::{write_header, Reader, Writer, HEADER_LEN};
use dmz::error::Bad;

pub const MAGIC: [u8; 4] = *b"DMZI";
pub const VERSION: u32 = 3;

/// Largest config init reads: room for every unit carrying a large dmz config. init maps
/// exactly the file's size, so the bound only limits what a corrupt file can make it map.
pub const MAX_CONFIG_LEN: usize = 4 << 20;
/// Maximum number of tasks, and separately of services: the size of init's fixed tables.
pub const MAX_UNITS: usize = 32;
/// Maximum number of extra mounts.
pub const MAX_MOUNTS: usize = 32;
/// Longest task or service name (they appear in every log line about the unit).
pub const MAX_NAME: usize = 32;
/// Longest `log_file`, its NUL included (init appends `.1` for the rotated file).
pub const MAX_LOG_FILE: usize = 128;
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
            .find(|a| crate::text::eq(a.name().as_bytes(), s))
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

/// Where a task's or service's stdout and stderr go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Output {
    /// init's own fds 0-2: the console.
    Console = 0,
    /// One pipe to init, which logs each line (init/README.md, "Captured output").
    Capture = 1,
}

impl Output {
    /// The word used in the TOML file.
    pub fn name(self) -> &'static str {
        match self {
            Output::Console => "console",
            Output::Capture => "capture",
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

impl Watchdog<'_> {
    /// Milliseconds between keep-alives for a driver that reports a timeout of `actual_s`
    /// seconds (WDIOC_GETTIMEOUT; `None` when it does not say): `interval_ms`, but at most a
    /// third of that timeout, so a driver that refused the requested timeout (one above its
    /// maximum) or rounded it down is still kept alive.
    pub fn keepalive_ms(&self, actual_s: Option<u32>) -> u32 {
        match actual_s {
            Some(t) if t > 0 => self.interval_ms.min(third_of(t)),
            _ => self.interval_ms,
        }
    }
}

/// A third of `timeout_s` seconds, in milliseconds (at least 1, saturating): a keep-alive
/// interval that survives one missed keep-alive.
pub fn third_of(timeout_s: u32) -> u32 {
    (timeout_s as u64 * 1000 / 3).clamp(1, u32::MAX as u64) as u32
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
    /// Tasks: how long init waits for it before SIGKILL to its process group (boot then goes
    /// on); 0 waits for ever. Services: unused, 0.
    pub timeout_ms: u32,
    pub output: Output,
    /// With [`Output::Capture`]: a file that also gets each line, with its NUL (at most
    /// [`MAX_LOG_FILE`] bytes); empty: none.
    pub log_file: &'a [u8],
    /// `log_file` is renamed to `log_file.1` before it would grow past this size.
    pub log_max_bytes: u32,
    /// Services: the values init writes to the files of [`CGROUP_FILES`] in the service's
    /// cgroup, each ending in NUL, an empty one for a file not configured; or empty when none
    /// is (tasks: always empty). The launcher checks the values.
    pub cgroup: &'a [u8],
    /// How a service tells it is ready: [`READY_STARTED`], [`READY_NOTIFY`], or a fd number
    /// (3 and up) it writes a newline to. Tasks: 0.
    pub ready: u32,
    /// A service not ready this long after its start is stopped (0: no limit).
    pub ready_timeout_ms: u32,
    /// A notify service that sends no `WATCHDOG=1` for this long is aborted (0: none).
    pub watchdog_ms: u32,
    /// Services that must be ready before this one starts (those of `requires` included):
    /// their names, each followed by a space (the format compares as bytes, and reads without
    /// a list).
    pub after: &'a [u8],
    /// The same, and this one is stopped when one of them fails for good or is stopped.
    pub requires: &'a [u8],
}

/// The cgroup v2 files a service's `cgroup` values go to, in order: `memory_max`,
/// `pids_max`, `cpu_weight`, `cpu_max` in the TOML.
pub const CGROUP_FILES: [&str; 4] = ["memory.max", "pids.max", "cpu.weight", "cpu.max"];

/// [`Unit::ready`]: ready once running.
pub const READY_STARTED: u32 = 0;
/// [`Unit::ready`]: the sd_notify protocol (`READY=1` on the service's `NOTIFY_SOCKET`).
pub const READY_NOTIFY: u32 = 1;

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
    pub mounts: List<'a, Mount<'a>>,
    pub tasks: List<'a, Unit<'a>>,
    pub services: List<'a, Unit<'a>>,
}

/// A list in the config: the items themselves (to encode), or, once decoded, their encoded
/// bytes, read item by item on demand. Decoding into arrays would put every unit of a full
/// config on PID 1's stack (several KB, resident for good); a decoded [`Config`] is ~150 bytes.
#[derive(Clone, Copy, Debug)]
pub enum List<'a, T> {
    Items(&'a [T]),
    Encoded { count: u32, bytes: &'a [u8] },
}

/// An item of a [`List`]: how it is read from and written to the body, and checked. The
/// check (for a unit: its dmz config's CRC and structure) runs once, when the config is
/// decoded; reading the list again later only parses.
pub trait Item<'a>: Copy {
    #[doc(hidden)]
    fn read(r: &mut Reader<'a>) -> Self;
    #[doc(hidden)]
    fn check(&self) -> Result<(), Invalid>;
    #[doc(hidden)]
    fn write(&self, w: &mut Writer) -> Option<()>;
}

impl<'a, T: Item<'a>> List<'a, T> {
    #[inline(never)]
    pub fn len(&self) -> usize {
        match self {
            List::Items(items) => items.len(),
            List::Encoded { count, .. } => *count as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline(never)] // one copy per item type, not one per loop
    pub fn iter(&self) -> Iter<'a, T> {
        match *self {
            List::Items(items) => Iter { items, r: Reader::new(&[]), left: 0 },
            List::Encoded { count, bytes } => Iter { items: &[], r: Reader::new(bytes), left: count },
        }
    }

    /// Item `i` (decoding the ones before it: lists are short).
    pub fn get(&self, i: usize) -> Option<T> {
        self.iter().nth(i)
    }
}

impl<'a, T: Item<'a> + PartialEq> PartialEq for List<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<'a, T: Item<'a> + Eq> Eq for List<'a, T> {}

pub struct Iter<'a, T> {
    items: &'a [T],
    /// The encoded items not read yet.
    r: Reader<'a>,
    left: u32,
}

impl<'a, T: Item<'a>> Iterator for Iter<'a, T> {
    type Item = T;

    #[inline(never)] // one copy per item type, not one per loop
    fn next(&mut self) -> Option<T> {
        if let Some((first, rest)) = self.items.split_first() {
            self.items = rest;
            return Some(*first);
        }
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(T::read(&mut self.r)) // checked when the config was decoded
    }
}

impl<'a> Item<'a> for Mount<'a> {
    fn read(r: &mut Reader<'a>) -> Self {
        // Field by field, as in Unit::read.
        let mut m = Mount { source: r.bytes().0, target: &[], fstype: &[], flags: 0, data: &[] };
        m.target = r.bytes().0;
        m.fstype = r.bytes().0;
        m.flags = r.u64();
        m.data = r.bytes().0;
        m
    }

    fn check(&self) -> Result<(), Invalid> {
        let data_ok = self.data.is_empty() || c_string(self.data);
        if !(c_string(self.source) && c_string(self.target) && c_string(self.fstype) && data_ok) {
            return Err(Invalid::Path);
        }
        Ok(())
    }

    fn write(&self, w: &mut Writer) -> Option<()> {
        w.bytes(self.source)?;
        w.bytes(self.target)?;
        w.bytes(self.fstype)?;
        w.varint(self.flags)?;
        w.bytes(self.data)
    }
}

impl<'a> Item<'a> for Unit<'a> {
    fn read(r: &mut Reader<'a>) -> Self {
        // Each field is stored as it is read: a struct literal of reads would hold every
        // value until the last read and copy them all then (170 bytes more of code). The
        // placeholders below are overwritten, and the compiler drops them.
        let mut u = Unit {
            name: r.bytes().0,
            dmz: r.bytes().0,
            restart: Restart::Never,
            restart_delay_ms: 0,
            restart_delay_max_ms: 0,
            restart_limit: 0,
            stop_signal: 0,
            stop_timeout_ms: 0,
            timeout_ms: 0,
            output: Output::Console,
            log_file: &[],
            log_max_bytes: 0,
            cgroup: &[],
            ready: 0,
            ready_timeout_ms: 0,
            watchdog_ms: 0,
            after: &[],
            requires: &[],
        };
        u.restart = match tag(r, 3) {
            0 => Restart::Never,
            1 => Restart::OnFailure,
            _ => Restart::Always,
        };
        u.restart_delay_ms = r.u32();
        u.restart_delay_max_ms = r.u32();
        u.restart_limit = r.u32();
        u.stop_signal = r.u8();
        u.stop_timeout_ms = r.u32();
        u.timeout_ms = r.u32();
        u.output = match tag(r, 2) {
            0 => Output::Console,
            _ => Output::Capture,
        };
        u.log_file = r.bytes().0;
        u.log_max_bytes = r.u32();
        u.cgroup = r.bytes().0;
        u.ready = r.u32();
        u.ready_timeout_ms = r.u32();
        u.watchdog_ms = r.u32();
        u.after = r.bytes().0;
        u.requires = r.bytes().0;
        u
    }

    fn check(&self) -> Result<(), Invalid> {
        if !valid_name(self.name) {
            return Err(Invalid::Name);
        }
        if !(1..=64).contains(&self.stop_signal) {
            return Err(Invalid::Signal);
        }
        if dmz::Config::default().decode_into(self.dmz).is_err() {
            return Err(Invalid::UnitDmz);
        }
        if !(self.log_file.is_empty() || c_string(self.log_file) && self.log_file.len() <= MAX_LOG_FILE) {
            return Err(Invalid::Path);
        }
        let nuls = self.cgroup.iter().filter(|&&b| b == 0).count();
        if !self.cgroup.is_empty() && (nuls != CGROUP_FILES.len() || self.cgroup.last() != Some(&0)) {
            return Err(Invalid::Cgroup);
        }
        if self.ready == 2 {
            return Err(Invalid::Ready);
        }
        // Names each followed by a space: only their bytes are checked.
        if !(name_bytes(self.after, true) && name_bytes(self.requires, true)) {
            return Err(Invalid::Name);
        }
        Ok(())
    }

    fn write(&self, w: &mut Writer) -> Option<()> {
        w.bytes(self.name)?;
        w.bytes(self.dmz)?;
        w.varint(self.restart as u64)?;
        w.varint(self.restart_delay_ms as u64)?;
        w.varint(self.restart_delay_max_ms as u64)?;
        w.varint(self.restart_limit as u64)?;
        w.byte(self.stop_signal)?; // a u8: one byte, as postcard writes it
        w.varint(self.stop_timeout_ms as u64)?;
        w.varint(self.timeout_ms as u64)?;
        w.varint(self.output as u64)?;
        w.bytes(self.log_file)?;
        w.varint(self.log_max_bytes as u64)?;
        w.bytes(self.cgroup)?;
        w.varint(self.ready as u64)?;
        w.varint(self.ready_timeout_ms as u64)?;
        w.varint(self.watchdog_ms as u64)?;
        w.bytes(self.after)?;
        w.bytes(self.requires)
    }
}

/// What is wrong with a blob. `Copy`, one byte; [`Invalid::text`] says it in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// The header or the body's structure, as dmz's decoder names it (the same checks as for
    /// a dmz config).
    Format(Bad),
    Name,
    UnitDmz,
    Path,
    Signal,
    Watchdog,
    TooMany,
    Cgroup,
    Ready,
}

/// The errors' texts in one string, each followed by a NUL, and [`Invalid::text_index`], the
/// index of an error's text there: a match that returned each text cost a pointer and a
/// length per text in tables (300 bytes in all). In the order of `Bad`'s and `Invalid`'s
/// variants, so that the compiler computes the index from the error's byte, without a table.
macro_rules! texts {
    ($($invalid:pat => $text:literal,)*) => {
        const TEXTS: &str = concat!($($text, "\0"),*);

        impl Invalid {
            fn text_index(self) -> usize {
                let mut n = 0;
                $(
                    if matches!(self, $invalid) {
                        return n;
                    }
                    n += 1;
                )*
                // Every other format error.
                Invalid::Format(Bad::Malformed).text_index()
            }
        }
    };
}

texts! {
    Invalid::Format(Bad::TooLarge) => "larger than the maximum of 4 MiB",
    Invalid::Format(Bad::TruncatedHeader) => "truncated header",
    Invalid::Format(Bad::Magic) => "not an init config",
    Invalid::Format(Bad::Version) => "unsupported format version",
    Invalid::Format(Bad::TruncatedBody) => "truncated body",
    Invalid::Format(Bad::TrailingBytes) => "trailing bytes after body",
    Invalid::Format(Bad::Crc) => "CRC mismatch",
    Invalid::Format(Bad::Malformed) => "malformed body",
    Invalid::Format(Bad::TrailingInBody) => "trailing bytes inside body",
    Invalid::Name => "bad task or service name",
    Invalid::UnitDmz => "bad dmz config in a task or service",
    Invalid::Path => "path not NUL-terminated or with interior NUL",
    Invalid::Signal => "stop signal outside 1..=64",
    Invalid::Watchdog => "watchdog interval is 0",
    Invalid::TooMany => "more than 32 mounts, tasks or services",
    Invalid::Cgroup => "bad cgroup limits in a service",
    Invalid::Ready => "readiness fd 2",
}

impl Invalid {
    pub fn text(self) -> &'static str {
        // The text after the n-th NUL.
        let mut n = self.text_index();
        let mut start = 0;
        for (i, &b) in TEXTS.as_bytes().iter().enumerate() {
            if b == 0 {
                if n == 0 {
                    return TEXTS.get(start..i).unwrap_or("");
                }
                n -= 1;
                start = i + 1;
            }
        }
        ""
    }
}

/// An enum's tag, one of the `count` values from 0; another is malformed (and reads as 0).
/// Out of line: a branch in [`Unit`]'s read would keep its placeholders (see there).
#[inline(never)]
fn tag(r: &mut Reader, count: u8) -> u8 {
    let t = r.u8();
    if t >= count {
        r.malformed();
        return 0;
    }
    t
}

/// `s` ends in its only NUL.
fn c_string(s: &[u8]) -> bool {
    s.iter().position(|&b| b == 0) == Some(s.len().wrapping_sub(1))
}

/// A unit name: printable, without spaces, so log lines split on spaces.
pub fn valid_name(s: &[u8]) -> bool {
    !s.is_empty() && s.len() <= MAX_NAME && name_bytes(s, false)
}

/// Whether every byte of `s` is one of a unit name, [A-Za-z0-9._-], or with `space` a space.
fn name_bytes(s: &[u8], space: bool) -> bool {
    s.iter().all(|&b| {
        matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-') || space && b == b' '
    })
}

impl<'a> Config<'a> {
    /// Checks the header, decodes the body and validates every field while reading it, each
    /// unit's dmz config included (its structure; the values are validated by the transition
    /// in the child).
    #[inline(never)]
    pub fn decode(blob: &'a [u8]) -> Result<Self, Invalid> {
        let mut cfg = None;
        let mut why = None;
        let (bad, _) = dmz::config::decode(blob, MAGIC, VERSION, MAX_CONFIG_LEN, |r| {
            let mut b = Body { r, why: None };
            cfg = Some(b.config());
            why = b.why;
        });
        match (why, bad, cfg) {
            (Some(why), _, _) => Err(why),
            (None, Bad::None, Some(c)) => Ok(c),
            (None, bad, _) => Err(Invalid::Format(bad)),
        }
    }

    /// Encodes header + body into `out`; returns the blob's length, or `None` if it does not
    /// fit (or exceeds [`MAX_CONFIG_LEN`]). For tests: the launcher writes with postcard.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let limit = out.len().min(MAX_CONFIG_LEN);
        let (head, body) = out.get_mut(..limit)?.split_at_mut_checked(HEADER_LEN)?;
        let mut w = Writer::new(body);
        ConfigWriter::config(&mut w, self)?;
        let n = w.len();
        write_header(head, MAGIC, VERSION, &body[..n]);
        Some(HEADER_LEN + n)
    }
}

/// init's fields read from the body, with the checks that are init's: the first that fails,
/// unless the body turned out malformed before it (then that is the error).
struct Body<'a, 'r> {
    r: &'r mut Reader<'a>,
    why: Option<Invalid>,
}

impl<'a> Body<'a, '_> {
    /// Records `check`'s failure and stops the read (the reader reads zeros from here on).
    fn check(&mut self, check: Result<(), Invalid>) {
        if let Err(why) = check {
            if !self.r.is_bad() {
                self.why = Some(why);
                self.r.malformed();
            }
        }
    }

    /// A list: its count, then its items, each read once here to check it and to find the end.
    fn list<T: Item<'a>>(&mut self, max: usize) -> List<'a, T> {
        let mut count = 0;
        let bytes = self.items(max, &mut count, |r| {
            let item = T::read(r);
            // Past a malformed item the reader reads zeros: not something to check.
            if r.is_bad() {
                Ok(())
            } else {
                item.check()
            }
        });
        List::Encoded { count, bytes }
    }

    /// [`Body::list`]'s loop, one copy for every item type: `item` reads and checks one item.
    /// Sets `count` and returns the list's bytes (apart: the pair would be returned through
    /// memory and copied).
    #[inline(never)]
    fn items(
        &mut self,
        max: usize,
        count: &mut u32,
        item: fn(&mut Reader<'a>) -> Result<(), Invalid>,
    ) -> &'a [u8] {
        *count = self.r.u32();
        if *count as usize > max {
            self.check(Err(Invalid::TooMany));
            *count = 0;
        }
        let start = self.r.rest();
        for _ in 0..*count {
            let checked = item(self.r);
            self.check(checked);
            if self.r.is_bad() {
                break;
            }
        }
        &start[..start.len() - self.r.rest().len()]
    }

    fn action(&mut self) -> Action {
        match tag(self.r, 4) {
            0 => Action::Reboot,
            1 => Action::PowerOff,
            2 => Action::Halt,
            _ => Action::Ignore,
        }
    }

    #[inline(never)]
    fn config(&mut self) -> Config<'a> {
        // Field by field, as in Unit::read.
        let mut c = Config {
            hostname: self.r.bytes().0,
            ctrl_alt_del: self.action(),
            on_error: self.action(),
            error_delay_s: 0,
            shutdown_grace_ms: 0,
            watchdog: None,
            mounts: List::Items(&[]),
            tasks: List::Items(&[]),
            services: List::Items(&[]),
        };
        c.error_delay_s = self.r.u32();
        c.shutdown_grace_ms = self.r.u32();
        if self.r.bool() {
            let w = Watchdog { device: self.r.bytes().0, timeout_s: self.r.u32(), interval_ms: self.r.u32() };
            self.check(match () {
                _ if !c_string(w.device) => Err(Invalid::Path),
                _ if w.interval_ms == 0 => Err(Invalid::Watchdog),
                _ => Ok(()),
            });
            c.watchdog = Some(w);
        }
        c.mounts = self.list(MAX_MOUNTS);
        c.tasks = self.list(MAX_UNITS);
        c.services = self.list(MAX_UNITS);
        c
    }
}

/// Encoder for the body: dmz's config writer (the same wire format), plus init's lists and
/// config below.
struct ConfigWriter;

impl ConfigWriter {
    fn list<'a, T: Item<'a>>(w: &mut Writer, l: &List<'a, T>) -> Option<()> {
        w.varint(l.len() as u64)?;
        l.iter().try_for_each(|item| item.write(w))
    }

    fn config(w: &mut Writer, c: &Config) -> Option<()> {
        w.bytes(c.hostname)?;
        w.varint(c.ctrl_alt_del as u64)?;
        w.varint(c.on_error as u64)?;
        w.varint(c.error_delay_s as u64)?;
        w.varint(c.shutdown_grace_ms as u64)?;
        match &c.watchdog {
            None => w.byte(0)?,
            Some(d) => {
                w.byte(1)?;
                w.bytes(d.device)?;
                w.varint(d.timeout_s as u64)?;
                w.varint(d.interval_ms as u64)?;
            }
        }
        Self::list(w, &c.mounts)?;
        Self::list(w, &c.tasks)?;
        Self::list(w, &c.services)?;
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
            uid: Some(1000),
            gid: Some(1000),
            groups: Some(heapless::Vec::new()),
            chown_stdio: false,
            umask: 0o22,
            caps: None,
            securebits: None,
            no_new_privs: true,
            rlimits: heapless::Vec::new(),
            oom_score_adj: None,
            preserve_fds: heapless::Vec::new(),
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
            timeout_ms: 0,
            output: Output::Console,
            log_file: b"",
            log_max_bytes: 0,
            cgroup: b"",
            ready: READY_STARTED,
            ready_timeout_ms: 0,
            watchdog_ms: 0,
            after: b"",
            requires: b"",
        }
    }

    fn leak<T>(v: std::vec::Vec<T>) -> &'static [T] {
        std::boxed::Box::leak(v.into_boxed_slice())
    }

    fn sample(dmz: &'static [u8]) -> Config<'static> {
        let mount = Mount { source: b"tmpfs\0", target: b"/var\0", fstype: b"tmpfs\0", flags: 6, data: b"" };
        Config {
            hostname: b"edge-1",
            ctrl_alt_del: Action::Reboot,
            on_error: Action::PowerOff,
            error_delay_s: 10,
            shutdown_grace_ms: 2000,
            watchdog: Some(Watchdog { device: b"/dev/watchdog\0", timeout_s: 30, interval_ms: 10_000 }),
            mounts: List::Items(leak(vec![mount])),
            tasks: List::Items(leak(vec![unit(b"setup", dmz)])),
            services: List::Items(leak(vec![unit(b"web", dmz), unit(b"probe.1", dmz)])),
        }
    }

    /// `c` with item `i` of its services (or tasks, mounts) changed by `f`.
    fn with_service(c: &Config<'static>, i: usize, f: impl Fn(&mut Unit<'static>)) -> Config<'static> {
        let mut v: std::vec::Vec<_> = c.services.iter().collect();
        f(&mut v[i]);
        Config { services: List::Items(leak(v)), ..c.clone() }
    }

    fn encode(c: &Config) -> std::vec::Vec<u8> {
        let mut buf = vec![0u8; 1 << 16];
        let n = c.encode(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn round_trips() {
        let d = leak(dmz_blob());
        let c = sample(d);
        let blob = encode(&c);
        let back = Config::decode(&blob).unwrap();
        assert!(matches!(back.services, List::Encoded { count: 2, .. }));
        assert_eq!(back, c);
        assert_eq!(back.services.get(1).unwrap().name, b"probe.1");
        assert_eq!(back.services.get(2), None);
        assert!(core::mem::size_of::<Config>() <= 200, "a decoded config stays small");
    }

    #[test]
    fn refuses_damage() {
        let d = leak(dmz_blob());
        let blob = encode(&sample(d));
        let mut bad = blob.clone();
        bad[0] = b'X';
        assert_eq!(Config::decode(&bad), Err(Invalid::Format(Bad::Magic)));
        let mut bad = blob.clone();
        bad[4] = 9;
        assert_eq!(Config::decode(&bad), Err(Invalid::Format(Bad::Version)));
        // The version is all four bytes: one canonical form for every valid blob.
        let mut bad = blob.clone();
        bad[7] = 39;
        assert_eq!(Config::decode(&bad), Err(Invalid::Format(Bad::Version)));
        let mut bad = blob.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(Config::decode(&bad), Err(Invalid::Format(Bad::Crc)));
        assert_eq!(Config::decode(&blob[..blob.len() - 1]), Err(Invalid::Format(Bad::TruncatedBody)));
        let mut long = blob.clone();
        long.push(0);
        assert_eq!(Config::decode(&long), Err(Invalid::Format(Bad::TrailingBytes)));
        assert_eq!(Config::decode(&blob[..10]), Err(Invalid::Format(Bad::TruncatedHeader)));
    }

    #[test]
    fn validates_fields() {
        let d = leak(dmz_blob());
        let c = sample(d);
        let bad = with_service(&c, 0, |u| u.name = b"has space");
        assert_eq!(Config::decode(&encode(&bad)), Err(Invalid::Name));
        let bad = with_service(&c, 1, |u| u.stop_signal = 65);
        assert_eq!(Config::decode(&encode(&bad)), Err(Invalid::Signal));
        let bad = with_service(&c, 1, |u| u.dmz = &d[..d.len() - 1]);
        assert_eq!(Config::decode(&encode(&bad)), Err(Invalid::UnitDmz));
        for limits in [&b"64M\0\0\0"[..], b"1\0\0\0\0\0", b"\0\0\0\0x"] {
            let bad = with_service(&c, 1, |u| u.cgroup = limits);
            assert_eq!(Config::decode(&encode(&bad)), Err(Invalid::Cgroup), "{limits:?}");
        }
        let good = with_service(&c, 1, |u| u.cgroup = b"1048576\0\0\0max 100000\0");
        assert_eq!(Config::decode(&encode(&good)).unwrap(), good);
        let m = Mount { source: b"tmpfs\0", target: b"/var", fstype: b"tmpfs\0", flags: 0, data: b"" };
        let bad = Config { mounts: List::Items(leak(vec![m])), ..c.clone() };
        assert_eq!(Config::decode(&encode(&bad)), Err(Invalid::Path));
        let mut bad = c.clone();
        bad.watchdog.as_mut().unwrap().interval_ms = 0;
        assert_eq!(Config::decode(&encode(&bad)), Err(Invalid::Watchdog));
        let bad = with_service(&c, 0, |u| u.log_file = b"/run/x.log");
        assert_eq!(Config::decode(&encode(&bad)), Err(Invalid::Path), "no NUL");
        let long: &'static [u8] = leak([&[b'/'; MAX_LOG_FILE][..], b"\0"].concat());
        let bad = with_service(&c, 0, |u| u.log_file = long);
        assert_eq!(Config::decode(&encode(&bad)), Err(Invalid::Path), "longer than MAX_LOG_FILE");
        let many: std::vec::Vec<_> = (0..33).map(|_| unit(b"x", d)).collect();
        let bad = Config { tasks: List::Items(leak(many)), ..c.clone() };
        assert_eq!(Config::decode(&encode(&bad)), Err(Invalid::TooMany));
    }

    /// A blob whose error delay and one mount's flags are the raw varint bytes given.
    fn with_varints(delay: &[u8], flags: &[u8]) -> std::vec::Vec<u8> {
        let mut body = vec![0, 0, 0]; // hostname, ctrl_alt_del, on_error
        body.extend_from_slice(delay);
        body.extend_from_slice(&[0, 0, 1]); // shutdown_grace_ms, watchdog, one mount
        body.extend_from_slice(&[2, b'a', 0, 2, b'b', 0, 2, b'c', 0]);
        body.extend_from_slice(flags);
        body.extend_from_slice(&[0, 0, 0]); // data, tasks, services
        let mut blob = vec![0u8; HEADER_LEN];
        write_header(&mut blob, MAGIC, VERSION, &body);
        blob.extend_from_slice(&body);
        blob
    }

    #[test]
    fn varints_have_one_canonical_form() {
        let b = with_varints(&[10], &[6]);
        let c = Config::decode(&b).unwrap();
        assert_eq!((c.error_delay_s, c.mounts.get(0).unwrap().flags), (10, 6));
        let top = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let b = with_varints(&[10], &top);
        assert_eq!(Config::decode(&b).unwrap().mounts.get(0).unwrap().flags, u64::MAX);
        // Zero padding, and a 10th byte with bits past bit 63.
        assert_eq!(Config::decode(&with_varints(&[0x8a, 0x00], &[6])), Err(Invalid::Format(Bad::Malformed)));
        assert_eq!(
            Config::decode(&with_varints(&[10], &[0x86, 0x80, 0x00])),
            Err(Invalid::Format(Bad::Malformed))
        );
        let mut over = top;
        over[9] = 0x02;
        assert_eq!(Config::decode(&with_varints(&[10], &over)), Err(Invalid::Format(Bad::Malformed)));
        // An enum tag in two bytes.
        let mut b = with_varints(&[10], &[6]);
        b[HEADER_LEN + 1] = 0x81;
        b.insert(HEADER_LEN + 2, 0x00);
        let body = b[HEADER_LEN..].to_vec();
        write_header(&mut b, MAGIC, VERSION, &body);
        assert_eq!(Config::decode(&b), Err(Invalid::Format(Bad::Malformed)));
    }

    #[test]
    fn units_are_checked_once_when_decoded_not_at_every_walk() {
        // Checking a unit decodes its dmz config (a CRC over all of it). init walks the
        // service list on every turn of its loop and for every service at shutdown: those
        // walks only parse. Shown with list bytes in which a unit's dmz config is broken
        // after the decode: the walk still yields both units.
        let d = leak(dmz_blob());
        let c = sample(d);
        let blob = encode(&c);
        let List::Encoded { count, bytes } = Config::decode(&blob).unwrap().services else {
            panic!("a decoded list is encoded")
        };
        let mut broken = bytes.to_vec();
        let at = broken.windows(d.len()).position(|w| w == d).unwrap();
        broken[at + d.len() - 1] ^= 1;
        let walked: std::vec::Vec<Unit> = List::Encoded { count, bytes: &broken[..] }.iter().collect();
        assert_eq!(walked.len(), 2);
        assert_eq!((walked[0].name, walked[1].name), (&b"web"[..], &b"probe.1"[..]));
        // The same bytes given to decode are refused.
        let bad_dmz = leak(walked[0].dmz.to_vec());
        let bad = with_service(&c, 0, |u| u.dmz = bad_dmz);
        assert_eq!(Config::decode(&encode(&bad)), Err(Invalid::UnitDmz));
    }

    /// Every body cut short is malformed, never reported as one of init's own checks on the
    /// zeros the reader returns past the end (a name, a path, a signal).
    #[test]
    fn every_truncated_body_is_malformed() {
        let d = leak(dmz_blob());
        let blob = encode(&sample(d));
        let body = &blob[HEADER_LEN..];
        for n in 0..body.len() {
            let mut b = vec![0u8; HEADER_LEN];
            write_header(&mut b, MAGIC, VERSION, &body[..n]);
            b.extend_from_slice(&body[..n]);
            assert_eq!(Config::decode(&b), Err(Invalid::Format(Bad::Malformed)), "{n}");
        }
    }

    #[test]
    fn a_task_timeout_round_trips() {
        let d = leak(dmz_blob());
        let c = sample(d);
        let mut t = c.tasks.get(0).unwrap();
        t.timeout_ms = 90_000;
        let c = Config { tasks: List::Items(leak(vec![t])), ..c };
        let blob = encode(&c);
        assert_eq!(Config::decode(&blob).unwrap().tasks.get(0).unwrap().timeout_ms, 90_000);
    }

    #[test]
    fn captured_output_round_trips() {
        let d = leak(dmz_blob());
        let c = with_service(&sample(d), 1, |u| {
            u.output = Output::Capture;
            u.log_file = b"/run/log/probe.log\0";
            u.log_max_bytes = 65_536;
        });
        let blob = encode(&c);
        let s = Config::decode(&blob).unwrap().services.get(1).unwrap();
        assert_eq!(
            (s.output, s.log_file, s.log_max_bytes),
            (Output::Capture, &b"/run/log/probe.log\0"[..], 65_536)
        );
        // An output tag other than 0 and 1 is malformed.
        // log_file, log_max_bytes (3 bytes), the (empty) cgroup values and the readiness
        // fields (0, 0, 0, no after, no requires: 5 bytes) follow the tag.
        let at = blob.len() - 5 - 1 - 3 - (1 + 19) - 1;
        assert_eq!(blob[at], 1);
        let mut bad = blob.clone();
        bad[at] = 2;
        let body = bad[HEADER_LEN..].to_vec();
        write_header(&mut bad, MAGIC, VERSION, &body);
        assert_eq!(Config::decode(&bad), Err(Invalid::Format(Bad::Malformed)));
    }

    #[test]
    fn keepalive_is_a_third_of_the_timeout_the_driver_reports() {
        let w = |interval_ms| Watchdog { device: b"/dev/watchdog\0", timeout_s: 3000, interval_ms };
        // The driver refused 3000 s (above its maximum) and runs with 2 s: every 666 ms, not
        // every 1000 s.
        assert_eq!(w(1_000_000).keepalive_ms(Some(2)), 666);
        // A configured interval already below a third is kept.
        assert_eq!(w(500).keepalive_ms(Some(30)), 500);
        // A driver that does not report (or reports 0): the configured interval.
        assert_eq!(w(10_000).keepalive_ms(None), 10_000);
        assert_eq!(w(10_000).keepalive_ms(Some(0)), 10_000);
        // No overflow at the top of the range.
        assert_eq!(w(u32::MAX).keepalive_ms(Some(u32::MAX)), u32::MAX);
        assert_eq!(third_of(u32::MAX), u32::MAX);
        assert_eq!(third_of(4_294_968), 1_431_656_000);
        assert_eq!(third_of(1), 333);
        assert_eq!(third_of(0), 1);
    }

    /// Each error's text, as init's log lines and the control replies show it.
    #[test]
    fn every_error_has_its_text() {
        let texts = [
            (Invalid::Format(Bad::TooLarge), "larger than the maximum of 4 MiB"),
            (Invalid::Format(Bad::TruncatedHeader), "truncated header"),
            (Invalid::Format(Bad::Magic), "not an init config"),
            (Invalid::Format(Bad::Version), "unsupported format version"),
            (Invalid::Format(Bad::TruncatedBody), "truncated body"),
            (Invalid::Format(Bad::TrailingBytes), "trailing bytes after body"),
            (Invalid::Format(Bad::Crc), "CRC mismatch"),
            (Invalid::Format(Bad::TrailingInBody), "trailing bytes inside body"),
            (Invalid::Format(Bad::Malformed), "malformed body"),
            (Invalid::Format(Bad::None), "malformed body"),
            (Invalid::Format(Bad::Args), "malformed body"),
            (Invalid::Name, "bad task or service name"),
            (Invalid::UnitDmz, "bad dmz config in a task or service"),
            (Invalid::Path, "path not NUL-terminated or with interior NUL"),
            (Invalid::Signal, "stop signal outside 1..=64"),
            (Invalid::Watchdog, "watchdog interval is 0"),
            (Invalid::TooMany, "more than 32 mounts, tasks or services"),
            (Invalid::Cgroup, "bad cgroup limits in a service"),
            (Invalid::Ready, "readiness fd 2"),
        ];
        for (invalid, text) in texts {
            assert_eq!(invalid.text(), text, "{invalid:?}");
        }
    }

    #[test]
    fn encode_refuses_a_short_buffer() {
        let d = leak(dmz_blob());
        let c = sample(d);
        let n = encode(&c).len();
        let mut buf = vec![0u8; n - 1];
        assert_eq!(c.encode(&mut buf), None);
    }
}
