//! init: a static no-libc PID 1.
//!
//! The `init` binary (src/main.rs) has two modes: a tini-compatible container init
//! (`init [OPTIONS] -- CMD [ARGS...]`) and a small system init for edge images (PID 1 without
//! a command), which reads its configuration from a compiled file. This library half holds
//! what the launcher shares with it: the config schema and codec ([`config`]) and signal names
//! ([`signal`]). See README.md for the config path, the kernel command line and the log lines.
#![cfg_attr(not(test), no_std)]

pub mod config;
pub mod signal;
pub mod text;
