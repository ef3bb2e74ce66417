/* fdt.c -- read the two things the kernel wants from the flattened device
 * tree the firmware passes in a1: /chosen/bootargs and the first /memory
 * region.  Everything in the blob is big-endian. */
#include "kernel.h"

#define FDT_MAGIC      0xd00dfeed
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE   2
#define FDT_PROP       3
#define FDT_NOP        4
#define FDT_END        9

static uint32_t be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t cells(const uint8_t *p, uint32_t n)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++)
        v = v << 32 | be32(p + 4 * i);
    return v;
}

static int streq(const char *a, const char *b)
{
    return strncmp(a, b, (size_t)-1) == 0;
}

void fdt_parse(uint64_t dtb, struct boot_info *info)
{
    info->bootargs = "";
    info->ram_base = info->ram_size = 0;
    info->dtb_start = info->dtb_end = 0;
    const uint8_t *blob = (const uint8_t *)(uintptr_t)dtb;
    if (!dtb || (dtb & 3) || be32(blob) != FDT_MAGIC)
        return;
    uint32_t total = be32(blob + 4);
    info->dtb_start = dtb;
    info->dtb_end = dtb + total;
    const uint8_t *p = blob + be32(blob + 8);
    const char *strings = (const char *)blob + be32(blob + 12);
    const uint8_t *end = blob + total;
    uint32_t address_cells = 2, size_cells = 1;
    int depth = 0, in_chosen = 0, in_memory = 0;
    while (p + 4 <= end) {
        uint32_t token = be32(p);
        p += 4;
        if (token == FDT_BEGIN_NODE) {
            const char *name = (const char *)p;
            size_t len = strlen(name);
            depth++;
            in_chosen = depth == 2 && streq(name, "chosen");
            in_memory = depth == 2 && strncmp(name, "memory", 6) == 0
                        && (name[6] == '\0' || name[6] == '@');
            p += (len + 4) & ~3ul;
        } else if (token == FDT_END_NODE) {
            depth--;
            in_chosen = in_memory = 0;
        } else if (token == FDT_PROP) {
            uint32_t len = be32(p), nameoff = be32(p + 4);
            const uint8_t *value = p + 8;
            const char *name = strings + nameoff;
            if (depth == 1 && len == 4 && streq(name, "#address-cells"))
                address_cells = be32(value);
            else if (depth == 1 && len == 4 && streq(name, "#size-cells"))
                size_cells = be32(value);
            else if (in_chosen && streq(name, "bootargs") && len > 0 && value[len - 1] == '\0')
                info->bootargs = (const char *)value;
            else if (in_memory && !info->ram_size && streq(name, "reg")
                     && len >= 4 * (address_cells + size_cells)
                     && address_cells <= 2 && size_cells <= 2) {
                info->ram_base = cells(value, address_cells);
                info->ram_size = cells(value + 4 * address_cells, size_cells);
            }
            p = value + ((len + 3) & ~3u);
        } else if (token == FDT_NOP) {
            continue;
        } else {
            break;                         /* FDT_END or a damaged blob */
        }
    }
}
