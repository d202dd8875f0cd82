"""GEMM code generators: runs tests/c/test_gen.c for each target, and runs generated kernels in
a small instruction emulator so that AVX-512 code is checked for results, not only decoding,
on CPUs without AVX-512.

The emulator reads objdump's Intel-syntax disassembly (a decoder independent of ours) and
implements the few instructions the generators emit, with IEEE single rounding: FMAs through
libm's fma()/fmaf(), so results compare bit for bit with the arithmetic contract
(docs/ARCHITECTURE.md), computed here again from its definition. Operands sit in memory regions
of their exact size, so any access beyond a matrix, past alpha/beta or outside the stack
faults; an access to C must stay within the M rows of one column (a vector's whole width
counts, whatever its mask); and the ABI is checked (rsp and callee-saved registers restored)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import _contracts
import numpy as np
import pytest
from _contracts import ANY, MINUS_ONE, ONE, ZERO, epilogue, fma

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$", re.M)


def _test_gen(cbuild: Path) -> Path:
    exe = cbuild / "tests" / "c" / "test_gen"
    assert exe.exists(), f"not built: {exe}"
    return exe


@pytest.mark.parametrize("target", ["avx2", "avx512"])
def test_generated_kernels(cbuild, target):
    proc = subprocess.run(
        [str(_test_gen(cbuild)), target], capture_output=True, text=True, timeout=1800
    )
    out = proc.stdout + proc.stderr
    summary = SUMMARY.findall(proc.stdout)
    assert summary, f"no summary line:\n{out[-4000:]}"
    passed, failed = map(int, summary[-1])
    assert proc.returncode == 0, out[-4000:]
    assert failed == 0, out[-4000:]
    assert passed >= 10000, out[-4000:]
    assert f"{target}: " in proc.stdout and " 0 declined" in proc.stdout, out[-4000:]


# ---- The emulator.


class Fault(Exception):
    pass


GPR64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"] + [f"r{i}" for i in range(8, 16)]
GPR32 = {r.replace("r", "e", 1): r for r in GPR64[:8]} | {f"r{i}d": f"r{i}" for i in range(8, 16)}
CALLEE_SAVED = ["rbx", "rbp", "r12", "r13", "r14", "r15"]
M64 = (1 << 64) - 1
WIDTH = {"xmm": 16, "ymm": 32, "zmm": 64}
SIZE = {"DWORD": 4, "QWORD": 8, "XMMWORD": 16, "YMMWORD": 32, "ZMMWORD": 64}


class Memory:
    def __init__(self):
        self.regions: list[tuple[int, bytearray]] = []
        self.clock = 0  # accesses so far
        self.last_use: dict[int, int] = {}  # cache line -> clock of its last access
        # C's live rows: (base, bytes between columns, bytes of M rows); None: not checked.
        self.c_rows: tuple[int, int, int] | None = None

    def touch(self, addr: int, n: int):
        """An instruction accesses n bytes at addr (a vector's whole width, masked or not)."""
        if self.c_rows is None:
            return
        base, col, rows = self.c_rows
        if self.region_of(addr) != base:
            return
        off = addr - base
        if off % col + n > rows:
            raise Fault(f"access of {n} bytes to C at +{off:#x}: bytes outside its column's rows")

    def add(self, base: int, data: bytearray):
        self.regions.append((base, data))

    def region_of(self, addr: int) -> int | None:
        return next((base for base, buf in self.regions if base <= addr < base + len(buf)), None)

    def _find(self, addr: int, n: int):
        self.clock += 1
        for line in range(addr >> 6, ((addr + n - 1) >> 6) + 1):
            self.last_use[line] = self.clock
        for base, buf in self.regions:
            if base <= addr and addr + n <= base + len(buf):
                return buf, addr - base
        raise Fault(f"access of {n} bytes at {addr:#x} outside every operand")

    def read(self, addr: int, n: int) -> bytes:
        buf, o = self._find(addr, n)
        return bytes(buf[o : o + n])

    def write(self, addr: int, data: bytes):
        buf, o = self._find(addr, len(data))
        buf[o : o + len(data)] = data


class Machine:
    def __init__(self, mem: Memory, code: bytes, entry: int):
        self.mem = mem
        self.g = dict.fromkeys(GPR64, 0)
        self.v = np.zeros((32, 64), np.uint8)
        self.k = [0] * 8
        self.zf = False
        self.prefetches: list[tuple[int, int]] = []  # (address, memory clock when issued)
        self.prog = self._decode(code, entry)
        self.entry = entry

    # -- decoding objdump's text into closures
    def _decode(self, code: bytes, entry: int):
        with _tmpfile(code) as path:
            text = subprocess.run(
                [
                    "objdump",
                    "-D",
                    "-b",
                    "binary",
                    "-m",
                    "i386:x86-64",
                    "-M",
                    "intel",
                    "--insn-width=16",
                    f"--start-address={entry}",
                    str(path),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        prog = {}
        lines = []
        for line in text.splitlines():
            m = re.match(r"\s*([0-9a-f]+):\t([0-9a-f ]+)\t(.*)$", line)
            if m:
                lines.append((int(m.group(1), 16), m.group(3)))
        for i, (addr, asm) in enumerate(lines):
            nxt = lines[i + 1][0] if i + 1 < len(lines) else None
            prog[addr] = (self._compile(asm), nxt, asm)
        return prog

    def _operand(self, s: str, rip_target: int | None):
        s = s.strip()
        m = re.fullmatch(r"([xyz]mm)(\d+)((?:\{k\d\})?)((?:\{z\})?)", s)
        if m:
            kk = int(m.group(3)[2]) if m.group(3) else 0
            return ("v", int(m.group(2)), WIDTH[m.group(1)], kk, bool(m.group(4)))
        if re.fullmatch(r"k\d", s):
            return ("k", int(s[1]))
        if s in GPR64:
            return ("g", s, 8)
        if s in GPR32:
            return ("g", GPR32[s], 4)
        m = re.fullmatch(r"(?:(\w+) (PTR|BCST) )?\[([^\]]*)\]((?:\{k\d\})?)", s)
        if m:
            size = SIZE.get(m.group(1), 8) if m.group(1) else 8
            bcst = m.group(2) == "BCST"
            kk = int(m.group(4)[2]) if m.group(4) else 0
            terms = []
            for sign, term in re.findall(r"([+-]?)([^+-]+)", m.group(3)):
                neg = sign == "-"
                if term == "rip":
                    terms.append(("abs", rip_target))
                elif "*" in term:
                    r, sc = term.split("*")
                    terms.append(("idx", r, int(sc)))
                elif term in GPR64:
                    terms.append(("reg", term))
                else:
                    terms.append(("disp", -int(term, 16) if neg else int(term, 16)))
            if any(t[0] == "abs" for t in terms):
                terms = [("abs", rip_target)]

            def addr(terms=terms):
                a = 0
                for t in terms:
                    if t[0] == "reg":
                        a += self.g[t[1]]
                    elif t[0] == "idx":
                        a += self.g[t[1]] * t[2]
                    else:
                        a += t[1]
                return a & M64

            return ("m", addr, size, bcst, kk)
        return ("i", int(s, 16) & M64 if s.startswith("0x") else int(s) & M64)

    def _compile(self, asm: str):
        rip_target = None
        if "#" in asm:
            asm, comment = asm.split("#", 1)
            rip_target = int(comment.split()[0], 16)
        parts = asm.split(None, 1)
        mn = parts[0]
        ops = [self._operand(o, rip_target) for o in parts[1].split(",")] if len(parts) > 1 else []
        handler = getattr(self, "op_" + mn, None)
        if handler is None:
            raise AssertionError(f"emulator does not know: {asm}")
        return lambda: handler(*ops)

    # -- vector helpers
    @staticmethod
    def _dt(mn: str):
        return np.float64 if mn.endswith("d") or mn.endswith("q") else np.float32

    def _lanes(self, width: int, dt) -> int:
        return width // np.dtype(dt).itemsize

    def _sel(self, kk: int, lanes: int):
        if not kk:
            return np.ones(lanes, bool)
        return np.array([(self.k[kk] >> i) & 1 for i in range(lanes)], bool)

    def _read_vec(self, op, dt, lanes: int, sel):
        if op[0] == "v":
            return self.v[op[1]].view(dt)[:lanes].copy()
        _, addr, size, bcst, _ = op
        es = np.dtype(dt).itemsize
        a = addr()
        self.mem.touch(a, es if bcst else lanes * es)
        if bcst:
            return np.full(lanes, np.frombuffer(self.mem.read(a, es), dt)[0], dt)
        out = np.zeros(lanes, dt)
        for i in range(lanes):  # masked-off lanes are not accessed (fault suppression)
            if sel[i]:
                out[i] = np.frombuffer(self.mem.read(a + i * es, es), dt)[0]
        return out

    def _write_vec(self, dst, dt, values):
        _, idx, width, kk, z = dst
        lanes = self._lanes(width, dt)
        cur = self.v[idx].view(dt)
        sel = self._sel(kk, lanes)
        merged = np.where(sel, values.astype(dt), np.zeros(lanes, dt) if z else cur[:lanes])
        cur[:lanes] = merged
        self.v[idx][width:] = 0  # VEX and EVEX writes clear the bits above the vector length

    def _arith(self, mn, dst, s1, s2, f):
        """dst = f(dst, s1, s2) in the element type: every result rounded once."""
        dt = self._dt(mn)
        lanes = self._lanes(dst[2], dt)
        sel = self._sel(dst[3], lanes)
        a = self.v[s1[1]].view(dt)[:lanes].copy()
        b = self._read_vec(s2, dt, lanes, sel)
        d = self.v[dst[1]].view(dt)[:lanes].copy()
        with np.errstate(all="ignore"):
            self._write_vec(dst, dt, f(d, a, b))

    # -- instructions
    def op_vfmadd231pd(self, d, a, b):
        self._arith("pd", d, a, b, lambda d, a, b: fma(a, b, d, np.float64))

    def op_vfmadd231ps(self, d, a, b):
        self._arith("ps", d, a, b, lambda d, a, b: fma(a, b, d, np.float32))

    def op_vfnmadd231pd(self, d, a, b):
        self._arith("pd", d, a, b, lambda d, a, b: fma(-a, b, d, np.float64))

    def op_vfnmadd231ps(self, d, a, b):
        self._arith("ps", d, a, b, lambda d, a, b: fma(-a, b, d, np.float32))

    def op_vfmadd213pd(self, d, a, b):
        self._arith("pd", d, a, b, lambda d, a, b: fma(a, d, b, np.float64))

    def op_vfmadd213ps(self, d, a, b):
        self._arith("ps", d, a, b, lambda d, a, b: fma(a, d, b, np.float32))

    def op_vfmsub213pd(self, d, a, b):
        self._arith("pd", d, a, b, lambda d, a, b: fma(a, d, -b, np.float64))

    def op_vfmsub213ps(self, d, a, b):
        self._arith("ps", d, a, b, lambda d, a, b: fma(a, d, -b, np.float32))

    def op_vmulpd(self, d, a, b):
        self._arith("pd", d, a, b, lambda d, a, b: a * b)

    def op_vmulps(self, d, a, b):
        self._arith("ps", d, a, b, lambda d, a, b: a * b)

    def op_vaddpd(self, d, a, b):
        self._arith("pd", d, a, b, lambda d, a, b: a + b)

    def op_vaddps(self, d, a, b):
        self._arith("ps", d, a, b, lambda d, a, b: a + b)

    def op_vsubpd(self, d, a, b):
        self._arith("pd", d, a, b, lambda d, a, b: a - b)

    def op_vsubps(self, d, a, b):
        self._arith("ps", d, a, b, lambda d, a, b: a - b)

    # Complex: alternating signs of the addend, even lanes first (SDM: FMADDSUB subtracts in
    # even lanes, FMSUBADD adds); 132: d = d*b -+ a, 231: d = a*b -+ d.
    @staticmethod
    def _alt(x, y, z, even_sign, dt):
        sign = np.resize(np.array([even_sign, -even_sign], dt), len(z))
        return fma(x, y, sign * z, dt)

    def op_vfmaddsub132pd(self, d, a, b):
        self._arith("pd", d, a, b, lambda d, a, b: self._alt(d, b, a, -1, np.float64))

    def op_vfmaddsub132ps(self, d, a, b):
        self._arith("ps", d, a, b, lambda d, a, b: self._alt(d, b, a, -1, np.float32))

    def op_vfmsubadd132pd(self, d, a, b):
        self._arith("pd", d, a, b, lambda d, a, b: self._alt(d, b, a, 1, np.float64))

    def op_vfmsubadd132ps(self, d, a, b):
        self._arith("ps", d, a, b, lambda d, a, b: self._alt(d, b, a, 1, np.float32))

    def op_vfmsubadd231pd(self, d, a, b):
        self._arith("pd", d, a, b, lambda d, a, b: self._alt(a, b, d, 1, np.float64))

    def op_vfmsubadd231ps(self, d, a, b):
        self._arith("ps", d, a, b, lambda d, a, b: self._alt(a, b, d, 1, np.float32))

    def op_vpxorq(self, d, a, b):
        assert not d[3], "vpxor masked"
        w = d[2]
        if b[0] == "v":
            other = self.v[b[1]][:w]
        else:
            assert not b[3], "vpxor with a broadcast"
            self.mem.touch(b[1](), w)
            other = np.frombuffer(self.mem.read(b[1](), w), np.uint8)
        res = self.v[a[1]][:w] ^ other
        self.v[d[1]][:w] = res
        self.v[d[1]][w:] = 0

    op_vpxor = op_vpxorq

    # VPERMILPD/PS with an imm8 (register source): within each 128-bit lane, element i takes
    # element imm[i] (PD: one bit each) or imm[2i+1:2i] (PS: the same selectors in every lane).
    def _permil(self, d, s, imm, dt):
        assert s[0] == "v", "vpermil from memory"
        lanes = self._lanes(d[2], dt)
        x = self.v[s[1]].view(dt)[:lanes].copy()
        per = 16 // np.dtype(dt).itemsize
        out = np.zeros(lanes, dt)
        for i in range(lanes):
            base = i - i % per
            sel = (imm[1] >> i) & 1 if per == 2 else (imm[1] >> (2 * (i % 4))) & 3
            out[i] = x[base + sel]
        self._write_vec(d, dt, out)

    def op_vpermilpd(self, d, s, imm):
        self._permil(d, s, imm, np.float64)

    def op_vpermilps(self, d, s, imm):
        self._permil(d, s, imm, np.float32)

    # Shuffles (ymm, register operands; per 128-bit lane as in the SDM).
    def _shuffle(self, d, a, b, dt, pick):
        x, y = self.v[a[1]].view(dt), self.v[b[1]].view(dt)
        lanes = self._lanes(d[2], dt)
        per = 16 // np.dtype(dt).itemsize
        out = np.zeros(lanes, dt)
        for base in range(0, lanes, per):
            out[base : base + per] = pick(x[base : base + per], y[base : base + per])
        self._write_vec(d, dt, out)

    def op_vunpcklpd(self, d, a, b):
        self._shuffle(d, a, b, np.float64, lambda x, y: [x[0], y[0]])

    def op_vunpckhpd(self, d, a, b):
        self._shuffle(d, a, b, np.float64, lambda x, y: [x[1], y[1]])

    def op_vunpcklps(self, d, a, b):
        self._shuffle(d, a, b, np.float32, lambda x, y: [x[0], y[0], x[1], y[1]])

    def op_vunpckhps(self, d, a, b):
        self._shuffle(d, a, b, np.float32, lambda x, y: [x[2], y[2], x[3], y[3]])

    def op_vshufps(self, d, a, b, imm):
        i = imm[1]
        self._shuffle(
            d,
            a,
            b,
            np.float32,
            lambda x, y: [x[i & 3], x[i >> 2 & 3], y[i >> 4 & 3], y[i >> 6 & 3]],
        )

    def _align(self, d, a, b, imm, dt):  # lanes of b:a (a high) shifted down by imm
        lanes = self._lanes(d[2], dt)
        both = np.concatenate([self.v[b[1]].view(dt)[:lanes], self.v[a[1]].view(dt)[:lanes]])
        self._write_vec(d, dt, both[imm[1] % (2 * lanes) :][:lanes].copy())

    def op_valignq(self, d, a, b, imm):
        self._align(d, a, b, imm, np.float64)

    def op_valignd(self, d, a, b, imm):
        self._align(d, a, b, imm, np.float32)

    def op_vshuff64x2(self, d, a, b, imm):  # 128-bit blocks: low half of dst from a, high from b
        n = d[2] // 16
        src = [self.v[a[1]].copy(), self.v[b[1]].copy()]
        bits = 2 if n == 4 else 1
        for i in range(n):
            sel = imm[1] >> (bits * i) & (n - 1)
            self.v[d[1]][16 * i : 16 * i + 16] = src[i >= n // 2][16 * sel : 16 * sel + 16]
        self.v[d[1]][d[2] :] = 0

    def op_vperm2f128(self, d, a, b, imm):
        halves = [self.v[a[1]][:16], self.v[a[1]][16:32], self.v[b[1]][:16], self.v[b[1]][16:32]]
        lo, hi = halves[imm[1] & 3].copy(), halves[imm[1] >> 4 & 3].copy()
        self.v[d[1]][:16] = 0 if imm[1] & 8 else lo
        self.v[d[1]][16:32] = 0 if imm[1] & 0x80 else hi
        self.v[d[1]][32:] = 0

    def _mov(self, dt, a, b):
        if a[0] == "m":  # store: only the selected lanes are written
            lanes = self._lanes(b[2], dt)
            sel = self._sel(a[4], lanes)
            vals = self.v[b[1]].view(dt)[:lanes]
            es = np.dtype(dt).itemsize
            self.mem.touch(a[1](), lanes * es)
            for i in range(lanes):
                if sel[i]:
                    self.mem.write(a[1]() + i * es, vals[i].tobytes())
        else:
            lanes = self._lanes(a[2], dt)
            self._write_vec(a, dt, self._read_vec(b, dt, lanes, self._sel(a[3], lanes)))

    def op_vmovupd(self, a, b):
        self._mov(np.float64, a, b)

    def op_vmovups(self, a, b):
        self._mov(np.float32, a, b)

    def _movs(self, dt, a, b):
        es = np.dtype(dt).itemsize
        if a[0] == "m":
            self.mem.touch(a[1](), es)
            self.mem.write(a[1](), self.v[b[1]][:es].tobytes())
        else:
            self.mem.touch(b[1](), es)
            self.v[a[1]][:] = 0
            self.v[a[1]][:es] = np.frombuffer(self.mem.read(b[1](), es), np.uint8)

    def _maskmov(self, dt, d, mask, m):  # lanes whose mask has its sign bit set; zeros elsewhere
        lanes = self._lanes(d[2], dt)
        bits = self.v[mask[1]].view(np.int64 if dt == np.float64 else np.int32)[:lanes]
        self._write_vec(("v", d[1], d[2], 0, False), dt, self._read_vec(m, dt, lanes, bits < 0))

    def op_vmaskmovpd(self, d, mask, m):
        self._maskmov(np.float64, d, mask, m)

    def op_vmaskmovps(self, d, mask, m):
        self._maskmov(np.float32, d, mask, m)

    def op_vmovsd(self, a, b):
        self._movs(np.float64, a, b)

    def op_vmovss(self, a, b):
        self._movs(np.float32, a, b)

    def _bcst(self, dt, d, m):
        es = np.dtype(dt).itemsize
        self.mem.touch(m[1](), es)
        x = np.frombuffer(self.mem.read(m[1](), es), dt)[0]
        self._write_vec(d, dt, np.full(self._lanes(d[2], dt), x, dt))

    def op_vbroadcastsd(self, d, m):
        self._bcst(np.float64, d, m)

    def op_vbroadcastss(self, d, m):
        self._bcst(np.float32, d, m)

    def op_prefetcht0(self, m):  # a hint: it never faults and changes no state; kept for checks
        self.prefetches.append((m[1](), self.mem.clock))

    def op_vzeroupper(self):
        self.v[:16, 16:] = 0

    def op_kmovw(self, k, r):
        self.k[k[1]] = self.g[r[1]] & 0xFFFF

    def _set(self, r, value):
        self.g[r[1]] = value & (M64 if r[2] == 8 else 0xFFFFFFFF)

    def op_mov(self, a, b):
        if a[0] == "m":
            self.mem.write(a[1](), self.g[b[1]].to_bytes(8, "little"))
        elif b[0] == "m":
            self._set(a, int.from_bytes(self.mem.read(b[1](), 8), "little"))
        else:
            self._set(a, b[1] if b[0] == "i" else self.g[b[1]])

    def op_lea(self, a, b):
        self._set(a, b[1]())

    def op_add(self, a, b):
        self._set(a, self.g[a[1]] + (b[1] if b[0] == "i" else self.g[b[1]]))
        self.zf = self.g[a[1]] == 0

    def op_sub(self, a, b):
        self._set(a, self.g[a[1]] - (b[1] if b[0] == "i" else self.g[b[1]]))
        self.zf = self.g[a[1]] == 0

    def op_and(self, a, b):
        self._set(a, self.g[a[1]] & ((b[1] & M64) if b[0] == "i" else self.g[b[1]]))
        self.zf = self.g[a[1]] == 0

    def op_push(self, r):
        self.g["rsp"] -= 8
        self.mem.write(self.g["rsp"], self.g[r[1]].to_bytes(8, "little"))

    def op_pop(self, r):
        self.g[r[1]] = int.from_bytes(self.mem.read(self.g["rsp"], 8), "little")
        self.g["rsp"] += 8

    def op_jne(self, t):
        return None if self.zf else t[1]

    def op_ret(self):
        return "ret"

    def run(self, limit: int = 5_000_000) -> int:
        pc, n = self.entry, 0
        while True:
            fn, nxt, asm = self.prog[pc]
            r = fn()
            n += 1
            if r == "ret":
                return n
            pc = r if r is not None else nxt
            if n > limit:
                raise AssertionError("runaway kernel")


class _tmpfile:
    def __init__(self, data: bytes):
        import tempfile

        self.f = tempfile.NamedTemporaryFile(suffix=".bin", delete=False)
        self.f.write(data)
        self.f.close()

    def __enter__(self):
        return Path(self.f.name)

    def __exit__(self, *exc):
        Path(self.f.name).unlink()


# ---- Running one kernel of the corpus.
A_AT, B_AT, C_AT, AL_AT, BE_AT = 0x10000000, 0x20000000, 0x30000000, 0x40000000, 0x50000000
STACK_TOP, STACK_BYTES = 0x7FF00000, 64 * 1024


def _span(rows, cols, ld):
    return (cols - 1) * ld + rows if rows and cols else 0


def contract(A, B, C0, alpha, beta, alpha_cls: int, beta_cls: int, dt) -> np.ndarray:
    """C by the arithmetic contract (docs/ARCHITECTURE.md), from its definition: per element one
    FMA chain over k in order from +0 (of -A for alpha -1), then the epilogue of the class."""
    m, k = A.shape
    s = np.zeros((m, B.shape[1]), dt)
    a = -A if alpha_cls == MINUS_ONE else A
    for p in range(k):
        s = fma(a[:, p : p + 1], B[p : p + 1, :], s, dt)
    return epilogue(s, C0, alpha, beta, alpha_cls, beta_cls, dt)


def zcontract(A, B, C0, alpha, beta, alpha_cls: int, beta_cls: int, conj_a, conj_b, dt):
    """Complex C by the arithmetic contract (docs/ARCHITECTURE.md), from its definition. A, B,
    C0 are (re, im) pairs of arrays in dt: op(A) and op(B) transposed as the call says but not
    conjugated (the stored values); alpha, beta (re, im). Returns (re, im) of C: four FMA
    chains over k in order from +0, then t by the conjugations, u = alpha*t, C by beta."""
    (ar, ai), (br, bi) = A, B
    m, k = ar.shape
    P = Q = R = S = np.zeros((m, br.shape[1]), dt)
    for p in range(k):
        x, y, u, v = ar[:, p : p + 1], ai[:, p : p + 1], br[p : p + 1, :], bi[p : p + 1, :]
        P, Q, R, S = fma(x, u, P, dt), fma(y, u, Q, dt), fma(x, v, R, dt), fma(y, v, S, dt)
    alr, ali, ber, bei = dt(alpha[0]), dt(alpha[1]), dt(beta[0]), dt(beta[1])
    cr, ci = C0
    with np.errstate(all="ignore"):
        tr = P - S if conj_a == conj_b else P + S
        if not conj_a and not conj_b:
            ti = Q + R
        elif conj_a and not conj_b:
            ti = R - Q
        elif conj_b and not conj_a:
            ti = Q - R
        else:
            ti = -(Q + R)
        ur, ui = tr, ti
        if alpha_cls == MINUS_ONE:
            ur, ui = -tr, -ti
        elif alpha_cls == ANY:
            ur, ui = fma(tr, alr, -(ti * ali), dt), fma(ti, alr, tr * ali, dt)
        if beta_cls == ZERO:
            return ur, ui
        if beta_cls == ONE:
            return ur + cr, ui + ci
        if beta_cls == MINUS_ONE:
            return ur - cr, ui - ci
        vr, vi = fma(cr, ber, -(ci * bei), dt), fma(ci, ber, cr * bei, dt)
        return ur + vr, ui + vi


def _run(
    code: bytes, entry: int, a, b, c: bytearray, alpha, beta, c_rows, dt
) -> tuple[Machine, str | None]:
    """Runs a kernel on A, B (arrays), C (a buffer it writes), alpha and beta (lists) in regions
    of their exact sizes, with C's accesses held to c_rows (Memory.c_rows); the machine, and
    None or what went wrong (a fault, or rsp or a callee-saved register not restored)."""
    mem = Memory()
    mem.add(A_AT, bytearray(a.tobytes()))
    mem.add(B_AT, bytearray(b.tobytes()))
    mem.add(C_AT, c)
    mem.add(AL_AT, bytearray(np.array(alpha, dt).tobytes()))
    mem.add(BE_AT, bytearray(np.array(beta, dt).tobytes()))
    mem.add(0, bytearray(code))  # code addresses are buffer offsets, as objdump prints them
    mem.add(STACK_TOP - STACK_BYTES, bytearray(STACK_BYTES))
    mem.c_rows = c_rows
    mach = Machine(mem, code, entry)
    g = mach.g
    for i, r in enumerate(GPR64):
        g[r] = 0x1111111111111111 * (i + 1) & M64
    g.update(rdi=A_AT, rsi=B_AT, rdx=C_AT, rcx=AL_AT, r8=BE_AT, r9=0xDEAD, rsp=STACK_TOP - 8)
    saved = {r: g[r] for r in CALLEE_SAVED}
    try:
        mach.run()
    except Fault as e:
        return mach, str(e)
    if g["rsp"] != STACK_TOP - 8:
        return mach, "rsp not restored"
    if any(g[r] != saved[r] for r in CALLEE_SAVED):
        return mach, "callee-saved register changed"
    return mach, None


def check_kernel(
    code: bytes, entry: int, prec, ta, tb, m, n, k, lda, ldb, ldc, alpha_cls, beta_cls, rng
) -> str | None:
    """Runs one kernel on random data; returns None when it is right, else what went wrong.
    prec 0, 1 real (f64, f32); 2, 3 complex (zgemm, cgemm: u = 2 parts per element)."""
    assert alpha_cls != ZERO and m and n and k, "nothing to multiply: the route's, not a kernel's"
    dt = np.float64 if prec in (0, 2) else np.float32
    u = 2 if prec >= 2 else 1
    es = dt().itemsize
    sa = u * (_span(k, m, lda) if ta else _span(m, k, lda))
    sb = u * (_span(n, k, ldb) if tb else _span(k, n, ldb))
    sc = u * _span(m, n, ldc)
    # One kernel in four gets a few exact values, zeros of both signs among them: results then
    # come out exactly zero, where the form of each operation shows in the sign (-t against 0 - t).
    exact = rng.integers(4) == 0

    def values(count):
        if exact:
            return rng.choice(np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.0]), count).astype(dt)
        return rng.uniform(-1, 1, count).astype(dt)

    a, b, c = values(sa), values(sb), values(sc)
    rows = np.arange(sc) % (u * ldc) if sc else np.arange(0)  # in parts
    c[rows >= u * m] = 12345.0
    if beta_cls == ZERO:
        c[rows < u * m] = np.nan

    def scale(cls):
        if cls != ANY:
            re = {ONE: 1.0, MINUS_ONE: -1.0, ZERO: 0.0}[cls]
            return [re, float(rng.choice([0.0, -0.0]))] if u == 2 else [re]
        if u == 1:
            return [float(rng.choice([0.75, -1.5, 2.25]))]
        i = int(rng.integers(5))  # general, real, purely imaginary, real part 1
        return [[0.75, -0.5], [-1.5, 2.0], [0.0, 1.25], [1.0, 0.5], [2.25, 0.0]][i]

    alpha, beta = scale(alpha_cls), scale(beta_cls)
    cbuf = bytearray(c.tobytes())
    mach, why = _run(code, entry, a, b, cbuf, alpha, beta, (C_AT, u * ldc * es, u * m * es), dt)
    if why:
        return why
    mem = mach.mem
    # Prefetches are hints that cost time: each must request a line of an operand that the
    # kernel then reads or writes, or lie just past B or C (the last pass of a column-block
    # loop prefetching the next block's, one B or C at most).
    past = [(B_AT + sb * es, (sb + u * ldb) * es), (C_AT + len(cbuf), len(cbuf) + u * ldc * es)]
    for addr, issued in mach.prefetches:
        if mem.region_of(addr) in (A_AT, B_AT, C_AT):
            if mem.last_use.get(addr >> 6, 0) <= issued:
                return f"prefetch of {addr:#x}: a line the kernel does not use after it"
        elif not any(end <= addr < end + most for end, most in past):
            return f"prefetch of {addr:#x} outside the operands"
    got_dt = np.frombuffer(bytes(cbuf), dt)
    got = got_dt.astype(np.float64)
    for idx in range(sc):
        if rows[idx] >= u * m and got[idx] != 12345.0:
            return f"padding C({rows[idx]} parts,{idx // (u * ldc)}) overwritten"

    # op(A), op(B) and C as stored, element by element (parts last); then the contract
    # bit for bit, and a float64 product within rounding.
    def elements(x, rows_, cols, ld, trans):
        out = np.zeros((rows_, cols, u), dt)
        for i in range(rows_):
            for j in range(cols):
                e = u * (j + i * ld if trans else i + j * ld)
                out[i, j] = x[e : e + u]
        return out

    A = elements(a, m, k, lda, ta)
    B = elements(b, k, n, ldb, tb)
    C0 = elements(c, m, n, ldc, False)

    def parts(X):
        return X[..., 0], X[..., 1]

    if u == 1:
        a0, b0 = dt(alpha[0]), dt(beta[0])
        exact = contract(A[..., 0], B[..., 0], C0[..., 0], a0, b0, alpha_cls, beta_cls, dt)
        exact = exact[..., None]
        Ac, Bc, Cc = (X[..., 0].astype(np.float64) for X in (A, B, C0))
    else:
        ca, cb = ta == 2, tb == 2
        er, ei = zcontract(
            parts(A), parts(B), parts(C0), alpha, beta, alpha_cls, beta_cls, ca, cb, dt
        )
        exact = np.stack([er, ei], axis=-1)
        Ac, Bc, Cc = (
            xr.astype(np.float64) + 1j * xi.astype(np.float64) for xr, xi in map(parts, (A, B, C0))
        )
        Ac, Bc = (Ac.conj() if ca else Ac), (Bc.conj() if cb else Bc)
    for j in range(n):
        for i in range(m):
            for q in range(u):
                gv, w = got_dt[u * (i + j * ldc) + q], exact[i, j, q]
                if gv.tobytes() != w.tobytes() and not (np.isnan(gv) and np.isnan(w)):
                    part = (".re", ".im")[q] if u == 2 else ""
                    return f"C({i},{j}){part} = {float(gv)!r}, the contract gives {float(w)!r}"
    al = complex(alpha[0], alpha[1] if u == 2 else 0.0)
    be = complex(beta[0], beta[1] if u == 2 else 0.0)
    want = al * (Ac @ Bc)

    def size(x):
        return np.abs(x.real) + np.abs(x.imag)

    mag = size(al) * (size(Ac) @ size(Bc))
    if beta_cls != ZERO:
        want = want + be * Cc
        mag = mag + size(be) * size(Cc)
    tol = (1e-14 if dt == np.float64 else 1e-6) * (k + 2 + 2 * (u - 1))
    for j in range(n):
        for i in range(m):
            for q in range(u):
                w = want[i, j].imag if q else want[i, j].real
                err = abs(got[u * (i + j * ldc) + q] - w)
                if not err <= tol * max(mag[i, j], 1e-300):
                    return f"C({i},{j}) part {q} = {got[u * (i + j * ldc) + q]!r}, want {w!r}"
    return None


def check_dot_kernel(
    code: bytes, entry: int, prec, m, k, lda, incx, incy, alpha_cls, beta_cls, rng
) -> str | None:
    """Runs one dot-form kernel (GEMV T: y = alpha*A^T x + beta*y, A k x m, x and y at their
    increments) on random data; None when y is the dot contract's bit for bit (from its
    definition, tests/_contracts.py), within rounding of a float64 product, and y's gaps kept."""
    dt = np.float64 if prec == 0 else np.float32
    es = dt().itemsize
    sa, sx, sy = _span(k, m, lda), (k - 1) * incx + 1, (m - 1) * incy + 1
    a = rng.uniform(-1, 1, sa).astype(dt)
    x = np.full(sx, np.nan, dt)
    x[::incx] = rng.uniform(-1, 1, k).astype(dt)
    y = np.full(sy, 12345.0, dt)
    y[::incy] = np.nan if beta_cls == ZERO else rng.uniform(-1, 1, m).astype(dt)
    pick = {ONE: 1.0, MINUS_ONE: -1.0, ZERO: 0.0}
    alpha = pick.get(alpha_cls, float(rng.choice([0.75, -1.5, 2.25])))
    beta = pick.get(beta_cls, float(rng.choice([0.75, -1.5, 2.25])))
    ybuf = bytearray(y.tobytes())
    # Accesses to y stay within its m elements: one at a time at their increment, any run of
    # them when contiguous (the generator's vector epilogue).
    rows = (C_AT, incy * es, es) if incy > 1 else (C_AT, m * es, m * es)
    _, why = _run(code, entry, a, x, ybuf, [alpha], [beta], rows, dt)
    if why:
        return why
    got = np.frombuffer(bytes(ybuf), dt)
    gaps = np.ones(sy, bool)
    gaps[::incy] = False
    if not (got[gaps] == 12345.0).all():
        return "a gap of y overwritten"
    opa = np.stack([a[i * lda : i * lda + k] for i in range(m)])
    want = _contracts.dot(opa, x[::incx], y[::incy], alpha, beta, dt)
    if got[::incy].tobytes() != want.tobytes():
        return f"y = {got[::incy]!r}, the dot contract gives {want!r}"
    ref = alpha * (opa.astype(np.float64) @ x[::incx].astype(np.float64))
    mag = abs(alpha) * (np.abs(opa.astype(np.float64)) @ np.abs(x[::incx].astype(np.float64)))
    if beta_cls != ZERO:
        ref += beta * y[::incy].astype(np.float64)
        mag += abs(beta) * np.abs(y[::incy].astype(np.float64))
    tol = (1e-14 if dt == np.float64 else 1e-6) * (k + 2)
    if not (np.abs(got[::incy] - ref) <= tol * np.maximum(mag, 1e-300)).all():
        return f"y = {got[::incy]!r}, want about {ref!r}"
    return None


def _corpus(cbuild: Path, target: str, tmp: Path):
    proc = subprocess.run(
        [str(_test_gen(cbuild)), "emit", target, str(tmp)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in (tmp / "manifest.txt").read_text().splitlines():
        f, entry, *fields = line.split()
        yield f, (tmp / f).read_bytes(), int(entry), [int(x) for x in fields]


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump")
@pytest.mark.parametrize("target", ["avx512", "avx2"])
def test_emulated_kernels(cbuild, tmp_path, target):
    """Every corpus kernel computes the right C in the emulator, real, complex and the dot form
    (AVX2 one in five: its kernels also run natively in test_gen, which cross-checks the
    emulator)."""
    rng = np.random.default_rng(7)
    failures, count, complex_count, dot_count = [], 0, 0, 0
    for i, (name, code, entry, fields) in enumerate(_corpus(cbuild, target, tmp_path)):
        if target == "avx2" and i % 5:
            continue
        count += 1
        if fields[1] == 3:  # the dot form: prec ta tb m n k lda incx incy alpha beta
            dot_count += 1
            prec, _, _, m, _, k, lda, incx, incy, al, be = fields
            why = check_dot_kernel(code, entry, prec, m, k, lda, incx, incy, al, be, rng)
        else:
            complex_count += fields[0] >= 2
            why = check_kernel(code, entry, *fields, rng)
        if why:
            failures.append(f"{name} {fields}: {why}")
    assert count >= 100 and complex_count >= count // 3 and dot_count >= 5
    assert not failures, "\n".join(failures[:20]) + f"\n{len(failures)} of {count} failed"
