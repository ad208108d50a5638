/* Unit tests for lib/config: the guide's table, the definition codec, the
 * store's files and run state. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/def.h"
#include "config/defdisk.h"
#include "config/store.h"
#include "config/table.h"
#include "check.h"

/* The guide's table "Configuration file handling", row by row: source
 * type (P persistent, T transient; the source config goes with it), dest
 * config, --undefinesource, --persistent -> dest type, source config,
 * dest config (N none, U unchanged dest config, S replaced with / stored
 * from the source). */
static const char *const guide_rows[16] = {
	"T N N N  T N N",
	"T N Y N  T N N",
	"T N N Y  P N S",
	"T N Y Y  P N S",
	"T Y N N  P N U",
	"T Y Y N  P N U",
	"T Y N Y  P N S",
	"T Y Y Y  P N S",
	"P N N N  T Y N",
	"P N Y N  T N N",
	"P N N Y  P Y S",
	"P N Y Y  P N S",
	"P Y N N  P Y U",
	"P Y Y N  P N U",
	"P Y N Y  P Y S",
	"P Y Y Y  P N S",
};

static void
test_table(void)
{
	struct table_before b, o;
	struct table_after a, x;
	char what[80];
	int i, seen = 0;

	for (i = 0; i < 16; i++) {
		const char *r = guide_rows[i];

		snprintf(what, sizeof(what), "row %d: %s", i + 1, r);
		b.src_persistent = r[0] == 'P';
		b.dst_defined = r[2] == 'Y';
		b.undefinesource = r[4] == 'Y';
		b.persistent = r[6] == 'Y';
		seen |= 1 << (b.src_persistent * 8 + b.dst_defined * 4 +
		    b.undefinesource * 2 + b.persistent);
		a = table_row(b);
		CHECKM(a.dst_persistent == (r[9] == 'P'), what);
		CHECKM(a.src_defined == (r[11] == 'Y'), what);
		CHECKM(a.dst_def == (r[13] == 'N' ? TABLE_DEF_NONE :
		    r[13] == 'U' ? TABLE_DEF_UNCHANGED : TABLE_DEF_SOURCE), what);
		/* Two-command mode: each side knows only its own inputs, so
		 * its half must not change with the other side's. */
		o = b;
		o.dst_defined = !o.dst_defined;
		o.persistent = !o.persistent;
		x = table_row(o);
		CHECKM(x.src_defined == a.src_defined, what);
		o = b;
		o.src_persistent = !o.src_persistent;
		o.undefinesource = !o.undefinesource;
		x = table_row(o);
		CHECKM(x.dst_def == a.dst_def && x.dst_persistent ==
		    a.dst_persistent, what);
	}
	CHECKM(seen == 0xffff, "the 16 rows are the 16 combinations");
}

static struct def d;

static int
parse(const char *text, char *err, size_t len)
{
	return def_parse(&d, text, strlen(text), err, len);
}

/* text is refused with an error that contains want. */
static void
refused(const char *text, const char *want)
{
	char err[300] = "";

	CHECKM(parse(text, err, sizeof(err)) < 0, text);
	CHECKM(strstr(err, want) != NULL, err);
}

static void
test_def(void)
{
	static const char good[] =
	    "# a guest\n"
	    "\n"
	    "name web-1.a_b\n"
	    "  qemu   /usr/bin/qemu-system-x86_64\n"
	    "arg -m\n"
	    "\targ 64\n"
	    "arg -name\n"
	    "arg two  words, \"quotes\" 'and' $dollar #hash\n"
	    "arg\n"
	    "# the end, without a newline";
	char err[300];

	CHECK(parse(good, err, sizeof(err)) == 0);
	CHECK(strcmp(d.name, "web-1.a_b") == 0);
	CHECK(strcmp(d.qemu, "/usr/bin/qemu-system-x86_64") == 0);
	CHECK(d.argc == 5);
	if (d.argc == 5) {
		CHECK(strcmp(d.argv[0], "-m") == 0);
		CHECK(strcmp(d.argv[1], "64") == 0);
		CHECK(strcmp(d.argv[3], "two  words, \"quotes\" 'and' "
		    "$dollar #hash") == 0);
		CHECK(strcmp(d.argv[4], "") == 0);
	}
	/* The text is kept byte for byte. */
	CHECK(d.len == strlen(good) && memcmp(d.text, good, d.len) == 0);
	CHECK(parse("name g\nqemu qemu-system-x86_64\n", err, 300) == 0);
	CHECK(d.argc == 0);

	refused("qemu q\n", "no name line");
	refused("name g\n", "no qemu line");
	refused("name g\nname h\nqemu q\n", "line 2: a second name");
	refused("name g\nqemu q\nqemu r\n", "line 3: a second qemu");
	refused("name g\nqemu bin/q\n", "absolute path");
	refused("name g\nqemu\n", "absolute path");
	refused("name g\nqemu q\nargs -m\n", "line 3: unknown key 'args'");
	refused("name g\nqemu q\narg -m \n", "line 3: trailing blank");
	refused("name g\r\nqemu q\n", "line 1: a carriage return");
	refused("name ../etc\nqemu q\n", "line 1: guest name '../etc' begins");
	refused("name a/b\nqemu q\n", "only letters");
	refused("name -x\nqemu q\n", "begins with '-'");
	refused("name \nqemu q\n", "trailing blank");
	refused("name g\nqemu q\narg -qmp\n", "argument '-qmp' is managed");
	refused("name g\nqemu q\narg --monitor\n", "'--monitor' is managed");
	refused("name g\nqemu q\narg -incoming\n", "-incoming");
	refused("name g\nqemu q\narg -daemonize\n", "-daemonize");
	refused("name g\nqemu q\narg -pidfile\n", "-pidfile");
	refused("name g\nqemu q\narg -qmp-pretty\n", "-qmp-pretty");
	CHECK(def_parse(&d, "name g\0", 7, err, sizeof(err)) < 0);
	/* An option's value may look like a managed option's name. */
	CHECK(parse("name g\nqemu q\narg -name\narg qmp\n", err, 300) == 0);

	CHECK(def_name_ok("a", err, sizeof(err)));
	CHECK(!def_name_ok("", err, sizeof(err)));
	CHECK(!def_name_ok(".hidden", err, sizeof(err)));
	CHECK(!def_name_ok("a b", err, sizeof(err)));
	CHECK(def_name_ok("0123456789012345678901234567890123456789"
	    "012345678901234567890123", err, sizeof(err)));
	CHECK(!def_name_ok("0123456789012345678901234567890123456789"
	    "0123456789012345678901234", err, sizeof(err)));
}

static void
test_store(void)
{
	static struct def got;
	static char names[8][DEF_NAME_MAX + 1];
	char dir[] = "/tmp/config_test.XXXXXX", cfg[300], run[300], err[600];
	char path[600];
	struct store st;
	pid_t pid, child;
	int up[2], down[2], n;

	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	snprintf(cfg, sizeof(cfg), "%s/etc", dir);
	snprintf(run, sizeof(run), "%s/run", dir);
	CHECK(store_init(&st, cfg, run, err, sizeof(err)) == 0);
	/* A reader does not create the run directory. */
	CHECK(store_lock(&st, 1, err, sizeof(err)) == 0 && st.lock_fd < 0);
	CHECK(access(run, F_OK) < 0);
	CHECK(store_lock(&st, 0, err, sizeof(err)) == 0 && st.lock_fd >= 0);
	CHECK(store_get(&st, "g", &got, err, sizeof(err)) == 0);
	CHECK(parse("# one\nname g\nqemu q\narg -m\n", err, sizeof(err)) == 0);
	CHECK(store_put(&st, &d, err, sizeof(err)) == 0);
	CHECK(store_get(&st, "g", &got, err, sizeof(err)) == 1);
	CHECK(got.len == d.len && memcmp(got.text, d.text, d.len) == 0);
	/* Replaced whole, no temporary file left. */
	CHECK(parse("# two\nname g\nqemu q\n", err, sizeof(err)) == 0);
	CHECK(store_put(&st, &d, err, sizeof(err)) == 0);
	CHECK(store_get(&st, "g", &got, err, sizeof(err)) == 1 &&
	    strncmp(got.text, "# two", 5) == 0);
	CHECK(store_names(&st, names, 8, err, sizeof(err)) == 1 &&
	    strcmp(names[0], "g") == 0);
	/* A file under another name is refused, not taken. */
	snprintf(path, sizeof(path), "%s/h.def", cfg);
	CHECK(store_write_file(path, "name g\nqemu q\n", 14, 0644, err,
	    sizeof(err)) == 0);
	CHECK(store_get(&st, "h", &got, err, sizeof(err)) < 0 &&
	    strstr(err, "defines 'g', not 'h'") != NULL);
	unlink(path);

	/* Run state: none; live while a process holds the pid lock; stale
	 * once it died. */
	CHECK(store_run_state(&st, "g", NULL) == STORE_RUN_NONE);
	store_run_path(&st, "g", "", path, sizeof(path));
	CHECK(mkdir(path, 0700) == 0);
	CHECK(store_run_state(&st, "g", NULL) == STORE_RUN_STALE);
	store_run_path(&st, "g", "pid", path, sizeof(path));
	CHECK(pipe(up) == 0 && pipe(down) == 0);
	child = fork();
	if (child == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = open(path, O_WRONLY | O_CREAT, 0644);
		char c;

		if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
			_exit(1);
		write(up[1], "x", 1);
		read(down[0], &c, 1);	/* until the parent says */
		_exit(0);
	}
	{
		char c;

		CHECK(read(up[0], &c, 1) == 1);
	}
	CHECK(store_run_state(&st, "g", &pid) == STORE_RUN_LIVE && pid == child);
	CHECK(store_names(&st, names, 8, err, sizeof(err)) == 1);
	write(down[1], "y", 1);
	waitpid(child, &n, 0);
	CHECK(store_run_state(&st, "g", NULL) == STORE_RUN_STALE);
	CHECK(store_run_clean(&st, "g", err, sizeof(err)) == 0);
	CHECK(store_run_state(&st, "g", NULL) == STORE_RUN_NONE);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);

	CHECK(store_remove(&st, "g", err, sizeof(err)) == 1);
	CHECK(store_remove(&st, "g", err, sizeof(err)) == 0);
	CHECK(store_names(&st, names, 8, err, sizeof(err)) == 0);
	store_unlock(&st);
	CHECK(store_init(&st, "/a,b", run, err, sizeof(err)) < 0 &&
	    strstr(err, "','") != NULL);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK(system(path) == 0);
}

/* defdisk_file finds id's image at path with format fmt ("" for -1). */
static void
disk_is(const char *id, const char *path, const char *fmt)
{
	char p[256], f[32];
	int rc = defdisk_file(&d, id, p, sizeof(p), f, sizeof(f));

	if (path == NULL) {
		CHECKM(rc < 0, id);
		return;
	}
	CHECKM(rc == 0 && strcmp(p, path) == 0, id);
	CHECKM(rc == 0 && strcmp(f, fmt) == 0, id);
}

/* Every layout of test/migrate-layouts.sh, and a throttle filter. */
static void
test_defdisk(void)
{
	char err[300];

	CHECKM(parse("name g\nqemu q\n"
	    "arg -drive\narg file=/d/drv1.qcow2,format=qcow2,if=virtio,id=drv1\n"
	    "arg -drive\narg file=/d/drv2.raw,format=raw,if=none,id=drv2\n"
	    "arg -device\narg virtio-blk-pci,drive=drv2,id=vblk2\n"
	    "arg -blockdev\narg driver=qcow2,node-name=disk4-fmt,"
	    "file.driver=file,file.filename=/d/disk4.qcow2\n"
	    "arg -device\narg scsi-hd,drive=disk4-fmt,id=disk4,bus=scsi0.0\n"
	    "arg -blockdev\narg {\"driver\":\"file\",\"filename\":"
	    "\"/d/v0.qcow2\",\"node-name\":\"libvirt-1-storage\"}\n"
	    "arg -blockdev\narg {\"node-name\":\"libvirt-1-format\","
	    "\"driver\":\"qcow2\",\"file\":\"libvirt-1-storage\"}\n"
	    "arg -device\narg virtio-blk-pci,drive=libvirt-1-format,"
	    "id=virtio-disk0\n"
	    "arg -drive\narg file=/d/cd.iso,if=ide,media=cdrom\n"
	    "arg -drive\narg file=/d/hd1.qcow2,format=qcow2,if=ide,index=1\n"
	    "arg -drive\narg file=/d/auto.qcow2,format=qcow2\n"
	    "arg -blockdev\narg {\"driver\":\"qcow2\",\"node-name\":\"j\","
	    "\"file\":{\"driver\":\"file\",\"filename\":\"/d/j.qcow2\"}}\n"
	    "arg -blockdev\narg driver=qcow2,node-name=t-fmt,"
	    "file.driver=file,file.filename=/d/t.qcow2\n"
	    "arg -blockdev\narg driver=throttle,node-name=vd9,file=t-fmt,"
	    "throttle-group=tg\n", err, sizeof(err)) == 0, err);
	disk_is("drv1", "/d/drv1.qcow2", "qcow2");
	disk_is("vblk2", "/d/drv2.raw", "raw");
	disk_is("drv2", "/d/drv2.raw", "raw");
	disk_is("disk4", "/d/disk4.qcow2", "qcow2");
	disk_is("virtio-disk0", "/d/v0.qcow2", "qcow2");
	disk_is("ide0-cd0", "/d/cd.iso", "");
	disk_is("ide0-hd1", "/d/hd1.qcow2", "qcow2");
	/* An unnumbered ide drive: the first index no earlier one holds. */
	disk_is("ide1-hd0", "/d/auto.qcow2", "qcow2");
	disk_is("j", "/d/j.qcow2", "qcow2");
	disk_is("vd9", "/d/t.qcow2", "qcow2");
	disk_is("nosuch", NULL, NULL);
	disk_is("libvirt-1-storage", "/d/v0.qcow2", "");
}

int
main(void)
{
	test_table();
	test_def();
	test_defdisk();
	test_store();
	return check_done();
}
