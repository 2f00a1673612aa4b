/*
 * abi_test.c — exercises every function of include/procreap.h from C:
 * every NULL-parameter path, invalid UTF-8 and invalid enum values, every
 * status string, every _free with NULL, and real scans, cleanup steps,
 * reap_set and reap_now against private decoy processes.
 *
 * Safety: the only processes that can ever be signalled are decoys this
 * program starts itself: /bin/sleep (or a TERM-ignoring sh script) run
 * through a private name `prt-<random>`, the only agent name configured for
 * any call that may signal. Every such call uses a private state dir. Calls
 * with the default configuration are scans only. Everything started is
 * killed (by pid of our own unreaped child, or through a pidfd) and reaped,
 * also on failure paths (atexit, SIGALRM watchdog, SIGINT/SIGTERM).
 *
 * Run from a tmux pane, a direct child would be "protected" (a descendant of
 * the tmux server), so there decoys are double-forked out of the pane and
 * tracked through pidfds instead (PROCREAP_TEST_ESCAPE=1 forces that mode).
 */
#define _GNU_SOURCE
#include "procreap.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* ------------------------------------------------------------------ checks */

static int g_pass, g_fail;

__attribute__((format(printf, 4, 5))) static bool check_at(int line, bool ok, const char *expr,
                                                            const char *fmt, ...)
{
    if (ok) {
        g_pass++;
        return true;
    }
    g_fail++;
    fprintf(stderr, "FAIL abi_test.c:%d: %s: ", line, expr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return false;
}
#define CHECK(ok, ...) check_at(__LINE__, (ok), #ok, __VA_ARGS__)

/* Checks a status and the error object that came with it: none on success;
 * on failure one whose code matches and whose message is non-empty. Frees it. */
static bool expect_at(int line, const char *call, procreap_status got, procreap_status want,
                      procreap_error *err)
{
    bool ok = got == want;
    const char *msg = procreap_error_message(err);
    if (want == PROCREAP_STATUS_OK)
        ok = ok && err == NULL;
    else
        ok = ok && err != NULL && procreap_error_code(err) == (uint32_t)want && msg != NULL &&
             msg[0] != '\0';
    if (ok) {
        g_pass++;
    } else {
        g_fail++;
        fprintf(stderr, "FAIL abi_test.c:%d: %s: got %u (%s), want %u (%s); error %s: %s\n",
                line, call, (unsigned)got, procreap_status_str(got), (unsigned)want,
                procreap_status_str(want), err ? "set" : "NULL", msg ? msg : "(no message)");
    }
    procreap_error_free(err);
    return ok;
}
/* `call` may use the variable `err` (a procreap_error *) as its error out-parameter. */
#define EXPECT(want, call)                                                                  \
    do {                                                                                    \
        procreap_error *err = NULL;                                                         \
        procreap_status st_ = (call);                                                       \
        expect_at(__LINE__, #call, st_, (want), err);                                       \
    } while (0)

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ------------------------------------------------------------------ decoys */

enum { MAX_DECOYS = 64 };
enum { SP_TTY = 1, SP_OTHER_UID = 2, SP_STDIN_PIPE = 4, SP_IGNORES_TERM = 8 };

typedef struct {
    pid_t pid;
    int pidfd;       /* -1 when the kernel has no pidfd_open */
    bool child;      /* our own child: its pid cannot be reused until we reap it */
    bool reaped;     /* gone: reaped by us, or seen exited through its pidfd */
    int status;      /* wait status, when `child` and reaped */
    int ptm;         /* pty master held for a SP_TTY decoy, else -1 */
    int stdin_w;     /* write end of a SP_STDIN_PIPE decoy's stdin, else -1 */
} decoy;

static decoy g_decoys[MAX_DECOYS];
static int g_ndecoys;
static bool g_escape;        /* decoys double-forked out of a tmux pane */
static bool g_subreaper;
static char g_tmp[64];       /* private temp dir: /tmp/prt-abi-XXXXXX */
static char g_name[16];      /* prt-<8 hex>: the only agent name that may be signalled */
static char g_unused[16];    /* another private name no process carries */
static char g_sleep[PATH_MAX];  /* <tmp>/bin/<name> -> sleep */
static char g_script[PATH_MAX]; /* <tmp>/sh/<name>: ignores SIGTERM */
static char g_tree[PATH_MAX];   /* <tmp>/tree/<name>: has a child `sleep` */

/* Async-signal-safe: SIGKILL every decoy not known to be gone. A child's pid
 * is safe (unreaped, it cannot be reused); anything else goes through its
 * pidfd or not at all. */
static void kill_all_decoys_now(void)
{
    for (int i = 0; i < g_ndecoys; i++) {
        decoy *d = &g_decoys[i];
        if (d->reaped)
            continue;
        if (d->pidfd >= 0)
            syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
        else if (d->child)
            kill(d->pid, SIGKILL);
    }
}

static void on_fatal_signal(int sig)
{
    static const char msg[] = "abi_test: interrupted or timed out; killing decoys\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    (void)sig;
    kill_all_decoys_now();
    /* Reap what we killed (waitpid and nanosleep are async-signal-safe);
     * the temp dir is left behind: removing it here would not be. */
    for (int tries = 0; tries < 200; tries++) {
        bool left = false;
        for (int i = 0; i < g_ndecoys; i++) {
            decoy *d = &g_decoys[i];
            if (d->reaped || !d->child)
                continue;
            if (waitpid(d->pid, NULL, WNOHANG) == d->pid)
                d->reaped = true;
            else
                left = true;
        }
        if (!left)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    static const char left[] = "abi_test: left behind: ";
    w = write(2, left, sizeof left - 1);
    w = write(2, g_tmp, strlen(g_tmp));
    w = write(2, "\n", 1);
    (void)w;
    _exit(3);
}

/* Waits up to `ms` for a decoy to exit; reaps it when it is our child. */
static bool wait_decoy(decoy *d, long ms)
{
    if (d->reaped)
        return true;
    long deadline = now_ms() + ms;
    if (d->pidfd >= 0) {
        /* Readable once the process has exited (reaped or not). */
        struct pollfd pfd = {d->pidfd, POLLIN, 0};
        for (;;) {
            long left = deadline - now_ms();
            int r = poll(&pfd, 1, left > 0 ? (int)left : 0);
            if (r > 0)
                break;
            if (r == 0 || errno != EINTR)
                return false;
        }
        if (!d->child) {
            d->reaped = true;
            return true;
        }
    }
    for (;;) {
        pid_t r = waitpid(d->pid, &d->status, WNOHANG);
        if (r == d->pid) {
            d->reaped = true;
            return true;
        }
        if (r < 0 && errno != EINTR)
            return false;
        if (now_ms() >= deadline + 1000)
            return false;
        msleep(5);
    }
}

static bool alive(decoy *d)
{
    if (d->reaped)
        return false;
    if (d->child) {
        pid_t r = waitpid(d->pid, &d->status, WNOHANG);
        if (r == d->pid)
            d->reaped = true;
        return r == 0;
    }
    struct pollfd pfd = {d->pidfd, POLLIN, 0};
    if (poll(&pfd, 1, 0) == 1)
        d->reaped = true;
    return !d->reaped;
}

static void kill_decoy(decoy *d)
{
    if (d->reaped)
        return;
    if (d->pidfd >= 0)
        syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
    else if (d->child)
        kill(d->pid, SIGKILL);
    if (!wait_decoy(d, 5000))
        fprintf(stderr, "abi_test: decoy %d did not exit after SIGKILL\n", (int)d->pid);
}

static int read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return (int)n;
}

/* The state letter of /proc/PID/stat, or 0. */
static char proc_state(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_file(path, buf, sizeof buf) < 0)
        return 0;
    char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' ? rp[2] : 0;
}

/* Has `pid` finished exec'ing the decoy? The kernel sets comm before the
 * new argv is in place, and procreap (rightly) calls a process whose argv it
 * cannot read "ide-launched", so wait for both: comm, and an argv naming it. */
static bool execed(pid_t pid, const char *comm)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    if (read_file(path, buf, sizeof buf) < 0)
        return false;
    buf[strcspn(buf, "\n")] = '\0';
    if (strcmp(buf, comm) != 0)
        return false;
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int n = read_file(path, buf, sizeof buf);
    for (int i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    return n > 0 && strstr(buf, comm) != NULL;
}

/* Does `pid` ignore SIGTERM yet (SigIgn in /proc/PID/status)? */
static bool ignores_term(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (read_file(path, buf, sizeof buf) < 0)
        return false;
    const char *line = strstr(buf, "\nSigIgn:");
    unsigned long long mask = 0;
    return line && sscanf(line + 8, "%llx", &mask) == 1 && (mask & (1ULL << (SIGTERM - 1)));
}

/*
 * Starts `path` (argv: path, arg1) as a decoy: its own session (no
 * controlling tty, unless SP_TTY gives it a fresh pty), cwd = g_tmp, stdio on
 * /dev/null. Returns once it has exec'd (its comm is `comm`), or NULL.
 */
static decoy *spawn(const char *path, const char *arg1, const char *comm, int flags)
{
    if (g_ndecoys == MAX_DECOYS)
        return NULL;
    decoy *d = &g_decoys[g_ndecoys];
    memset(d, 0, sizeof *d);
    d->pidfd = -1;
    d->ptm = -1;
    d->stdin_w = -1;
    d->reaped = true; /* until it exists */

    char slave[128] = "";
    if (flags & SP_TTY) {
        d->ptm = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (d->ptm < 0 || grantpt(d->ptm) != 0 || unlockpt(d->ptm) != 0 ||
            ptsname_r(d->ptm, slave, sizeof slave) != 0) {
            perror("abi_test: pty");
            return NULL;
        }
    }
    int in_pipe[2] = {-1, -1};
    if ((flags & SP_STDIN_PIPE) && pipe2(in_pipe, O_CLOEXEC) != 0) {
        perror("abi_test: pipe2");
        return NULL;
    }
    char *const argv[] = {(char *)path, (char *)arg1, NULL};
    int go[2], pidp[2];
    if (pipe2(go, O_CLOEXEC) != 0 || pipe2(pidp, O_CLOEXEC) != 0) {
        perror("abi_test: pipe2");
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("abi_test: fork");
        return NULL;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here to execv. */
        if (g_escape) {
            pid_t g = fork();
            if (g < 0)
                _exit(126);
            if (g > 0) {
                _exit(write(pidp[1], &g, sizeof g) == (ssize_t)sizeof g ? 0 : 126);
            }
        }
        if (setsid() < 0)
            _exit(126);
        char c;
        if (read(go[0], &c, 1) != 1) /* the parent has our pid pinned */
            _exit(126);
        if (chdir(g_tmp) != 0)
            _exit(126);
        int in = open(flags & SP_TTY ? slave : "/dev/null", O_RDWR); /* pty: our ctty */
        if (in < 0 || dup2(in, 0) < 0 || dup2(in, 1) < 0 || dup2(in, 2) < 0)
            _exit(126);
        if (in > 2)
            close(in);
        if ((flags & SP_STDIN_PIPE) && dup2(in_pipe[0], 0) < 0)
            _exit(126);
        if (flags & SP_OTHER_UID) {
            if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
                _exit(126);
        }
        execv(path, argv);
        _exit(127);
    }
    close(go[0]);
    close(pidp[1]);
    if (flags & SP_STDIN_PIPE) {
        close(in_pipe[0]);
        d->stdin_w = in_pipe[1];
    }
    g_ndecoys++;
    if (g_escape) {
        pid_t g = -1;
        ssize_t n = read(pidp[0], &g, sizeof g);
        int st;
        waitpid(pid, &st, 0); /* the intermediate child */
        if (n != (ssize_t)sizeof g || g <= 0) {
            fprintf(stderr, "abi_test: double fork failed\n");
            close(go[1]);
            close(pidp[0]);
            return NULL;
        }
        /* The grandchild is blocked reading `go`: alive, so this pins it. */
        d->pid = g;
        d->child = false;
        d->pidfd = (int)syscall(SYS_pidfd_open, g, 0);
        d->reaped = false;
        if (d->pidfd < 0) {
            perror("abi_test: pidfd_open (needed to run from inside tmux)");
            close(go[1]); /* it reads EOF and exits without exec */
            close(pidp[0]);
            d->reaped = true;
            return NULL;
        }
    } else {
        d->pid = pid;
        d->child = true;
        d->reaped = false;
        d->pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* -1 on old kernels: fine */
    }
    close(pidp[0]);
    if (write(go[1], "g", 1) != 1)
        perror("abi_test: write go");
    close(go[1]);
    /* A script must also have run its `trap '' TERM` before it is a fair test. */
    for (long deadline = now_ms() + 5000;
         !execed(d->pid, comm) || ((flags & SP_IGNORES_TERM) && !ignores_term(d->pid));) {
        if (now_ms() > deadline || !alive(d)) {
            fprintf(stderr, "abi_test: decoy %d did not exec %s\n", (int)d->pid, path);
            kill_decoy(d);
            return NULL;
        }
        msleep(5);
    }
    return d;
}

static decoy *spawn_sleep(int flags) { return spawn(g_sleep, "600", g_name, flags); }
static decoy *spawn_script(void) { return spawn(g_script, NULL, g_name, SP_STDIN_PIPE | SP_IGNORES_TERM); }

/* The pid of a child of `parent` whose comm is `comm` (it has exec'd), or 0. */
static pid_t child_named(pid_t parent, const char *comm)
{
    pid_t found = 0;
    DIR *dir = opendir("/proc");
    struct dirent *de;
    while (dir && !found && (de = readdir(dir)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        if (read_file(path, buf, sizeof buf) < 0)
            continue;
        char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
        int ppid = 0;
        if (!lp || !rp || sscanf(rp + 2, "%*c %d", &ppid) != 1 || ppid != parent)
            continue;
        *rp = '\0';
        if (strcmp(lp + 1, comm) == 0)
            found = (pid_t)pid;
    }
    if (dir)
        closedir(dir);
    return found;
}

/* Tracks a decoy's own child (found alive, unreaped) through a pidfd, so
 * teardown can kill it too. Its parent is a decoy blocked in `read`, which
 * has not reaped it; after the pidfd is open its pid cannot mislead us. */
static decoy *adopt(pid_t pid, pid_t parent, const char *comm)
{
    if (g_ndecoys == MAX_DECOYS)
        return NULL;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return NULL;
    if (child_named(parent, comm) != pid) { /* not the process we found */
        close(fd);
        return NULL;
    }
    decoy *d = &g_decoys[g_ndecoys++];
    memset(d, 0, sizeof *d);
    d->pid = pid;
    d->pidfd = fd;
    d->ptm = d->stdin_w = -1;
    return d;
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    if (remove(path) != 0 && errno == EACCES) {
        chmod(path, 0700);
        remove(path);
    }
    return 0;
}

static void teardown(void)
{
    for (int i = 0; i < g_ndecoys; i++)
        kill_decoy(&g_decoys[i]);
    for (int i = 0; i < g_ndecoys; i++) {
        if (g_decoys[i].ptm >= 0)
            close(g_decoys[i].ptm);
        if (g_decoys[i].pidfd >= 0)
            close(g_decoys[i].pidfd);
        if (g_decoys[i].stdin_w >= 0)
            close(g_decoys[i].stdin_w);
        g_decoys[i].ptm = g_decoys[i].pidfd = g_decoys[i].stdin_w = -1;
    }
    /* As a subreaper we also inherit any orphaned descendant of a decoy
     * (none is expected): wait for them a while, never signal them. */
    if (g_subreaper) {
        long deadline = now_ms() + 10000;
        for (;;) {
            pid_t r = waitpid(-1, NULL, WNOHANG);
            if (r > 0)
                continue;
            if (r < 0 || now_ms() > deadline)
                break;
            msleep(20);
        }
    }
    if (strncmp(g_tmp, "/tmp/prt-abi-", 13) == 0)
        nftw(g_tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------------ helpers */

static bool ancestry_in_tmux(void)
{
    pid_t pid = getppid();
    for (int depth = 0; pid > 1 && depth < 256; depth++) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        if (read_file(path, buf, sizeof buf) < 0)
            return false;
        char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
        if (!lp || !rp)
            return false;
        if (strncmp(lp + 1, "tmux", 4) == 0)
            return true;
        int ppid = 0;
        if (sscanf(rp + 2, "%*c %d", &ppid) != 1)
            return false;
        pid = ppid;
    }
    return false;
}

static void random_name(char out[16])
{
    unsigned char b[4] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, b, sizeof b) != (ssize_t)sizeof b) {
        unsigned v = (unsigned)getpid() ^ (unsigned)now_ms();
        memcpy(b, &v, sizeof b);
    }
    if (fd >= 0)
        close(fd);
    snprintf(out, 16, "prt-%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

/* out = a/b (out has PATH_MAX bytes); false when it does not fit. */
static bool join(char *out, const char *a, const char *b)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
    return n > 0 && n < PATH_MAX;
}

static void path_in(char *out, const char *rel)
{
    if (!join(out, g_tmp, rel))
        out[0] = '\0';
}

static bool write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return false;
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n;
    return close(fd) == 0 && ok;
}

/* A configuration that can only ever touch processes named `name`. */
static procreap_config *private_config(const char *name, const char *state_dir)
{
    procreap_config *cfg = procreap_config_new();
    if (!cfg)
        return NULL;
    const char *names[] = {name};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_agent_names(cfg, names, 1, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_marker(cfg, "", &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_min_age_ms(cfg, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_grace_ms(cfg, 2000, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, state_dir, &err));
    /* No ~/gt pid file: the test must not depend on the caller's home. */
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pid_files(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_lock_timeout_ms(cfg, 3000, &err));
    return cfg;
}

static const procreap_process *find_pid(const procreap_process_list *l, pid_t pid)
{
    for (size_t i = 0; l && i < l->len; i++)
        if (l->items[i].pid == pid)
            return &l->items[i];
    return NULL;
}

/* The list holds exactly these decoys (by pid), each once. */
static bool list_is(const procreap_process_list *l, decoy *const *ds, size_t n)
{
    if (!l || l->len != n || (n == 0) != (l->items == NULL))
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t seen = 0;
        for (size_t j = 0; j < l->len; j++)
            seen += l->items[j].pid == ds[i]->pid;
        if (seen != 1)
            return false;
    }
    return true;
}

static const procreap_verdict *verdict_for(const procreap_verdict_list *l, pid_t pid)
{
    for (size_t i = 0; l && i < l->len; i++)
        if (l->items[i].process.pid == pid)
            return &l->items[i];
    return NULL;
}

static int count_actions(const procreap_action_list *l, pid_t pid)
{
    int n = 0;
    for (size_t i = 0; l && i < l->len; i++)
        n += l->items[i].process.pid == pid;
    return n;
}

static const procreap_action *action_for(const procreap_action_list *l, pid_t pid,
                                         procreap_action_kind kind)
{
    for (size_t i = 0; l && i < l->len; i++)
        if (l->items[i].process.pid == pid && l->items[i].action == kind)
            return &l->items[i];
    return NULL;
}

static void dump_actions(const char *what, const procreap_action_list *l)
{
    fprintf(stderr, "  %s: %zu actions\n", what, l ? l->len : 0);
    for (size_t i = 0; l && i < l->len; i++)
        fprintf(stderr, "    pid %d action %u signal %d reason %s error %s\n",
                (int)l->items[i].process.pid, (unsigned)l->items[i].action,
                (int)l->items[i].signal, l->items[i].reason ? l->items[i].reason : "(null)",
                l->items[i].error ? l->items[i].error : "-");
}

/* CHECK that also prints the action list when it fails. */
#define CHECK_AL(al, ok, ...)                                                               \
    do {                                                                                    \
        if (!check_at(__LINE__, (ok), #ok, __VA_ARGS__))                                    \
            dump_actions("actions", (al));                                                  \
    } while (0)

/* Runs one cleanup step that must succeed; returns its list (caller frees). */
static procreap_action_list *step_ok(int line, const procreap_config *cfg, uint32_t kind)
{
    procreap_action_list *out = NULL;
    procreap_error *err = NULL;
    procreap_status st = procreap_cleanup_step(cfg, kind, &out, &err);
    if (!expect_at(line, "procreap_cleanup_step", st, PROCREAP_STATUS_OK, err))
        dump_actions("step", out);
    check_at(line, out != NULL, "out != NULL", "a successful step writes its list");
    return out;
}
#define STEP_OK(cfg, kind) step_ok(__LINE__, (cfg), (kind))

static procreap_verdict_list *explain_ok(int line, const procreap_config *cfg)
{
    procreap_verdict_list *out = NULL;
    procreap_error *err = NULL;
    procreap_status st = procreap_explain(cfg, &out, &err);
    expect_at(line, "procreap_explain", st, PROCREAP_STATUS_OK, err);
    return out;
}
#define EXPLAIN_OK(cfg) explain_ok(__LINE__, (cfg))

static void check_verdict(int line, const procreap_config *cfg, pid_t pid,
                          procreap_verdict_kind want, const char *reason_has)
{
    procreap_verdict_list *l = explain_ok(line, cfg);
    const procreap_verdict *v = verdict_for(l, pid);
    check_at(line, v != NULL, "explain lists the decoy", "pid %d", (int)pid);
    if (v) {
        check_at(line, v->verdict == want, "verdict", "pid %d: verdict %u, want %u (%s)",
                 (int)pid, (unsigned)v->verdict, (unsigned)want, v->reason ? v->reason : "");
        check_at(line, v->reason && v->reason[0] && (!reason_has || strstr(v->reason, reason_has)),
                 "reason", "pid %d: reason %s lacks %s", (int)pid,
                 v->reason ? v->reason : "(null)", reason_has ? reason_has : "");
    }
    procreap_verdict_list_free(l);
}
#define CHECK_VERDICT(cfg, pid, want, has) check_verdict(__LINE__, (cfg), (pid), (want), (has))

static procreap_identity id_of(const procreap_process_list *l, pid_t pid)
{
    const procreap_process *p = find_pid(l, pid);
    procreap_identity id = {pid, p ? p->start_time : 0};
    return id;
}

/* The identity of a decoy, read through a scan with `cfg`. */
static procreap_identity identify(const procreap_config *cfg, pid_t pid)
{
    procreap_verdict_list *l = EXPLAIN_OK(cfg);
    const procreap_verdict *v = verdict_for(l, pid);
    procreap_identity id = {pid, v ? v->process.start_time : 0};
    CHECK(v != NULL && id.start_time != 0, "decoy %d has an identity", (int)pid);
    procreap_verdict_list_free(l);
    return id;
}

static bool exited_by(decoy *d, int sig)
{
    if (!wait_decoy(d, 5000))
        return false;
    if (!d->child)
        return true; /* not ours to wait for: gone is all we can see */
    return WIFSIGNALED(d->status) && WTERMSIG(d->status) == sig;
}

/* ------------------------------------------------------------------ part 1:
 * arguments, statuses, NULLs — no process is looked at, nothing signalled. */

static void test_static_functions(void)
{
    const char *v = procreap_version();
    CHECK(v && strcmp(v, PROCREAP_VERSION_STRING) == 0, "version %s", v ? v : "(null)");

    const char *seen[PROCREAP_STATUS_PID_NAMESPACE + 1];
    for (uint32_t s = 0; s <= PROCREAP_STATUS_PID_NAMESPACE; s++) {
        seen[s] = procreap_status_str(s);
        CHECK(seen[s] && seen[s][0] && strcmp(seen[s], "unknown status") != 0,
              "status %u has a name", (unsigned)s);
        for (uint32_t t = 0; t < s; t++)
            CHECK(!seen[s] || !seen[t] || strcmp(seen[s], seen[t]) != 0,
                  "statuses %u and %u share the name %s", (unsigned)s, (unsigned)t, seen[s]);
    }
    CHECK(strcmp(procreap_status_str(PROCREAP_STATUS_OK), "ok") == 0, "ok is \"ok\"");
    CHECK(strcmp(procreap_status_str(PROCREAP_STATUS_PID_NAMESPACE + 1), "unknown status") == 0,
          "one past the last status is unknown");
    CHECK(strcmp(procreap_status_str(999), "unknown status") == 0, "999 is unknown");
    CHECK(strcmp(procreap_status_str(UINT32_MAX), "unknown status") == 0, "UINT32_MAX");

    CHECK(procreap_error_code(NULL) == 0, "error_code(NULL) is 0");
    CHECK(procreap_error_message(NULL) == NULL, "error_message(NULL) is NULL");

    /* Every _free accepts NULL. */
    procreap_config_free(NULL);
    procreap_error_free(NULL);
    procreap_process_list_free(NULL);
    procreap_verdict_list_free(NULL);
    procreap_action_list_free(NULL);
    g_pass++;

    /* Enum values are the ABI: pin them. */
    CHECK(PROCREAP_SIGNAL_SIGTERM == SIGTERM && PROCREAP_SIGNAL_SIGKILL == SIGKILL,
          "signal numbers");
    CHECK(sizeof(procreap_status) == 4 && sizeof(procreap_signal) == 4, "enum sizes");
}

static void test_setters_null_config(void)
{
    const char *one[] = {"x"};
    int32_t pid1[] = {1};
    /* With an error object: the status and a matching error. */
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_agent_names(NULL, one, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_argv0_match(NULL, PROCREAP_ARGV0_MATCH_ALWAYS, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_min_age_ms(NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_grace_ms(NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_workspace_marker(NULL, "m", &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_workspace_root(NULL, "/r", &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_ide_markers(NULL, one, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_protected_pid_files(NULL, one, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_protected_pids(NULL, pid1, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_tmux_sockets(NULL, one, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_all_users(NULL, false, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_kill_tree(NULL, false, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_state_dir(NULL, "/s", &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_dry_run(NULL, true, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_subprocess_timeout_ms(NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_lock_timeout_ms(NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_backend(NULL, 0, &err));
    /* Without one (err == NULL): just the status. */
    CHECK(procreap_config_set_agent_names(NULL, one, 1, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_argv0_match(NULL, PROCREAP_ARGV0_MATCH_ALWAYS, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_min_age_ms(NULL, 1, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_grace_ms(NULL, 1, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_workspace_marker(NULL, "m", NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_workspace_root(NULL, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_ide_markers(NULL, NULL, 0, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_protected_pid_files(NULL, NULL, 0, NULL) ==
              PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_protected_pids(NULL, NULL, 0, NULL) ==
              PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_tmux_sockets(NULL, NULL, 0, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_all_users(NULL, true, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_kill_tree(NULL, true, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_state_dir(NULL, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_dry_run(NULL, false, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_subprocess_timeout_ms(NULL, 5, NULL) ==
              PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_lock_timeout_ms(NULL, 5, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_backend(NULL, 9, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
}

static void test_setters_bad_values(void)
{
    procreap_config *cfg = procreap_config_new();
    if (!CHECK(cfg != NULL, "config_new"))
        return;
    const char *bad[] = {"\xff\xfe-not-utf8"};
    const char *ok_then_bad[] = {"fine", "also\xc3("};
    const char *ok_then_null[] = {"fine", NULL};
    const char *nul = NULL;

    /* Invalid UTF-8 in every string setter. */
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_agent_names(cfg, bad, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_agent_names(cfg, ok_then_bad, 2, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_workspace_marker(cfg, bad[0], &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_workspace_root(cfg, bad[0], &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_ide_markers(cfg, bad, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_protected_pid_files(cfg, bad, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_tmux_sockets(cfg, bad, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_state_dir(cfg, bad[0], &err));
    CHECK(procreap_config_set_state_dir(cfg, bad[0], NULL) == PROCREAP_STATUS_INVALID_ARGUMENT,
          "invalid UTF-8 without an error object");

    /* NULL arrays (len > 0), NULL elements, NULL required strings. */
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_agent_names(cfg, NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_agent_names(cfg, &nul, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_agent_names(cfg, ok_then_null, 2, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_ide_markers(cfg, NULL, 2, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_ide_markers(cfg, ok_then_null, 2, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_protected_pid_files(cfg, NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_protected_pid_files(cfg, &nul, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_protected_pids(cfg, NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_tmux_sockets(cfg, NULL, 3, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_tmux_sockets(cfg, &nul, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_workspace_marker(cfg, NULL, &err));
    /* NULL where NULL means "unset" / "default". */
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_root(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_ide_markers(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pid_files(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, NULL, 0, &err));

    /* Values no scan could use. */
    const char *slash[] = {"a/b"}, *empty[] = {""}, *sock_nul_ok[] = {"prt-sock"};
    int32_t zero[] = {0}, negative[] = {-5};
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_agent_names(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_agent_names(cfg, slash, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_agent_names(cfg, empty, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_ide_markers(cfg, empty, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_workspace_marker(cfg, "/abs/marker", &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_workspace_root(cfg, "relative/root", &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_tmux_sockets(cfg, empty, 1, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, sock_nul_ok, 1, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_protected_pids(cfg, zero, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_protected_pids(cfg, negative, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_subprocess_timeout_ms(cfg, 0, &err));
    /* Invalid enum values. */
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_backend(cfg, 9, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_backend(cfg, 3, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_backend(cfg, UINT32_MAX, &err));

    /* Every setter with a good value; the error out-parameter stays NULL. */
    const char *names[] = {"prt-unused-a", "PRT-UNUSED-B"};
    const char *markers[] = {"vscode-server", "prt-ide"};
    const char *files[] = {"~/prt-no-such.pid", "/nonexistent/prt.pid"};
    const char *sockets[] = {"prt-no-such-socket", "/nonexistent/prt-socket"};
    int32_t pids[] = {1, 2};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_agent_names(cfg, names, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_argv0_match(cfg, PROCREAP_ARGV0_MATCH_NEVER, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_min_age_ms(cfg, UINT64_MAX, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_grace_ms(cfg, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_marker(cfg, "a/b.json", &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_root(cfg, "/nonexistent", &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_ide_markers(cfg, markers, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pid_files(cfg, files, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, pids, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, sockets, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_all_users(cfg, false, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_kill_tree(cfg, true, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, "/nonexistent/prt", &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, true, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_subprocess_timeout_ms(cfg, 1, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_lock_timeout_ms(cfg, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_backend(cfg, PROCREAP_BACKEND_AUTO, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_backend(cfg, PROCREAP_BACKEND_PROC, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_backend(cfg, PROCREAP_BACKEND_PS, &err));
    CHECK(procreap_config_set_dry_run(cfg, false, NULL) == PROCREAP_STATUS_OK, "OK, NULL err");
    procreap_config_free(cfg);
}

static void test_calls_null_params(const procreap_config *priv)
{
    /* NULL out: NULL_PARAMETER, with or without an error object, with the
     * default configuration (NULL) or a private one. Nothing runs. */
    const procreap_config *cfgs[] = {NULL, priv};
    procreap_identity one = {1, 1};
    for (int i = 0; i < 2; i++) {
        const procreap_config *c = cfgs[i];
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_find_orphans(c, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_find_zombies(c, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_explain(c, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
               procreap_cleanup_step(c, PROCREAP_KIND_ORPHANS, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_reap_set(c, &one, 1, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_reap_now(c, &one, 1, 10, NULL, &err));
        CHECK(procreap_find_orphans(c, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER, "NULL err");
        CHECK(procreap_find_zombies(c, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER, "NULL err");
        CHECK(procreap_explain(c, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER, "NULL err");
        CHECK(procreap_cleanup_step(c, 0, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
              "NULL err");
        CHECK(procreap_reap_set(c, NULL, 0, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
              "NULL err");
        CHECK(procreap_reap_now(c, NULL, 0, 0, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
              "NULL err");

        /* NULL ids with len > 0; out is left alone. */
        procreap_action_list *out = NULL;
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_reap_set(c, NULL, 2, &out, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_reap_now(c, NULL, 2, 10, &out, &err));
        CHECK(out == NULL, "out untouched on failure");

        /* Invalid kinds are refused before anything is read. */
        EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_cleanup_step(c, 7, &out, &err));
        EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_cleanup_step(c, 3, &out, &err));
        EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_cleanup_step(c, UINT32_MAX, &out, &err));
        CHECK(procreap_cleanup_step(c, 7, &out, NULL) == PROCREAP_STATUS_INVALID_ARGUMENT,
              "NULL err");
        CHECK(out == NULL, "out untouched on failure");
    }
}

/* NULL config = the defaults. Scans only: nothing can be signalled. */
static void test_default_scans(void)
{
    procreap_process_list *pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(NULL, &pl, &err));
    CHECK(pl != NULL && (pl->len == 0) == (pl->items == NULL), "find_orphans(NULL) list");
    procreap_process_list_free(pl);

    procreap_verdict_list *vl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_explain(NULL, &vl, &err));
    CHECK(vl != NULL && (vl->len == 0) == (vl->items == NULL), "explain(NULL) list");
    for (size_t i = 0; vl && i < vl->len; i++)
        CHECK(vl->items[i].reason && vl->items[i].reason[0] &&
                  vl->items[i].verdict <= PROCREAP_VERDICT_KIND_ORPHAN &&
                  vl->items[i].process.name && vl->items[i].process.cmdline,
              "verdict %zu is complete", i);
    procreap_verdict_list_free(vl);

    /* Zombies: OK (a tmux server is running), or refused as blind. */
    static procreap_process_list dummy;
    procreap_process_list *sentinel = &dummy;
    pl = sentinel;
    procreap_error *err = NULL;
    procreap_status st = procreap_find_zombies(NULL, &pl, &err);
    if (st == PROCREAP_STATUS_OK) {
        expect_at(__LINE__, "find_zombies(NULL)", st, PROCREAP_STATUS_OK, err);
        CHECK(pl != sentinel && pl != NULL, "list written");
        procreap_process_list_free(pl);
    } else {
        expect_at(__LINE__, "find_zombies(NULL)", st, PROCREAP_STATUS_TMUX_UNAVAILABLE, err);
        CHECK(pl == sentinel, "out untouched on failure");
    }

    /* reap_now with no identities signals nothing and reads no ledger. */
    procreap_action_list *al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_reap_now(NULL, NULL, 0, 0, &al, &err));
    CHECK_AL(al, al != NULL && al->len == 0 && al->items == NULL, "empty reap_now");
    procreap_action_list_free(al);
}

/* ------------------------------------------------------------------ part 2:
 * real decoys. */

static void check_process_fields(const procreap_process *p, const decoy *d)
{
    CHECK(p->pid == d->pid, "pid");
    CHECK(p->start_time != 0, "start time");
    CHECK(!d->child || p->ppid == getpid(), "ppid %d", (int)p->ppid);
    CHECK(p->name && strcmp(p->name, g_name) == 0, "name %s", p->name ? p->name : "(null)");
    CHECK(p->age_secs >= 0.0 && p->age_secs < 600.0, "age %f", p->age_secs);
    CHECK(p->tty == NULL, "no tty: %s", p->tty ? p->tty : "");
    CHECK(p->state == 'S' || p->state == 'R', "state %c", p->state);
    CHECK(p->workspace_root == NULL, "no workspace (marker \"\")");
    CHECK(p->cmdline && strstr(p->cmdline, g_name), "cmdline %s", p->cmdline ? p->cmdline : "");
}

static void test_scans(procreap_config *cfg, decoy *d1, decoy *d2, decoy *helper)
{
    decoy *both[] = {d1, d2};
    procreap_process_list *pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(cfg, &pl, &err));
    CHECK(list_is(pl, both, 2), "find_orphans finds exactly the 2 decoys (%zu found)",
          pl ? pl->len : 0);
    for (size_t i = 0; pl && i < pl->len; i++)
        check_process_fields(&pl->items[i], pl->items[i].pid == d1->pid ? d1 : d2);
    procreap_process_list_free(pl);

    CHECK_VERDICT(cfg, d1->pid, PROCREAP_VERDICT_KIND_ORPHAN, "no terminal");
    CHECK_VERDICT(cfg, d2->pid, PROCREAP_VERDICT_KIND_ORPHAN, NULL);

    /* Both backends see the same decoys. */
    for (uint32_t b = PROCREAP_BACKEND_PROC; b <= PROCREAP_BACKEND_PS; b++) {
        EXPECT(PROCREAP_STATUS_OK, procreap_config_set_backend(cfg, b, &err));
        pl = NULL;
        EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(cfg, &pl, &err));
        CHECK(list_is(pl, both, 2), "backend %u finds the 2 decoys (%zu found)", (unsigned)b,
              pl ? pl->len : 0);
        const procreap_process *p = find_pid(pl, d1->pid);
        CHECK(p && p->name && strcmp(p->name, g_name) == 0, "backend %u: name", (unsigned)b);
        procreap_process_list_free(pl);
    }
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_backend(cfg, PROCREAP_BACKEND_AUTO, &err));

    /* Names match case-insensitively, by comm alone (match_argv0 off). */
    char upper[16];
    for (size_t i = 0; i < sizeof upper; i++)
        upper[i] = (char)(g_name[i] >= 'a' && g_name[i] <= 'z' ? g_name[i] - 32 : g_name[i]);
    const char *up[] = {upper}, *orig[] = {g_name};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_agent_names(cfg, up, 1, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_argv0_match(cfg, PROCREAP_ARGV0_MATCH_NEVER, &err));
    pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(cfg, &pl, &err));
    CHECK(list_is(pl, both, 2), "upper-case name finds the decoys");
    procreap_process_list_free(pl);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_argv0_match(cfg, PROCREAP_ARGV0_MATCH_ALWAYS, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_agent_names(cfg, orig, 1, &err));

    /* A refused setter leaves the configuration as it was. */
    const char *slash[] = {"x/y"};
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_agent_names(cfg, slash, 1, &err));
    pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(cfg, &pl, &err));
    CHECK(list_is(pl, both, 2), "config unchanged after a refused setter");
    procreap_process_list_free(pl);

    /* Zombies: with a live protected root the scan can see. */
    int32_t hp[] = {helper->pid};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, hp, 1, &err));
    pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_find_zombies(cfg, &pl, &err));
    CHECK(list_is(pl, both, 2), "find_zombies finds exactly the 2 decoys");
    procreap_process_list_free(pl);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, NULL, 0, &err));

    /* Without one: OK if some tmux server runs, else refused as blind. */
    procreap_error *err = NULL;
    pl = NULL;
    procreap_status st = procreap_find_zombies(cfg, &pl, &err);
    if (st == PROCREAP_STATUS_TMUX_UNAVAILABLE) {
        expect_at(__LINE__, "find_zombies (no tmux)", st, PROCREAP_STATUS_TMUX_UNAVAILABLE, err);
        CHECK(pl == NULL, "out untouched");
    } else {
        expect_at(__LINE__, "find_zombies (tmux running)", st, PROCREAP_STATUS_OK, err);
        procreap_process_list_free(pl);
    }

    /* A configured tmux socket that does not exist: not a crash, not a hang. */
    char sock[64];
    snprintf(sock, sizeof sock, "%s-nosock", g_unused);
    const char *socks[] = {sock};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, socks, 1, &err));
    err = NULL;
    pl = NULL;
    st = procreap_find_orphans(cfg, &pl, &err);
    CHECK(st == PROCREAP_STATUS_OK || st == PROCREAP_STATUS_TMUX_FAILED,
          "missing tmux socket: %s", procreap_status_str(st));
    if (st == PROCREAP_STATUS_OK)
        CHECK(list_is(pl, both, 2), "missing socket: decoys still found");
    procreap_process_list_free(pl);
    procreap_error_free(err);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, NULL, 0, &err));
}

/* Every verdict of the fixed set, each for a decoy built to earn it. */
static void test_verdicts(procreap_config *cfg, decoy *d1, decoy *d2, decoy *tty)
{
    if (tty) {
        procreap_verdict_list *l = EXPLAIN_OK(cfg);
        const procreap_verdict *v = verdict_for(l, tty->pid);
        CHECK(v && v->verdict == PROCREAP_VERDICT_KIND_HAS_TTY, "tty decoy: has-tty");
        CHECK(v && v->process.tty && strncmp(v->process.tty, "pts/", 4) == 0 && v->reason &&
                  strstr(v->reason, v->process.tty),
              "tty named in the process and the reason");
        procreap_verdict_list_free(l);
        procreap_process_list *pl = NULL;
        EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(cfg, &pl, &err));
        CHECK(pl && !find_pid(pl, tty->pid), "a decoy with a terminal is no orphan");
        procreap_process_list_free(pl);
    }

    /* protected: by pid, and by pid file. */
    int32_t p1[] = {d1->pid};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, p1, 1, &err));
    CHECK_VERDICT(cfg, d1->pid, PROCREAP_VERDICT_KIND_PROTECTED, "protected root");
    CHECK_VERDICT(cfg, d2->pid, PROCREAP_VERDICT_KIND_ORPHAN, NULL);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, NULL, 0, &err));
    char pidfile[PATH_MAX], text[32];
    path_in(pidfile, "protected.pid");
    snprintf(text, sizeof text, "%d\n", (int)d2->pid);
    CHECK(write_text(pidfile, text, 0600), "write pid file");
    const char *files[] = {pidfile};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pid_files(cfg, files, 1, &err));
    CHECK_VERDICT(cfg, d2->pid, PROCREAP_VERDICT_KIND_PROTECTED, "pid file");
    CHECK(write_text(pidfile, "not a pid\n", 0600), "rewrite pid file");
    procreap_verdict_list *vl = NULL;
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_explain(cfg, &vl, &err));
    CHECK(vl == NULL, "out untouched on failure");
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pid_files(cfg, NULL, 0, &err));

    /* ide-launched: a marker that is part of the decoy's path. */
    const char *ide[] = {strrchr(g_tmp, '/') + 1};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_ide_markers(cfg, ide, 1, &err));
    CHECK_VERDICT(cfg, d1->pid, PROCREAP_VERDICT_KIND_IDE_LAUNCHED, "IDE");
    const char *defaults[] = {"vscode-server", "vscode/extensions", ".cursor-server",
                              ".cursor/extensions"};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_ide_markers(cfg, defaults, 4, &err));
    CHECK_VERDICT(cfg, d1->pid, PROCREAP_VERDICT_KIND_ORPHAN, NULL);

    /* too-young */
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_min_age_ms(cfg, 3600 * 1000, &err));
    CHECK_VERDICT(cfg, d1->pid, PROCREAP_VERDICT_KIND_TOO_YOUNG, "age");
    procreap_process_list *pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(cfg, &pl, &err));
    CHECK(pl && pl->len == 0 && pl->items == NULL, "no orphan is old enough");
    procreap_process_list_free(pl);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_min_age_ms(cfg, 0, &err));

    /* outside-workspace, then a workspace found through the marker. */
    char marker_rel[32], marker[PATH_MAX], real[PATH_MAX];
    snprintf(marker_rel, sizeof marker_rel, "%s.town", g_unused);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_marker(cfg, marker_rel, &err));
    CHECK_VERDICT(cfg, d1->pid, PROCREAP_VERDICT_KIND_OUTSIDE_WORKSPACE, NULL);
    path_in(marker, marker_rel);
    CHECK(write_text(marker, "{}\n", 0600), "write marker");
    CHECK_VERDICT(cfg, d1->pid, PROCREAP_VERDICT_KIND_ORPHAN, NULL);
    pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(cfg, &pl, &err));
    const procreap_process *p = find_pid(pl, d1->pid);
    CHECK(realpath(g_tmp, real) != NULL, "realpath");
    CHECK(p && p->workspace_root &&
              (strcmp(p->workspace_root, g_tmp) == 0 || strcmp(p->workspace_root, real) == 0),
          "workspace root %s", p && p->workspace_root ? p->workspace_root : "(null)");
    procreap_process_list_free(pl);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_root(cfg, "/nonexistent-prt", &err));
    CHECK_VERDICT(cfg, d1->pid, PROCREAP_VERDICT_KIND_OUTSIDE_WORKSPACE, NULL);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_root(cfg, g_tmp, &err));
    CHECK_VERDICT(cfg, d1->pid, PROCREAP_VERDICT_KIND_ORPHAN, NULL);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_root(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_marker(cfg, "", &err));
    unlink(marker);

    /* defunct: our own child, killed and not yet reaped. */
    if (!g_escape) {
        decoy *z = spawn_sleep(0);
        if (CHECK(z != NULL, "spawn defunct decoy")) {
            kill(z->pid, SIGKILL); /* our unreaped child */
            for (long dl = now_ms() + 3000; proc_state(z->pid) != 'Z' && now_ms() < dl;)
                msleep(5);
            char me[32];
            snprintf(me, sizeof me, "%d", (int)getpid());
            CHECK_VERDICT(cfg, z->pid, PROCREAP_VERDICT_KIND_DEFUNCT, me);
            pl = NULL;
            EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(cfg, &pl, &err));
            CHECK(pl && !find_pid(pl, z->pid), "a defunct process is no orphan");
            procreap_process_list_free(pl);
            CHECK(exited_by(z, SIGKILL), "reap the defunct decoy");
        }
    }

    /* other-user: as root, a decoy running as nobody. Explain only. */
    if (geteuid() == 0) {
        decoy *u = spawn_sleep(SP_OTHER_UID);
        if (CHECK(u != NULL, "spawn other-user decoy")) {
            CHECK_VERDICT(cfg, u->pid, PROCREAP_VERDICT_KIND_OTHER_USER, "uid");
            EXPECT(PROCREAP_STATUS_OK, procreap_config_set_all_users(cfg, true, &err));
            CHECK_VERDICT(cfg, u->pid, PROCREAP_VERDICT_KIND_ORPHAN, NULL);
            EXPECT(PROCREAP_STATUS_OK, procreap_config_set_all_users(cfg, false, &err));
            kill_decoy(u);
        }
    }
}

static bool ledger_exists(const char *state)
{
    char path[PATH_MAX];
    return join(path, state, "ledger") && access(path, F_OK) == 0;
}

static void test_steps(procreap_config *cfg, const char *state, decoy *d1, decoy *d2, decoy *tty,
                       decoy *helper)
{
    /* Dry run: decides, reports, sends nothing, writes no ledger. */
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, true, &err));
    procreap_action_list *al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    CHECK_AL(al, al && al->len == 2, "dry run: 2 actions (%zu)", al ? al->len : 0);
    for (int i = 0; i < 2; i++) {
        decoy *d = i ? d2 : d1;
        const procreap_action *a = action_for(al, d->pid, PROCREAP_ACTION_KIND_SIGTERM);
        CHECK(a && a->signal == PROCREAP_SIGNAL_SIGTERM && a->reason &&
                  strstr(a->reason, "dry run") && a->error == NULL,
              "dry run: would SIGTERM decoy %d", (int)d->pid);
    }
    if (tty)
        CHECK(count_actions(al, tty->pid) == 0, "dry run: tty decoy untouched");
    procreap_action_list_free(al);
    msleep(100);
    CHECK(alive(d1) && alive(d2), "dry run sent nothing: decoys alive");
    CHECK(!ledger_exists(state), "dry run wrote no ledger");
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, false, &err));

    /* A real step: SIGTERM to both decoys, nothing else. */
    al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    CHECK_AL(al, al && al->len == 2, "step: 2 actions (%zu)", al ? al->len : 0);
    for (int i = 0; i < 2; i++) {
        decoy *d = i ? d2 : d1;
        const procreap_action *a = action_for(al, d->pid, PROCREAP_ACTION_KIND_SIGTERM);
        CHECK(a && a->signal == PROCREAP_SIGNAL_SIGTERM && a->reason && a->error == NULL &&
                  a->process.start_time != 0 && a->process.name &&
                  strcmp(a->process.name, g_name) == 0,
              "step: SIGTERM to decoy %d", (int)d->pid);
    }
    procreap_action_list_free(al);
    CHECK(exited_by(d1, SIGTERM), "decoy 1 died of SIGTERM");
    CHECK(exited_by(d2, SIGTERM), "decoy 2 died of SIGTERM");
    CHECK(ledger_exists(state), "the step wrote its ledger");
    struct stat sb;
    CHECK(stat(state, &sb) == 0 && (sb.st_mode & 0777) == 0700, "state dir is 0700");
    if (tty)
        CHECK(alive(tty), "the decoy with a terminal was not signalled");

    /* Next step: both ledger entries are gone. */
    al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    CHECK_AL(al, al && al->len == 2, "next step: 2 actions (%zu)", al ? al->len : 0);
    CHECK(action_for(al, d1->pid, PROCREAP_ACTION_KIND_EXITED) &&
              action_for(al, d2->pid, PROCREAP_ACTION_KIND_EXITED),
          "ledger entries reported exited");
    for (size_t i = 0; al && i < al->len; i++)
        CHECK(al->items[i].signal == PROCREAP_SIGNAL_NONE, "exited: no signal");
    procreap_action_list_free(al);
    al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    CHECK_AL(al, al && al->len == 0 && al->items == NULL, "then nothing to do");
    procreap_action_list_free(al);
    if (tty) {
        CHECK(alive(tty), "the decoy with a terminal is still alive");
        kill_decoy(tty);
    }

    /* A zombie step, with a live protected root so it is not blind. */
    decoy *d5 = spawn_sleep(0);
    if (CHECK(d5 != NULL, "spawn zombie decoy")) {
        int32_t hp[] = {helper->pid};
        EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, hp, 1, &err));
        al = STEP_OK(cfg, PROCREAP_KIND_ZOMBIES);
        CHECK_AL(al, al && al->len == 1 && action_for(al, d5->pid, PROCREAP_ACTION_KIND_SIGTERM),
              "zombie step: SIGTERM");
        procreap_action_list_free(al);
        CHECK(exited_by(d5, SIGTERM), "zombie decoy died of SIGTERM");
        al = STEP_OK(cfg, PROCREAP_KIND_ZOMBIES);
        CHECK_AL(al, al && al->len == 1 && action_for(al, d5->pid, PROCREAP_ACTION_KIND_EXITED),
              "zombie step: exited");
        procreap_action_list_free(al);
        EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, NULL, 0, &err));
        CHECK(alive(helper), "the protected helper was not signalled");
    }

    /* Escalation: a decoy that ignores SIGTERM. grace = 2000 ms. */
    decoy *s1 = spawn_script();
    if (CHECK(s1 != NULL, "spawn TERM-ignoring decoy")) {
        al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
        CHECK_AL(al, al && al->len == 1 && action_for(al, s1->pid, PROCREAP_ACTION_KIND_SIGTERM),
              "escalation: SIGTERM first");
        procreap_action_list_free(al);
        msleep(200);
        CHECK(alive(s1), "SIGTERM ignored");
        al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
        const procreap_action *a = action_for(al, s1->pid, PROCREAP_ACTION_KIND_WAITING);
        CHECK_AL(al, al && al->len == 1 && a && a->signal == PROCREAP_SIGNAL_NONE && a->reason &&
                  strstr(a->reason, "grace"),
              "escalation: waiting within the grace period");
        if (!a)
            dump_actions("waiting", al);
        procreap_action_list_free(al);
        msleep(2100);
        al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
        a = action_for(al, s1->pid, PROCREAP_ACTION_KIND_SIGKILL);
        CHECK_AL(al, al && al->len == 1 && a && a->signal == PROCREAP_SIGNAL_SIGKILL,
              "escalation: SIGKILL after the grace period");
        if (!a)
            dump_actions("sigkill", al);
        procreap_action_list_free(al);
        CHECK(exited_by(s1, SIGKILL), "TERM-ignoring decoy died of SIGKILL");
        al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
        CHECK_AL(al, al && al->len == 1 && action_for(al, s1->pid, PROCREAP_ACTION_KIND_EXITED),
              "escalation: exited");
        procreap_action_list_free(al);
    }

    /* Released: a ledger entry that stopped being a candidate. */
    decoy *s2 = spawn_script();
    if (CHECK(s2 != NULL, "spawn decoy to release")) {
        al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
        CHECK_AL(al, al && action_for(al, s2->pid, PROCREAP_ACTION_KIND_SIGTERM), "release: SIGTERM");
        procreap_action_list_free(al);
        int32_t sp[] = {s2->pid};
        EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, sp, 1, &err));
        al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
        const procreap_action *a = action_for(al, s2->pid, PROCREAP_ACTION_KIND_RELEASED);
        CHECK_AL(al, al && al->len == 1 && a && a->signal == PROCREAP_SIGNAL_NONE && a->reason &&
                  strstr(a->reason, "protected"),
              "release: released once protected");
        if (!a)
            dump_actions("released", al);
        procreap_action_list_free(al);
        msleep(100);
        CHECK(alive(s2), "released decoy was not killed");
        al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
        CHECK_AL(al, al && al->len == 0, "a released, protected decoy is left alone");
        procreap_action_list_free(al);
        EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, NULL, 0, &err));
        kill_decoy(s2);
    }
}

/* A stopped decoy gets SIGCONT with its SIGTERM; kill_tree takes the
 * agent's descendants along. */
static void test_stopped_and_tree(procreap_config *cfg)
{
    decoy *st = spawn_sleep(0);
    if (CHECK(st != NULL, "spawn decoy to stop") && CHECK(st->child, "(direct mode)")) {
        kill(st->pid, SIGSTOP); /* our own unreaped child */
        for (long dl = now_ms() + 3000; proc_state(st->pid) != 'T' && now_ms() < dl;)
            msleep(5);
        CHECK(proc_state(st->pid) == 'T', "decoy stopped");
        procreap_action_list *al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
        const procreap_action *a = action_for(al, st->pid, PROCREAP_ACTION_KIND_SIGTERM);
        CHECK_AL(al, al && al->len == 1 && a && a->process.state == 'T' && a->reason &&
                         strstr(a->reason, "SIGCONT"),
                 "stopped decoy: SIGTERM and SIGCONT");
        procreap_action_list_free(al);
        CHECK(exited_by(st, SIGTERM), "stopped decoy died of SIGTERM");
        al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
        CHECK_AL(al, al && al->len == 1 && action_for(al, st->pid, PROCREAP_ACTION_KIND_EXITED),
                 "stopped decoy: exited");
        procreap_action_list_free(al);
    }

    decoy *t = spawn(g_tree, NULL, g_name, SP_STDIN_PIPE);
    if (!CHECK(t != NULL, "spawn decoy with a child"))
        return;
    pid_t kid = 0;
    for (long dl = now_ms() + 5000; !(kid = child_named(t->pid, "sleep")) && now_ms() < dl;)
        msleep(5);
    decoy *kd = kid > 0 ? adopt(kid, t->pid, "sleep") : NULL;
    if (!CHECK(kd != NULL, "the decoy's child runs sleep"))
        return;
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_kill_tree(cfg, true, &err));
    procreap_action_list *al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    const procreap_action *a = action_for(al, kid, PROCREAP_ACTION_KIND_SIGTERM);
    CHECK_AL(al, al && action_for(al, t->pid, PROCREAP_ACTION_KIND_SIGTERM) && a &&
                     a->signal == PROCREAP_SIGNAL_SIGTERM && a->reason &&
                     strstr(a->reason, "kill_tree"),
             "kill_tree: SIGTERM to the agent and its child");
    procreap_action_list_free(al);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_kill_tree(cfg, false, &err));
    CHECK(exited_by(t, SIGTERM), "tree decoy died of SIGTERM");
    if (g_subreaper) {
        /* The child was re-parented to us (subreaper): reap it. */
        int status = 0;
        pid_t r = -1;
        for (long dl = now_ms() + 5000; now_ms() < dl; msleep(10))
            if ((r = waitpid(kid, &status, WNOHANG)) == kid)
                break;
        CHECK(r == kid && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
              "the decoy's child died of SIGTERM");
        kd->reaped = r == kid;
    }
    CHECK(wait_decoy(kd, 5000), "the decoy's child is gone");
    al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    CHECK_AL(al, al && action_for(al, t->pid, PROCREAP_ACTION_KIND_EXITED), "tree: exited");
    procreap_action_list_free(al);
}

static void test_reap_set(procreap_config *cfg, decoy **d4_out)
{
    decoy *d3 = spawn_sleep(0), *d4 = spawn_sleep(0), *s3 = spawn_script();
    *d4_out = d4;
    if (!CHECK(d3 && d4 && s3, "spawn reap_set decoys"))
        return;
    procreap_process_list *pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(cfg, &pl, &err));
    decoy *three[] = {d3, d4, s3};
    CHECK(list_is(pl, three, 3), "3 decoys found");
    procreap_identity id3 = id_of(pl, d3->pid), id4 = id_of(pl, d4->pid),
                      ids3 = id_of(pl, s3->pid);
    procreap_process_list_free(pl);

    /* Exactly the approved identity. */
    procreap_action_list *al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_reap_set(cfg, &id3, 1, &al, &err));
    CHECK_AL(al, al && al->len == 1 && action_for(al, d3->pid, PROCREAP_ACTION_KIND_SIGTERM),
          "reap_set: SIGTERM to the one approved decoy");
    procreap_action_list_free(al);
    CHECK(exited_by(d3, SIGTERM), "approved decoy died of SIGTERM");
    CHECK(alive(d4) && alive(s3), "unapproved decoys untouched");

    /* A stale identity (same pid, other start time) is skipped. */
    procreap_identity stale = {d4->pid, id4.start_time + 1};
    al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_reap_set(cfg, &stale, 1, &al, &err));
    const procreap_action *a = action_for(al, d4->pid, PROCREAP_ACTION_KIND_SKIPPED);
    CHECK_AL(al, al && al->len == 1 && a && a->signal == PROCREAP_SIGNAL_NONE && a->reason &&
              a->reason[0] && a->process.start_time == stale.start_time,
          "reap_set: stale identity skipped");
    if (!a)
        dump_actions("stale", al);
    procreap_action_list_free(al);
    CHECK(alive(d4), "stale identity: nothing sent");

    /* No identities: nothing at all (the exited entry of d3 stays unreported). */
    al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_reap_set(cfg, NULL, 0, &al, &err));
    CHECK_AL(al, al && al->len == 0 && al->items == NULL, "reap_set of nothing");
    procreap_action_list_free(al);

    /* Repeated calls escalate like steps. */
    al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_reap_set(cfg, &ids3, 1, &al, &err));
    CHECK_AL(al, al && al->len == 1 && action_for(al, s3->pid, PROCREAP_ACTION_KIND_SIGTERM),
          "reap_set: SIGTERM");
    procreap_action_list_free(al);
    msleep(2100);
    al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_reap_set(cfg, &ids3, 1, &al, &err));
    a = action_for(al, s3->pid, PROCREAP_ACTION_KIND_SIGKILL);
    CHECK_AL(al, al && al->len == 1 && a && a->signal == PROCREAP_SIGNAL_SIGKILL,
          "reap_set: SIGKILL after the grace period");
    if (!a)
        dump_actions("reap_set sigkill", al);
    procreap_action_list_free(al);
    CHECK(exited_by(s3, SIGKILL), "reap_set decoy died of SIGKILL");
    CHECK(alive(d4), "d4 still untouched");
    /* Clear the ledger of d3 and s3 (both gone) with the approved ids. */
    procreap_identity gone[] = {id3, ids3};
    al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_reap_set(cfg, gone, 2, &al, &err));
    CHECK_AL(al, al && al->len == 2 && action_for(al, d3->pid, PROCREAP_ACTION_KIND_EXITED) &&
              action_for(al, s3->pid, PROCREAP_ACTION_KIND_EXITED),
          "reap_set: both reported exited");
    procreap_action_list_free(al);
}

static void test_reap_now(procreap_config *cfg, decoy *d4)
{
    decoy *s4 = spawn_script();
    if (!CHECK(d4 && s4, "spawn reap_now decoys"))
        return;
    procreap_identity ids[3] = {identify(cfg, s4->pid), identify(cfg, d4->pid), {0, 0}};
    ids[2].pid = d4->pid;
    ids[2].start_time = ids[1].start_time + 7; /* stale: skipped */
    procreap_action_list *al = NULL;
    long t0 = now_ms();
    EXPECT(PROCREAP_STATUS_OK, procreap_reap_now(cfg, ids, 3, 1500, &al, &err));
    long took = now_ms() - t0;
    CHECK(took >= 1450 && took < 6000, "reap_now waited for its deadline (%ld ms)", took);
    const procreap_action *t = action_for(al, d4->pid, PROCREAP_ACTION_KIND_SIGTERM);
    CHECK(t && t->signal == PROCREAP_SIGNAL_SIGTERM, "reap_now: SIGTERM to the sleeper");
    CHECK(action_for(al, d4->pid, PROCREAP_ACTION_KIND_EXITED) != NULL, "sleeper exited");
    CHECK(action_for(al, d4->pid, PROCREAP_ACTION_KIND_SIGKILL) == NULL, "sleeper: no SIGKILL");
    CHECK(action_for(al, d4->pid, PROCREAP_ACTION_KIND_SKIPPED) != NULL, "stale id skipped");
    CHECK(action_for(al, s4->pid, PROCREAP_ACTION_KIND_SIGTERM) != NULL, "script: SIGTERM");
    const procreap_action *k = action_for(al, s4->pid, PROCREAP_ACTION_KIND_SIGKILL);
    CHECK(k && k->signal == PROCREAP_SIGNAL_SIGKILL, "script: SIGKILL after the deadline");
    CHECK(action_for(al, s4->pid, PROCREAP_ACTION_KIND_EXITED) != NULL, "script exited");
    if (!k)
        dump_actions("reap_now", al);
    procreap_action_list_free(al);
    CHECK(exited_by(d4, SIGTERM), "sleeper died of SIGTERM");
    CHECK(exited_by(s4, SIGKILL), "script died of SIGKILL");
}

/* Error statuses of the state dir and ledger, with a name no process has. */
static void test_state_errors(void)
{
    char dir[PATH_MAX], lock[PATH_MAX], link[PATH_MAX], real[PATH_MAX];
    procreap_action_list *al = NULL;
    procreap_error *err = NULL;

    /* A held lock: LOCK_TIMEOUT after ~300 ms, never a hang. */
    path_in(dir, "lockstate");
    CHECK(mkdir(dir, 0700) == 0, "mkdir lockstate");
    join(lock, dir, "ledger.lock");
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0, "hold the ledger lock");
    procreap_config *cfg = private_config(g_unused, dir);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_lock_timeout_ms(cfg, 300, &err));
    long t0 = now_ms();
    EXPECT(PROCREAP_STATUS_LOCK_TIMEOUT, procreap_cleanup_step(cfg, 0, &al, &err));
    long took = now_ms() - t0;
    CHECK(took >= 250 && took < 5000, "lock timeout after %ld ms", took);
    CHECK(al == NULL, "no list on lock timeout");
    procreap_identity nobody = {1, 1};
    EXPECT(PROCREAP_STATUS_LOCK_TIMEOUT, procreap_reap_set(cfg, &nobody, 1, &al, &err));
    CHECK(al == NULL, "no list on lock timeout");
    /* A dry run does not lock... or does it? Either way it must not hang. */
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, true, &err));
    err = NULL;
    t0 = now_ms();
    procreap_status st = procreap_cleanup_step(cfg, 0, &al, &err);
    CHECK((st == PROCREAP_STATUS_OK || st == PROCREAP_STATUS_LOCK_TIMEOUT) &&
              now_ms() - t0 < 5000,
          "dry run with a held lock: %s", procreap_status_str(st));
    procreap_error_free(err);
    procreap_action_list_free(al);
    al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, false, &err));
    if (fd >= 0)
        close(fd); /* releases the lock */
    al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    procreap_action_list_free(al);
    al = NULL;

    /* A symlinked state dir: UNSAFE_STATE_PATH, for steps and dry runs. */
    path_in(real, "realstate");
    path_in(link, "linkstate");
    CHECK(mkdir(real, 0700) == 0 && symlink(real, link) == 0, "symlinked state dir");
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, link, &err));
    EXPECT(PROCREAP_STATUS_UNSAFE_STATE_PATH, procreap_cleanup_step(cfg, 0, &al, &err));
    CHECK(al == NULL, "no list for an unsafe state dir");
    EXPECT(PROCREAP_STATUS_UNSAFE_STATE_PATH, procreap_reap_set(cfg, NULL, 0, &al, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, true, &err));
    EXPECT(PROCREAP_STATUS_UNSAFE_STATE_PATH, procreap_cleanup_step(cfg, 1, &al, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, false, &err));
    CHECK(al == NULL, "no list for an unsafe state dir");

    /* A state dir writable by others: refused too. */
    path_in(dir, "openstate");
    CHECK(mkdir(dir, 0700) == 0 && chmod(dir, 0777) == 0, "mkdir openstate");
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, dir, &err));
    EXPECT(PROCREAP_STATUS_UNSAFE_STATE_PATH, procreap_cleanup_step(cfg, 0, &al, &err));
    CHECK(al == NULL, "no list for an unsafe state dir");

    /* A corrupt ledger: moved aside, reported, and the list still written. */
    path_in(dir, "corruptstate");
    CHECK(mkdir(dir, 0700) == 0, "mkdir corruptstate");
    char ledger[PATH_MAX];
    join(ledger, dir, "ledger");
    CHECK(write_text(ledger, "this is not a procreap ledger\n", 0600), "write corrupt ledger");
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, dir, &err));
    EXPECT(PROCREAP_STATUS_LEDGER_CORRUPT, procreap_cleanup_step(cfg, 0, &al, &err));
    CHECK_AL(al, al != NULL && al->len == 0, "corrupt ledger: the (empty) list is written");
    procreap_action_list_free(al);
    al = NULL;
    char buf[256] = "";
    read_file(ledger, buf, sizeof buf);
    CHECK(strstr(buf, "not a procreap ledger") == NULL, "corrupt ledger moved aside");
    al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    procreap_action_list_free(al);
    procreap_config_free(cfg);
}

/* ------------------------------------------------------------------ main */

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_escape = ancestry_in_tmux() || getenv("PROCREAP_TEST_ESCAPE") != NULL;

    /* Part 1 needs no process. */
    test_static_functions();
    test_setters_null_config();
    test_setters_bad_values();

    /* Part 2: the private world. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    alarm(180);
    if (!g_escape)
        g_subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
    CHECK(g_escape || g_subreaper, "PR_SET_CHILD_SUBREAPER");
    atexit(teardown);

    snprintf(g_tmp, sizeof g_tmp, "/tmp/prt-abi-XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("abi_test: mkdtemp");
        g_tmp[0] = '\0';
        return 1;
    }
    random_name(g_name);
    do
        random_name(g_unused);
    while (strcmp(g_unused, g_name) == 0);
    char bin[PATH_MAX], sh[PATH_MAX], tree[PATH_MAX], state[PATH_MAX], sleep_bin[PATH_MAX];
    path_in(bin, "bin");
    path_in(sh, "sh");
    path_in(tree, "tree");
    path_in(state, "state");
    join(g_sleep, bin, g_name);
    join(g_script, sh, g_name);
    join(g_tree, tree, g_name);
    const char *sleep_path = access("/bin/sleep", X_OK) == 0 ? "/bin/sleep" : "/usr/bin/sleep";
    /* 0711: a decoy running as another user (when root) must reach its binary. */
    if (!realpath(sleep_path, sleep_bin) || chmod(g_tmp, 0711) != 0 || mkdir(bin, 0711) != 0 ||
        mkdir(sh, 0700) != 0 || mkdir(tree, 0700) != 0 ||
        !write_text(g_tree,
                    "#!/bin/sh\n"
                    "# procreap abi_test decoy with a child (kill_tree); waits on stdin.\n"
                    "sleep 120 </dev/null >/dev/null 2>&1 &\n"
                    "read -r line\n",
                    0700) ||
        symlink(sleep_bin, g_sleep) != 0 ||
        !write_text(g_script,
                    "#!/bin/sh\n"
                    "# procreap abi_test decoy: ignores SIGTERM and waits on stdin, a pipe\n"
                    "# abi_test holds: it exits when abi_test is gone. It never forks: a\n"
                    "# `while :; do sleep 1; done` loop would, and each fork is, until it\n"
                    "# execs sleep, a second process with the decoy's name.\n"
                    "trap '' TERM\n"
                    "read -r line\n",
                    0700)) {
        perror("abi_test: setting up decoys");
        return 1;
    }
    printf("abi_test: decoy name %s, temp dir %s%s\n", g_name, g_tmp,
           g_escape ? " (inside tmux: decoys double-forked out of the pane)" : "");

    procreap_config *cfg = private_config(g_name, state);
    if (!CHECK(cfg != NULL, "private config"))
        return 1;
    test_calls_null_params(cfg);
    test_default_scans();

    /* A protected helper (plain sleep, not an agent) for zombie scans. */
    decoy *helper = spawn(sleep_bin, "600", "sleep", 0);
    decoy *d1 = spawn_sleep(0), *d2 = spawn_sleep(0), *tty = spawn_sleep(SP_TTY);
    if (CHECK(helper && d1 && d2, "spawn decoys")) {
        CHECK(tty != NULL, "spawn the decoy with a terminal");
        test_scans(cfg, d1, d2, helper);
        test_verdicts(cfg, d1, d2, tty);
        test_steps(cfg, state, d1, d2, tty, helper);
        if (!g_escape)
            test_stopped_and_tree(cfg);
        decoy *d4 = NULL;
        test_reap_set(cfg, &d4);
        test_reap_now(cfg, d4);
    }
    test_state_errors();
    procreap_config_free(cfg);

    /* Everything we started is gone, or goes now. */
    for (int i = 0; i < g_ndecoys; i++)
        if (&g_decoys[i] != helper)
            CHECK(!alive(&g_decoys[i]), "decoy %d is gone", (int)g_decoys[i].pid);
    teardown();
    g_ndecoys = 0;
    g_tmp[0] = '\0';
    alarm(0);

    printf("abi_test: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
