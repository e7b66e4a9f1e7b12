/* The platform face of fasttrial's compiled core.
 *
 * One small C file per concern and OS implements these (chosen in CMakeLists.txt), so the
 * Cython layer sees the same meanings everywhere:
 *   - clocks in integer nanoseconds (converted to seconds only when a Python object is made);
 *   - memory in bytes with psutil's meanings of RSS (resident set) and VMS (virtual size).
 */
#ifndef FT_PLATFORM_H
#define FT_PLATFORM_H

#include <stdint.h>

/* Wall clock: nanoseconds since the Unix epoch (what time.time() reads). */
int64_t ft_wall_ns(void);
/* Monotonic clock: nanoseconds from an arbitrary origin (what time.perf_counter() reads). */
int64_t ft_mono_ns(void);
/* CPU time of this process, user + system, in nanoseconds (what time.process_time() reads). */
int64_t ft_process_ns(void);

/* Which memory reader was compiled in: "linux-statm", "darwin-proc_pidinfo",
 * "windows-psapi", or "none" (the Python layer then asks psutil). */
const char *ft_mem_backend(void);

/* Prepare the memory reader (open descriptors, register fork handlers).
 * Returns 0 on success, -1 when this platform has no native reader. */
int ft_mem_init(void);

/* Read the current RSS and VMS of this process in bytes.
 * Returns 0 on success, -1 on failure (both outputs are then set to -1). */
int ft_mem_read(int64_t *rss, int64_t *vms);

/* What ft_usage_read() reads (bit flags). */
#define FT_USAGE_CPU 1      /* CPU time of this process, user + system */
#define FT_USAGE_CHILDREN 2 /* CPU time of the children this process has reaped */
#define FT_USAGE_PEAK 4     /* the kernel's peak RSS since the last ft_peak_reset() */

/* Read in one go what `what` asks for: CPU times in nanoseconds, the raw peak RSS in bytes
 * (check it with ft_peak_trusted()).  What was not asked for or cannot be read is -1. */
void ft_usage_read(int what, int64_t *cpu_ns, int64_t *children_ns, int64_t *maxrss);

/* The resettable peak: "linux-clear_refs", or "none" where the platform has none (peaks
 * then degrade to the larger of the start and end readings). */
const char *ft_peak_backend(void);
/* Set the peak reader up in this process if needed (opens and resets it).
 * Returns 0 when peaks can be read, -1 when not. */
int ft_peak_init(void);
/* 1 when the peak reader is set up in this process (not yet after a fork), else 0. */
int ft_peak_ready(void);
/* Reset the peak to the current RSS (setting the reader up first if needed).
 * Returns 0 on success, -1 when not possible. */
int ft_peak_reset(void);
/* This process's own peak since the last reset, in bytes, from `maxrss` (read by
 * ft_usage_read) and `rss` (read by the caller at the same boundary): `maxrss` itself, or
 * the kernel's per-mm mark when `maxrss` may be a floor inherited through exec, or -1 when
 * the caller's RSS readings are as good (or there is no peak here). */
int64_t ft_peak_trusted(int64_t maxrss, int64_t rss);
/* Test hook: act as a platform without a resettable peak (1), or go back (0). */
void ft_peak_force_none(int on);

#endif
