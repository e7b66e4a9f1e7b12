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

#endif
