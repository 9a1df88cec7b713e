/*
 * `feedmill check` asks each plugin to load the files its settings name (check(), ABI 1.3):
 * what the plugin logs as an error is a problem at the line of the option whose value it
 * names, else at the section; a silent failure still is one. A plugin is not asked about
 * settings its option table refused, nor a 1.2 plugin at all, nor a remote stage (its files
 * are on its own host), and a check gets no state directory. argv[1]: the folder of the test plugins (plugins_bad/test_plugin.c).
 */
#include <errno.h>
#include <unistd.h>

#include "config.h"
#include "filecheck.h"
#include "loader.h"
#include "log.h"
#include "unit.h"
#include "util.h"

static const char *plugin_dir;

static void test_problems_where_the_option_is(void)
{
	char dir[] = "/tmp/fm-test-filecheck-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *path = NULL, *text = NULL;
	if (asprintf(&path, "%s/pipeline.conf", dir) < 0 ||
	    asprintf(&text,
	             "plugin_dir = %s\n"                                        /* 1 */
	             "[stage named]\nplugin = test_withcheck\nlabel = nope\n"   /* 2-4 */
	             "[stage unnamed]\nplugin = test_withcheck\nlevel = 7\n"    /* 5-7 */
	             "[stage silent]\nplugin = test_withcheck\nlevel = 9\n"     /* 8-10 */
	             "[stage refused]\nplugin = test_withcheck\nlevel = 11\n"   /* 11-13 */
	             "label = nope\n"                                           /* 14 */
	             "[stage old]\nplugin = test_v12\nlabel = nope\n"           /* 15-17 */
	             "[stage fine]\nplugin = test_withcheck\n"                  /* 18-19 */
	             "[output last]\nplugin = test_withcheck\n"                 /* 20-21 */
	             "label = lab\nlabel = label-two\n"                         /* 22-23 */
	             "[stage far]\nplugin = test_withcheck\nrun_as = remote\n"  /* 24-26 */
	             "bind = tcp://*:7001\nconnect = tcp://far.example:7001\n"   /* 27-28 */
	             "label = only-there\n",                                     /* 29 */
	             plugin_dir) < 0)
		abort();
	FILE *f = fopen(path, "w");
	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);

	struct fm_diag diag = {0};
	struct fm_loader l;
	struct fm_config *c = fm_config_load(path, &diag);
	CHECK(c != NULL);
	if (!c)
		goto out;
	fm_loader_init(&l, c->plugin_dir);
	CHECK(fm_config_set(c, "fine.label=zzz", &diag) == 0);
	CHECK(fm_config_validate(c, &l, &diag) == -EINVAL); /* level 11 */
	CHECK(fm_config_check_files(c, &diag) == -EINVAL);
	char *got = unit_diag_text(&diag);
	char *want = unit_replace(strdup(
	          "--set: label: cannot open zzz: no such label\n"
	          "{D}/pipeline.conf:4: label: cannot open nope: no such label\n"
	          "{D}/pipeline.conf:5: stage 'unnamed': level seven is unlucky\n"
	          "{D}/pipeline.conf:8: stage 'silent': plugin test_withcheck refuses its settings: "
	          "Input/output error\n"
	          "{D}/pipeline.conf:13: level: 11 is out of range (allowed: 0 to 10)\n"
	          "{D}/pipeline.conf:23: label: cannot open label-two: no such label\n"),
	          "{D}", dir);
	CHECK_STR(got, want);
	free(want);
	free(got);
	fm_loader_fini(&l);
	fm_config_free(c);
out:
	fm_diag_free(&diag);
	free(text);
	unlink(path);
	free(path);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PLUGIN_DIR\n", argv[0]);
		return 2;
	}
	plugin_dir = argv[1];
	fm_log_set_level(FM_LOG_ERR);
	test_problems_where_the_option_is();
	return fmt_done("test_filecheck");
}
