/*
 * trampoline: an exec-only trampoline, like runc-dmz. It changes nothing and
 * execve's argv[1..] with the inherited environment. Used by tests/seed.rs to
 * reproduce the seed bug (docs/design.md §2): when the runtime applies the
 * capabilities and NNP and then execs this, the kernel computes the target's
 * permitted set at *this* exec (no file caps: P' = ambient = 0), and with
 * NNP the next exec of a file-capable target cannot gain back more than that.
 */
#include <stdio.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: trampoline PROGRAM [ARGS...]\n");
        return 125;
    }
    execve(argv[1], argv + 1, environ);
    perror("trampoline: execve");
    return 126;
}
