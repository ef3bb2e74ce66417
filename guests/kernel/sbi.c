/* sbi.c -- console, timer and shutdown through the SBI (never device MMIO).
 *
 * The base extension is probed once: DBCN (one call per buffer) is preferred
 * over the legacy per-character console, TIME over legacy set_timer, SRST
 * over legacy shutdown.  Either way the bytes on the console are the same. */
#include "sbi.h"
#ifdef PV
#include "pv/pv.h"      /* the PV kernel's console and timer are hypercalls */
#endif

static int have_dbcn, have_time, have_srst;

struct sbiret sbi_call(long eid, long fid, long a0, long a1, long a2)
{
    register long r_a0 __asm__("a0") = a0;
    register long r_a1 __asm__("a1") = a1;
    register long r_a2 __asm__("a2") = a2;
    register long r_a6 __asm__("a6") = fid;
    register long r_a7 __asm__("a7") = eid;
    __asm__ volatile ("ecall"
                      : "+r"(r_a0), "+r"(r_a1)
                      : "r"(r_a2), "r"(r_a6), "r"(r_a7)
                      : "memory");
    return (struct sbiret){ r_a0, r_a1 };
}

static int probe(long eid)
{
    struct sbiret r = sbi_call(SBI_EXT_BASE, 3, eid, 0, 0);
    return r.error == 0 && r.value != 0;
}

void sbi_probe(void)
{
    have_dbcn = probe(SBI_EXT_DBCN);
    have_time = probe(SBI_EXT_TIME);
    have_srst = probe(SBI_EXT_SRST);
}

void sbi_console_write(const char *buf, size_t len)
{
#ifdef PV
    if (pv_present()) {
        pv_console_write(buf, len);
        return;
    }
#endif
    /* Kernel memory is identity-mapped, so buf is also its physical address. */
    while (len && have_dbcn) {
        struct sbiret r = sbi_call(SBI_EXT_DBCN, 0, (long)len, (long)(uintptr_t)buf, 0);
        if (r.error || r.value <= 0 || (size_t)r.value > len)
            break;                          /* fall back to the legacy console */
        buf += r.value;
        len -= (size_t)r.value;
    }
    for (; len; buf++, len--)
        sbi_call(SBI_EXT_LEGACY_CONSOLE_PUTCHAR, 0, (unsigned char)*buf, 0, 0);
}

void sbi_set_timer(uint64_t stime)
{
#ifdef PV
    pv_call(PV_SET_TIMER, (long)stime, 0);
    return;
#endif
    if (have_time)
        sbi_call(SBI_EXT_TIME, 0, (long)stime, 0, 0);
    else
        sbi_call(SBI_EXT_LEGACY_SET_TIMER, 0, (long)stime, 0, 0);
}

void sbi_shutdown(int failure)
{
    if (have_srst)
        sbi_call(SBI_EXT_SRST, 0, 0, failure ? 1 : 0, 0);
    sbi_call(SBI_EXT_LEGACY_SHUTDOWN, 0, 0, 0, 0);
    for (;;)
        ;
}
