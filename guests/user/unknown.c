/* Makes a system call no Linux has (number 500) three times, printing each result. */
#include "sys.h"

int main(int argc, char **argv, char **envp, u64 *auxv)
{
    for (int i = 0; i < 3; i++) {
        puts1("syscall 500 = ");
        putnum(1, syscall0(500));
        puts1("\n");
    }
    return 0;
}
