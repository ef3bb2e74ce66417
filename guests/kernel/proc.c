/* proc.c -- processes, the scheduler, system calls and user traps.
 *
 * One kernel stack serves every process: a trap saves the user registers in
 * the process's trapframe, trap_from_user() decides, and trap.S resumes
 * whichever trapframe it returns.  A system call that has to block (wait,
 * sleep) leaves its process off the run queue and completes later by writing
 * the result into the saved a0/a1.  Interrupts arrive only from U-mode. */
#include "arch.h"
#include "kernel.h"
#include "sbi.h"

enum pstate { UNUSED, RUNNABLE, SLEEPING, WAITING, ZOMBIE };

struct proc {
    struct trapframe tf;       /* first: trap.S's sscratch points at it */
    enum pstate state;
    int pid, parent;           /* parent 0: nobody waits for this one */
    pte_t *root;
    uint64_t heap_start, brk;
    uint64_t status;           /* exit status once ZOMBIE */
    long wait_pid;             /* WAITING for this child (-1: any) */
    uint64_t wake_tick;        /* SLEEPING until kstats.ticks reaches it */
};

#define NPROC 16
#define A0 10
#define A1 11
#define A7 17

struct user_header {
    uint32_t magic, reserved;
    uint64_t entry, text_end, data_end, bss_end;
};

extern const char user_image[], user_image_end[];
extern char kstack_top[];

struct kstats kstats;
static struct proc procs[NPROC];
static struct proc *current;
static int next_pid = 1;
static uint64_t quantum;           /* timer ticks per time slice, 0: no timer */
static uint64_t orphan_status[NPROC + 1]; /* exit status by pid, for pids <= NPROC */

static void arm_timer(void)
{
    sbi_set_timer(read_time() + quantum);
}

void proc_init(int timer_quantum)
{
    quantum = (uint64_t)timer_quantum;
    csr_write_sscratch(0);             /* 0 while in the kernel: see trap.S */
    csr_write_stvec((uint64_t)(uintptr_t)trap_vector);
    if (quantum) {
        csr_write_sie(SIE_STIE);
        arm_timer();
    } else {
        csr_write_sie(0);
    }
}

static struct proc *proc_alloc(void)
{
    for (int i = 0; i < NPROC; i++) {
        struct proc *p = &procs[i];
        if (p->state == UNUSED) {
            memset(p, 0, sizeof *p);
            p->pid = next_pid++;
            p->tf.kernel_sp = (uint64_t)(uintptr_t)kstack_top;
            kstats.processes++;
            return p;
        }
    }
    return 0;
}

static struct proc *proc_by_pid(int pid)
{
    for (int i = 0; i < NPROC; i++)
        if (procs[i].state != UNUSED && procs[i].pid == pid)
            return &procs[i];
    return 0;
}

uint64_t proc_exit_status(int pid)
{
    return pid >= 1 && pid <= NPROC ? orphan_status[pid] : 0;
}

int proc_spawn(int prog, uint64_t arg)
{
    const struct user_header *h = (const void *)user_image;
    uint64_t image_size = (uint64_t)(user_image_end - user_image);
    if (h->magic != USER_MAGIC || h->entry < USER_BASE || h->bss_end > USER_HEAP_LIMIT)
        panic("the embedded user image has a bad header");
    struct proc *p = proc_alloc();
    if (!p)
        panic("no free process slot for the first process");
    p->root = as_create();
    for (uint64_t va = USER_BASE; va < h->bss_end; va += PAGE_SIZE) {
        char *page = page_alloc();
        uint64_t off = va - USER_BASE;
        if (off < image_size)
            memcpy(page, user_image + off,
                   image_size - off < PAGE_SIZE ? image_size - off : PAGE_SIZE);
        uint64_t perm = va < h->text_end ? PTE_R | PTE_X | PTE_U : PTE_R | PTE_W | PTE_U;
        map_page(p->root, va, (uint64_t)(uintptr_t)page, perm);
    }
    /* The first stack page comes with the process (crt0 needs it at once), so
     * page faults count only what the program itself touches. */
    map_page(p->root, USER_STACK_TOP - PAGE_SIZE, (uint64_t)(uintptr_t)page_alloc(),
             PTE_R | PTE_W | PTE_U);
    p->heap_start = p->brk = h->bss_end;
    p->tf.epc = h->entry;
    p->tf.regs[2] = USER_STACK_TOP;
    p->tf.regs[A0] = (uint64_t)prog;
    p->tf.regs[A1] = arg;
    p->state = RUNNABLE;
    return p->pid;
}

/* ------------------------------------------------------------ scheduling */

static void activate(struct proc *p)
{
    uint64_t satp = satp_of(p->root);
    if (csr_read_satp() != satp)
        switch_satp(satp);
}

static void timer_tick(void)
{
    kstats.ticks++;
    arm_timer();
    for (int i = 0; i < NPROC; i++)
        if (procs[i].state == SLEEPING && procs[i].wake_tick <= kstats.ticks)
            procs[i].state = RUNNABLE;
}

/* The next runnable process after `after` in table order; idles in WFI while
 * only sleepers remain; finishes the run when no process is left. */
static struct proc *schedule(struct proc *after)
{
    for (;;) {
        int start = after ? (int)(after - procs) + 1 : 0;
        int sleeping = 0, alive = 0;
        for (int k = 0; k < NPROC; k++) {
            struct proc *p = &procs[(start + k) % NPROC];
            if (p->state == RUNNABLE)
                return p;
            sleeping += p->state == SLEEPING;
            alive += p->state == WAITING || p->state == SLEEPING;
        }
        if (!alive)
            kernel_finish();
        if (!sleeping)
            panic("every process is waiting: deadlock");
        while (!(csr_read_sip() & SIP_STIP))
            wait_for_interrupt();
        timer_tick();
    }
}

/* ------------------------------------------------------- exit and wait */

static void reap(struct proc *child, struct proc *parent)
{
    parent->tf.regs[A0] = (uint64_t)child->pid;
    parent->tf.regs[A1] = child->status;
    child->state = UNUSED;
}

static void proc_exit(struct proc *p, uint64_t status)
{
    as_destroy(p->root);
    p->root = 0;
    p->status = status;
    for (int i = 0; i < NPROC; i++) {
        struct proc *c = &procs[i];
        if (c->state != UNUSED && c->parent == p->pid) {
            c->parent = 0;
            if (c->state == ZOMBIE)
                c->state = UNUSED;
        }
    }
    struct proc *parent = p->parent ? proc_by_pid(p->parent) : 0;
    if (!parent) {
        if (p->pid <= NPROC)
            orphan_status[p->pid] = status;
        p->state = UNUSED;
    } else if (parent->state == WAITING
               && (parent->wait_pid == -1 || parent->wait_pid == p->pid)) {
        reap(p, parent);
        parent->state = RUNNABLE;
    } else {
        p->state = ZOMBIE;
    }
}

/* 1 if the call completed (result in a0/a1), 0 if the caller now waits. */
static int sys_wait(struct proc *p, long pid)
{
    int children = 0;
    for (int i = 0; i < NPROC; i++) {
        struct proc *c = &procs[i];
        if (c->state == UNUSED || c->parent != p->pid || (pid != -1 && c->pid != pid))
            continue;
        children++;
        if (c->state == ZOMBIE) {
            reap(c, p);
            return 1;
        }
    }
    if (!children) {
        p->tf.regs[A0] = (uint64_t)-1;
        p->tf.regs[A1] = 0;
        return 1;
    }
    p->wait_pid = pid;
    p->state = WAITING;
    return 0;
}

/* ------------------------------------------------------ user memory */

static int lazy_region(struct proc *p, uint64_t va)
{
    return (va >= p->heap_start && va < p->brk)
        || (va >= USER_STACK_TOP - USER_STACK_SIZE && va < USER_STACK_TOP);
}

static void demand_map(struct proc *p, uint64_t va)
{
    va &= ~(PAGE_SIZE - 1);
    map_page(p->root, va, (uint64_t)(uintptr_t)page_alloc(), PTE_R | PTE_W | PTE_U);
    sfence_vma_addr(va);
    kstats.demand_pages++;
}

/* Physical address of user byte va, mapping a lazy page if needed; 0 if the
 * process may not read it. */
static uint64_t user_pa(struct proc *p, uint64_t va)
{
    if (va < USER_BASE || va >= USER_STACK_TOP)
        return 0;
    uint64_t pa = translate(p->root, va);
    if (!pa && lazy_region(p, va)) {
        demand_map(p, va);
        pa = translate(p->root, va);
    }
    return pa;
}

static long sys_write(struct proc *p, uint64_t buf, uint64_t len)
{
    uint64_t done = 0;
    while (done < len) {
        uint64_t va = buf + done;
        uint64_t pa = user_pa(p, va);
        if (!pa)
            return done ? (long)done : -1;
        uint64_t n = PAGE_SIZE - (va & (PAGE_SIZE - 1));   /* to the end of this page */
        if (n > len - done)
            n = len - done;
        /* pa is identity-mapped kernel memory: the console reads it in place. */
        sbi_console_write((const char *)(uintptr_t)pa, n);
        done += n;
    }
    return (long)len;
}

static long sys_sbrk(struct proc *p, long increment)
{
    uint64_t old = p->brk, new = old + (uint64_t)increment;
    if (new < p->heap_start || new > USER_HEAP_LIMIT)
        return -1;
    uint64_t first = (new + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    for (uint64_t va = first; va < old; va += PAGE_SIZE)
        unmap_page(p->root, va);
    p->brk = new;
    return (long)old;
}

static long sys_fork(struct proc *p)
{
    struct proc *c = proc_alloc();
    if (!c)
        return -1;
    c->root = as_create();
    as_copy_user(c->root, p->root);
    c->tf.regs[0] = 0;
    for (int i = 1; i < 32; i++)
        c->tf.regs[i] = p->tf.regs[i];
    c->tf.epc = p->tf.epc;
    c->tf.regs[A0] = 0;
    c->parent = p->pid;
    c->heap_start = p->heap_start;
    c->brk = p->brk;
    c->state = RUNNABLE;
    return c->pid;
}

/* ------------------------------------------------------------ traps */

static void kill(struct proc *p, uint64_t cause)
{
    kstats.fatal_faults++;
    proc_exit(p, KILLED_STATUS_BASE + cause);
}

static void syscall(struct proc *p)
{
    uint64_t *r = p->tf.regs;
    uint64_t nr = r[A7];
    p->tf.epc += 4;                    /* ecall is never compressed */
    if (nr >= NSYSCALLS) {
        kstats.bad_syscalls++;
        r[A0] = (uint64_t)-1;
        return;
    }
    kstats.syscalls[nr]++;
    switch (nr) {
    case SYS_null:   r[A0] = kstats.syscalls[SYS_null]; break;
    case SYS_exit:   proc_exit(p, r[A0]); break;
    case SYS_write:  r[A0] = (uint64_t)sys_write(p, r[A0], r[A0 + 1]); break;
    case SYS_getpid: r[A0] = (uint64_t)p->pid; break;
    case SYS_yield:  r[A0] = 0; break;   /* trap_from_user moves on to the next */
    case SYS_sbrk:   r[A0] = (uint64_t)sys_sbrk(p, (long)r[A0]); break;
    case SYS_fork:   r[A0] = (uint64_t)sys_fork(p); break;
    case SYS_wait:   sys_wait(p, (long)r[A0]); break;
    case SYS_sleep: {
        uint64_t ticks = r[A0];
        r[A0] = quantum ? 0 : (uint64_t)-1;     /* no timer: sleeping is refused */
        if (quantum && (long)ticks > 0) {
            p->wake_tick = kstats.ticks + ticks;
            p->state = SLEEPING;
        }
        break;
    }
    }
}

static void page_fault(struct proc *p, uint64_t cause, uint64_t va)
{
    if (cause != EXC_INST_PAGE_FAULT && lazy_region(p, va) && !translate(p->root, va)) {
        demand_map(p, va);
        kstats.page_faults++;
        return;
    }
    kill(p, cause);
}

static void breakpoint(struct proc *p)
{
    uint64_t pa = user_pa(p, p->tf.epc);
    if (!pa) {
        kill(p, EXC_BREAKPOINT);
        return;
    }
    kstats.breakpoints++;
    p->tf.epc += (*(const uint16_t *)(uintptr_t)pa & 3) == 3 ? 4 : 2;
}

struct trapframe *trap_from_user(struct trapframe *tf)
{
    struct proc *p = (struct proc *)tf;
    uint64_t cause = csr_read_scause();
    int move_on = 0;                   /* give the hart to the next process */
    if (cause & SCAUSE_INTERRUPT) {
        if ((cause & ~SCAUSE_INTERRUPT) != IRQ_S_TIMER)
            panic("unexpected interrupt, scause 0x%lx", cause);
        timer_tick();
        move_on = 1;
    } else if (cause == EXC_ECALL_U) {
        move_on = tf->regs[A7] == SYS_yield;
        syscall(p);
    } else if (cause == EXC_BREAKPOINT) {
        breakpoint(p);
    } else if (cause == EXC_INST_PAGE_FAULT || cause == EXC_LOAD_PAGE_FAULT
               || cause == EXC_STORE_PAGE_FAULT) {
        page_fault(p, cause, csr_read_stval());
    } else {
        kill(p, cause);
    }
    struct proc *next = p->state == RUNNABLE && !move_on ? p : schedule(p);
    current = next;
    activate(next);
    return &next->tf;
}

void proc_run(void)
{
    struct proc *first = schedule(0);
    current = first;
    activate(first);
    return_to_user(&first->tf);
}
