/* Prints a line and exits with the status given as its first argument (default 0). */
#include "sys.h"

int main(int argc, char **argv, char **envp, u64 *auxv)
{
    puts1("hello\n");
    return argc > 1 ? (int)atoi1(argv[1]) : 0;
}
