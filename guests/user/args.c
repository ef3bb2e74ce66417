/* Prints what exec left on the stack: argc, argv, envp, the auxiliary vector
 * entries a static program relies on, and the stack pointer's alignment. */
#include "sys.h"

extern char _start[];

static void line(const char *name, u64 v, int hex)
{
    puts1(name);
    puts1("=");
    if (hex) puthex(1, v); else putnum(1, (i64)v);
    puts1("\n");
}

int main(int argc, char **argv, char **envp, u64 *auxv)
{
    u64 sp_align = ((u64)(argv - 1)) & 15;
    line("argc", argc, 0);
    for (int i = 0; i < argc; i++) { puts1("argv: "); puts1(argv[i]); puts1("\n"); }
    for (char **e = envp; *e; e++) { puts1("env: "); puts1(*e); puts1("\n"); }
    line("sp%16", sp_align, 0);
    u64 phdr = 0, phnum = 0, phent = 0, entry = 0;
    for (u64 *a = auxv; a[0]; a += 2) {
        switch (a[0]) {
        case 3: phdr = a[1]; break;
        case 4: phent = a[1]; line("AT_PHENT", a[1], 0); break;
        case 5: phnum = a[1]; break;
        case 6: line("AT_PAGESZ", a[1], 0); break;
        case 7: line("AT_BASE", a[1], 0); break;
        case 9: entry = a[1]; break;
        case 16: line("AT_HWCAP", a[1], 1); break;
        case 17: line("AT_CLKTCK", a[1], 0); break;
        case 23: line("AT_SECURE", a[1], 0); break;
        case 25: {
            u8 *r = (u8 *)a[1];
            puts1("AT_RANDOM=");
            for (int i = 0; i < 16; i++) { char h[3] = {"0123456789abcdef"[r[i] >> 4], "0123456789abcdef"[r[i] & 15], 0}; puts1(h); }
            puts1(((u64)r & 15) == 0 ? " aligned\n" : " unaligned\n");
            break;
        }
        case 31: puts1("AT_EXECFN="); puts1((char *)a[1]); puts1("\n"); break;
        case 15: puts1("AT_PLATFORM present\n"); break;
        }
    }
    line("AT_ENTRY==_start", entry == (u64)_start, 0);
    /* AT_PHDR must point at this executable's program headers: PT_LOAD entries among them */
    int loads = 0;
    for (u64 i = 0; i < phnum; i++)
        if (*(u32 *)(phdr + i * phent) == 1) loads++;
    line("PT_LOAD>0", loads > 0, 0);
    return 0;
}
