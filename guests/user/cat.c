/* cat: each argument is opened and copied to stdout; a failure prints
 * "PATH: -ERRNO" on stdout and the exit status counts the failures. */
#include "sys.h"

int main(int argc, char **argv, char **envp, u64 *auxv)
{
    char buf[512];
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        i64 fd = syscall4(SYS_openat, AT_FDCWD, argv[i], O_RDONLY, 0);
        if (fd < 0) {
            puts1(argv[i]); puts1(": "); putnum(1, fd); puts1("\n");
            failed++;
            continue;
        }
        i64 n;
        while ((n = syscall3(SYS_read, fd, buf, sizeof buf)) > 0)
            syscall3(SYS_write, 1, buf, n);
        if (n < 0) { puts1(argv[i]); puts1(": read "); putnum(1, n); puts1("\n"); failed++; }
        syscall1(SYS_close, fd);
    }
    return failed;
}
