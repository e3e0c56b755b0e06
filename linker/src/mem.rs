//! The mem functions LLVM emits calls to. compiler_builtins leaves them to libc on Linux
//! targets, and there is no libc. Byte loops, smallest code; each loop body holds an empty
//! `asm!` so LLVM cannot recognise the idiom and turn the loop back into a call to itself.
//!
//! These are plain functions: [`entry!`](crate::entry) exports them under their C names in
//! the binary, so a std program that links this crate (launcher, through dmz's library) keeps
//! its libc's versions.

use core::arch::asm;

#[inline(always)]
fn barrier() {
    // SAFETY: an empty asm block does nothing; it only hides the loop idiom from LLVM.
    unsafe { asm!("", options(nomem, nostack, preserves_flags)) }
}

/// # Safety
/// C `memcpy` contract: `n` bytes readable at `src`, writable at `dst`, no overlap.
#[inline(always)]
pub unsafe fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        // SAFETY: i < n, within both buffers by the caller's contract.
        unsafe { *dst.add(i) = *src.add(i) };
        barrier();
        i += 1;
    }
    dst
}

/// # Safety
/// C `memmove` contract: `n` bytes readable at `src`, writable at `dst`; may overlap.
#[inline(always)]
pub unsafe fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) <= (src as usize) {
        // SAFETY: copying forward never overwrites a byte of src before it is read.
        return unsafe { memcpy(dst, src, n) };
    }
    let mut i = n;
    while i > 0 {
        i -= 1;
        // SAFETY: i < n; copying backward is safe when dst is above src.
        unsafe { *dst.add(i) = *src.add(i) };
        barrier();
    }
    dst
}

/// # Safety
/// C `memset` contract: `n` bytes writable at `dst`.
#[inline(always)]
pub unsafe fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        // SAFETY: i < n, within the buffer by the caller's contract.
        unsafe { *dst.add(i) = c as u8 };
        barrier();
        i += 1;
    }
    dst
}

/// # Safety
/// C `memcmp` contract: `n` bytes readable at both pointers.
#[inline(always)]
pub unsafe fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: i < n, within both buffers by the caller's contract.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return x as i32 - y as i32;
        }
        barrier();
        i += 1;
    }
    0
}

/// # Safety
/// Same contract as [`memcmp`]; only equality matters.
#[inline(always)]
pub unsafe fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { memcmp(a, b, n) }
}

/// # Safety
/// C `strlen` contract: `s` points to a NUL-terminated string.
#[inline(always)]
pub unsafe fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: every byte up to the terminator is readable by the caller's contract.
    while unsafe { *s.add(n) } != 0 {
        barrier();
        n += 1;
    }
    n
}
