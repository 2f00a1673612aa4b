/*
 * harness.h — what the C tests share: CHECK/EXPECT counters, temp dir and
 * private names, decoy processes and their teardown, list helpers. Included
 * once by each test program (abi_contract.c, smoke.c); each function is
 * static, so a program that does not use one is not warned about it.
 *
 * Safety: the only processes that can ever be signalled are decoys a test
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
#ifndef PROCREAP_TEST_HARNESS_H
#define PROCREAP_TEST_HARNESS_H

#define _GNU_SOURCE
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

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

__attribute__((format(printf, 5, 6))) static bool check_at(const char *file, int line, bool ok,
                                                            const char *expr, const char *fmt, ...)
{
    if (ok) {
        g_pass++;
        return true;
    }
    g_fail++;
    fprintf(stderr, "FAIL %s:%d: %s: ", file, line, expr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return false;
}
#define CHECK(ok, ...) check_at(__FILE__, __LINE__, (ok), #ok, __VA_ARGS__)

/* Checks a status and the error object that came with it: none on success;
 * on failure one whose code matches and whose message is non-empty. Frees it. */
static bool expect_at(const char *file, int line, const char *call, procreap_status got,
                      procreap_status want, procreap_error *err)
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
        fprintf(stderr, "FAIL %s:%d: %s: got %u (%s), want %u (%s); error %s: %s\n",
                file, line, call, (unsigned)got, procreap_status_str(got), (unsigned)want,
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
        expect_at(__FILE__, __LINE__, #call, st_, (want), err);                                       \
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
static char g_sleep_bin[PATH_MAX]; /* the real sleep binary */

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
    static const char msg[] = "c test: interrupted or timed out; killing decoys\n";
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
    static const char left[] = "c test: left behind: ";
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
        fprintf(stderr, "c test: decoy %d did not exit after SIGKILL\n", (int)d->pid);
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
            perror("c test: pty");
            return NULL;
        }
    }
    int in_pipe[2] = {-1, -1};
    if ((flags & SP_STDIN_PIPE) && pipe2(in_pipe, O_CLOEXEC) != 0) {
        perror("c test: pipe2");
        return NULL;
    }
    char *const argv[] = {(char *)path, (char *)arg1, NULL};
    int go[2], pidp[2];
    if (pipe2(go, O_CLOEXEC) != 0 || pipe2(pidp, O_CLOEXEC) != 0) {
        perror("c test: pipe2");
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("c test: fork");
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
            fprintf(stderr, "c test: double fork failed\n");
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
            perror("c test: pidfd_open (needed to run from inside tmux)");
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
        perror("c test: write go");
    close(go[1]);
    /* A script must also have run its `trap '' TERM` before it is a fair test. */
    for (long deadline = now_ms() + 5000;
         !execed(d->pid, comm) || ((flags & SP_IGNORES_TERM) && !ignores_term(d->pid));) {
        if (now_ms() > deadline || !alive(d)) {
            fprintf(stderr, "c test: decoy %d did not exec %s\n", (int)d->pid, path);
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

/* The private leak marker of a configuration for `name` (prt-<hex>):
 * "PRT_LEAK_<hex>=1", never the agent CLI's own. */
static void leak_marker_of(char out[40], const char *name)
{
    snprintf(out, 40, "PRT_LEAK_%s=1", name + 4);
}

/* A configuration that can only ever touch processes named `name`, and
 * processes carrying its private leak marker (leak_marker_of). */
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
    /* Never the default CLAUDECODE marker: a private one. */
    char marker[40];
    leak_marker_of(marker, name);
    const char *markers[] = {marker};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_leak_markers(cfg, markers, 1, &err));
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
        if (!check_at(__FILE__, __LINE__, (ok), #ok, __VA_ARGS__))                                    \
            dump_actions("actions", (al));                                                  \
    } while (0)

/* Runs one cleanup step that must succeed; returns its list (caller frees). */
static procreap_action_list *step_ok(int line, const procreap_config *cfg, uint32_t kind)
{
    procreap_action_list *out = NULL;
    procreap_error *err = NULL;
    procreap_status st = procreap_cleanup_step(cfg, kind, &out, &err);
    if (!expect_at(__FILE__, line, "procreap_cleanup_step", st, PROCREAP_STATUS_OK, err))
        dump_actions("step", out);
    check_at(__FILE__, line, out != NULL, "out != NULL", "a successful step writes its list");
    return out;
}
#define STEP_OK(cfg, kind) step_ok(__LINE__, (cfg), (kind))

/* The identity of a decoy, read through a scan with `cfg`. */
static procreap_identity identify(const procreap_config *cfg, pid_t pid)
{
    procreap_verdict_list *l = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_explain(cfg, &l, &err));
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

/* ------------------------------------------------------------------ setup */

/* Creates the private world: g_tmp, g_name/g_unused, the decoy binaries
 * (g_sleep, g_script, g_tree), the watchdog and teardown. Returns false
 * (having said why) when it cannot. */
static bool harness_setup(const char *prog, unsigned watchdog_secs)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_escape = ancestry_in_tmux() || getenv("PROCREAP_TEST_ESCAPE") != NULL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    alarm(watchdog_secs);
    if (!g_escape)
        g_subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
    CHECK(g_escape || g_subreaper, "PR_SET_CHILD_SUBREAPER");
    atexit(teardown);

    snprintf(g_tmp, sizeof g_tmp, "/tmp/prt-abi-XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("c test: mkdtemp");
        g_tmp[0] = '\0';
        return false;
    }
    random_name(g_name);
    do
        random_name(g_unused);
    while (strcmp(g_unused, g_name) == 0);
    char bin[PATH_MAX], sh[PATH_MAX], tree[PATH_MAX];
    path_in(bin, "bin");
    path_in(sh, "sh");
    path_in(tree, "tree");
    join(g_sleep, bin, g_name);
    join(g_script, sh, g_name);
    join(g_tree, tree, g_name);
    const char *sleep_path = access("/bin/sleep", X_OK) == 0 ? "/bin/sleep" : "/usr/bin/sleep";
    /* 0711: a decoy running as another user (when root) must reach its binary. */
    if (!realpath(sleep_path, g_sleep_bin) || chmod(g_tmp, 0711) != 0 || mkdir(bin, 0711) != 0 ||
        mkdir(sh, 0700) != 0 || mkdir(tree, 0700) != 0 ||
        !write_text(g_tree,
                    "#!/bin/sh\n"
                    "# procreap C test decoy with a child (kill_tree); waits on stdin.\n"
                    "sleep 120 </dev/null >/dev/null 2>&1 &\n"
                    "read -r line\n",
                    0700) ||
        symlink(g_sleep_bin, g_sleep) != 0 ||
        !write_text(g_script,
                    "#!/bin/sh\n"
                    "# procreap C test decoy: ignores SIGTERM and waits on stdin, a pipe\n"
                    "# the test holds: it exits when the test is gone. It never forks: a\n"
                    "# `while :; do sleep 1; done` loop would, and each fork is, until it\n"
                    "# execs sleep, a second process with the decoy's name.\n"
                    "trap '' TERM\n"
                    "read -r line\n",
                    0700)) {
        perror("c test: setting up decoys");
        return false;
    }
    printf("%s: decoy name %s, temp dir %s%s\n", prog, g_name, g_tmp,
           g_escape ? " (inside tmux: decoys double-forked out of the pane)" : "");
    return true;
}

/* Checks that every decoy is gone, tears down, prints the counts; the exit status. */
static int harness_finish(const char *prog)
{
    for (int i = 0; i < g_ndecoys; i++)
        CHECK(!alive(&g_decoys[i]), "decoy %d is gone", (int)g_decoys[i].pid);
    teardown();
    g_ndecoys = 0;
    g_tmp[0] = '\0';
    alarm(0);
    printf("%s: %d passed, %d failed\n", prog, g_pass, g_fail);
    return g_fail ? 1 : 0;
}

#pragma GCC diagnostic pop
#endif
