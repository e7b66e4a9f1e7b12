#!/usr/bin/env bash
# Build two wheels of the committed tree for the abi3 evaluation (docs/wheels.md, "abi3"):
#   version/  the normal per-version wheel (cpXY-cpXY), exactly as pip builds it;
#   abi3/     a Limited-API wheel (cp311-abi3): Py_LIMITED_API=0x030B0000, CYTHON_LIMITED_API,
#             scikit-build-core wheel.py-api="cp311", python_add_library(... USE_SABI 3.11),
#             plus the two source edits without which it does not compile (in the copy only):
#             - the core's two `(<PyTypeObject*>cls).tp_new(...)` fast paths call
#               PyType_GetSlot(cls, Py_tp_new) instead (PyTypeObject is opaque there);
#             - cpython.array's clone() (which calls type->tp_alloc) is replaced by an empty
#               array + resize() (uninitialized, as clone(..., False) is; every caller passes False),
#               and NO_NEWARRAY_INLINE drops Cython's newarrayobject;
#             - PyTuple_SET_ITEM (a macro outside the Limited API, left as an undefined
#               symbol: abi3audit flags it, import fails) becomes PyTuple_SetItem.
# 3.10 cannot be the floor: the core's memoryviews need Py_buffer, in the Limited API
# only from 3.11 on.
#
#   bash benchmarks/abi3/build_variants.sh OUTDIR      (uses the python on PATH)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$(mkdir -p "$1" && cd "$1" && pwd)"
PY="${PYTHON:-python}"
for v in version abi3; do
  rm -rf "$OUT/$v-src" "$OUT/$v-build" "$OUT/$v"
  mkdir -p "$OUT/$v-src"
  git -C "$REPO" archive HEAD | tar -x -C "$OUT/$v-src"
done
(cd "$OUT/abi3-src" && "$PY" - <<'PYEOF'
from pathlib import Path


def edit(path, old, new, count=1):
    p = Path(path)
    s = p.read_text()
    assert s.count(old) == count, (path, old, s.count(old))
    p.write_text(s.replace(old, new))


edit("CMakeLists.txt", "COMPONENTS Interpreter Development.Module)",
     "COMPONENTS Interpreter Development.Module Development.SABIModule)")
edit("CMakeLists.txt", "${FT_PLATFORM_SOURCES} WITH_SOABI)",
     "${FT_PLATFORM_SOURCES} WITH_SOABI USE_SABI 3.11)\n"
     "target_compile_definitions(_core PRIVATE Py_LIMITED_API=0x030B0000 CYTHON_LIMITED_API=1"
     " NO_NEWARRAY_INLINE=1)")
edit("pyproject.toml", 'wheel.packages = ["src/fasttrial"]',
     'wheel.packages = ["src/fasttrial"]\nwheel.py-api = "cp311"')
edit("ext/_core.pyx", "(<PyTypeObject*>cls).tp_new(cls, <PyObject*>_EMPTY_TUPLE, NULL)",
     "(<newfunc>PyType_GetSlot(<PyTypeObject*>cls, Py_tp_new))(cls, <PyObject*>_EMPTY_TUPLE, NULL)",
     count=2)
edit("ext/_core.pyx", 'cdef extern from "Python.h":\n',
     'cdef extern from "Python.h":\n'
     "    ctypedef object (*newfunc)(object, PyObject*, PyObject*)\n"
     "    int Py_tp_new\n"
     "    void *PyType_GetSlot(PyTypeObject *t, int slot)\n")
edit("ext/_core.pyx", "    #ifndef FASTTRIAL_VERSION\n",
     "    #if defined(Py_LIMITED_API) && !defined(PyTuple_SET_ITEM)\n"
     "    #define PyTuple_SET_ITEM(t, i, o) "
     "((void)PyTuple_SetItem((PyObject *)(t), (i), (PyObject *)(o)))\n"
     "    #endif\n"
     "    #ifndef FASTTRIAL_VERSION\n")
edit("ext/_columns.pxi", "from cpython.array cimport array, clone, resize",
     "from cpython.array cimport array, resize")
edit("ext/_columns.pxi", "from cpython.array cimport array, resize",
     "from cpython.array cimport array, resize\n\n\n"
     "cdef inline array clone(array template, Py_ssize_t n, bint zero):\n"
     "    cdef array a = array(template.typecode)\n"
     "    resize(a, n)\n"
     "    return a")
PYEOF
)
for v in version abi3; do
  (cd "$OUT/$v-src" && "$PY" -m pip wheel -q --no-deps --no-build-isolation \
    -Cbuild-dir="$OUT/$v-build" -w "$OUT/$v" .)
  ls "$OUT/$v"/*.whl
done
