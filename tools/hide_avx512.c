/* hide_avx512.so: an AVX-512 machine that says it has none, for running the test suite as an
 * AVX2-only CPU (a Zen 3) would run it: what the library, OpenBLAS, numpy, LIBXSMM and the
 * compilers detect, and so which code each of them picks. It hides nothing from code that does
 * not ask: AVX-512 instructions still execute, so a program that runs them without asking CPUID
 * is not caught here (the instruction emulator of tests/test_jit.py covers generated code).
 *
 * Loaded as an audit library, which starts before any object's constructors and is kept across
 * the suite's subprocesses (its environments drop LD_PRELOAD, not LD_AUDIT):
 *   HIDE_AVX512=1 LD_AUDIT=/path/to/hide_avx512.so program     (tools/as_avx2_only.sh does it)
 * CPUID is made to fault (arch_prctl ARCH_SET_CPUID: Linux >= 4.12 and a CPU, or hypervisor,
 * with CPUID faulting, /proc/cpuinfo flag cpuid_fault); the SIGSEGV handler runs the real CPUID
 * with faulting off, clears the AVX-512 feature bits and the AVX-512 register state, and steps
 * over the instruction. The program's own SIGSEGV handlers (Python's faulthandler, cc1's, the
 * test programs') go through wrappers that keep this handler in place and call theirs for every
 * other fault: calls through the PLT are bound to them as they are resolved, calls through the
 * GOT (-fno-plt, as this project builds) are redirected once the program is relocated. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <elf.h>
#include <link.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static struct sigaction theirs;  // what the program asked for SIGSEGV
static bool active;
static struct link_map *loaded[512];  // the program's objects at start
static int nloaded;

static bool cpuid_faults(bool on)  // for the calling thread and those it starts
{
    return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1) == 0;
}

#define BIT(n) (1u << (n))

// Leaf 7.0: EBX avx512 f dq ifma pf er cd bw vl; ECX vbmi vbmi2 vnni bitalg vpopcntdq; EDX
// 4vnniw 4fmaps vp2intersect fp16. Leaf 7.1: EAX avx512_bf16. Leaf 0xd.0: EAX the opmask,
// ZMM_Hi256 and Hi16_ZMM state components.
static void hide(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    if (leaf == 7 && sub == 0) {
        r[1] &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31));
        r[2] &= ~(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14));
        r[3] &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(23));
    } else if (leaf == 7 && sub == 1) {
        r[0] &= ~BIT(5);
    } else if (leaf == 0xd && sub == 0) {
        r[0] &= ~(BIT(5) | BIT(6) | BIT(7));
    }
}

static void on_segv(int sig, siginfo_t *si, void *context)
{
    greg_t *g = ((ucontext_t *)context)->uc_mcontext.gregs;
    const uint8_t *ip = (const uint8_t *)g[REG_RIP];
    if (si->si_code == SI_KERNEL && ip[0] == 0x0f && ip[1] == 0xa2) {  // CPUID
        uint32_t r[4];
        const uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX];
        cpuid_faults(false);
        __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
        cpuid_faults(true);
        hide(leaf, sub, r);
        g[REG_RAX] = r[0];
        g[REG_RBX] = r[1];
        g[REG_RCX] = r[2];
        g[REG_RDX] = r[3];
        g[REG_RIP] += 2;
        return;
    }
    if ((theirs.sa_flags & SA_SIGINFO) && theirs.sa_sigaction) {
        theirs.sa_sigaction(sig, si, context);
        return;
    }
    if (theirs.sa_handler != SIG_DFL && theirs.sa_handler != SIG_IGN) {
        theirs.sa_handler(sig);
        return;
    }
    const struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigaction(SIGSEGV, &dfl, NULL);  // a fault repeats and ends the process as it would have
    if (si->si_code <= 0)  // a sent signal does not repeat: send it again
        raise(sig);
}

static int keep_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!active || sig != SIGSEGV)
        return sigaction(sig, act, old);
    if (old)
        *old = theirs;
    if (act)
        theirs = *act;
    return 0;
}

static sighandler_t keep_signal(int sig, sighandler_t handler)
{
    struct sigaction act = { .sa_handler = handler, .sa_flags = SA_RESTART }, old;
    sigemptyset(&act.sa_mask);
    return keep_sigaction(sig, &act, &old) == 0 ? old.sa_handler : SIG_ERR;
}

static uintptr_t wrapper(const char *name)
{
    if (!strcmp(name, "sigaction") || !strcmp(name, "__sigaction"))
        return (uintptr_t)keep_sigaction;
    if (!strcmp(name, "signal") || !strcmp(name, "sysv_signal") || !strcmp(name, "bsd_signal"))
        return (uintptr_t)keep_signal;
    return 0;
}

// Points object l's GOT entries for the functions above at their wrappers.
static void redirect_got(const struct link_map *l)
{
    const ElfW(Sym) *sym = NULL;
    const char *str = NULL;
    const ElfW(Rela) *rel[2] = { NULL, NULL };
    size_t size[2] = { 0, 0 };
    for (const ElfW(Dyn) *d = l->l_ld; d->d_tag != DT_NULL; d++) {
        const uintptr_t v = d->d_un.d_ptr;
        const uintptr_t at = v < l->l_addr ? v + l->l_addr : v;  // ld.so has relocated most
        switch (d->d_tag) {
        case DT_SYMTAB: sym = (const ElfW(Sym) *)at; break;
        case DT_STRTAB: str = (const char *)at; break;
        case DT_RELA: rel[0] = (const ElfW(Rela) *)at; break;
        case DT_RELASZ: size[0] = d->d_un.d_val; break;
        case DT_JMPREL: rel[1] = (const ElfW(Rela) *)at; break;
        case DT_PLTRELSZ: size[1] = d->d_un.d_val; break;
        default: break;
        }
    }
    if (!sym || !str)
        return;
    const long page = sysconf(_SC_PAGESIZE);
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; rel[t] && i < size[t] / sizeof *rel[t]; i++) {
            const ElfW(Rela) *r = &rel[t][i];
            const unsigned type = ELF64_R_TYPE(r->r_info);
            if (type != R_X86_64_GLOB_DAT && type != R_X86_64_JUMP_SLOT)
                continue;
            const uintptr_t w = wrapper(str + sym[ELF64_R_SYM(r->r_info)].st_name);
            uintptr_t *slot = (uintptr_t *)(l->l_addr + r->r_offset);
            void *first = (void *)((uintptr_t)slot & ~(uintptr_t)(page - 1));
            if (w && mprotect(first, (size_t)page, PROT_READ | PROT_WRITE) == 0)
                *slot = w;  // left writable: RELRO matters nothing to a test run
        }
}

// The audit interface (rtld-audit(7)): called before the program's objects are loaded.
unsigned int la_version(unsigned int version)
{
    const char *on = getenv("HIDE_AVX512");
    if (on && !strcmp(on, "1")) {
        struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, NULL, &theirs);
        active = sigaction(SIGSEGV, &sa, NULL) == 0 && cpuid_faults(true);
    }
    return version;
}

unsigned int la_objopen(struct link_map *map, Lmid_t lmid, uintptr_t *cookie)
{
    (void)cookie;
    if (!active || lmid != LM_ID_BASE)
        return 0;
    if (nloaded < (int)(sizeof loaded / sizeof *loaded))
        loaded[nloaded++] = map;
    return LA_FLG_BINDTO | LA_FLG_BINDFROM;
}

// All objects of the program's start are relocated: their GOT slots hold what ld.so bound.
void la_preinit(uintptr_t *cookie)
{
    (void)cookie;
    for (int i = 0; i < nloaded; i++)
        redirect_got(loaded[i]);
}

uintptr_t la_symbind64(Elf64_Sym *sym, unsigned int ndx, uintptr_t *refcook, uintptr_t *defcook,
                       unsigned int *flags, const char *name)
{
    (void)ndx;
    (void)refcook;
    (void)defcook;
    (void)flags;
    const uintptr_t w = wrapper(name);
    return w ? w : sym->st_value;
}
