/* Processes: fork (clone with SIGCHLD), a pipe from child to parent, wait4
 * with the child's exit status, then a child that execve's another program
 * found through argv[1] (default "hello") and passes its status back. */
#include "sys.h"

#define SIGCHLD 17

int main(int argc, char **argv, char **envp, u64 *auxv)
{
    int fds[2];
    if (syscall2(SYS_pipe2, fds, 0) != 0) { puts1("pipe2 failed\n"); return 1; }
    i64 pid = syscall5(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        syscall1(SYS_close, fds[0]);
        for (int i = 0; i < 3; i++) out(fds[1], "message from the child\n");
        return 42;
    }
    syscall1(SYS_close, fds[1]);
    char buf[256];
    i64 n, total = 0;
    while ((n = syscall3(SYS_read, fds[0], buf, sizeof buf)) > 0) {
        syscall3(SYS_write, 1, buf, n);
        total += n;
    }
    puts1("parent read "); putnum(1, total); puts1(" bytes, then EOF\n");
    int status = 0;
    i64 w = syscall4(SYS_wait4, -1, &status, 0, 0);
    puts1("wait4 = child: "); putnum(1, w == pid); puts1(", exit status "); putnum(1, (status >> 8) & 255); puts1("\n");
    puts1("wait4 again = "); putnum(1, syscall4(SYS_wait4, -1, &status, 0, 0)); puts1("\n");

    const char *prog = argc > 1 ? argv[1] : "hello";
    pid = syscall5(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        char *cargv[] = {(char *)prog, "5", 0};
        char *cenv[] = {"FROM=fork", 0};
        i64 r = syscall3(SYS_execve, prog, cargv, cenv);
        puts1("execve failed: "); putnum(1, r); puts1("\n");
        return 99;
    }
    syscall4(SYS_wait4, pid, &status, 0, 0);
    puts1("exec'd child exit status "); putnum(1, (status >> 8) & 255); puts1("\n");
    return 0;
}
