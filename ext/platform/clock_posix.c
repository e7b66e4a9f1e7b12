/* Clocks on POSIX systems (Linux, macOS, the BSDs).
 *
 * CLOCK_REALTIME and CLOCK_MONOTONIC are served by the vDSO on Linux (~30 ns);
 * CLOCK_PROCESS_CPUTIME_ID is a real system call (~0.85 us here), so it is read only for
 * the "process" timer kind.
 */
#define _POSIX_C_SOURCE 200809L
#include <time.h>
#include "ft_platform.h"

static inline int64_t ft_read(clockid_t id) {
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) {
        return -1;
    }
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

int64_t ft_wall_ns(void) { return ft_read(CLOCK_REALTIME); }

int64_t ft_mono_ns(void) { return ft_read(CLOCK_MONOTONIC); }

int64_t ft_process_ns(void) { return ft_read(CLOCK_PROCESS_CPUTIME_ID); }
