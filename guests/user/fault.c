/* Dies of the fault its argument names: "null" (a load from address 0:
 * SIGSEGV), "ill" (an illegal instruction: SIGILL), "ebreak" (SIGTRAP). */
#include "sys.h"

int main(int argc, char **argv, char **envp, u64 *auxv)
{
    const char *what = argc > 1 ? argv[1] : "null";
    puts1("before\n");
    if (seq(what, "null"))
        return *(volatile int *)0;
    if (seq(what, "ill"))
        __asm__ volatile(".4byte 0");
    if (seq(what, "ebreak"))
        __asm__ volatile("ebreak");
    puts1("after\n");
    return 0;
}
