/* Unit tests for lib/migrate's pure parts: disks, option checks, progress. */
#include <stdio.h>
#include <string.h>

#include "json/json.h"
#include "migrate/disks.h"
#include "migrate/progress.h"
#include "migrate/recv.h"
#include "migrate/send.h"
#include "check.h"

/* What QEMU 7.2 answers for a -blockdev disk on virtio-blk, a -drive
 * disk, an empty cdrom, a read-only disk, an anonymous device on a named
 * node, and -blockdev disks on scsi-hd and ide-hd (whose qdev is the bare
 * device id). */
static const char query_block[] =
"[{\"device\":\"\",\"qdev\":\"/machine/peripheral/vd0/virtio-backend\","
"  \"locked\":false,\"removable\":false,\"type\":\"unknown\","
"  \"inserted\":{\"node-name\":\"vd0\",\"ro\":false,\"drv\":\"qcow2\","
"   \"image\":{\"virtual-size\":67108864,\"filename\":\"/t/a.qcow2\"}}},"
" {\"device\":\"drive1\",\"qdev\":\"/machine/peripheral-anon/device[1]\","
"  \"inserted\":{\"node-name\":\"#block123\",\"ro\":false,\"drv\":\"raw\","
"   \"image\":{\"virtual-size\":1048576}}},"
" {\"device\":\"\",\"qdev\":\"/machine/peripheral/cd0\",\"removable\":true},"
" {\"device\":\"\",\"qdev\":\"/machine/peripheral/ro0/virtio-backend\","
"  \"inserted\":{\"node-name\":\"ro0\",\"ro\":true,\"drv\":\"raw\","
"   \"image\":{\"virtual-size\":4096}}},"
" {\"device\":\"\",\"qdev\":\"/machine/peripheral-anon/device[7]\","
"  \"inserted\":{\"node-name\":\"anon\",\"ro\":false,\"drv\":\"raw\","
"   \"image\":{\"virtual-size\":4096}}},"
" {\"device\":\"\",\"qdev\":\"disk0\",\"type\":\"unknown\","
"  \"inserted\":{\"node-name\":\"disk0-fmt\",\"ro\":false,\"drv\":\"qcow2\","
"   \"image\":{\"virtual-size\":8192}}},"
" {\"device\":\"\",\"qdev\":\"ide4\","
"  \"inserted\":{\"node-name\":\"n4\",\"ro\":false,\"drv\":\"qcow2\","
"   \"image\":{\"virtual-size\":8192}}}]";

/* A writable disk nobody can name: an anonymous device, an automatic
 * node name. */
static const char query_block_unnamed[] =
"[{\"device\":\"\",\"qdev\":\"/machine/peripheral/vd0/virtio-backend\","
"  \"inserted\":{\"node-name\":\"vd0\",\"ro\":false,"
"   \"image\":{\"virtual-size\":4096}}},"
" {\"device\":\"\",\"qdev\":\"/machine/peripheral-anon/device[0]/virtio-backend\","
"  \"inserted\":{\"node-name\":\"#block42\",\"ro\":false,"
"   \"image\":{\"virtual-size\":4096}}}]";

static int
parse(struct json_doc *doc, struct json_node *nodes, size_t cap,
    const char *text)
{
	char err[200];

	return json_parse(doc, text, strlen(text), nodes, cap, err, sizeof(err));
}

static void
test_disks(void)
{
	struct json_node nodes[256];
	struct json_doc doc;
	struct disk_list all, out;
	const struct disk *d;
	char err[200];

	CHECK(parse(&doc, nodes, 256, query_block) == 0);
	CHECK(disks_from_query_block(&doc, 0, &all, err, sizeof(err)) == 0);
	CHECK(all.n == 7);
	d = disks_find(&all, "vd0");
	CHECK(d && strcmp(d->node, "vd0") == 0 && d->size == 67108864 &&
	    !d->read_only && !d->empty);
	d = disks_find(&all, "drive1");
	CHECK(d && strcmp(d->node, "#block123") == 0 && d->size == 1048576);
	d = disks_find(&all, "cd0");
	CHECK(d && d->empty);
	d = disks_find(&all, "ro0");
	CHECK(d && d->read_only);
	/* An anonymous device is named by its node. */
	d = disks_find(&all, "anon");
	CHECK(d && strcmp(d->node, "anon") == 0);
	/* scsi-hd and ide-hd: QEMU gives the device id itself. */
	d = disks_find(&all, "disk0");
	CHECK(d && strcmp(d->node, "disk0-fmt") == 0 && d->size == 8192);
	d = disks_find(&all, "ide4");
	CHECK(d && strcmp(d->node, "n4") == 0);

	/* Default: libvirt's choice, every writable disk with a medium. */
	CHECK(disks_select(&all, NULL, &out, err, sizeof(err)) == 0);
	CHECK(out.n == 5 && strcmp(out.d[0].id, "vd0") == 0 &&
	    strcmp(out.d[1].id, "drive1") == 0 &&
	    strcmp(out.d[2].id, "anon") == 0 &&
	    strcmp(out.d[3].id, "disk0") == 0 &&
	    strcmp(out.d[4].id, "ide4") == 0);
	CHECK(disks_select(&all, "drive1", &out, err, sizeof(err)) == 0);
	CHECK(out.n == 1 && strcmp(out.d[0].id, "drive1") == 0);
	CHECK(disks_select(&all, "drive1,vd0", &out, err, sizeof(err)) == 0);
	CHECK(out.n == 2 && strcmp(out.d[0].id, "drive1") == 0);

	CHECK(disks_select(&all, "vd9", &out, err, sizeof(err)) < 0);
	CHECK(strstr(err, "'vd9'") != NULL);
	/* ... and says which disks there are. */
	CHECK(strstr(err, "vd0, drive1, cd0, ro0, anon, disk0, ide4") != NULL);
	CHECK(disks_select(&all, "vd0,vd0", &out, err, sizeof(err)) < 0);
	CHECK(strstr(err, "twice") != NULL);
	CHECK(disks_select(&all, "vd0,", &out, err, sizeof(err)) < 0);
	CHECK(disks_select(&all, "", &out, err, sizeof(err)) < 0);
	CHECK(disks_select(&all, "cd0", &out, err, sizeof(err)) < 0);
	CHECK(strstr(err, "empty") != NULL);
	CHECK(disks_select(&all, "ro0", &out, err, sizeof(err)) < 0);
	CHECK(strstr(err, "read-only") != NULL);

	/* A writable disk without a name is not left behind silently: the
	 * default choice fails and says which device it is. */
	CHECK(parse(&doc, nodes, 256, query_block_unnamed) == 0);
	CHECK(disks_from_query_block(&doc, 0, &all, err, sizeof(err)) == 0);
	CHECK(all.n == 2);
	CHECK(disks_select(&all, NULL, &out, err, sizeof(err)) < 0);
	CHECK(strstr(err, "peripheral-anon/device[0]") != NULL);
	CHECK(disks_select(&all, "vd0", &out, err, sizeof(err)) == 0);
	CHECK(out.n == 1);

	/* Two disks of one name cannot both be exported. */
	CHECK(parse(&doc, nodes, 256, "[{\"device\":\"\",\"qdev\":\"x\","
	    "\"inserted\":{\"node-name\":\"a\",\"ro\":false,\"image\":"
	    "{\"virtual-size\":1}}},{\"device\":\"x\",\"inserted\":"
	    "{\"node-name\":\"b\",\"ro\":false,\"image\":"
	    "{\"virtual-size\":1}}}]") == 0);
	CHECK(disks_from_query_block(&doc, 0, &all, err, sizeof(err)) < 0);
	CHECK(strstr(err, "'x'") != NULL);

	/* Malformed replies are errors, not crashes. */
	CHECK(parse(&doc, nodes, 256, "{\"a\":1}") == 0);
	CHECK(disks_from_query_block(&doc, 0, &all, err, sizeof(err)) < 0);
	CHECK(parse(&doc, nodes, 256, "[{\"device\":\"x\",\"inserted\":"
	    "{\"node-name\":\"x\"}}]") == 0);
	CHECK(disks_from_query_block(&doc, 0, &all, err, sizeof(err)) < 0);
	CHECK(strstr(err, "'x'") != NULL);
}

static void
test_too_many_disks(void)
{
	static char text[8192];
	struct json_node nodes[1024];
	struct json_doc doc;
	struct disk_list all;
	char err[200];
	size_t len = 0;
	int i;

	text[len++] = '[';
	for (i = 0; i <= DISKS_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "%s{\"device\":\"d%d\"}", i ? "," : "", i);
	text[len++] = ']';
	text[len] = '\0';
	CHECK(parse(&doc, nodes, 1024, text) == 0);
	CHECK(disks_from_query_block(&doc, 0, &all, err, sizeof(err)) < 0);
}

static void
test_send_opts(void)
{
	struct send_opts o;
	char err[200];

	memset(&o, 0, sizeof(o));
	o.migrate_uri.kind = ENDPOINT_UNIX;
	CHECK(send_check_opts(&o, err, sizeof(err)) == 0);
	o.migrate_disks = "vd0";
	CHECK(send_check_opts(&o, err, sizeof(err)) < 0);
	CHECK(strstr(err, "--migrate-disks") != NULL);
	o.storage = SEND_STORAGE_ALL;
	CHECK(send_check_opts(&o, err, sizeof(err)) < 0);
	CHECK(strstr(err, "--disks-uri") != NULL);
	o.disks_uri.kind = ENDPOINT_UNIX;
	CHECK(send_check_opts(&o, err, sizeof(err)) == 0);
	o.timeout_s = 5;
	o.timeout_action = SEND_TIMEOUT_POSTCOPY;
	CHECK(send_check_opts(&o, err, sizeof(err)) < 0);
	CHECK(strstr(err, "--timeout-postcopy") != NULL);
	o.postcopy = 1;
	CHECK(send_check_opts(&o, err, sizeof(err)) == 0);
	o.postcopy = 0;
	o.timeout_action = SEND_TIMEOUT_SUSPEND;
	o.postcopy_after_precopy = 1;
	CHECK(send_check_opts(&o, err, sizeof(err)) < 0);
	o.postcopy_after_precopy = 0;
	o.parallel = 1;
	o.migrate_uri.kind = ENDPOINT_STDIO;
	CHECK(send_check_opts(&o, err, sizeof(err)) < 0);
	CHECK(strstr(err, "--parallel") != NULL);
}

static void
test_recv_opts(void)
{
	struct recv_opts o;
	char err[200];

	memset(&o, 0, sizeof(o));
	o.incoming.kind = ENDPOINT_UNIX;
	CHECK(recv_check_opts(&o, err, sizeof(err)) == 0);
	o.migrate_disks = "vd0";
	CHECK(recv_check_opts(&o, err, sizeof(err)) < 0);
	o.nbd.kind = ENDPOINT_UNIX;
	CHECK(recv_check_opts(&o, err, sizeof(err)) == 0);
	o.parallel = 1;
	o.incoming.kind = ENDPOINT_STDIO;
	CHECK(recv_check_opts(&o, err, sizeof(err)) < 0);
}

static void
test_progress(void)
{
	struct progress_sample s = {
		.phase = "memory", .percent = 42.25, .done = 3 << 20,
		.remaining = 1536, .throughput = 1 << 30, .dirty_rate = 0,
		.elapsed_ms = 1234,
	};
	char buf[256], b[32];

	CHECK(strcmp(progress_bytes(0, b, sizeof(b)), "0 B") == 0);
	CHECK(strcmp(progress_bytes(1536, b, sizeof(b)), "1.5 KiB") == 0);
	CHECK(strcmp(progress_bytes(1ull << 40, b, sizeof(b)), "1.0 TiB") == 0);
	progress_format_line(&s, buf, sizeof(buf));
	CHECK(strstr(buf, "memory") && strstr(buf, "42.2%") &&
	    strstr(buf, "3.0 MiB done") && strstr(buf, "1.5 KiB left") &&
	    strstr(buf, "1.0 GiB/s") && !strstr(buf, "dirtying"));
	s.dirty_rate = 2 << 20;
	progress_format_line(&s, buf, sizeof(buf));
	CHECK(strstr(buf, "dirtying 2.0 MiB/s") != NULL);
	CHECK(progress_format_json(&s, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\"event\":\"progress\"") &&
	    strstr(buf, "\"phase\":\"memory\"") &&
	    strstr(buf, "\"done\":3145728") &&
	    strstr(buf, "\"dirty_rate\":2097152") &&
	    strstr(buf, "\"elapsed_ms\":1234"));
	/* A buffer too small is a clean failure. */
	CHECK(progress_format_json(&s, buf, 20) < 0);
	progress_format_line(&s, buf, 8);
	CHECK(strlen(buf) == 7);
}

/* Percent never goes backwards in a phase; the pass is named apart. */
static void
test_progress_track(void)
{
	struct progress_track t = { 0 };
	struct progress_sample s = { .phase = "memory", .total = 1000 };
	char buf[256];

	s.remaining = 600;
	progress_track(&t, &s, 1);
	CHECK(s.percent == 40 && s.pass == 1 && s.pass_percent == 40);
	s.remaining = 300;
	progress_track(&t, &s, 1);
	CHECK(s.percent == 70 && s.pass == 1 && s.pass_percent == 70);
	/* A new pass: more left than before, the percent holds. */
	s.remaining = 500;
	progress_track(&t, &s, 2);
	CHECK(s.percent == 70 && s.pass == 2 && s.pass_percent == 0);
	s.remaining = 250;
	progress_track(&t, &s, 2);
	CHECK(s.percent == 75 && s.pass_percent == 50);
	/* Sent more than the RAM: done may exceed total, the pass says why. */
	s.done = 1500;
	progress_format_line(&s, buf, sizeof(buf));
	CHECK(strstr(buf, "75.0%") && strstr(buf, "pass 2  50%"));
	CHECK(progress_format_json(&s, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\"percent\":75,\"pass\":2,\"pass_percent\":50,"
	    "\"done\":1500,\"total\":1000,") != NULL);
	/* Left above the total is taken for the total. */
	s.remaining = 5000;
	progress_track(&t, &s, 3);
	CHECK(s.percent == 75 && s.pass == 3 && s.pass_percent == 0);
	/* A new phase starts over; a phase without passes names none. */
	s.phase = "disk-copy";
	s.total = 200;
	s.remaining = 150;
	progress_track(&t, &s, 0);
	CHECK(s.percent == 25 && s.pass == 0);
	/* A disk whose length grows with the guest's writes. */
	s.total = 400;
	s.remaining = 300;
	progress_track(&t, &s, 0);
	CHECK(s.percent == 25);
	CHECK(progress_format_json(&s, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "pass") == NULL);
	progress_format_line(&s, buf, sizeof(buf));
	CHECK(strstr(buf, "pass") == NULL);
	s.remaining = 0;
	progress_track(&t, &s, 0);
	CHECK(s.percent == 100);
}

int
main(void)
{
	test_disks();
	test_too_many_disks();
	test_send_opts();
	test_recv_opts();
	test_progress();
	test_progress_track();
	return check_done();
}
