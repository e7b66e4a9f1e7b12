/* Memory readings on Windows through GetProcessMemoryInfo, with psutil's meanings:
 * RSS is WorkingSetSize and VMS is PagefileUsage (the private commit charge). */
#include <windows.h>
#include <psapi.h>
#include "ft_platform.h"

const char *ft_mem_backend(void) { return "windows-psapi"; }

int ft_mem_init(void) { return 0; }

int ft_mem_read(int64_t *rss, int64_t *vms) {
    PROCESS_MEMORY_COUNTERS_EX counters;
    if (!GetProcessMemoryInfo(GetCurrentProcess(), (PROCESS_MEMORY_COUNTERS *)&counters,
                              sizeof(counters))) {
        *rss = -1;
        *vms = -1;
        return -1;
    }
    *rss = (int64_t)counters.WorkingSetSize;
    *vms = (int64_t)counters.PagefileUsage;
    return 0;
}
