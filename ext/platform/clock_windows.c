/* Clocks on Windows, with the same meanings as Python's time.time(),
 * time.perf_counter() and time.process_time(). */
#include <windows.h>
#include "ft_platform.h"

/* 100 ns ticks between 1601-01-01 and 1970-01-01. */
#define FT_EPOCH_DIFF_100NS 116444736000000000LL

int64_t ft_wall_ns(void) {
    FILETIME ft;
    ULARGE_INTEGER u;
    GetSystemTimePreciseAsFileTime(&ft);
    u.LowPart = ft.dwLowDateTime;
    u.HighPart = ft.dwHighDateTime;
    return ((int64_t)u.QuadPart - FT_EPOCH_DIFF_100NS) * 100;
}

int64_t ft_mono_ns(void) {
    static LARGE_INTEGER freq = {0};
    LARGE_INTEGER now;
    if (freq.QuadPart == 0) {
        QueryPerformanceFrequency(&freq);
    }
    QueryPerformanceCounter(&now);
    /* Split to avoid overflowing int64 for long uptimes. */
    int64_t whole = now.QuadPart / freq.QuadPart;
    int64_t part = now.QuadPart % freq.QuadPart;
    return whole * 1000000000LL + (part * 1000000000LL) / freq.QuadPart;
}

int64_t ft_process_ns(void) {
    FILETIME creation, exit_time, kernel, user;
    ULARGE_INTEGER k, u;
    if (!GetProcessTimes(GetCurrentProcess(), &creation, &exit_time, &kernel, &user)) {
        return -1;
    }
    k.LowPart = kernel.dwLowDateTime;
    k.HighPart = kernel.dwHighDateTime;
    u.LowPart = user.dwLowDateTime;
    u.HighPart = user.dwHighDateTime;
    return ((int64_t)k.QuadPart + (int64_t)u.QuadPart) * 100;
}
