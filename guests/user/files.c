/* File operations in the root: with argument "write", creates dir/, writes
 * dir/new.txt, reads it back through pread and fstat, lists it, removes both;
 * every step prints its result, so under a read-only root the refusals show. */
#include "sys.h"

struct stat64 { u64 dev, ino; u32 mode, nlink, uid, gid; u64 rdev, pad1; i64 size; int blksize, pad2; i64 blocks; i64 t[6]; u32 unused[2]; };

static void show(const char *what, i64 r) { puts1(what); puts1(" = "); putnum(1, r); puts1("\n"); }

int main(int argc, char **argv, char **envp, u64 *auxv)
{
    char buf[64];
    show("mkdirat dir", syscall3(SYS_mkdirat, AT_FDCWD, "dir", 0755));
    i64 fd = syscall4(SYS_openat, AT_FDCWD, "dir/new.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    show("openat dir/new.txt for writing", fd);
    if (fd >= 0) {
        show("write", syscall3(SYS_write, fd, "written inside\n", 15));
        show("close", syscall1(SYS_close, fd));
    }
    fd = syscall4(SYS_openat, AT_FDCWD, "dir/new.txt", O_RDONLY, 0);
    show("openat dir/new.txt for reading", fd);
    if (fd >= 0) {
        struct stat64 st;
        show("fstat", syscall2(SYS_fstat, fd, &st));
        show("size", st.size);
        i64 n = syscall4(SYS_pread64, fd, buf, sizeof buf, 8);
        show("pread64 at 8", n);
        if (n > 0) syscall3(SYS_write, 1, buf, n);
        syscall1(SYS_close, fd);
    }
    show("openat existing.txt for writing", syscall4(SYS_openat, AT_FDCWD, "existing.txt", O_RDWR, 0));
    show("unlinkat dir/new.txt", syscall3(SYS_unlinkat, AT_FDCWD, "dir/new.txt", 0));
    show("unlinkat dir", syscall3(SYS_unlinkat, AT_FDCWD, "dir", 0x200));
    show("symlinkat", syscall3(SYS_symlinkat, "/etc/passwd", AT_FDCWD, "link"));
    return 0;
}
