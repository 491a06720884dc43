// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile process, area 6: another user.  /dev/gcarena is 0666, so any
 * user may have arenas; none may look into or touch another user's:
 * /proc/gcarena/<id> is 0400 and its owner's, /proc/gcarena/arenas shows
 * a user only their own rows, the module knobs are root's, and an arena's
 * file answers EPERM to every process but its creator, however the file
 * got there (inherited over fork, or passed with SCM_RIGHTS).  An
 * unprivileged user has at most GCA_MAX_ARENAS_PER_USER (256) arenas.
 *
 * Runs as root; the other user is uid/gid 1000 (setgroups, setgid,
 * setuid in a child).
 *
 * Tests:
 *   user.inherited_fd_and_proc    user.scm_rights_both_ways
 *   user.per_user_arena_limit     zz_final.still_working (last)
 */
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "gca_test_raw.h"

#define MAX_ARENAS_PER_USER	256	/* kmod/gcarena_private.h */
#define MAX_ARENAS_PER_MM	64
#define SALT		0x05e7ULL

/* Who still holds an arena file or mapping (for failure messages). */
static void who_holds(struct __test_metadata *_metadata)
{
	char cmd[] = "for p in /proc/[0-9]*; do "
		"for f in $p/fd/*; do l=$(readlink $f 2>/dev/null); "
		"case $l in *gcarena*) echo \"$p fd $l\";; esac; done; "
		"grep -H gcarena $p/maps 2>/dev/null; done";
	char line[512];
	FILE *f = popen(cmd, "r");

	while (f && fgets(line, sizeof(line), f))
		TH_LOG("holder: %s", line);
	if (f)
		pclose(f);
}

/* Is there a row for arena id in /proc/gcarena/arenas?  -1: unreadable */
static int arenas_has(int id)
{
	char *buf = malloc(1 << 20), *line;
	int found = 0;

	if (!buf || read_file(GCA_PROC "/arenas", buf, 1 << 20) < 0) {
		free(buf);
		return -1;
	}
	if (strncmp(buf, "id", 2))
		found = -1;		/* no header line */
	for (line = strchr(buf, '\n'); found >= 0 && line && line[1];
	     line = strchr(line + 1, '\n')) {
		unsigned int rid;

		if (sscanf(line + 1, "%u", &rid) == 1 && (int)rid == id)
			found = 1;
	}
	free(buf);
	return found;
}

/*
 * Everything another process may and may not do with an arena's file:
 * returns a bitmask of failed checks.
 */
static int foreign_fd_checks(int fd)
{
	struct gca_stats st = { .size = sizeof(st) };
	struct gca_handshake hs = { .size = sizeof(hs) };
	struct gca_thread_reg tr = { .size = sizeof(tr), .stack_lo = 4096,
				     .stack_hi = 8192 };
	struct gca_create cr = { .size = sizeof(cr), .heap_size = 4 * SZ_1M };
	struct gca_refill rf = { .size = sizeof(rf),
				 .spanclass = GCA_SPANCLASS(2, 0) };
	struct gca_params_arg pa = { .size = sizeof(pa),
				     .flags = GCA_SET_GC_PERCENT,
				     .gc_percent = 1 };
	struct gca_roots ro = { .size = sizeof(ro), .start = 4096,
				.len = 4096 };
	struct gca_info info = { .size = sizeof(info) };
	int fail = 0;

	if (ioctl_err(fd, GCA_IOC_READ_STATS, &st) != EPERM)
		fail |= 1 << 0;
	if (ioctl_err(fd, GCA_IOC_COLLECT, &hs) != EPERM ||
	    ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs) != EPERM)
		fail |= 1 << 1;
	if (ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr) != EPERM ||
	    ioctl_err(fd, GCA_IOC_REFILL, &rf) != EPERM)
		fail |= 1 << 2;
	if (ioctl_err(fd, GCA_IOC_CREATE, &cr) != EPERM)
		fail |= 1 << 3;
	if (ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa) != EPERM ||
	    ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro) != EPERM)
		fail |= 1 << 4;
#ifdef GCA_IOC_QUERY_OBJECTS
	{
		uint64_t addr = 0, live = 0;
		struct gca_query q = { .size = sizeof(q), .n = 1 };

		q.addrs = (uintptr_t)&addr;
		q.live = (uintptr_t)&live;
		if (ioctl_err(fd, GCA_IOC_QUERY_OBJECTS, &q) != EPERM)
			fail |= 1 << 5;
	}
#endif
	if (mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, GCA_OFF_CTRL) !=
	    MAP_FAILED || errno != EPERM)
		fail |= 1 << 6;
	if (mmap(NULL, 4 * SZ_1M, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 GCA_OFF_HEAP) != MAP_FAILED || errno != EPERM)
		fail |= 1 << 7;
	/* GET_INFO concerns no arena: allowed. */
	if (ioctl_err(fd, GCA_IOC_GET_INFO, &info))
		fail |= 1 << 8;
	return fail;
}

/* The other user's own arena works, and its /proc file is its own. */
static int own_arena_checks(void)
{
	struct gca_arena *a;
	struct node *l;
	struct stat stb;
	char path[64], *buf;
	int fail = 0;

	if (open_arena(&a, 16 * SZ_1M, 100))
		return 1 << 0;
	l = build_list(a, 1000, 1, SALT);
	if (!l || gca_collect(a) || check_list(l, 1, SALT) != 1000)
		fail |= 1 << 1;
	proc_arena_path(gca_arena_id(a), path, sizeof(path));
	buf = malloc(PROC_BUF_SIZE);
	if (!buf || read_file(path, buf, PROC_BUF_SIZE) <= 0 ||
	    !strstr(buf, "num_gc: "))
		fail |= 1 << 2;
	free(buf);
	if (stat(path, &stb) || stb.st_uid != OTHER_UID ||
	    (stb.st_mode & 0777) != 0400)
		fail |= 1 << 3;
	if (arenas_has(gca_arena_id(a)) != 1)
		fail |= 1 << 4;
	gca_close(a);
	return fail;
}

/* As the other user, with root's arena id and inherited fd. */
static int other_user_child(int root_id, int root_fd)
{
	char path[64], buf[64];
	struct stat stb;
	int fail = 0, fd;

	if (drop_privileges())
		return 1;
	proc_arena_path(root_id, path, sizeof(path));
	/* root's statistics are root's */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || errno != EACCES)
		fail |= 1 << 1;
	if (fd >= 0)
		close(fd);
	if (stat(path, &stb) || stb.st_uid != 0 ||
	    (stb.st_mode & 0777) != 0400)
		fail |= 1 << 2;
	if (arenas_has(root_id) != 0)
		fail |= 1 << 3;
	/* the knobs are root's */
	if (write_file(GCA_SYSFS_PARAMS "/gc_percent", "1") != -EACCES ||
	    write_file(GCA_SYSFS_PARAMS "/memory_limit", "1MiB") != -EACCES)
		fail |= 1 << 4;
	if (read_file(GCA_SYSFS_PARAMS "/gc_percent", buf, sizeof(buf)) <= 0)
		fail |= 1 << 5;
	/* and so is /proc/gcarena */
	if (write_file(GCA_PROC "/arenas", "1") == 0)
		fail |= 1 << 6;
	/* root's file, inherited */
	if (foreign_fd_checks(root_fd))
		fail |= 1 << 7;
	if (own_arena_checks())
		fail |= 1 << 8;
	return fail;
}

GCA_ARENA_FIXTURE(user);

/* (A SKIP in FIXTURE_SETUP would still run the test body.) */
#define NEED_ROOT() do { \
	if (geteuid() != 0) \
		SKIP(return, "needs root (to become another user)"); \
} while (0)

TEST_F_TIMEOUT(user, inherited_fd_and_proc, 120)
{
	char knob[64], knob2[64];
	struct node *l;
	int status, bits;
	pid_t pid;

	NEED_ROOT();
	ASSERT_EQ(0, open_arena(&self->a, 16 * SZ_1M, 100));
	l = build_list(self->a, 1000, 1, SALT);
	ASSERT_NE(NULL, l);
	ASSERT_LT(0, read_file(GCA_SYSFS_PARAMS "/gc_percent", knob,
			       sizeof(knob)));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(other_user_child(gca_arena_id(self->a),
				       gca_arena_fd(self->a)));
	ASSERT_TRUE(wait_child(pid, 60000, &status));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	bits = WEXITSTATUS(status);
	EXPECT_EQ(0, bits)
		TH_LOG("other user: %s%s%s%s%s%s%s%s%s",
		       bits & 1 ? "could not become uid 1000; " : "",
		       bits & 2 ? "opened root's /proc/gcarena/<id>; " : "",
		       bits & 4 ? "root's /proc file has the wrong owner or mode; " : "",
		       bits & 8 ? "saw root's row in /proc/gcarena/arenas; " : "",
		       bits & 16 ? "could write a module knob; " : "",
		       bits & 32 ? "could not read a knob; " : "",
		       bits & 64 ? "could write /proc/gcarena/arenas; " : "",
		       bits & 128 ? "used root's inherited arena fd; " : "",
		       bits & 256 ? "own arena did not work" : "");
	/* root's knob and arena are untouched */
	ASSERT_LT(0, read_file(GCA_SYSFS_PARAMS "/gc_percent", knob2,
			       sizeof(knob2)));
	EXPECT_STREQ(knob, knob2);
	EXPECT_EQ(1, arenas_has(gca_arena_id(self->a)));
	EXPECT_EQ(0, gca_collect(self->a));
	EXPECT_EQ(1000ULL, check_list(l, 1, SALT));
}

/* ------------------------------------------------------------------ */

/* The id of an arena of process pid, from /proc/gcarena/arenas. */
static int arena_of_pid(pid_t pid)
{
	char *buf = malloc(1 << 20), *line;
	int found = -1;

	if (!buf || read_file(GCA_PROC "/arenas", buf, 1 << 20) < 0) {
		free(buf);
		return -1;
	}
	for (line = strchr(buf, '\n'); line && line[1];
	     line = strchr(line + 1, '\n')) {
		int id, p;

		if (sscanf(line + 1, "%d %d", &id, &p) == 2 && p == pid)
			found = id;
	}
	free(buf);
	return found;
}

static int send_fd(int sock, int fd)
{
	char c = 'f';
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	memset(u.buf, 0, sizeof(u.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	int fd = -1;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static int sock_byte(int sock, char c)
{
	return write(sock, &c, 1) == 1 ? 0 : -1;
}

static char sock_wait(int sock)
{
	char c = 0;

	return read(sock, &c, 1) == 1 ? c : 0;
}

/*
 * An unrelated process (forked before root's arena existed), as the
 * other user: receives root's arena fd, may not use it, holds it while
 * root closes its own, then lets go.  Then it sends root a file of its
 * own arena: root, not its creator, may not use it either.
 */
static int unrelated_child(int sock)
{
	struct gca_arena *a;
	struct node *l;
	int fd, fail = 0;

	if (drop_privileges())
		return 1;
	fd = recv_fd(sock);
	if (fd < 0)
		return 2;
	if (foreign_fd_checks(fd))
		fail |= 4;
	/* poll() is allowed (it tells only when cycles end): no crash */
	{
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		poll(&pfd, 1, 0);
	}
	if (sock_byte(sock, 'h'))		/* holding it */
		return fail | 8;
	if (sock_wait(sock) != 'c')		/* root closed its own */
		return fail | 8;
	if (foreign_fd_checks(fd))		/* still refused */
		fail |= 16;
	close(fd);
	if (sock_byte(sock, 'd'))
		return fail | 8;
	/* (root checks that its arena is gone before we make one: ids are
	 * reused at once) */
	if (sock_wait(sock) != 'o')
		return fail | 8;

	/* Now the other way round. */
	if (open_arena(&a, 16 * SZ_1M, 100))
		return fail | 32;
	l = build_list(a, 100, 1, SALT);
	if (!l || send_fd(sock, gca_arena_fd(a)))
		return fail | 32;
	if (sock_wait(sock) != 'r')		/* root tried */
		return fail | 8;
	/* ours still works */
	if (gca_collect(a) || check_list(l, 1, SALT) != 100)
		fail |= 64;
	gca_close(a);
	return fail;
}

TEST_F_TIMEOUT(user, scm_rights_both_ways, 120)
{
	struct gca_stats st = { .size = sizeof(st) };
	struct gca_info info = { .size = sizeof(info) };
	char path[64], upath[64], *pbuf;
	int sv[2], status, bits, fd, uid_id;
	struct stat stb;
	pid_t pid;

	NEED_ROOT();
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		_exit(unrelated_child(sv[1]));
	}
	close(sv[1]);

	ASSERT_EQ(0, open_arena(&self->a, 16 * SZ_1M, 100));
	proc_arena_path(gca_arena_id(self->a), path, sizeof(path));
	ASSERT_EQ(0, send_fd(sv[0], gca_arena_fd(self->a)));
	ASSERT_EQ('h', sock_wait(sv[0]));
	/* Root lets go of its arena; the other process still holds the
	 * file, so the arena lives on (and still refuses it). */
	gca_close(self->a);
	self->a = NULL;
	sleep_ms(100);
	EXPECT_TRUE(path_exists(path));
	ASSERT_EQ(0, sock_byte(sv[0], 'c'));
	ASSERT_EQ('d', sock_wait(sv[0]));
	/* ... and goes when that file is closed. */
	EXPECT_TRUE(wait_gone(path, 3000)) {
		who_holds(_metadata);
	}
	ASSERT_EQ(0, sock_byte(sv[0], 'o'));

	/* Root receives the other user's arena: not its creator, EPERM. */
	fd = recv_fd(sv[0]);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, foreign_fd_checks(fd));
	EXPECT_EQ(EPERM, ioctl_err(fd, GCA_IOC_READ_STATS, &st));
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_GET_INFO, &info));
	/* Root sees its row (the one with the child's pid) and may read
	 * its /proc file. */
	uid_id = arena_of_pid(pid);
	ASSERT_LT(0, uid_id);
	proc_arena_path(uid_id, upath, sizeof(upath));
	ASSERT_EQ(0, stat(upath, &stb));
	EXPECT_EQ((uid_t)OTHER_UID, stb.st_uid);
	pbuf = malloc(PROC_BUF_SIZE);
	ASSERT_NE(NULL, pbuf);
	EXPECT_LT(0, read_file(upath, pbuf, PROC_BUF_SIZE));
	free(pbuf);
	ASSERT_EQ(0, sock_byte(sv[0], 'r'));
	ASSERT_TRUE(wait_child(pid, 60000, &status));
	close(fd);
	close(sv[0]);
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	bits = WEXITSTATUS(status);
	EXPECT_EQ(0, bits)
		TH_LOG("unrelated process: %s%s%s%s%s%s",
		       bits & 1 ? "could not become uid 1000; " : "",
		       bits & 2 ? "got no fd; " : "",
		       bits & 4 ? "used root's arena; " : "",
		       bits & 8 ? "protocol; " : "",
		       bits & 16 ? "used root's arena after root closed it; " : "",
		       bits & 96 ? "own arena failed" : "");
	EXPECT_TRUE(wait_gone(upath, 3000));
}

/* ------------------------------------------------------------------ */
/* GCA_MAX_ARENAS_PER_USER for an unprivileged user.                   */

/* Create n arenas as the other user; report; hold them until told. */
static int holder_child(unsigned int n, int wfd, int rfd)
{
	unsigned int i, made = 0;
	int fd, first_err = 0;
	char c;

	if (drop_privileges())
		_exit(1);
	for (i = 0; i < n; i++) {
		fd = raw_create(4 * SZ_1M, NULL);
		if (fd < 0) {
			first_err = first_err ? first_err : -fd;
			continue;
		}
		made++;
	}
	if (write(wfd, &made, sizeof(made)) != sizeof(made) ||
	    write(wfd, &first_err, sizeof(first_err)) != sizeof(first_err))
		_exit(2);
	if (read(rfd, &c, 1) < 0)
		_exit(3);
	_exit(0);
}

struct holder {
	pid_t pid;
	int rfd, wfd;
	unsigned int made;
	int err;
};

static int start_holder(struct holder *h, unsigned int n)
{
	int up[2], down[2];

	if (pipe(up) || pipe(down))
		return -1;
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (h->pid == 0) {
		close(up[0]);
		close(down[1]);
		holder_child(n, up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	h->rfd = up[0];
	h->wfd = down[1];
	if (read(h->rfd, &h->made, sizeof(h->made)) != sizeof(h->made) ||
	    read(h->rfd, &h->err, sizeof(h->err)) != sizeof(h->err))
		return -1;
	return 0;
}

static void stop_holder(struct holder *h)
{
	int status;

	/* A byte, not EOF: later holders inherited this pipe's write end. */
	if (write(h->wfd, "x", 1) != 1)
		kill(h->pid, SIGKILL);
	close(h->wfd);
	close(h->rfd);
	wait_child(h->pid, 30000, &status);
}

TEST_F_TIMEOUT(user, per_user_arena_limit, 240)
{
	struct gca_create cr = { .size = sizeof(cr), .heap_size = 4 * SZ_1M };
	struct holder h[5];
	unsigned int i, total = 0;
	int fd;

	NEED_ROOT();
	/* 4 processes x 64 = 256 arenas of the other user. */
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, start_holder(&h[i], MAX_ARENAS_PER_MM));
		EXPECT_EQ((unsigned int)MAX_ARENAS_PER_MM, h[i].made)
			TH_LOG("holder %u: %s", i, strerror(h[i].err));
		total += h[i].made;
	}
	ASSERT_EQ((unsigned int)MAX_ARENAS_PER_USER, total);
	/* A fifth process of the same user: not one more. */
	ASSERT_EQ(0, start_holder(&h[4], 1));
	EXPECT_EQ(0U, h[4].made);
	EXPECT_EQ(EMFILE, h[4].err);
	stop_holder(&h[4]);
	/* Root is not limited by the other user's count. */
	fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	close(fd);
	/* One holder goes: its 64 places are free again. */
	stop_holder(&h[0]);
	ASSERT_EQ(0, start_holder(&h[0], MAX_ARENAS_PER_MM));
	EXPECT_EQ((unsigned int)MAX_ARENAS_PER_MM, h[0].made)
		TH_LOG("after a holder left: %s", strerror(h[0].err));
	for (i = 0; i < 4; i++)
		stop_holder(&h[i]);
}

/* ------------------------------------------------------------------ */

/* Last: the module is still fully working. */
GCA_TEST_STILL_WORKING(SALT)

TEST_HARNESS_MAIN
