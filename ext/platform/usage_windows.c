/* CPU time on Windows: GetProcessTimes (user + kernel) through ft_process_ns().
 *
 * Windows gives neither the CPU time of child processes nor a peak working set that can be
 * reset (PeakWorkingSetSize is the lifetime peak), so children's CPU is unknown (NaN) and
 * the peak of an interval degrades to the larger of its start and end RSS. */
#include <stdint.h>
#include "ft_platform.h"

void ft_usage_read(int what, int64_t *cpu_ns, int64_t *children_ns, int64_t *maxrss) {
    *cpu_ns = (what & FT_USAGE_CPU) ? ft_process_ns() : -1;
    *children_ns = -1;
    *maxrss = -1;
}
