/* Memory: the heap grown with brk, an anonymous mmap written and read back,
 * munmap, and mprotect making a page read-only (a store to it then faults:
 * run with argument "protfault"). Prints a line per check. */
#include "sys.h"

#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 2
#define MAP_ANONYMOUS 0x20

static void check(const char *what, int ok) { puts1(what); puts1(ok ? ": ok\n" : ": FAILED\n"); }

int main(int argc, char **argv, char **envp, u64 *auxv)
{
    u64 start = syscall1(SYS_brk, 0);
    check("brk(0) page aligned", (start & 4095) == 0);
    u64 want = start + (3 << 20) + 123;
    u64 got = syscall1(SYS_brk, want);
    check("brk grows", got == want);
    u64 sum = 0;
    for (u64 a = start; a < want; a += 4096) { *(volatile u64 *)a = a; }
    for (u64 a = start; a < want; a += 4096) sum += *(volatile u64 *)a == a;
    check("heap pages hold their values", sum == ((want - start + 4095) >> 12));
    check("brk shrinks", syscall1(SYS_brk, start + 4096) == start + 4096);
    check("brk below start refused", syscall1(SYS_brk, start - 4096) == start + 4096);

    u64 len = 4 << 20;
    u8 *m = (u8 *)syscall6(SYS_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("mmap anonymous", (i64)m > 0 && ((u64)m & 4095) == 0);
    int zero = 1;
    for (u64 i = 0; i < len; i += 4096) zero &= m[i] == 0;
    check("fresh pages read zero", zero);
    for (u64 i = 0; i < len; i += 512) m[i] = (u8)(i >> 9);
    int same = 1;
    for (u64 i = 0; i < len; i += 512) same &= m[i] == (u8)(i >> 9);
    check("mmap pages hold their values", same);
    check("munmap", syscall2(SYS_munmap, m + 4096, 4096) == 0);
    check("mprotect read-only", syscall3(SYS_mprotect, m, 4096, PROT_READ) == 0);
    check("bad mmap length", syscall6(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == -22);
    check("write from unmapped memory is EFAULT", syscall3(SYS_write, 1, m + 4096, 1) == -14);
    if (argc > 1 && seq(argv[1], "protfault")) {
        puts1("storing to a read-only page\n");
        m[0] = 1;
        puts1("not reached\n");
    }
    if (argc > 1 && seq(argv[1], "unmapped")) {
        puts1("loading from an unmapped page\n");
        return m[4096];
    }
    return 0;
}
