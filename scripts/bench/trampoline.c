/*
 * An exec-only static trampoline without libc, as runc-dmz is: execve(argv[1], argv + 1,
 * envp), nothing else; exit 126 if that fails, 125 without a program. The benchmark's
 * baseline for what a trampoline costs at the least (scripts/bench-dmz).
 * Build: gcc -static -nostdlib -O2 -o trampoline trampoline.c (x86_64, aarch64).
 */
static long syscall3(long n, long a, long b, long c)
{
    long ret;
#if defined(__x86_64__)
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    ret = x0;
#endif
    return ret;
}

#if defined(__x86_64__)
enum { NR_EXECVE = 59, NR_EXIT_GROUP = 231 };
#elif defined(__aarch64__)
enum { NR_EXECVE = 221, NR_EXIT_GROUP = 94 };
#else
#error "x86_64 or aarch64"
#endif

/* sp: the initial stack, [argc, argv..., NULL, envp..., NULL, auxv...]. */
__attribute__((used, noreturn)) static void start(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    if (argc >= 2)
        syscall3(NR_EXECVE, (long)argv[1], (long)(argv + 1), (long)envp);
    syscall3(NR_EXIT_GROUP, argc >= 2 ? 126 : 125, 0, 0);
    __builtin_unreachable();
}

__attribute__((naked, noreturn)) void _start(void)
{
#if defined(__x86_64__)
    __asm__("mov %rsp, %rdi\n\t"
            "and $-16, %rsp\n\t"
            "call start");
#elif defined(__aarch64__)
    __asm__("mov x0, sp\n\t"
            "bl start");
#endif
}
