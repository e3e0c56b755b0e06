//! Process entry: `_start` per architecture, then argc/argv/envp for the binary's main.

use core::ffi::CStr;

/// The process's arguments and environment as the kernel laid them out on the initial stack.
#[derive(Clone, Copy)]
pub struct Args {
    argc: usize,
    argv: *const *const u8,
    envp: *const *const u8,
}

impl Args {
    /// Number of arguments, argv[0] included.
    pub fn len(&self) -> usize {
        self.argc
    }

    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// Argument `i` (without its NUL), or `None` past the end.
    pub fn get(&self, i: usize) -> Option<&'static CStr> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: the kernel placed argc valid pointers to NUL-terminated strings at argv,
        // and they live (unmodified by us) for the whole life of the process.
        unsafe { Some(cstr(*self.argv.add(i))) }
    }

    /// argv as the kernel passed it: a NULL-terminated array of `argc` strings. From index `i`
    /// on it is itself a valid argv for execve.
    pub fn argv(&self) -> *const *const u8 {
        self.argv
    }

    /// Arguments `i..` as the kernel stored them: back to back, each followed by its NUL
    /// ("ls\0-l\0"), the layout /proc/PID/cmdline shows (fs/exec.c copies the strings in
    /// order into one block). `None` if there is no argument `i`, or if the strings are
    /// somehow not contiguous (checked, never assumed).
    pub fn strings_from(&self, i: usize) -> Option<&'static [u8]> {
        let first = self.get(i)?.as_ptr().cast::<u8>();
        let mut end = first;
        for k in i..self.argc {
            let s = self.get(k)?;
            if !core::ptr::eq(s.as_ptr().cast::<u8>(), end) {
                return None;
            }
            // SAFETY: `s` and its NUL lie in the kernel's argument block, so one past its NUL
            // is still within (or one past the end of) that block.
            end = unsafe { end.add(s.to_bytes().len() + 1) };
        }
        // SAFETY: every byte from `first` to `end` belongs to the strings just checked to be
        // contiguous; they live, unmodified, for the whole life of the process.
        Some(unsafe { core::slice::from_raw_parts(first, end as usize - first as usize) })
    }

    /// The environment as the kernel passed it: a NULL-terminated array of "KEY=VALUE".
    pub fn envp(&self) -> *const *const u8 {
        self.envp
    }

    /// Value of environment variable `key` (given without '='), if set.
    pub fn env(&self, key: &[u8]) -> Option<&'static [u8]> {
        let mut p = self.envp;
        loop {
            // SAFETY: envp is the kernel's NULL-terminated array; we stop at the NULL.
            let s = unsafe { *p };
            if s.is_null() {
                return None;
            }
            // SAFETY: every non-NULL entry is a NUL-terminated string that lives forever.
            let kv = unsafe { cstr(s) }.to_bytes();
            if kv.len() > key.len() && kv[key.len()] == b'=' && &kv[..key.len()] == key {
                return Some(&kv[key.len() + 1..]);
            }
            // SAFETY: not yet at the terminating NULL, so the next slot exists.
            p = unsafe { p.add(1) };
        }
    }
}

/// # Safety
/// `p` must point to a NUL-terminated string that lives for the rest of the process.
unsafe fn cstr(p: *const u8) -> &'static CStr {
    // SAFETY: guaranteed by the caller; `strlen` comes from this crate's mem module.
    unsafe { CStr::from_ptr(p.cast()) }
}

/// Splits the initial stack into [`Args`], runs `main`, and exits with its status.
///
/// # Safety
/// Only `_start` may call this (through [`entry!`](crate::entry)), once, with the kernel's
/// initial stack pointer: `[argc, argv[0..argc], NULL, envp..., NULL, auxv...]`.
#[inline(always)] // called once, from `__dmzkit_start`
pub unsafe fn start(sp: *const usize, main: fn(Args) -> i32) -> ! {
    // SAFETY: the kernel's initial stack layout (ELF ABI): argc first.
    let argc = unsafe { *sp };
    // SAFETY: same layout: argv starts right after argc.
    let argv = unsafe { sp.add(1) } as *const *const u8;
    // SAFETY: same layout: envp starts right after argv's NULL.
    let envp = unsafe { argv.add(argc + 1) };
    crate::exit_group(main(Args { argc, argv, envp }))
}

// `_start`, per architecture, expanded by `entry!` in the binary (a std program that links
// this crate must not get a second `_start`). Each one clears the frame pointer/return address (outermost frame for debuggers),
// passes the initial stack pointer as the first argument, aligns the stack as the
// procedure-call ABI requires, and calls __dmzkit_start, which never returns.

#[cfg(target_arch = "x86_64")]
#[doc(hidden)]
#[macro_export]
macro_rules! __start_asm {
    ($start:ident) => {
        core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "xor ebp, ebp",            // outermost frame
    "mov rdi, rsp",            // arg0 = initial sp (points at argc)
    "and rsp, -16",            // SysV: 16-byte aligned before the call
    "call {start}",            // never returns
    "ud2",                     // trap if it ever does
    start = sym $start,
        );
    };
}

#[cfg(target_arch = "aarch64")]
#[doc(hidden)]
#[macro_export]
macro_rules! __start_asm {
    ($start:ident) => {
        core::arch::global_asm!(
    ".globl _start",
    ".type _start,%function",
    "_start:",
    "mov x29, xzr",            // outermost frame: no frame pointer
    "mov x30, xzr",            // and no return address
    "mov x0, sp",              // arg0 = initial sp (16-byte aligned by the kernel)
    "bl {start}",              // never returns
    "udf #0",                  // trap if it ever does
    start = sym $start,
        );
    };
}

#[cfg(target_arch = "arm")]
#[doc(hidden)]
#[macro_export]
macro_rules! __start_asm {
    ($start:ident) => {
        core::arch::global_asm!(
    ".globl _start",
    ".type _start,%function",
    "_start:",
    "mov fp, #0",              // outermost frame
    "mov lr, #0",              // no return address
    "mov r0, sp",              // arg0 = initial sp
    "bic sp, sp, #7",          // AAPCS: 8-byte aligned stack at a public interface
    "bl {start}",              // never returns (the linker turns this into blx for Thumb)
    "udf #0",                  // trap if it ever does
    start = sym $start,
        );
    };
}

#[cfg(target_arch = "riscv64")]
#[doc(hidden)]
#[macro_export]
macro_rules! __start_asm {
    ($start:ident) => {
        core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "li fp, 0",                // outermost frame
    "li ra, 0",                // no return address
    "mv a0, sp",               // arg0 = initial sp
    "andi sp, sp, -16",        // psABI: 16-byte aligned stack
    "call {start}",            // never returns
    "unimp",                   // trap if it ever does
    start = sym $start,
        );
    };
}

#[cfg(target_arch = "x86")]
#[doc(hidden)]
#[macro_export]
macro_rules! __start_asm {
    ($start:ident) => {
        core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "xor ebp, ebp",            // outermost frame
    "mov eax, esp",            // keep the initial sp
    "and esp, -16",            // i386 psABI: 16-byte aligned at the call
    "sub esp, 12",             // pad so that after the push below esp is still aligned
    "push eax",                // cdecl: arg0 on the stack = initial sp
    "call {start}",            // never returns
    "ud2",                     // trap if it ever does
    start = sym $start,
        );
    };
}
