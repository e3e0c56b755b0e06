//! The no-libc runtime shared by `dmz` and `init`.
//!
//! - [`_start`](start) for x86_64, aarch64, armv7, riscv64 and i686: hands the initial stack
//!   pointer to Rust, which splits it into argc/argv/envp and calls the binary's `main`
//!   (declared with [`entry!`]).
//! - A panic handler that never formats (`core::fmt` costs ~4 KB).
//! - `memcpy`, `memmove`, `memset`, `memcmp`, `bcmp`: compiler_builtins leaves them to libc on
//!   Linux targets, and there is no libc here.
//! - Raw syscalls: [`sys::syscall5`] (out of line, dmz's syscalls go through it) and the
//!   wrappers [`execve`], [`exit_group`], [`seccomp_set_mode_filter`], [`close_range`],
//!   [`sys::read`], [`write_all`], and for init [`sys::fork`], [`sys::sigprocmask`],
//!   [`sys::signalfd`], [`sys::monotonic_ms`].
//!
//! The link recipe (linker script and flags) is `link.ld` and `recipe.rs` beside this crate.
#![no_std]

pub mod mem;
pub mod start;
pub mod sys;

pub use start::Args;
pub use sys::{close_range, execve, exit_group, seccomp_set_mode_filter, write_all};

/// Declares the binary's entry point, `fn main(args: Args) -> i32`, and the runtime that only
/// a no-libc binary may have: `_start`, the panic handler and the C mem functions. (Kept out of
/// the library itself so a std program can link this crate's syscalls.)
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[no_mangle]
        unsafe extern "C" fn __dmzkit_start(sp: *const usize) -> ! {
            // SAFETY: only `_start` calls this, once, with the kernel's initial stack pointer.
            unsafe { $crate::start::start(sp, $main) }
        }

        $crate::__start_asm!(__dmzkit_start);

        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
            // Never read PanicInfo: touching it pulls in core::fmt.
            $crate::panic()
        }

        /// Non-LTO builds of core reference this symbol even with panic=abort.
        #[no_mangle]
        extern "C" fn rust_eh_personality() {}

        #[no_mangle]
        unsafe extern "C" fn memcpy(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
            // SAFETY: the C memcpy contract, forwarded.
            unsafe { $crate::mem::memcpy(d, s, n) }
        }
        #[no_mangle]
        unsafe extern "C" fn memmove(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
            // SAFETY: the C memmove contract, forwarded.
            unsafe { $crate::mem::memmove(d, s, n) }
        }
        #[no_mangle]
        unsafe extern "C" fn memset(d: *mut u8, c: i32, n: usize) -> *mut u8 {
            // SAFETY: the C memset contract, forwarded.
            unsafe { $crate::mem::memset(d, c, n) }
        }
        #[no_mangle]
        unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
            // SAFETY: the C memcmp contract, forwarded.
            unsafe { $crate::mem::memcmp(a, b, n) }
        }
        #[no_mangle]
        unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
            // SAFETY: the C bcmp contract, forwarded.
            unsafe { $crate::mem::memcmp(a, b, n) }
        }
        #[no_mangle]
        unsafe extern "C" fn strlen(s: *const u8) -> usize {
            // SAFETY: the C strlen contract, forwarded.
            unsafe { $crate::mem::strlen(s) }
        }
    };
}

/// Exit status of a dmzkit program that failed before exec (docs/design.md §4): dmz, init's
/// children and container-mode init, launcher.
pub const FAILED: i32 = 125;

/// Exit status used when the program panics: the same "failed before exec" code, so a bug can
/// never be mistaken for the target's own status.
pub const PANIC_EXIT: i32 = FAILED;

/// What the panic handler does: one line on stderr, exit 125. Never formats.
pub fn panic() -> ! {
    write_all(2, b"fatal: internal error (panic)\n");
    exit_group(PANIC_EXIT)
}
