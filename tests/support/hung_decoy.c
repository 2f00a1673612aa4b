/*
 * Test decoy for procreap's bounded reads of another process's memory
 * (tests/hung.rs builds it with cc). Every mode prints one line on stdout:
 * "ready PID" (the process to read), or "skip: REASON" and exits 77 when the
 * kernel or our privileges do not allow the mode. Every process it starts
 * dies with its parent (PR_SET_PDEATHSIG), and the test kills them by pid.
 *
 *   hung_decoy pause [ARGS...]  a plain process: just waits (ARGS ignored).
 *   hung_decoy lock             a process whose argv and environment reads
 *                               block: READY PID is a child whose mmap lock
 *                               is held for as long as this process lives.
 *   hung_decoy uffd             argv and environment point into a
 *                               userfaultfd range that is never served.
 *   hung_decoy at-pid PID       a child created with exactly this pid
 *                               (clone3 set_tid): a reused pid on demand.
 *   hung_decoy leaderless       a process whose main thread has exited
 *                               while another runs on (it shows state Z
 *                               but lives; its memory cannot be read).
 *   hung_decoy cwd              a child whose cwd is on a private FUSE
 *                               file system that never answers a LOOKUP:
 *                               any walk from its cwd (a `..`, a marker
 *                               looked for) blocks, like one on a hung
 *                               NFS or sshfs mount.
 *
 * How "lock" blocks, the way a hung NFS or FUSE server blocks `ps`: this
 * process serves a private FUSE file system (in its own mount namespace)
 * and never answers a READ. Its child maps a file of it, touches the map
 * from a thread (the page stays locked, waiting for the READ), then maps
 * the file again: a direct-io FUSE file's mmap invalidates the page cache
 * under the mmap lock (held for writing) and waits for the locked page
 * forever. Every read of that child's memory (/proc/PID/cmdline,
 * /proc/PID/environ, process_vm_readv) then waits for the mmap lock. Kill
 * this process and the FUSE connection aborts: the page is unlocked, the
 * lock released, the child dies of PR_SET_PDEATHSIG. Note that while it
 * lives, any `ps` that shows command lines blocks too: keep it short-lived.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/prctl.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SKIP 77
#define MOUNTPOINT "/tmp"

static void ready(pid_t pid) {
    printf("ready %d\n", (int)pid);
    fflush(stdout);
}

static int skip(const char *what) {
    printf("skip: %s: %s\n", what, strerror(errno));
    fflush(stdout);
    return SKIP;
}

static void forever(void) {
    for (;;)
        pause();
}

/* Dies with the thread that started us, and never outlives a dead parent. */
static void die_with_parent(pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
}

/* ---- lock: a FUSE server that never answers READ ---------------------- */

static int fuse_fd;

static void reply(uint64_t unique, int error, const void *body, size_t len) {
    char out[512];
    struct fuse_out_header h = {.len = sizeof h + len, .error = error, .unique = unique};
    memcpy(out, &h, sizeof h);
    if (len)
        memcpy(out + sizeof h, body, len);
    if (write(fuse_fd, out, h.len) < 0 && errno != ENOENT)
        perror("hung_decoy: fuse reply");
}

static void fill_attr(struct fuse_attr *a, uint64_t ino) {
    memset(a, 0, sizeof *a);
    a->ino = ino;
    a->nlink = ino == FUSE_ROOT_ID ? 2 : 1;
    a->mode = ino == FUSE_ROOT_ID ? (S_IFDIR | 0755) : (S_IFREG | 0444);
    a->size = ino == FUSE_ROOT_ID ? 0 : 1 << 20;
    a->blocks = a->size / 512;
    a->blksize = 4096;
}

/* Answers one request; returns 1 when it was a READ (left unanswered). */
static int serve_one(const char *req) {
    const struct fuse_in_header *in = (const void *)req;
    const char *arg = req + sizeof *in;
    switch (in->opcode) {
    case FUSE_INIT: {
        const struct fuse_init_in *ii = (const void *)arg;
        struct fuse_init_out o = {0};
        o.major = FUSE_KERNEL_VERSION;
        o.minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ? ii->minor : FUSE_KERNEL_MINOR_VERSION;
        o.max_readahead = ii->max_readahead;
        o.max_write = 4096;
        o.max_background = 4;
        o.congestion_threshold = 3;
        o.time_gran = 1;
        reply(in->unique, 0, &o, sizeof o);
        return 0;
    }
    case FUSE_LOOKUP:
        if (in->nodeid == FUSE_ROOT_ID && strcmp(arg, "f") == 0) {
            struct fuse_entry_out e = {0};
            e.nodeid = 2;
            e.generation = 1;
            e.entry_valid = e.attr_valid = 3600;
            fill_attr(&e.attr, 2);
            reply(in->unique, 0, &e, sizeof e);
        } else {
            reply(in->unique, -ENOENT, NULL, 0);
        }
        return 0;
    case FUSE_GETATTR: {
        struct fuse_attr_out o = {0};
        o.attr_valid = 3600;
        fill_attr(&o.attr, in->nodeid);
        reply(in->unique, 0, &o, sizeof o);
        return 0;
    }
    case FUSE_OPEN: {
        /* direct io: the second mmap invalidates the cache under the lock */
        struct fuse_open_out o = {.fh = 1, .open_flags = FOPEN_DIRECT_IO};
        reply(in->unique, 0, &o, sizeof o);
        return 0;
    }
    case FUSE_READ:
        return 1;
    case FUSE_INTERRUPT:
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
        return 0; /* no reply expected */
    case FUSE_FLUSH:
    case FUSE_RELEASE:
    case FUSE_DESTROY:
        reply(in->unique, 0, NULL, 0);
        return 0;
    default:
        reply(in->unique, -ENOSYS, NULL, 0);
        return 0;
    }
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A private mount namespace; as an unprivileged user, inside a user
 * namespace of our own (FUSE mounts are allowed there). */
static int private_mounts(void) {
    if (unshare(CLONE_NEWNS) != 0) {
        uid_t uid = getuid();
        gid_t gid = getgid();
        char map[64];
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
            return skip("unshare(CLONE_NEWUSER|CLONE_NEWNS)");
        write_file("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        if (write_file("/proc/self/uid_map", map) != 0)
            return skip("uid_map");
        snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
        if (write_file("/proc/self/gid_map", map) != 0)
            return skip("gid_map");
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return skip("making mounts private");
    return 0;
}

static char *first_map;

static void *touch(void *unused) {
    (void)unused;
    volatile char c = first_map[0]; /* faults; the READ is never answered */
    (void)c;
    return NULL;
}

/* The child whose memory blocks. Does not return. */
static void victim(int go) {
    char byte;
    pthread_t t;
    int fd = open(MOUNTPOINT "/f", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror("hung_decoy: open");
        _exit(1);
    }
    first_map = mmap(NULL, 1 << 16, PROT_READ, MAP_PRIVATE, fd, 0);
    if (first_map == MAP_FAILED || pthread_create(&t, NULL, touch, NULL) != 0) {
        perror("hung_decoy: map");
        _exit(1);
    }
    if (read(go, &byte, 1) != 1) /* the READ reached the server */
        _exit(1);
    mmap(NULL, 1 << 16, PROT_READ, MAP_PRIVATE, fd, 0); /* blocks, lock held */
    fprintf(stderr, "hung_decoy: the second mmap returned: nothing blocks\n");
    forever();
}

/* 'D' when the task sleeps uninterruptibly (here: under the mmap lock). */
static char task_state(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int lock_mode(void) {
    static char req[FUSE_MIN_READ_BUFFER + (1 << 20)];
    char opts[128];
    int go[2];
    int r = private_mounts();
    if (r)
        return r;
    fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fuse_fd < 0)
        return skip("/dev/fuse");
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fuse_fd);
    if (mount("prt-hung", MOUNTPOINT, "fuse", MS_NOSUID | MS_NODEV, opts) != 0)
        return skip("mounting a FUSE file system");
    if (pipe2(go, O_CLOEXEC) != 0)
        return skip("pipe");
    pid_t me = getpid();
    pid_t child = fork();
    if (child < 0)
        return skip("fork");
    if (child == 0) {
        die_with_parent(me);
        close(fuse_fd);
        close(go[1]);
        victim(go[0]);
    }
    close(go[0]);
    double told = 0;
    for (;;) {
        struct pollfd p = {.fd = fuse_fd, .events = POLLIN};
        if (poll(&p, 1, 20) > 0) {
            ssize_t n = read(fuse_fd, req, sizeof req);
            if (n < 0 && errno != EINTR && errno != ENOENT)
                return skip("reading /dev/fuse");
            if (n > 0 && serve_one(req) && told == 0) {
                if (write(go[1], "g", 1) != 1)
                    return skip("pipe write");
                told = now();
            }
        }
        if (told > 0 && task_state(child) == 'D') {
            ready(child);
            told = -1; /* ready once; keep serving until killed */
        }
        if (told > 0 && now() - told > 5) {
            kill(child, SIGKILL);
            errno = ETIMEDOUT;
            return skip("the second mmap of a direct-io FUSE file did not block on this kernel");
        }
    }
}

/* ---- cwd: a cwd on a file system that never answers a lookup ---------- */

static int cwd_mode(void) {
    static char req[FUSE_MIN_READ_BUFFER + (1 << 20)];
    char opts[128];
    int r = private_mounts();
    if (r)
        return r;
    fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fuse_fd < 0)
        return skip("/dev/fuse");
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fuse_fd);
    if (mount("prt-hung", MOUNTPOINT, "fuse", MS_NOSUID | MS_NODEV, opts) != 0)
        return skip("mounting a FUSE file system");
    pid_t me = getpid();
    pid_t child = -1;
    for (;;) {
        struct pollfd p = {.fd = fuse_fd, .events = POLLIN};
        if (poll(&p, 1, 20) > 0) {
            ssize_t n = read(fuse_fd, req, sizeof req);
            if (n < 0 && errno != EINTR && errno != ENOENT)
                return skip("reading /dev/fuse");
            const struct fuse_in_header *in = (const void *)req;
            if (n > 0 && in->opcode != FUSE_LOOKUP)
                serve_one(req);
        }
        if (child < 0) {
            child = fork();
            if (child < 0)
                return skip("fork");
            if (child == 0) {
                die_with_parent(me);
                close(fuse_fd);
                if (chdir(MOUNTPOINT) != 0)
                    _exit(1);
                forever();
            }
        }
        static int told;
        char cwd[64], link[64];
        snprintf(cwd, sizeof cwd, "/proc/%d/cwd", (int)child);
        ssize_t k = readlink(cwd, link, sizeof link - 1);
        if (!told && k > 0) {
            link[k] = 0;
            if (strcmp(link, MOUNTPOINT) == 0) {
                ready(child);
                told = 1; /* keep serving (all but lookups) until killed */
            }
        }
    }
}

/* ---- uffd: argv and environment in a range nobody serves -------------- */

static int set_ranges(unsigned long arg, unsigned long env, unsigned long len) {
    /* PR_SET_MM_MAP replaces every field: start from the current ones. */
    char buf[2048];
    unsigned long long v[64] = {0};
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p += 3; /* past ") " and the state letter (field 3) */
    for (int field = 4; field < 64 && *p; field++)
        v[field] = strtoull(p, &p, 10);
    struct prctl_mm_map m = {
        .start_code = v[26], .end_code = v[27], .start_stack = v[28],
        .start_data = v[45], .end_data = v[46], .start_brk = v[47],
        .brk = (unsigned long)sbrk(0),
        .arg_start = arg, .arg_end = arg + len,
        .env_start = env, .env_end = env + len,
        .exe_fd = (uint32_t)-1,
    };
    return prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof m, 0);
}

static int uffd_mode(void) {
    long page = sysconf(_SC_PAGESIZE);
    char *region = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED)
        return skip("mmap");
    int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    if (uffd < 0) /* unprivileged without vm.unprivileged_userfaultfd */
        uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
    if (uffd < 0)
        return skip("userfaultfd");
    struct uffdio_api api = {.api = UFFD_API};
    if (ioctl(uffd, UFFDIO_API, &api) != 0)
        return skip("UFFDIO_API");
    struct uffdio_register reg = {
        .range = {.start = (unsigned long)region, .len = 4 * page},
        .mode = UFFDIO_REGISTER_MODE_MISSING,
    };
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0)
        return skip("UFFDIO_REGISTER");
    if (set_ranges((unsigned long)region, (unsigned long)region + 2 * page, 2 * page) != 0)
        return skip("prctl(PR_SET_MM_MAP)");
    ready(getpid());
    forever();
    return 0;
}

/* ---- at-pid: a process with a chosen pid ---------------------------------- */

static int at_pid_mode(const char *arg) {
    pid_t want = (pid_t)atoi(arg);
    pid_t me = getpid();
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    ca.set_tid = (uint64_t)(uintptr_t)&want;
    ca.set_tid_size = 1;
    long child = syscall(SYS_clone3, &ca, sizeof ca);
    if (child < 0)
        return skip("clone3 with set_tid");
    if (child == 0) {
        die_with_parent(me);
        forever();
    }
    ready((pid_t)child);
    forever();
    return 0;
}

/* ---- leaderless: the main thread exits, another runs on ---------------- */

static void *run_on(void *arg) {
    (void)arg;
    forever();
    return NULL;
}

static int leaderless_mode(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, run_on, NULL) != 0) {
        perror("hung_decoy: pthread_create");
        return 1;
    }
    ready(getpid());
    pthread_exit(NULL);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    die_with_parent(getppid());
    if (strcmp(mode, "pause") == 0) {
        ready(getpid());
        forever();
    }
    if (strcmp(mode, "lock") == 0)
        return lock_mode();
    if (strcmp(mode, "uffd") == 0)
        return uffd_mode();
    if (strcmp(mode, "at-pid") == 0 && argc > 2)
        return at_pid_mode(argv[2]);
    if (strcmp(mode, "cwd") == 0)
        return cwd_mode();
    if (strcmp(mode, "leaderless") == 0)
        return leaderless_mode();
    fprintf(stderr, "usage: hung_decoy pause|lock|uffd|at-pid PID|cwd|leaderless\n");
    return 2;
}
