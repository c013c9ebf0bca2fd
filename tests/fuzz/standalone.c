/*
 * standalone.c - replays stored fuzz inputs through a fuzz target without
 * libFuzzer, so the corpus runs as an ordinary test with any compiler.
 *
 * Usage: <target>_replay PATH...   where each PATH is a file or a directory
 * of files (not recursive; names starting with '.' are skipped). Each input
 * is read into a buffer of exactly its size, so a sanitizer catches reads
 * past the end. Prints "replayed N inputs" and exits 0; exits 1 when a path
 * cannot be read or a directory holds no inputs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* replay_file - run one input; -1 if it cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = NULL;
	uint8_t *data = NULL;
	struct stat st;
	size_t size, got;
	int ret = -1;

	f = fopen(path, "rb");
	if (f == NULL || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	size = (size_t)st.st_size;
	data = malloc(size != 0 ? size : 1);
	if (data == NULL) {
		fprintf(stderr, "%s: out of memory\n", path);
		goto cleanup;
	}
	got = fread(data, 1, size, f);
	if (got != size || ferror(f)) {
		fprintf(stderr, "%s: short read\n", path);
		goto cleanup;
	}
	LLVMFuzzerTestOneInput(data, size);
	ret = 0;

cleanup:
	free(data);
	if (f != NULL)
		fclose(f);
	return ret;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* replay_dir - run every regular file in dir, in name order; adds to *out
 * the number of inputs run. -1 on error or when there are none. */
static int replay_dir(const char *dir, unsigned long *out)
{
	DIR *d = NULL;
	struct dirent *e;
	char **names = NULL, **grown;
	size_t n = 0, cap = 0, i;
	int ret = -1;

	d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		goto cleanup;
	}
	while ((e = readdir(d)) != NULL) {
		char *path;
		struct stat st;
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		len = strlen(dir) + strlen(e->d_name) + 2;
		path = malloc(len);
		if (path == NULL)
			goto cleanup;
		snprintf(path, len, "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (n == cap) {
			cap = cap != 0 ? 2 * cap : 64;
			grown = realloc(names, cap * sizeof *names);
			if (grown == NULL) {
				free(path);
				goto cleanup;
			}
			names = grown;
		}
		names[n++] = path;
	}
	if (n == 0) {
		fprintf(stderr, "%s: no inputs\n", dir);
		goto cleanup;
	}
	qsort(names, n, sizeof *names, by_name);
	for (i = 0; i < n; i++) {
		if (replay_file(names[i]) != 0)
			goto cleanup;
		(*out)++;
	}
	ret = 0;

cleanup:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (d != NULL)
		closedir(d);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
		return 1;
	}
	for (i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) != 0)
				return 1;
		} else {
			if (replay_file(argv[i]) != 0)
				return 1;
			count++;
		}
	}
	printf("replayed %lu inputs\n", count);
	return 0;
}
