/*
 * bench_check - whole-process latency of `consentctl check`, against
 * baselines measured in the same run (tests/bench/run.sh). Not a test.
 *
 *   bench_check M CONSENTCTL CONFIG ID PURPOSE DB
 *
 * Runs, M times each and interleaved (round-robin, rotating the order each
 * round so no command always follows another):
 *
 *   consentctl  CONSENTCTL -c CONFIG check ID PURPOSE          (must exit 0)
 *   sqlite3     sqlite3 -init /dev/null DB "SELECT c.state FROM account a
 *                 JOIN consent c ON c.acct = a.key WHERE a.id = 'ID'
 *                 AND c.purpose = 'PURPOSE'"  (the same two lookups by the
 *                 sqlite3 CLI; must print "granted")
 *   version     CONSENTCTL --version: exec and dynamic linking of consentctl,
 *                 no config, no database (where the time goes)
 *   true        /bin/true: the process spawn floor
 *
 * Each run is fork + execve (no shell), stdout and stderr to /dev/null,
 * timed with CLOCK_MONOTONIC from before fork to after waitpid. Prints one
 * line per command with min, median, p90, p99 and mean in milliseconds, and
 * key=value lines (NAME_median_ms=...) for scripts. Exit 0, or 2 when a
 * command fails or gives the wrong answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define NCMD 4
#define WARMUP 20

typedef struct cmd {
	const char *name;
	char *argv[8];
	int want_rc;
	double *ms;
} cmd;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* find_in_path - execve needs a path: look name up in $PATH like a shell. */
static char *find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, buf[4096];

	if (strchr(name, '/'))
		return strdup(name);
	copy = strdup(path ? path : "/usr/bin:/bin");
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/%s", *dir ? dir : ".", name);
		if (access(buf, X_OK) == 0) {
			free(copy);
			return strdup(buf);
		}
	}
	free(copy);
	return NULL;
}

/* spawn - run c once; stdout to out_fd (or /dev/null when < 0), stderr to
 * /dev/null. Returns the exit status (-1 on a signal or spawn failure) and
 * the wall time in *ms. */
static int spawn(const cmd *c, int out_fd, double *ms)
{
	double t0 = now_ms();
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		perror("bench_check: fork");
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null < 0)
			_exit(127);
		dup2(out_fd >= 0 ? out_fd : null, 1);
		dup2(null, 2);
		dup2(null, 0);
		execve(c->argv[0], c->argv, environ);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("bench_check: waitpid");
			return -1;
		}
	*ms = now_ms() - t0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* sanity - run c once with its output captured; check status and output. */
static int sanity(const cmd *c, const char *want_out)
{
	char buf[256] = "";
	int fd[2], rc;
	ssize_t n;
	double ms;

	if (pipe(fd) < 0) {
		perror("bench_check: pipe");
		return -1;
	}
	rc = spawn(c, fd[1], &ms);
	close(fd[1]);
	n = read(fd[0], buf, sizeof(buf) - 1);
	close(fd[0]);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (rc != c->want_rc) {
		fprintf(stderr, "bench_check: %s: exit %d, want %d (%s)\n", c->name, rc,
			c->want_rc, c->argv[0]);
		return -1;
	}
	if (want_out && strcmp(buf, want_out)) {
		fprintf(stderr, "bench_check: %s printed '%s', want '%s'\n", c->name, buf, want_out);
		return -1;
	}
	return 0;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* pct - nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, long n, double p)
{
	long k = (long)(p / 100.0 * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* id_ok - the id goes into SQL text for the sqlite3 baseline: allow only
 * characters that need no quoting. */
static int id_ok(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._@+-") == strlen(s);
}

int main(int argc, char **argv)
{
	cmd cmds[NCMD];
	char sql[512], *sqlite3_path;
	long m, i, r;
	int k, rc;
	double ms, sum;

	if (argc != 7 || (m = atol(argv[1])) < 1) {
		fprintf(stderr, "usage: bench_check M CONSENTCTL CONFIG ID PURPOSE DB\n");
		return 2;
	}
	if (!id_ok(argv[4]) || !id_ok(argv[5])) {
		fprintf(stderr, "bench_check: ID and PURPOSE must be [A-Za-z0-9._@+-]\n");
		return 2;
	}
	if (!(sqlite3_path = find_in_path("sqlite3"))) {
		fprintf(stderr, "bench_check: sqlite3 not in PATH: apt-get install sqlite3\n");
		return 2;
	}
	snprintf(sql, sizeof(sql), "SELECT c.state FROM account a JOIN consent c ON c.acct = a.key"
		 " WHERE a.id = '%s' AND c.purpose = '%s'", argv[4], argv[5]);
	memset(cmds, 0, sizeof(cmds));
	cmds[0] = (cmd){ "consentctl", { argv[2], "-c", argv[3], "check", argv[4], argv[5], NULL }, 0, NULL };
	cmds[1] = (cmd){ "sqlite3", { sqlite3_path, "-init", "/dev/null", argv[6], sql, NULL }, 0, NULL };
	cmds[2] = (cmd){ "version", { argv[2], "--version", NULL }, 0, NULL };
	cmds[3] = (cmd){ "true", { "/bin/true", NULL }, 0, NULL };

	if (sanity(&cmds[0], NULL) || sanity(&cmds[1], "granted") || sanity(&cmds[2], NULL) ||
	    sanity(&cmds[3], NULL))
		return 2;
	for (k = 0; k < NCMD; k++)
		cmds[k].ms = calloc((size_t)m, sizeof(double));
	for (r = -WARMUP; r < m; r++) {
		for (k = 0; k < NCMD; k++) {
			cmd *c = &cmds[(k + (r < 0 ? 0 : r)) % NCMD];

			rc = spawn(c, -1, &ms);
			if (rc != c->want_rc) {
				fprintf(stderr, "bench_check: %s: exit %d, want %d\n", c->name, rc,
					c->want_rc);
				return 2;
			}
			if (r >= 0)
				c->ms[r] = ms;
		}
	}
	printf("%-11s %8s %8s %8s %8s %8s   (ms, %ld runs each, interleaved)\n",
	       "command", "min", "median", "p90", "p99", "mean", m);
	for (k = 0; k < NCMD; k++) {
		double *v = cmds[k].ms;

		qsort(v, (size_t)m, sizeof(double), dbl_cmp);
		for (sum = 0, i = 0; i < m; i++)
			sum += v[i];
		printf("%-11s %8.3f %8.3f %8.3f %8.3f %8.3f\n", cmds[k].name, v[0],
		       pct(v, m, 50), pct(v, m, 90), pct(v, m, 99), sum / (double)m);
	}
	for (k = 0; k < NCMD; k++) {
		double *v = cmds[k].ms;

		printf("%s_median_ms=%.3f\n%s_p90_ms=%.3f\n%s_p99_ms=%.3f\n", cmds[k].name,
		       pct(v, m, 50), cmds[k].name, pct(v, m, 90), cmds[k].name, pct(v, m, 99));
		free(v);
	}
	free(sqlite3_path);
	return 0;
}
