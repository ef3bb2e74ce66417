/* A tiny freestanding runtime for the pyvmm user-mode test programs: raw
 * Linux riscv64 system calls (asm-generic numbers), string helpers and
 * decimal/hex output. No C library: every system call the program makes is
 * one it spells out. */
#ifndef USER_SYS_H
#define USER_SYS_H

typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef unsigned char u8;

#define SYS_getcwd 17
#define SYS_dup 23
#define SYS_dup3 24
#define SYS_fcntl 25
#define SYS_ioctl 29
#define SYS_mkdirat 34
#define SYS_unlinkat 35
#define SYS_symlinkat 36
#define SYS_chdir 49
#define SYS_openat 56
#define SYS_close 57
#define SYS_pipe2 59
#define SYS_getdents64 61
#define SYS_lseek 62
#define SYS_read 63
#define SYS_write 64
#define SYS_writev 66
#define SYS_pread64 67
#define SYS_readlinkat 78
#define SYS_newfstatat 79
#define SYS_fstat 80
#define SYS_exit 93
#define SYS_exit_group 94
#define SYS_clock_gettime 113
#define SYS_uname 160
#define SYS_getpid 172
#define SYS_getppid 173
#define SYS_brk 214
#define SYS_munmap 215
#define SYS_clone 220
#define SYS_execve 221
#define SYS_mmap 222
#define SYS_mprotect 226
#define SYS_wait4 260
#define SYS_getrandom 278

#define AT_FDCWD (-100)
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_TRUNC 01000
#define O_DIRECTORY 0200000

static inline i64 syscall6(i64 n, i64 a, i64 b, i64 c, i64 d, i64 e, i64 f)
{
    register i64 a0 __asm__("a0") = a;
    register i64 a1 __asm__("a1") = b;
    register i64 a2 __asm__("a2") = c;
    register i64 a3 __asm__("a3") = d;
    register i64 a4 __asm__("a4") = e;
    register i64 a5 __asm__("a5") = f;
    register i64 a7 __asm__("a7") = n;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a7) : "memory");
    return a0;
}
#define syscall0(n) syscall6(n, 0, 0, 0, 0, 0, 0)
#define syscall1(n, a) syscall6(n, (i64)(a), 0, 0, 0, 0, 0)
#define syscall2(n, a, b) syscall6(n, (i64)(a), (i64)(b), 0, 0, 0, 0)
#define syscall3(n, a, b, c) syscall6(n, (i64)(a), (i64)(b), (i64)(c), 0, 0, 0)
#define syscall4(n, a, b, c, d) syscall6(n, (i64)(a), (i64)(b), (i64)(c), (i64)(d), 0, 0)
#define syscall5(n, a, b, c, d, e) syscall6(n, (i64)(a), (i64)(b), (i64)(c), (i64)(d), (i64)(e), 0)

static inline u64 slen(const char *s) { u64 n = 0; while (s[n]) n++; return n; }
static inline int seq(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }
static inline int scmp(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return (u8)*a - (u8)*b; }
static inline void out(int fd, const char *s) { syscall3(SYS_write, fd, s, slen(s)); }
static inline void puts1(const char *s) { out(1, s); }

static inline void putnum(int fd, i64 v)
{
    char buf[24];
    int i = 23;
    int neg = v < 0;
    u64 u = neg ? -(u64)v : (u64)v;
    buf[i] = 0;
    do { buf[--i] = '0' + u % 10; u /= 10; } while (u);
    if (neg) buf[--i] = '-';
    out(fd, buf + i);
}

static inline void puthex(int fd, u64 v)
{
    char buf[20];
    int i = 19;
    buf[i] = 0;
    do { buf[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    buf[--i] = 'x';
    buf[--i] = '0';
    out(fd, buf + i);
}

static inline i64 atoi1(const char *s)
{
    i64 v = 0;
    int neg = *s == '-';
    if (neg) s++;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    return neg ? -v : v;
}

static inline void exit1(int code) { syscall1(SYS_exit_group, code); for (;;) {} }

int main(int argc, char **argv, char **envp, u64 *auxv);

/* Called by _start with the initial stack pointer. */
__attribute__((used)) void cstart(u64 *sp)
{
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    char **e = envp;
    while (*e) e++;
    exit1(main(argc, argv, envp, (u64 *)(e + 1)));
}

/* the compiler may emit calls to these for struct copies and zeroing */
void *memset(void *d, int c, u64 n) { u8 *p = d; while (n--) *p++ = (u8)c; return d; }
void *memcpy(void *d, const void *s, u64 n) { u8 *p = d; const u8 *q = s; while (n--) *p++ = *q++; return d; }

#endif
