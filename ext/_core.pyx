# cython: language_level=3, boundscheck=True, wraparound=False, cdivision=True, autotestdict=False
# cython: embedsignature=True, freethreading_compatible=False
"""fasttrial's private compiled core.

Nothing here is public API.  The public classes (``Timer``, ``Memory``, ``Profile``,
``Profiler``, ``Trial``) live in plain Python modules and call into this one.

What it offers:

* clock reads in integer nanoseconds (wall, monotonic, process CPU);
* memory reads in bytes (RSS and VMS with psutil's meanings), through a kept descriptor on
  Linux, native calls on macOS and Windows, psutil elsewhere;
* process CPU time and the CPU time of reaped children (``getrusage`` on POSIX), and the
  peak RSS of an interval from a kernel high-water mark that can be reset (Linux
  ``/proc/self/clear_refs``); which of these each interval records is set process-wide by
  ``set_tracking()``;
* ``Span``: an interval recorder whose start and stop are each one C call that reads the
  clock, the memory and the usage figures together into a C struct; Python objects are made
  only when someone reads them (by the Python subclass ``fasttrial.profiling.Profile.Interval``);
* ``Scope``: the context manager behind ``Profiler.measure()`` and ``Trial.begin()``, so a
  ``with`` block costs two C calls and no generator;
* ``ProfilerCore``: the state of a ``Profiler`` (profiles, the stack of running names,
  default kind and unit), kept in C slots.
"""

cimport cython
from cpython.object cimport PyObject, PyTypeObject
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.stdint cimport int64_t

cdef extern from "ft_platform.h" nogil:
    int64_t ft_wall_ns()
    int64_t ft_mono_ns()
    int64_t ft_process_ns()
    const char *ft_mem_backend()
    int ft_mem_init()
    int ft_mem_read(int64_t *rss, int64_t *vms)
    int FT_USAGE_CPU
    int FT_USAGE_CHILDREN
    int FT_USAGE_PEAK
    void ft_usage_read(int what, int64_t *cpu_ns, int64_t *children_ns, int64_t *maxrss)
    const char *ft_peak_backend()
    int ft_peak_init()
    int ft_peak_ready()
    int ft_peak_reset()
    int64_t ft_peak_trusted(int64_t maxrss, int64_t rss)
    void ft_peak_force_none(int on)

cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void *op)

cdef extern from *:
    """
    #ifndef FASTTRIAL_VERSION
    #define FASTTRIAL_VERSION "unknown"
    #endif
    static const char *ft_version = FASTTRIAL_VERSION;
    """
    const char *ft_version


__version__ = ft_version.decode("ascii")

# The module, by concern (one compiled module; each file says what it holds).  A new part
# is one more line here.
include "_spans.pxi"     # platform readers, Span, ProfilerCore, Scope
include "_objects.pxi"   # C bases of Metric.Value, Trial.Report, Trial
include "_columns.pxi"   # the column store behind History, and History.add's fast path
include "_kernels.pxi"   # metric kernels over whole columns
include "_journal.pxi"   # journal records: row encoder and framer, CRC-32, scanner, replay
include "_floor.pxi"     # benchmark-only floors: the unavoidable work of an interval, of a row
