/* sbi.h -- the firmware services the kernel uses, all through SBI ecalls. */
#ifndef SBI_H
#define SBI_H

#include <stddef.h>
#include <stdint.h>

#define SBI_EXT_LEGACY_SET_TIMER       0x00
#define SBI_EXT_LEGACY_CONSOLE_PUTCHAR 0x01
#define SBI_EXT_LEGACY_SHUTDOWN        0x08
#define SBI_EXT_BASE 0x10
#define SBI_EXT_TIME 0x54494D45
#define SBI_EXT_SRST 0x53525354
#define SBI_EXT_DBCN 0x4442434E

struct sbiret { long error; long value; };

struct sbiret sbi_call(long eid, long fid, long a0, long a1, long a2);
void sbi_probe(void);                 /* which extensions the firmware has */
void sbi_console_write(const char *buf, size_t len);
void sbi_set_timer(uint64_t stime);
void sbi_shutdown(int failure) __attribute__((noreturn));

#endif
