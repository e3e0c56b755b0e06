/*
 * The benchmark's target (scripts/bench-dmz): a static program without libc that exits 0 at
 * once, so each chain's own cost is not hidden behind the target's start-up.
 * Build: gcc -static -nostdlib -O2 -o noop noop.c (x86_64, aarch64).
 */
__attribute__((naked, noreturn)) void _start(void)
{
#if defined(__x86_64__)
    __asm__("mov $231, %eax\n\t" /* exit_group */
            "xor %edi, %edi\n\t"
            "syscall");
#elif defined(__aarch64__)
    __asm__("mov x8, #94\n\t" /* exit_group */
            "mov x0, #0\n\t"
            "svc #0");
#else
#error "x86_64 or aarch64"
#endif
}
