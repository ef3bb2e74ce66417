/* compute.c -- the integer workload of `pyvmm bench --suite core`.
 *
 * Five kernels, each over data regenerated every iteration from an LCG seeded
 * by the iteration number, so no iteration can be skipped or folded by the
 * compiler: a sieve of Eratosthenes, a table-driven CRC-32, a 24x24 matrix
 * multiply, a heapsort and a walk of a linked list whose nodes are scattered
 * over 64 pages, or 512 with `bench_list_pages` = 512 (then under Sv39 most
 * steps miss the TLB). Results fold into one checksum printed on the UART.
 *
 * `bench_iterations` sizes the run. It lives in .data so the benchmark can
 * patch it in the ELF file (pyvmm.bench.elfpatch) and run the same code for
 * N and k*N iterations (pyvmm's instret gives the exact count of each);
 * `bench_list_pages` likewise.
 */
#include <stdint.h>
#include "bench.h"

#define SIEVE_LIMIT   8192
#define CRC_BYTES     4096
#define MAT_N         24
#define SORT_COUNT    1024
#define LIST_NODES    16384

/* The nodes are dealt round-robin over `bench_list_pages` pages of the
 * arena, packed from the start of each page: 64 pages (the default) holds
 * them densely, well within a 256-entry TLB; 512 pages is twice what such a
 * TLB maps, so under Sv39 most steps of the walk miss the TLB. Either way the
 * nodes fill the same number of cache lines, so only the TLB reach changes. */
#define LIST_PAGES_MIN  64
#define LIST_PAGES_MAX  512
#define ARENA_PAGE      4096

struct node {
    struct node *next;
    uint64_t value;
};

static uint8_t sieve_flags[SIEVE_LIMIT];
static uint8_t crc_buffer[CRC_BYTES];
static uint32_t crc_table[256];
static int64_t mat_a[MAT_N][MAT_N], mat_b[MAT_N][MAT_N], mat_c[MAT_N][MAT_N];
static uint32_t sort_keys[SORT_COUNT];
static uint8_t list_arena[LIST_PAGES_MAX * ARENA_PAGE] __attribute__((aligned(ARENA_PAGE)));
static uint32_t list_order[LIST_NODES];

static uint64_t lcg_state;

static uint64_t lcg_next(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lcg_state >> 17;
}

static uint64_t rotl64(uint64_t v, unsigned n)
{
    return (v << n) | (v >> (64 - n));
}

static uint64_t fold(uint64_t checksum, uint64_t value)
{
    return rotl64(checksum ^ value, 13) * 0x9E3779B97F4A7C15ULL + 1;
}

static uint32_t sieve(uint32_t limit)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < limit; i++)
        sieve_flags[i] = 1;
    for (uint32_t i = 2; i < limit; i++) {
        if (!sieve_flags[i])
            continue;
        count++;
        for (uint32_t j = i * i; j < limit; j += i)
            sieve_flags[j] = 0;
    }
    return count;
}

static void crc_make_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc32(const uint8_t *data, uint32_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

static uint64_t matmul(void)
{
    uint64_t trace = 0;
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            int64_t sum = 0;
            for (int k = 0; k < MAT_N; k++)
                sum += mat_a[i][k] * mat_b[k][j];
            mat_c[i][j] = sum;
        }
    for (int i = 0; i < MAT_N; i++)
        trace += (uint64_t)mat_c[i][i] ^ (uint64_t)mat_c[i][MAT_N - 1 - i];
    return trace;
}

static void sift_down(uint32_t *keys, uint32_t root, uint32_t end)
{
    while (2 * root + 1 < end) {
        uint32_t child = 2 * root + 1;
        if (child + 1 < end && keys[child] < keys[child + 1])
            child++;
        if (keys[root] >= keys[child])
            return;
        uint32_t t = keys[root];
        keys[root] = keys[child];
        keys[child] = t;
        root = child;
    }
}

static uint64_t heapsort(uint32_t *keys, uint32_t n)
{
    for (uint32_t start = n / 2; start-- > 0;)
        sift_down(keys, start, n);
    for (uint32_t end = n - 1; end > 0; end--) {
        uint32_t t = keys[0];
        keys[0] = keys[end];
        keys[end] = t;
        sift_down(keys, 0, end);
    }
    uint64_t digest = 0;
    for (uint32_t i = 0; i < n; i += 64)
        digest = digest * 31 + keys[i];
    return digest;
}

static uint32_t list_pages;

static struct node *list_node(uint32_t index)
{
    uint32_t page = index % list_pages, slot = index / list_pages;
    return (struct node *)(list_arena + (uint64_t)page * ARENA_PAGE + slot * sizeof(struct node));
}

/* Link the nodes in a random order (a Fisher-Yates shuffle), then walk it. */
static void list_build(void)
{
    list_pages = bench_list_pages;
    if (list_pages < LIST_PAGES_MIN || list_pages > LIST_PAGES_MAX || (list_pages & (list_pages - 1)))
        list_pages = LIST_PAGES_MIN;
    for (uint32_t i = 0; i < LIST_NODES; i++)
        list_order[i] = i;
    for (uint32_t i = LIST_NODES - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(lcg_next() % (i + 1));
        uint32_t t = list_order[i];
        list_order[i] = list_order[j];
        list_order[j] = t;
    }
    for (uint32_t i = 0; i < LIST_NODES; i++) {
        struct node *n = list_node(list_order[i]);
        n->next = i + 1 < LIST_NODES ? list_node(list_order[i + 1]) : 0;
        n->value = lcg_next();
    }
}

static uint64_t list_walk(const struct node *n, uint64_t salt)
{
    uint64_t sum = 0;
    uint32_t steps = 0;
    for (; n; n = n->next) {
        sum += n->value ^ salt;
        steps++;
    }
    return sum + steps;
}

static void fill(uint32_t iteration)
{
    lcg_state = 0x243F6A8885A308D3ULL ^ iteration;
    for (uint32_t i = 0; i < CRC_BYTES; i++)
        crc_buffer[i] = (uint8_t)lcg_next();
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            mat_a[i][j] = (int64_t)(lcg_next() & 0xFFFF) - 0x8000;
            mat_b[i][j] = (int64_t)(lcg_next() & 0xFFFF) - 0x8000;
        }
    for (uint32_t i = 0; i < SORT_COUNT; i++)
        sort_keys[i] = (uint32_t)lcg_next();
}

uint64_t bench_compute(void)
{
    uint32_t iterations = bench_iterations;
    uint64_t checksum = 0;
    crc_make_table();
    lcg_state = 1;
    list_build();
    for (uint32_t it = 0; it < iterations; it++) {
        fill(it);
        checksum = fold(checksum, sieve(SIEVE_LIMIT) + it);
        checksum = fold(checksum, crc32(crc_buffer, CRC_BYTES));
        checksum = fold(checksum, matmul());
        checksum = fold(checksum, heapsort(sort_keys, SORT_COUNT));
        checksum = fold(checksum, list_walk(list_node(list_order[0]), it));
    }
    return checksum;
}

void bench_main(void)
{
    uint64_t checksum = bench_compute();
    uart_puts("compute iterations=");
    uart_put_dec(bench_iterations);
    uart_puts(" checksum=");
    uart_put_hex(checksum);
    uart_puts("\n");
    finisher_pass();
}
