/* Platforms without a native reader: report "none", and the Python layer of the core
 * falls back to psutil (one cached psutil.Process, never one per call). */
#include "ft_platform.h"

const char *ft_mem_backend(void) { return "none"; }

int ft_mem_init(void) { return -1; }

int ft_mem_read(int64_t *rss, int64_t *vms) {
    *rss = -1;
    *vms = -1;
    return -1;
}
