/* Memory readings on macOS through proc_pidinfo(PROC_PIDTASKINFO), the call psutil uses:
 * RSS is pti_resident_size and VMS is pti_virtual_size, both in bytes.  No descriptor is
 * kept, so there is nothing to redo after fork. */
#include <libproc.h>
#include <sys/proc_info.h>
#include <unistd.h>
#include "ft_platform.h"

const char *ft_mem_backend(void) { return "darwin-proc_pidinfo"; }

int ft_mem_init(void) { return 0; }

int ft_mem_read(int64_t *rss, int64_t *vms) {
    struct proc_taskinfo info;
    int size = proc_pidinfo(getpid(), PROC_PIDTASKINFO, 0, &info, (int)sizeof(info));
    if (size != (int)sizeof(info)) {
        *rss = -1;
        *vms = -1;
        return -1;
    }
    *rss = (int64_t)info.pti_resident_size;
    *vms = (int64_t)info.pti_virtual_size;
    return 0;
}
