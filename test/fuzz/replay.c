/*
 * The replay main for fuzz targets built without libFuzzer: every file
 * given, and every file in every directory given, is passed once to
 * LLVMFuzzerTestOneInput.  A target signals a finding by crashing or
 * aborting, so reaching the end means every input passed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX (1u << 20)	/* bigger inputs are not corpus material */

static int replay_count;

static int
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf, *exact;
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* One byte more than the limit tells a file at the limit from a
	 * longer one. */
	if ((buf = malloc(REPLAY_MAX + 1)) == NULL) {
		fclose(f);
		fprintf(stderr, "replay: out of memory\n");
		return -1;
	}
	n = fread(buf, 1, REPLAY_MAX + 1, f);
	if (ferror(f) || n > REPLAY_MAX) {
		fprintf(stderr, "replay: %s: %s\n", path, ferror(f) ?
		    "read error" : "longer than 1 MiB");
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	/* Shrunk to the exact size so that ASan sees reads past the end. */
	if ((exact = realloc(buf, n ? n : 1)) == NULL) {
		free(buf);
		return -1;
	}
	printf("%s\n", path);
	fflush(stdout);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	replay_count++;
	return 0;
}

static int
replay_path(const char *path)
{
	struct dirent *e;
	struct stat st;
	char sub[4096];
	DIR *d;
	int rc = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (replay_path(sub) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

int
main(int argc, char **argv)
{
	int i, rc = 0;

	for (i = 1; i < argc; i++)
		if (replay_path(argv[i]) < 0)
			rc = 1;
	printf("%d inputs replayed%s\n", replay_count, rc ? ", some unreadable" :
	    "");
	return rc;
}
