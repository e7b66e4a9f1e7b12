/* The peak-RSS entry points of ft_platform.h where no resettable peak exists (every
 * platform but Linux): an interval's peak degrades to the larger of its start and end RSS,
 * and ft_peak_backend() says "none" (fasttrial.profiling.peak_backend(): "start-end"). */
#include <stdint.h>
#include "ft_platform.h"

const char *ft_peak_backend(void) { return "none"; }

int ft_peak_init(void) { return -1; }

int ft_peak_ready(void) { return 0; }

int ft_peak_reset(void) { return -1; }

void ft_peak_force_none(int on) { (void)on; }

int64_t ft_peak_trusted(int64_t maxrss, int64_t rss) {
    (void)maxrss;
    (void)rss;
    return -1;
}
