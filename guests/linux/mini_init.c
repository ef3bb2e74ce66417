/*
 * /init for harts without F and D: the same job as guests/linux/init (the
 * busybox script) in plain RV64IMAC code on raw Linux system calls, so the
 * kernel, the virtio transports and ext4 can be checked on a hart that cannot
 * yet run Debian's rv64gc busybox.
 *
 * It prints exactly the lines the script prints between the markers: the
 * kernel release, one "insmod NAME" per module of /etc/initrd-modules (loaded
 * with finit_module), the disk, the mounted file system's type, the known
 * file, its SHA-256 in sha256sum's format, the online CPUs and the number of
 * CPUs this task may run on (nproc). On a failure it prints "FAIL: ..." and
 * the END marker. Then it powers off.
 *
 * Build: riscv64-unknown-elf-gcc -march=rv64imac_zicsr -mabi=lp64 -static
 *        -nostdlib -ffreestanding -O2 -Ttext=0x10000 -o init mini_init.c
 */

typedef unsigned long size_t;
typedef long ssize_t;
typedef unsigned int u32;
typedef unsigned long u64;

#define AT_FDCWD -100
#define O_RDONLY 0
#define MS_RDONLY 1

enum {
    SYS_mknodat = 33, SYS_mkdirat = 34, SYS_umount2 = 39, SYS_mount = 40, SYS_openat = 56,
    SYS_close = 57, SYS_read = 63, SYS_write = 64, SYS_exit = 93, SYS_nanosleep = 101,
    SYS_sched_getaffinity = 123, SYS_reboot = 142, SYS_uname = 160, SYS_finit_module = 273,
};

static long syscall6(long n, long a, long b, long c, long d, long e, long f)
{
    register long a0 __asm__("a0") = a;
    register long a1 __asm__("a1") = b;
    register long a2 __asm__("a2") = c;
    register long a3 __asm__("a3") = d;
    register long a4 __asm__("a4") = e;
    register long a5 __asm__("a5") = f;
    register long a7 __asm__("a7") = n;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a7)
                     : "memory");
    return a0;
}
#define sys(n, a, b, c, d, e) syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

static const char BEGIN[] = "==== pyvmm-linux-test BEGIN ====";
static const char END[] = "==== pyvmm-linux-test END ====";

static size_t len(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
static void out(const char *s) { sys(SYS_write, 1, s, len(s), 0, 0); }
static void line(const char *s) { out(s); out("\n"); }
static int same(const char *a, const char *b) { while (*a && *a == *b) a++, b++; return *a == *b; }

static void power_off(void)
{
    sys(SYS_reboot, 0xfee1dead, 672274793, 0x4321fedc, 0, 0);   /* LINUX_REBOOT_CMD_POWER_OFF */
    sys(SYS_exit, 1, 0, 0, 0, 0);
    for (;;) {}
}

static void fail(const char *what, const char *arg)
{
    out("FAIL: "); out(what); out(" "); line(arg);
    line(END);
    power_off();
}

/* The whole of a small file, NUL-terminated; returns its length or -1. */
static long slurp(const char *path, char *buf, size_t size)
{
    long fd = sys(SYS_openat, AT_FDCWD, path, O_RDONLY, 0, 0), n, total = 0;
    if (fd < 0)
        return -1;
    while (total < (long)size - 1 && (n = sys(SYS_read, fd, buf + total, size - 1 - total, 0, 0)) > 0)
        total += n;
    sys(SYS_close, fd, 0, 0, 0, 0);
    buf[total] = 0;
    return total;
}

static void put_unsigned(char *buf, u64 v)
{
    char tmp[24]; int n = 0;
    do tmp[n++] = '0' + v % 10, v /= 10; while (v);
    while (n) *buf++ = tmp[--n];
    *buf = 0;
}

/* --- SHA-256 (FIPS 180-4) ---------------------------------------------------- */

static const u32 K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static u32 ror(u32 x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(u32 h[8], const unsigned char *p)
{
    u32 w[64], a, b, c, d, e, f, g, k, t1, t2;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = (u32)p[4 * i] << 24 | (u32)p[4 * i + 1] << 16 | (u32)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (; i < 64; i++)
        w[i] = w[i - 16] + (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7]
               + (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; k = h[7];
    for (i = 0; i < 64; i++) {
        t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

static void sha256_hex(const unsigned char *data, size_t n, char hex[65])
{
    u32 h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    unsigned char last[128];
    size_t i, full = n / 64 * 64, rest = n - full, pad;
    for (i = 0; i < full; i += 64)
        sha256_block(h, data + i);
    for (i = 0; i < sizeof last; i++)
        last[i] = 0;
    for (i = 0; i < rest; i++)
        last[i] = data[full + i];
    last[rest] = 0x80;
    pad = rest < 56 ? 64 : 128;
    for (i = 0; i < 8; i++)
        last[pad - 1 - i] = (unsigned char)((u64)n * 8 >> (8 * i));
    for (i = 0; i < pad; i += 64)
        sha256_block(h, last + i);
    for (i = 0; i < 64; i++)
        hex[i] = "0123456789abcdef"[h[i / 8] >> (28 - 4 * (i % 8)) & 15];
    hex[64] = 0;
}

/* --- the job ------------------------------------------------------------------- */

static char file[65536], list[4096], text[4096];

void start(void)
{
    static const char disk[] = "/dev/vda", path[] = "/mnt/hello.txt";
    struct { long sec, nsec; } tenth = {0, 100000000};
    char utsname[6 * 65], number[24], hex[65];
    unsigned long mask[16];
    long n, i, tries, cpus;
    char *p, *name;

    sys(SYS_mount, "proc", "/proc", "proc", 0, 0);
    sys(SYS_mount, "sysfs", "/sys", "sysfs", 0, 0);
    sys(SYS_mount, "devtmpfs", "/dev", "devtmpfs", 0, 0);
    /* Only KERN_EMERG from here on, as the script does. */
    n = sys(SYS_openat, AT_FDCWD, "/proc/sys/kernel/printk", 1 /* O_WRONLY */, 0, 0);
    if (n >= 0) {
        sys(SYS_write, n, "1\n", 2, 0, 0);
        sys(SYS_close, n, 0, 0, 0, 0);
    }
    line(BEGIN);
    sys(SYS_uname, utsname, 0, 0, 0, 0);
    out("kernel: "); line(utsname + 2 * 65);                   /* release */

    if (slurp("/etc/initrd-modules", list, sizeof list) < 0)
        fail("read", "/etc/initrd-modules");
    for (p = list; *p; ) {
        char *module = p;
        while (*p && *p != '\n') p++;
        if (*p) *p++ = 0;
        if (!*module) continue;
        for (name = module, i = 0; module[i]; i++)
            if (module[i] == '/') name = module + i + 1;
        for (i = 0; name[i] && !same(name + i, ".ko"); i++) text[i] = name[i];
        text[i] = 0;
        out("insmod "); line(text);
        n = sys(SYS_openat, AT_FDCWD, module, O_RDONLY, 0, 0);
        if (n < 0 || sys(SYS_finit_module, n, "", 0, 0, 0) < 0)
            fail("insmod", module);
        sys(SYS_close, n, 0, 0, 0, 0);
    }

    for (tries = 0; (n = sys(SYS_openat, AT_FDCWD, disk, O_RDONLY, 0, 0)) < 0; tries++) {
        if (tries >= 100)
            fail("no", disk);
        sys(SYS_nanosleep, &tenth, 0, 0, 0, 0);
    }
    sys(SYS_close, n, 0, 0, 0, 0);
    out("disk: "); line(disk);

    /* ext2 first: ext4's driver mounts an ext2 disk as type ext4 too, while
       busybox mount (trying /proc/filesystems in order) finds ext2. */
    if (sys(SYS_mount, disk, "/mnt", "ext2", MS_RDONLY, 0) < 0
        && sys(SYS_mount, disk, "/mnt", "ext4", MS_RDONLY, 0) < 0)
        fail("mount", disk);
    /* The type /proc/mounts gives /mnt: "dev dir type opts 0 0" per line. */
    if (slurp("/proc/mounts", text, sizeof text) < 0)
        fail("read", "/proc/mounts");
    for (p = text; *p; ) {
        char *field[3]; int f;
        for (f = 0; f < 3; f++) {
            field[f] = p;
            while (*p && *p != ' ' && *p != '\n') p++;
            if (*p == ' ') *p++ = 0;
        }
        if (same(field[1], "/mnt")) {
            out("fstype: "); line(field[2]);
        }
        while (*p && *p != '\n') p++;
        if (*p) p++;
    }

    out("---- "); out(path); line(" ----");
    n = slurp(path, file, sizeof file);
    if (n < 0)
        fail("cat", path);
    sys(SYS_write, 1, file, n, 0, 0);
    line("---- sha256 ----");
    sha256_hex((const unsigned char *)file, n, hex);
    out(hex); out("  "); line(path);

    if (slurp("/sys/devices/system/cpu/online", text, sizeof text) < 0)
        fail("read", "/sys/devices/system/cpu/online");
    out("cpus online: "); out(text);
    n = sys(SYS_sched_getaffinity, 0, sizeof mask, mask, 0, 0);
    for (cpus = 0, i = 0; i < n / 8; i++)
        for (; mask[i]; mask[i] &= mask[i] - 1)
            cpus++;
    put_unsigned(number, cpus);
    out("nproc: "); line(number);
    sys(SYS_umount2, "/mnt", 0, 0, 0, 0);
    line(END);
    power_off();
}

__asm__(".section .text.entry\n"
        ".globl _start\n"
        "_start:\n"
        "    .option push\n"
        "    .option norelax\n"
        "    la gp, __global_pointer$\n"
        "    .option pop\n"
        "    andi sp, sp, -16\n"
        "    call start\n");
