/*
 * iorecord: an LD_PRELOAD library recording what a process writes to the
 * files of one directory, for the power-loss simulation (crash.py), and
 * killing it at a given write, for tests that need a deterministic stop
 * point
 *
 * QEMU (file-posix with aio=threads) writes image files with pwrite(v),
 * makes them durable with fdatasync/fsync, sizes them with ftruncate (or
 * posix_fallocate, growing them allocated) and punches or zeroes ranges
 * with fallocate.  Each such call on a file
 * under $IORECORD_DIR is passed on and, once it returned successfully,
 * appended to $IORECORD_LOG as one record, in one global order (the
 * order of completion), with the data written and CLOCK_MONOTONIC times:
 * a write's time is taken after it completed, a flush's start before it
 * began, so a write whose time precedes a flush's start was covered by
 * that flush.  Records of several processes (run one after the other)
 * go to the same log.
 *
 * Record (little endian): magic "IOR1", type (u8: 1 write, 2 flush,
 * 3 truncate, 4 zero range, 5 allocate), flags (u8: 1 the size is kept,
 * FALLOC_FL_KEEP_SIZE), 2 bytes padding, pid (u32),
 * start ns (u64), end ns (u64), offset (u64), length (u64), path length
 * (u16), the path, then for a write its data.  A truncate's offset is
 * the new size; an allocate (fallocate mode 0) may extend the file.
 *
 * Without $IORECORD_LOG nothing is recorded, but changes are still
 * counted: with $IORECORD_KILL_AT=N, the process that completes the N-th
 * change of a file (a write, truncate or fallocate, not a flush) kills,
 * with SIGKILL, the process whose pid $IORECORD_KILL_PIDFILE holds, or
 * its own process group if $IORECORD_KILL_GROUP is set, or else itself.
 * The count is per process, or shared by the processes given the same
 * $IORECORD_COUNT (a file holding the count so far).  The killing
 * process writes its command line to $IORECORD_KILL_NOTE, if set.  While
 * the file $IORECORD_DISARM exists, the stop point kills nothing.  With
 * $IORECORD_KILL_AT_FILE instead of $IORECORD_KILL_AT, N is read from
 * that file (no file: no stop point yet), so that a test can set it
 * once the process runs.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define IOREC_MAGIC "IOR1"

enum {
    IOREC_WRITE = 1,
    IOREC_FLUSH = 2,
    IOREC_TRUNCATE = 3,
    IOREC_ZERO = 4,
    IOREC_ALLOCATE = 5,
};

static pthread_mutex_t iorec_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t iorec_once = PTHREAD_ONCE_INIT;
static const char *iorec_dir;
static size_t iorec_dir_len;
static int iorec_fd = -1;
static long iorec_kill_at;             /* 0: never */
static long iorec_changes;             /* this process's, without a file */
static int iorec_count_fd = -1;

static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off_t);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_fallocate64)(int, int, off_t, off_t);
static int (*real_posix_fallocate)(int, off_t, off_t);
static int (*real_posix_fallocate64)(int, off_t, off_t);

static int iorec_open(const char *path)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        fprintf(stderr, "iorecord: cannot open %s: %s\n", path,
                strerror(errno));
        abort();
    }
    return fd;
}

static void iorec_init(void)
{
    const char *log = getenv("IORECORD_LOG");

    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_pwritev = dlsym(RTLD_NEXT, "pwritev");
    real_pwritev64 = dlsym(RTLD_NEXT, "pwritev64");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    real_fallocate = dlsym(RTLD_NEXT, "fallocate");
    real_fallocate64 = dlsym(RTLD_NEXT, "fallocate64");
    real_posix_fallocate = dlsym(RTLD_NEXT, "posix_fallocate");
    real_posix_fallocate64 = dlsym(RTLD_NEXT, "posix_fallocate64");
    const char *kill_at = getenv("IORECORD_KILL_AT");
    const char *count = getenv("IORECORD_COUNT");

    iorec_dir = getenv("IORECORD_DIR");
    if (!iorec_dir) {
        return;
    }
    iorec_dir_len = strlen(iorec_dir);
    iorec_kill_at = kill_at ? atol(kill_at) : 0;
    if (log) {
        iorec_fd = iorec_open(log);
    }
    if (count) {
        iorec_count_fd = iorec_open(count);
    }
}

static uint64_t iorec_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The path of @fd if it is a file under IORECORD_DIR, else 0 */
static size_t iorec_path(int fd, char *path)
{
    char link[64];
    ssize_t n;

    pthread_once(&iorec_once, iorec_init);
    if (!iorec_dir) {
        return 0;
    }
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, PATH_MAX - 1);
    if (n <= (ssize_t)iorec_dir_len ||
        strncmp(path, iorec_dir, iorec_dir_len) != 0 ||
        path[iorec_dir_len] != '/') {
        return 0;
    }
    path[n] = '\0';
    return n;
}

static void iorec_put(const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = write(iorec_fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fprintf(stderr, "iorecord: cannot write the log: %s\n",
                    strerror(errno));
            abort();
        }
        p += n;
        len -= n;
    }
}

/* The number of changes so far, this one counted; iorec_lock held */
static long iorec_count_change(void)
{
    char buf[32] = "";
    long n;

    if (iorec_count_fd < 0) {
        return ++iorec_changes;
    }
    flock(iorec_count_fd, LOCK_EX);
    if (pread(iorec_count_fd, buf, sizeof(buf) - 1, 0) < 0) {
        buf[0] = '\0';
    }
    n = atol(buf) + 1;
    snprintf(buf, sizeof(buf), "%020ld\n", n);
    if (real_ftruncate(iorec_count_fd, 0) < 0 ||
        write(iorec_count_fd, buf, strlen(buf)) < 0) {
        abort();
    }
    flock(iorec_count_fd, LOCK_UN);
    return n;
}

/* Writes this process's command line (arguments space separated) */
static void iorec_note_killer(const char *path)
{
    char buf[4096];
    FILE *in = fopen("/proc/self/cmdline", "r");
    FILE *out = fopen(path, "w");
    size_t n = in ? fread(buf, 1, sizeof(buf) - 1, in) : 0;

    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\0') {
            buf[i] = ' ';
        }
    }
    if (out) {
        fwrite(buf, 1, n, out);
        fclose(out);
    }
    if (in) {
        fclose(in);
    }
}

/* The stop point: the change that was to be the last one happened */
static void iorec_kill(void)
{
    const char *pidfile = getenv("IORECORD_KILL_PIDFILE");
    const char *note = getenv("IORECORD_KILL_NOTE");
    const char *disarm = getenv("IORECORD_DISARM");
    char buf[32] = "";
    FILE *f;

    if (disarm && access(disarm, F_OK) == 0) {
        return;
    }
    if (note) {
        iorec_note_killer(note);
    }
    f = pidfile ? fopen(pidfile, "r") : NULL;
    if (f) {
        if (fgets(buf, sizeof(buf), f)) {
            kill(atol(buf), SIGKILL);
        }
        fclose(f);
        return;
    }
    kill(getenv("IORECORD_KILL_GROUP") ? 0 : getpid(), SIGKILL);
}

/* Counts a change; iorec_lock held */
/* The stop point now: $IORECORD_KILL_AT, or what its file says */
static long iorec_stop_point(void)
{
    const char *path = getenv("IORECORD_KILL_AT_FILE");
    char buf[32] = "";
    FILE *f;

    if (!path) {
        return iorec_kill_at;
    }
    f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    if (!fgets(buf, sizeof(buf), f)) {
        buf[0] = '\0';
    }
    fclose(f);
    return atol(buf);
}

static void iorec_change_done(void)
{
    long n, at;

    if (!iorec_kill_at && iorec_count_fd < 0) {
        return;
    }
    n = iorec_count_change();
    at = iorec_stop_point();
    if (at && n == at) {
        iorec_kill();
    }
}

/*
 * Appends a record; the caller holds iorec_lock.  @iov/@iovcnt is the
 * data of a write (@length bytes), else NULL.
 */
static void iorec_append(int type, int flags, uint64_t start,
                         uint64_t offset, uint64_t length, const char *path,
                         size_t path_len, const struct iovec *iov,
                         int iovcnt)
{
    unsigned char head[48];
    uint32_t pid = getpid();
    uint64_t end = iorec_now();
    uint16_t plen = path_len;
    uint64_t left = length;

    if (type != IOREC_FLUSH) {
        iorec_change_done();
    }
    if (iorec_fd < 0) {
        return;
    }
    memset(head, 0, sizeof(head));
    memcpy(head, IOREC_MAGIC, 4);
    head[4] = type;
    head[5] = flags;
    memcpy(head + 8, &pid, 4);
    memcpy(head + 12, &start, 8);
    memcpy(head + 20, &end, 8);
    memcpy(head + 28, &offset, 8);
    memcpy(head + 36, &length, 8);
    memcpy(head + 44, &plen, 2);
    iorec_put(head, 46);
    iorec_put(path, path_len);
    for (int i = 0; iov && i < iovcnt && left; i++) {
        size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;

        iorec_put(iov[i].iov_base, n);
        left -= n;
    }
}

static void iorec_write(int fd, const struct iovec *iov, int iovcnt,
                        off_t offset, ssize_t done)
{
    char path[PATH_MAX];
    size_t path_len;

    if (done <= 0) {
        return;
    }
    path_len = iorec_path(fd, path);
    if (!path_len) {
        return;
    }
    pthread_mutex_lock(&iorec_lock);
    iorec_append(IOREC_WRITE, 0, iorec_now(), offset, done, path, path_len,
                 iov, iovcnt);
    pthread_mutex_unlock(&iorec_lock);
}

static void iorec_op(int type, int flags, int fd, uint64_t start,
                     uint64_t offset, uint64_t length)
{
    char path[PATH_MAX];
    size_t path_len = iorec_path(fd, path);

    if (!path_len) {
        return;
    }
    pthread_mutex_lock(&iorec_lock);
    iorec_append(type, flags, start, offset, length, path, path_len, NULL,
                 0);
    pthread_mutex_unlock(&iorec_lock);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    struct iovec iov = { (void *)buf, count };
    ssize_t ret;

    pthread_once(&iorec_once, iorec_init);
    ret = real_pwrite(fd, buf, count, offset);
    iorec_write(fd, &iov, 1, offset, ret);
    return ret;
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset)
{
    struct iovec iov = { (void *)buf, count };
    ssize_t ret;

    pthread_once(&iorec_once, iorec_init);
    ret = real_pwrite64(fd, buf, count, offset);
    iorec_write(fd, &iov, 1, offset, ret);
    return ret;
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
    ssize_t ret;

    pthread_once(&iorec_once, iorec_init);
    ret = real_pwritev(fd, iov, iovcnt, offset);
    iorec_write(fd, iov, iovcnt, offset, ret);
    return ret;
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
    ssize_t ret;

    pthread_once(&iorec_once, iorec_init);
    ret = real_pwritev64(fd, iov, iovcnt, offset);
    iorec_write(fd, iov, iovcnt, offset, ret);
    return ret;
}

static int iorec_flush(int fd, int (*real)(int))
{
    uint64_t start = iorec_now();
    int ret = real(fd);

    if (ret == 0) {
        iorec_op(IOREC_FLUSH, 0, fd, start, 0, 0);
    }
    return ret;
}

int fdatasync(int fd)
{
    pthread_once(&iorec_once, iorec_init);
    return iorec_flush(fd, real_fdatasync);
}

int fsync(int fd)
{
    pthread_once(&iorec_once, iorec_init);
    return iorec_flush(fd, real_fsync);
}

static int iorec_truncate(int fd, off_t length, int (*real)(int, off_t))
{
    uint64_t start = iorec_now();
    int ret = real(fd, length);

    if (ret == 0) {
        iorec_op(IOREC_TRUNCATE, 0, fd, start, length, 0);
    }
    return ret;
}

int ftruncate(int fd, off_t length)
{
    pthread_once(&iorec_once, iorec_init);
    return iorec_truncate(fd, length, real_ftruncate);
}

int ftruncate64(int fd, off_t length)
{
    pthread_once(&iorec_once, iorec_init);
    return iorec_truncate(fd, length, real_ftruncate64);
}

static int iorec_fallocate(int fd, int mode, off_t offset, off_t len,
                           int (*real)(int, int, off_t, off_t))
{
    uint64_t start = iorec_now();
    int ret = real(fd, mode, offset, len);

    if (ret == 0) {
        /* Punched or zeroed ranges read as zeros; mode 0 only allocates */
        iorec_op(mode ? IOREC_ZERO : IOREC_ALLOCATE,
                 !!(mode & FALLOC_FL_KEEP_SIZE), fd, start, offset, len);
    }
    return ret;
}

int fallocate(int fd, int mode, off_t offset, off_t len)
{
    pthread_once(&iorec_once, iorec_init);
    return iorec_fallocate(fd, mode, offset, len, real_fallocate);
}

int fallocate64(int fd, int mode, off_t offset, off_t len)
{
    pthread_once(&iorec_once, iorec_init);
    return iorec_fallocate(fd, mode, offset, len, real_fallocate64);
}

/*
 * posix_fallocate (QEMU's preallocation when it grows a file) makes the
 * system call itself, past the fallocate symbol: an allocate, which may
 * extend the file.  It returns an error number instead of setting errno.
 */
static int iorec_posix_fallocate(int fd, off_t offset, off_t len,
                                 int (*real)(int, off_t, off_t))
{
    uint64_t start = iorec_now();
    int ret = real(fd, offset, len);

    if (ret == 0) {
        iorec_op(IOREC_ALLOCATE, 0, fd, start, offset, len);
    }
    return ret;
}

int posix_fallocate(int fd, off_t offset, off_t len)
{
    pthread_once(&iorec_once, iorec_init);
    return iorec_posix_fallocate(fd, offset, len, real_posix_fallocate);
}

int posix_fallocate64(int fd, off_t offset, off_t len)
{
    pthread_once(&iorec_once, iorec_init);
    return iorec_posix_fallocate(fd, offset, len, real_posix_fallocate64);
}
