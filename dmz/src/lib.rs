//! dmz: applies a compiled privilege config and execs the target.
//!
//! The library half holds the config schema (shared with launcher, which encodes it), the
//! ordered transition (generic over [`transition::Kernel`] so tests can record it) and the
//! real kernel binding. The `dmz` binary (src/main.rs) reads a config and runs it.
#![cfg_attr(not(test), no_std)]

pub mod config;
pub mod error;
pub mod transition;

#[cfg(target_os = "linux")]
pub mod sys;

pub use config::Config;
pub use error::{Error, Step};
pub use transition::{transition, validate, Kernel, Prepared};

/// Decodes, validates and runs `blob` against kernel `k`. Returns only on failure, after
/// reporting it in one line; the value is the exit status. Nothing is executed after a
/// failed step. The pointer arrays and the PATH buffer are on the stack (20 KiB): for tests
/// and callers with a normal stack; the dmz binary uses [`run_in`].
pub fn run<K: Kernel>(k: &mut K, blob: &[u8]) -> i32 {
    let mut ptrs = [core::ptr::null(); transition::PTR_SLOTS];
    let mut path = [0; transition::PATH_MAX];
    run_in(k, blob, &mut ptrs, &mut path)
}

/// [`run`] with the argv/envp pointer arrays built in `ptrs` and PATH candidates in `path`
/// (see [`Prepared::new`]).
pub fn run_in<K: Kernel>(k: &mut K, blob: &[u8], ptrs: &mut [*const u8], path: &mut [u8]) -> i32 {
    run_args(k, blob, None, ptrs, path)
}

/// [`run_in`], with the config's program and arguments replaced by `args` (a NUL-terminated
/// list, as [`Config::args`]) when given: init's container mode runs a `--dmz` config with
/// the command line's program.
pub fn run_args<K: Kernel>(
    k: &mut K,
    blob: &[u8],
    args: Option<&[u8]>,
    ptrs: &mut [*const u8],
    path: &mut [u8],
) -> i32 {
    let mut cfg = Config::default();
    let (err, name) = match cfg.decode_into(blob) {
        Err(e) => (e, &[][..]),
        Ok(()) => {
            if let Some(a) = args {
                cfg.args = config::Bytes(a);
            }
            let mut p = Prepared::new(ptrs, path);
            let err = match validate(k, &cfg, &mut p) {
                Err(e) => e,
                Ok(()) => transition(k, &cfg, &mut p),
            };
            let name = match err.step {
                Step::Chdir => cfg.cwd.0,
                _ => transition::program(&cfg),
            };
            (err, name)
        }
    };
    fail(k, err, name)
}

/// [`run_args`] for a caller that holds the config in memory (init's children): the pointer
/// arrays and the PATH buffer are in a fresh mapping sized to the config (no more pointers
/// than the strings' bytes), as the dmz binary's, not 20 KiB of stack zeroed for every
/// start. Returns only on failure, after reporting it. (Generic, so that only a crate that
/// calls it compiles it: the dmz binary's inlining is not changed by a second caller of
/// [`run_args`].)
#[cfg(target_os = "linux")]
pub fn run_mapped<K: Kernel>(k: &mut K, blob: &[u8], args: Option<&[u8]>) -> i32 {
    let strings = blob.len() + args.map_or(0, <[u8]>::len);
    let slots = strings.min(config::MAX_ARGS + config::MAX_ENV) + 2;
    match sys::scratch(0, slots) {
        Ok(s) => run_args(k, blob, args, s.ptrs, s.path),
        Err(e) => fail(k, Error::new(Step::ReadConfig, e, 0), b""),
    }
}

/// Reports `err` (with `name`, the path it concerns, if any) and returns its exit status.
pub fn fail<K: Kernel>(k: &mut K, err: Error, name: &[u8]) -> i32 {
    let mut line = error::Line::default();
    err.write_message(&mut line, name);
    k.report(line.as_bytes());
    err.exit_code()
}
