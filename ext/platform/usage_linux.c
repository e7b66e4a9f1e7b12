/* CPU time and peak RSS on Linux: getrusage() and a resettable high-water mark.
 *
 * CPU: getrusage(RUSAGE_SELF) gives user + system time of every thread of the process
 * (~0.9 us here; it walks the thread group), getrusage(RUSAGE_CHILDREN) that of the reaped
 * children (~0.3 us).  Both in microseconds, returned in nanoseconds.
 *
 * Peak: the kernel keeps the highest RSS of the process (mm->hiwater_rss) and reports
 * max(hiwater, current RSS) as ru_maxrss.  Writing "5" to /proc/self/clear_refs sets the
 * high-water mark back to the current RSS (Linux >= 4.0), so after a reset ru_maxrss is the
 * peak since the reset.  The mark is updated when memory is unmapped or zapped
 * (munmap, madvise(DONTNEED), brk shrink), so a spike that is freed before the next reading
 * is still seen.  getrusage(RUSAGE_THREAD) reports the same process-wide mark at half the
 * cost of RUSAGE_SELF, so it is used when only the peak is wanted.
 *
 * The exec floor: ru_maxrss is also never below signal->maxrss, the high-water mark of the
 * image the process replaced by exec().  A Python started by a big process (subprocess,
 * multiprocessing "spawn", both vfork + exec) inherits its parent's peak there, and no
 * reset clears it.  So a reading is taken as it is only when it is above every reading
 * taken right after a reset (`floor_bound`, an upper bound of that floor).  A reading not
 * above it may be the floor: if it is no more than FT_PEAK_SLACK above the RSS the caller
 * has just read, the caller's own RSS readings stand for it (they are off by at most that);
 * otherwise the mm's own mark is read from the VmHWM line of /proc/self/status (~18 us
 * here, against ~0.45 us for getrusage, so only in that case: in practice in a process
 * started by a bigger one).
 *
 * Fork: like the statm descriptor, the clear_refs and status descriptors name the process
 * that opened them, so a forked child would reset its *parent's* mark.  A pthread_atfork
 * child handler closes them; the child reopens its own on next use, and learns its own
 * floor again.  Every call happens with the GIL held, so this state needs no lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <string.h>
#include <unistd.h>
#include "ft_platform.h"

/* How far above the caller's RSS reading an uncertain peak may be and still be replaced by
 * that reading instead of a VmHWM read. */
#define FT_PEAK_SLACK (4LL * 1024 * 1024)

static int clear_refs_fd = -1;
static int status_fd = -1;
/* 1: resets work; 0: not tried yet in this process; -1: /proc/self/clear_refs unusable. */
static int peak_state = 0;
static int64_t floor_bound = INT64_MAX;
static int atfork_registered = 0;

static void ft_usage_child_after_fork(void) {
    if (clear_refs_fd >= 0) {
        close(clear_refs_fd);
        clear_refs_fd = -1;
    }
    if (status_fd >= 0) {
        close(status_fd);
        status_fd = -1;
    }
    if (peak_state > 0) {
        peak_state = 0;  /* reopen (and learn the child's floor) on the next reset */
    }
}

static inline int64_t ft_tv_ns(const struct timeval *tv) {
    return (int64_t)tv->tv_sec * 1000000000LL + (int64_t)tv->tv_usec * 1000LL;
}

static int64_t ft_maxrss_thread(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0) {
        return -1;
    }
    return (int64_t)ru.ru_maxrss * 1024;  /* kilobytes on Linux */
}

const char *ft_peak_backend(void) {
    return peak_state >= 0 ? "linux-clear_refs" : "none";
}

static int ft_write_reset(void) {
    ssize_t n;
    do {
        n = write(clear_refs_fd, "5", 1);  /* the kernel ignores the offset */
    } while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -1;
}

int ft_peak_reset(void) {
    int64_t after;
    if (peak_state < 0) {
        return -1;
    }
    if (peak_state == 0) {
        if (!atfork_registered && pthread_atfork(NULL, NULL, ft_usage_child_after_fork) == 0) {
            atfork_registered = 1;
        }
        do {
            clear_refs_fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
        } while (clear_refs_fd < 0 && errno == EINTR);
        if (clear_refs_fd < 0 || ft_write_reset() != 0) {
            if (clear_refs_fd >= 0) {
                close(clear_refs_fd);
                clear_refs_fd = -1;
            }
            peak_state = -1;  /* e.g. a kernel before 4.0, or a sandbox without it */
            return -1;
        }
        peak_state = 1;
        /* Right after a reset the reading is max(exec floor, current RSS): an upper bound
         * of the floor.  (A forked child starts from a fresh bound of its own.) */
        after = ft_maxrss_thread();
        floor_bound = after >= 0 ? after : INT64_MAX;
        return 0;
    }
    if (ft_write_reset() != 0) {
        return -1;
    }
    return 0;
}

void ft_peak_force_none(int on) {
    if (on) {
        if (clear_refs_fd >= 0) {
            close(clear_refs_fd);
            clear_refs_fd = -1;
        }
        peak_state = -1;
    } else if (peak_state < 0) {
        peak_state = 0;  /* set up again on the next reset */
    }
}

int ft_peak_init(void) {
    if (peak_state == 0) {
        ft_peak_reset();
    }
    return peak_state > 0 ? 0 : -1;
}

int ft_peak_ready(void) { return peak_state > 0; }

/* The mm's own high-water mark (VmHWM of /proc/self/status, which leaves out the exec
 * floor), in bytes; -1 if it cannot be read. */
static int64_t ft_read_vmhwm(void) {
    char buf[4096];
    ssize_t n = -1;
    int attempt;
    for (attempt = 0; attempt < 2; attempt++) {
        if (status_fd < 0) {
            do {
                status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
            } while (status_fd < 0 && errno == EINTR);
            if (status_fd < 0) {
                return -1;
            }
        }
        do {
            n = pread(status_fd, buf, sizeof(buf) - 1, 0);
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            break;
        }
        close(status_fd);
        status_fd = -1;
    }
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    const char *p = strstr(buf, "\nVmHWM:");
    if (p == NULL) {
        return -1;
    }
    p += 7;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    int64_t kb = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        kb = kb * 10 + (*p - '0');
        p++;
        digits++;
    }
    return digits > 0 ? kb * 1024 : -1;
}

int64_t ft_peak_trusted(int64_t maxrss, int64_t rss) {
    if (peak_state <= 0 || maxrss < 0) {
        return -1;
    }
    if (maxrss > floor_bound) {
        return maxrss;
    }
    /* Not above the floor's bound: it may be the floor.  Every reading is >= the floor,
     * so this one is a tighter bound. */
    floor_bound = maxrss;
    if (rss >= 0 && maxrss <= rss + FT_PEAK_SLACK) {
        return -1;  /* the caller's RSS readings are as good */
    }
    return ft_read_vmhwm();
}

void ft_usage_read(int what, int64_t *cpu_ns, int64_t *children_ns, int64_t *maxrss) {
    struct rusage ru;
    *cpu_ns = -1;
    *children_ns = -1;
    *maxrss = -1;
    if ((what & FT_USAGE_CPU) && (what & FT_USAGE_PEAK)) {
        /* One call for both: RUSAGE_SELF (~0.9 us) beats the CPU clock plus RUSAGE_THREAD. */
        if (getrusage(RUSAGE_SELF, &ru) == 0) {
            *cpu_ns = ft_tv_ns(&ru.ru_utime) + ft_tv_ns(&ru.ru_stime);
            *maxrss = (int64_t)ru.ru_maxrss * 1024;
        }
    } else if (what & FT_USAGE_CPU) {
        *cpu_ns = ft_process_ns();  /* CLOCK_PROCESS_CPUTIME_ID, ~0.8 us, ns resolution */
    } else if ((what & FT_USAGE_PEAK) && peak_state >= 0) {
        *maxrss = ft_maxrss_thread();  /* the process-wide mark at half RUSAGE_SELF's cost */
    }
    if (what & FT_USAGE_CHILDREN) {
        if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
            *children_ns = ft_tv_ns(&ru.ru_utime) + ft_tv_ns(&ru.ru_stime);
        }
    }
}
