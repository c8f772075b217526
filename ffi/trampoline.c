/*
 * hako spawn trampoline: a tiny freestanding interpreter for spawn plans.
 *
 * No JavaScript can run in a forked child of Deno or Bun (their heaps are MADV_DONTFORK),
 * so the clone happens here and the child runs a list of raw syscalls prepared by
 * TypeScript (ffi/plan.ts), then normally execve()s. No libc: every call is a raw
 * syscall, errors come back as -errno and never touch the engines' errno.
 *
 * Built by ffi/trampoline_build.ts into flat position-independent bytes
 * (ffi/trampoline_bytes.ts); keep the layouts below in sync with ffi/plan.ts.
 */

typedef unsigned long u64;
typedef unsigned int u32;
typedef int i32;
typedef long i64;

#if defined(__x86_64__)
#define NR_write 1
#define NR_rt_sigaction 13
#define NR_rt_sigprocmask 14
#define NR_clone 56
#define NR_exit_group 231
#define NR_clone3 435
static inline i64 raw6(i64 n, i64 a, i64 b, i64 c, i64 d, i64 e, i64 f) {
  register i64 r10 __asm__("r10") = d;
  register i64 r8 __asm__("r8") = e;
  register i64 r9 __asm__("r9") = f;
  i64 ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
/* clone(flags, stack, parent_tid, child_tid, tls) */
#define CLONE_RAW(flags) raw6(NR_clone, (i64)(flags), 0, 0, 0, 0, 0)
#elif defined(__aarch64__)
#define NR_write 64
#define NR_rt_sigaction 134
#define NR_rt_sigprocmask 135
#define NR_clone 220
#define NR_exit_group 94
#define NR_clone3 435
static inline i64 raw6(i64 n, i64 a, i64 b, i64 c, i64 d, i64 e, i64 f) {
  register i64 x8 __asm__("x8") = n;
  register i64 x0 __asm__("x0") = a;
  register i64 x1 __asm__("x1") = b;
  register i64 x2 __asm__("x2") = c;
  register i64 x3 __asm__("x3") = d;
  register i64 x4 __asm__("x4") = e;
  register i64 x5 __asm__("x5") = f;
  __asm__ volatile("svc #0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
}
/* clone(flags, stack, parent_tid, tls, child_tid) */
#define CLONE_RAW(flags) raw6(NR_clone, (i64)(flags), 0, 0, 0, 0, 0)
#else
#error "unsupported architecture"
#endif

#define SIGCHLD 17
#define SIG_SETMASK 2
#define CLONE_VM 0x100UL
#define CLONE_INTO_CGROUP 0x200000000UL
#define MAX_SLOTS 16

/* Plan header flags (not clone flags). */
#define PLAN_RESET_SIGNALS 1u

enum { OP_SYSCALL = 0, OP_FORK = 1, OP_EXIT = 2 };

/* 72 bytes; see ffi/plan.ts */
struct step {
  u32 op;
  u32 from;   /* 4 bits per argument: 0 = literal, k+1 = value of slot k */
  i32 store;  /* slot that receives the result, or -1 */
  i32 ignore; /* 0 = fail on any error, >0 = this errno is not an error, -1 = no error fails */
  u64 nr;
  u64 a[6];
};

/* 48 + 8*MAX_SLOTS bytes, followed by nsteps steps; see ffi/plan.ts */
struct plan {
  u64 clone_flags;
  i64 cgroup_fd; /* -1: plain clone; else clone3 with CLONE_INTO_CGROUP */
  i64 report_fd;
  u32 nsteps;
  u32 flags;
  u64 stack; /* top of a child stack: clone with CLONE_VM (no mm copy); 0 = copy */
  u64 resume; /* first step a CLONE_VM child runs (after a FORK step: the one after it) */
  i64 slot[MAX_SLOTS];
  struct step steps[];
};

i64 hako_syscall(i64 nr, i64 a0, i64 a1, i64 a2, i64 a3, i64 a4, i64 a5) {
  return raw6(nr, a0, a1, a2, a3, a4, a5);
}

static void report(i64 fd, u32 a, u32 b) {
  u32 rec[2];
  rec[0] = a;
  rec[1] = b;
  raw6(NR_write, fd, (i64)rec, 8, 0, 0, 0);
}

__attribute__((noreturn)) static void die(i64 code) {
  for (;;) raw6(NR_exit_group, code, 0, 0, 0, 0, 0);
}

/* The child inherits the engines' handlers (addresses in JS code that must never run
 * here) and their ignored signals (SIGPIPE, SIGXFSZ): make every disposition default. */
static void reset_signals(void) {
  volatile u64 act[4]; /* struct kernel_sigaction: handler, flags, restorer, mask */
  act[0] = 0;          /* SIG_DFL */
  act[1] = 0;
  act[2] = 0;
  act[3] = 0;
  for (i64 sig = 1; sig <= 64; sig++) {
    if (sig == 9 || sig == 19) continue; /* SIGKILL, SIGSTOP */
    raw6(NR_rt_sigaction, sig, (i64)act, 0, 8, 0, 0);
  }
}

static i64 clone_on_stack(u64 flags, u64 stack, struct plan *p);

/* A FORK child sharing memory runs on the lower half of the plan's stack: its parent is
 * still on the upper half until it has reported the pid and exited. */
#define FORK_STACK_OFFSET 32768

__attribute__((noreturn)) static void run_child(struct plan *p, u64 *oldmask) {
  volatile u64 none = 0;
  u32 first = (u32)p->resume;
  if (first > 0) {
    /* A FORK child: dispositions and mask were already set by its parent. */
  } else if (p->flags & PLAN_RESET_SIGNALS) {
    reset_signals();
    raw6(NR_rt_sigprocmask, SIG_SETMASK, (i64)&none, 0, 8, 0, 0);
  } else {
    raw6(NR_rt_sigprocmask, SIG_SETMASK, (i64)oldmask, 0, 8, 0, 0);
  }
  for (u32 i = first; i < p->nsteps; i++) {
    struct step *s = &p->steps[i];
    i64 a[6];
    for (int k = 0; k < 6; k++) {
      u32 src = (s->from >> (4 * k)) & 15;
      a[k] = src ? p->slot[src - 1] : (i64)s->a[k];
    }
    i64 r;
    if (s->op == OP_EXIT) {
      die(a[0]);
    } else if (s->op == OP_FORK) {
      if (p->stack) {
        /* Share memory here too: copying the engine's page tables is most of a fork's
         * cost. The new child starts over in hako_vm_child at the next step. */
        p->resume = i + 1;
        r = clone_on_stack((u64)a[0] | CLONE_VM | SIGCHLD, p->stack - FORK_STACK_OFFSET, p);
      } else {
        r = CLONE_RAW((u64)a[0] | SIGCHLD);
      }
      if (r > 0) {
        report(p->report_fd, 0xFFFFFFFFu, (u32)r);
        die(0);
      }
    } else {
      r = raw6((i64)s->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
    if (r < 0 && r > -4096) {
      if (s->ignore == -1 || (s->ignore > 0 && r == -(i64)s->ignore)) {
        r = 0;
      } else {
        report(p->report_fd, i, (u32)-r);
        die(127);
      }
    }
    if (s->store >= 0 && s->store < MAX_SLOTS) p->slot[s->store] = r;
  }
  die(0);
}

/* Entry of a CLONE_VM child: a fresh stack, nothing of the parent's frame is valid. */
__attribute__((noreturn, used)) void hako_vm_child(struct plan *p) {
  u64 none = 0;
  run_child(p, &none);
}

#if defined(__x86_64__)
/* clone onto `stack`; the child calls hako_vm_child(p) and never returns here. */
static i64 clone_on_stack(u64 flags, u64 stack, struct plan *p) {
  register i64 r10 __asm__("r10") = 0;
  register i64 r8 __asm__("r8") = 0;
  register struct plan *r12 __asm__("r12") = p;
  i64 ret;
  __asm__ volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"
      "mov %%r12, %%rdi\n\t"
      "call hako_vm_child\n\t"
      "1:"
      : "=a"(ret)
      : "a"(NR_clone), "D"(flags), "S"(stack), "d"(0), "r"(r10), "r"(r8), "r"(r12)
      : "rcx", "r11", "memory");
  return ret;
}
#else
static i64 clone_on_stack(u64 flags, u64 stack, struct plan *p) {
  register i64 x8 __asm__("x8") = NR_clone;
  register i64 x0 __asm__("x0") = (i64)flags;
  register i64 x1 __asm__("x1") = (i64)stack;
  register i64 x2 __asm__("x2") = 0;
  register i64 x3 __asm__("x3") = 0;
  register i64 x4 __asm__("x4") = 0;
  register struct plan *x19 __asm__("x19") = p;
  __asm__ volatile(
      "svc #0\n\t"
      "cbnz x0, 1f\n\t"
      "mov x29, xzr\n\t"
      "mov x30, xzr\n\t"
      "mov x0, x19\n\t"
      "bl hako_vm_child\n\t"
      "1:"
      : "+r"(x0)
      : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x19)
      : "memory");
  return x0;
}
#endif

i64 hako_spawn(struct plan *p) {
  volatile u64 all = ~0UL;
  u64 old = 0;
  /* Block every signal across the clone so no engine handler can run in the child
   * before the plan's dispositions are reset (as posix_spawn does). */
  raw6(NR_rt_sigprocmask, SIG_SETMASK, (i64)&all, (i64)&old, 8, 0, 0);
  i64 pid;
  if (p->cgroup_fd >= 0) {
    volatile u64 args[11]; /* struct clone_args (v2, with cgroup) */
    for (int k = 0; k < 11; k++) args[k] = 0;
    args[0] = p->clone_flags | CLONE_INTO_CGROUP;
    args[4] = SIGCHLD; /* exit_signal */
    args[10] = (u64)p->cgroup_fd;
    pid = raw6(NR_clone3, (i64)args, 88, 0, 0, 0, 0);
  } else if (p->stack) {
    /* Sharing the engine's address space skips copying its page tables (the bulk of a
     * fork from Deno or Bun) and the teardown at execve; the child touches only its own
     * stack and the plan, which TypeScript keeps alive until the report pipe closes. */
    pid = clone_on_stack(p->clone_flags | CLONE_VM | SIGCHLD, p->stack, p);
  } else {
    pid = CLONE_RAW(p->clone_flags | SIGCHLD);
  }
  if (pid == 0) run_child(p, &old);
  raw6(NR_rt_sigprocmask, SIG_SETMASK, (i64)&old, 0, 8, 0, 0);
  return pid;
}

/* Bun's off-thread syscall: started with pthread_create, runs one blocking syscall
 * (wait4, read, ...) and hands the request back through a thread-safe JSCallback. */
struct async_req {
  i64 nr;
  i64 a[6];
  i64 result;
  void (*done)(struct async_req *);
};

void *hako_async(struct async_req *r) {
  r->result = raw6(r->nr, r->a[0], r->a[1], r->a[2], r->a[3], r->a[4], r->a[5]);
  r->done(r);
  return 0;
}
