/* CPU time on POSIX systems other than Linux (macOS, the BSDs): getrusage().
 *
 * There is no cheap peak RSS that can be reset here (macOS's ru_maxrss is the lifetime
 * peak), so the peak of an interval degrades to the larger of its start and end RSS;
 * ft_peak_backend() says "none" and fasttrial.profiling.peak_backend() "start-end". */
#include <stdint.h>
#include <sys/resource.h>
#include <sys/time.h>
#include "ft_platform.h"

static inline int64_t ft_tv_ns(const struct timeval *tv) {
    return (int64_t)tv->tv_sec * 1000000000LL + (int64_t)tv->tv_usec * 1000LL;
}

void ft_usage_read(int what, int64_t *cpu_ns, int64_t *children_ns, int64_t *maxrss) {
    struct rusage ru;
    *cpu_ns = -1;
    *children_ns = -1;
    *maxrss = -1;
    if ((what & FT_USAGE_CPU) && getrusage(RUSAGE_SELF, &ru) == 0) {
        *cpu_ns = ft_tv_ns(&ru.ru_utime) + ft_tv_ns(&ru.ru_stime);
    }
    if ((what & FT_USAGE_CHILDREN) && getrusage(RUSAGE_CHILDREN, &ru) == 0) {
        *children_ns = ft_tv_ns(&ru.ru_utime) + ft_tv_ns(&ru.ru_stime);
    }
}
