"""Measure this CPU's rsqrtps and rcpps estimates, without a compiler: machine code run by ctypes.

Python has no way to issue one x86 instruction, and the user's machine has no compiler to count
on, so the three loops below (assembled once; the source is beside each byte string) are copied
into an executable page and called through ctypes. Each loop reads ``n`` float32 inputs and writes
their rsqrt and rcp estimates; the packed SSE form is what the fingerprint measures (x86_64's
baseline, safe on every x86_64 CPU), the VEX.256 and scalar forms let the tests check that all
forms agree. Under qemu the same code measures what the emulator computes.

Only x86_64 is measured: other architectures have other estimate instructions (arm64's
FRSQRTE), which no table here describes.
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import random
import sys
from array import array
from collections.abc import Sequence
from typing import Any, Callable

from repromatrix import estimates

# The SysV entry moves its arguments (rdi, rsi, rdx, rcx) into the Windows x64 ones (rcx, rdx,
# r8, r9) and falls through into the Windows entry, so one loop serves both ABIs; it touches only
# registers both ABIs let a callee clobber (rax, rcx, rdx, r8, r9, xmm0-2).
_PROLOGUE = bytes.fromhex("4989d0" "4889f2" "4989c9" "4889f9")  # mov r8,rdx; mov rdx,rsi;
#                                                                  mov r9,rcx; mov rcx,rdi
_LOOPS = {
    # xor eax,eax; L: cmp rax,r9; jae E; movups xmm0,[rcx+rax*4]; rsqrtps xmm1,xmm0;
    # rcpps xmm2,xmm0; movups [rdx+rax*4],xmm1; movups [r8+rax*4],xmm2; add rax,4; jmp L; E: ret
    "sse": (4, bytes.fromhex("31c0" "4c39c8" "7319" "0f100481" "0f52c8" "0f53d0" "0f110c82"
                             "410f111480" "4883c004" "ebe2" "c3")),
    # the same with vmovups/vrsqrtps/vrcpps on ymm registers, 8 lanes, then vzeroupper; ret
    "avx": (8, bytes.fromhex("31c0" "4c39c8" "731e" "c5fc100481" "c5fc52c8" "c5fc53d0"
                             "c5fc110c82" "c4c17c111480" "4883c008" "ebdd" "c5f877" "c3")),
    # movss/rsqrtss/rcpss, one lane at a time (inc rax)
    "scalar": (1, bytes.fromhex("31c0" "4c39c8" "731d" "f30f100481" "f30f52c8" "f30f53d0"
                                "f30f110c82" "f3410f111480" "48ffc0" "ebde" "c3")),
}
FORMS = tuple(sorted(_LOOPS))
_SIGNATURE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                              ctypes.c_uint64)
_loaded: dict[str, Callable[..., None]] = {}
_pages: list[Any] = []  # the executable pages stay mapped while their functions may be called
# A fixed sample of all bit patterns (every exponent and sign), so that each run checks the same.
SAMPLE_SIZE = 8192


class Unavailable(Exception):
    """The estimates cannot be measured here (not x86_64, or no executable memory)."""


def _executable(code: bytes) -> int:
    """The address of a fresh executable page holding ``code``."""
    if sys.platform == "win32":
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        kernel32.VirtualAlloc.restype = ctypes.c_void_p
        kernel32.VirtualAlloc.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32,
                                          ctypes.c_uint32)
        address = kernel32.VirtualAlloc(None, len(code), 0x3000, 0x40)  # commit|reserve, RWX
        if not address:
            raise Unavailable("VirtualAlloc refused an executable page")
        ctypes.memmove(address, code, len(code))
        return int(address)
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (OSError, AttributeError) as error:
        raise Unavailable(f"no executable memory ({error})") from None
    page.write(code)
    _pages.append(page)
    return ctypes.addressof(ctypes.c_char.from_buffer(page))


def _function(form: str) -> Callable[..., None]:
    if form not in _loaded:
        machine = platform.machine().lower()
        if machine not in ("x86_64", "amd64"):
            raise Unavailable(f"{machine} has no rsqrtps/rcpps")
        if sys.maxsize <= 2**32:  # a 32-bit Python on a 64-bit OS: this code is x86-64's
            raise Unavailable("a 32-bit Python cannot run the x86-64 probe")
        loop = _LOOPS[form][1]
        entry = loop if sys.platform == "win32" else _PROLOGUE + loop
        _loaded[form] = _SIGNATURE(_executable(entry))
    return _loaded[form]


def run(inputs: Sequence[int], form: str = "sse") -> tuple[list[int], list[int]]:
    """The (rsqrt, rcp) estimates of the float32 bit patterns ``inputs``, computed by this CPU's
    ``form`` of the instructions ("avx" needs AVX: calling it on a CPU without is fatal)."""
    lanes = _LOOPS[form][0]
    count = len(inputs)
    padded = count + (-count % lanes)
    source = array("I", inputs)
    source.extend([0x3F800000] * (padded - count))
    rsqrt, rcp = array("I", bytes(4 * padded)), array("I", bytes(4 * padded))
    run_buffers(source, rsqrt, rcp, form)
    return list(rsqrt[:count]), list(rcp[:count])


def run_buffers(source: Any, rsqrt: Any, rcp: Any, form: str = "sse") -> None:
    """The estimates of ``source`` into ``rsqrt`` and ``rcp``: writable buffers of uint32 (an
    ``array('I')``, a numpy uint32 array) of one length, a multiple of the form's lanes (4, 8, 1)."""
    views = [memoryview(buffer).cast("B") for buffer in (source, rsqrt, rcp)]
    if len({len(v) for v in views}) != 1 or len(views[0]) % (4 * _LOOPS[form][0]):
        raise ValueError(f"buffers of one length, a multiple of {_LOOPS[form][0]} floats")
    addresses = [ctypes.addressof((ctypes.c_char * len(v)).from_buffer(v)) for v in views]
    _function(form)(*addresses, len(views[0]) // 4)


def measure_tables(form: str = "sse") -> estimates.Tables:
    """This CPU's tables: the estimate of each table entry's first input."""
    rsqrt, _ = run(estimates.rsqrt_inputs(), form)
    _, rcp = run(estimates.rcp_inputs(), form)
    return estimates.Tables(tuple(rsqrt), tuple(rcp))


def check_inputs() -> list[int]:
    """The inputs the fingerprint checks the tables on: each entry's middle and last input, the
    special cases, and the fixed sample of all bit patterns."""
    inputs = [*estimates.rsqrt_inputs(1024), *estimates.rsqrt_inputs(2047),
              *estimates.SPECIAL_INPUTS]
    generator = random.Random(20261202)
    inputs += [generator.getrandbits(32) for _ in range(SAMPLE_SIZE)]
    return inputs


def fingerprint() -> dict[str, Any]:
    """The fingerprint's ``cpu.estimates``: the tables (compressed), their SHA-256, and whether
    they describe this CPU's instruction (``mismatches`` of the checked inputs: 0 for a real
    x86 CPU; qemu without a table computes exactly, which no table describes)."""
    try:
        tables = measure_tables()
        inputs = check_inputs()
        rsqrt, rcp = run(inputs)
    except Unavailable as error:
        return {"measured": False, "reason": str(error)}
    except ValueError as error:  # the results are no table at all: say so, keep the cell
        return {"measured": False, "reason": f"the estimates form no table ({error})"}
    return {
        "measured": True,
        "form": "sse",
        "sha256": tables.sha256(),
        "tables": tables.encode(),
        "checked": len(inputs),
        "mismatches": estimates.mismatches(tables, inputs, rsqrt, rcp),
    }
