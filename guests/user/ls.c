/* ls: the names getdents64 returns for a directory (argument, default "."),
 * sorted here so the listing does not depend on the file system's order,
 * each with its d_type. */
#include "sys.h"

struct dirent64 { u64 ino; i64 off; unsigned short reclen; u8 type; char name[]; };

static char names[8192];
static char *list[256];
static u8 types[256];

int main(int argc, char **argv, char **envp, u64 *auxv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    i64 fd = syscall4(SYS_openat, AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) { puts1("open: "); putnum(1, fd); puts1("\n"); return 1; }
    char buf[1024];
    int count = 0;
    u64 used = 0;
    for (;;) {
        i64 n = syscall3(SYS_getdents64, fd, buf, sizeof buf);
        if (n < 0) { puts1("getdents64: "); putnum(1, n); puts1("\n"); return 1; }
        if (n == 0) break;
        for (i64 pos = 0; pos < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + pos);
            u64 len = slen(d->name) + 1;
            if (count < 256 && used + len <= sizeof names) {
                for (u64 i = 0; i < len; i++) names[used + i] = d->name[i];
                list[count] = names + used;
                types[count++] = d->type;
                used += len;
            }
            pos += d->reclen;
        }
    }
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && scmp(list[j - 1], list[j]) > 0; j--) {
            char *t = list[j]; list[j] = list[j - 1]; list[j - 1] = t;
            u8 u = types[j]; types[j] = types[j - 1]; types[j - 1] = u;
        }
    for (int i = 0; i < count; i++) {
        puts1(list[i]);
        puts1(types[i] == 4 ? " dir\n" : types[i] == 8 ? " file\n" : types[i] == 10 ? " link\n" : " other\n");
    }
    return 0;
}
