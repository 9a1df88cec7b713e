/*
 * The plugin loader refuses a plugin that does not fit, naming the file (and both ABI versions
 * where they are the reason), never crashes on it, and accepts a well-formed one. The plugins
 * are built from plugins_bad/test_plugin.c, one variant per way of being wrong.
 * argv[1]: the folder they are built in.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include <feedmill/plugin.h>

#include "loader.h"
#include "log.h"
#include "unit.h"

static const char *dir;

static char *so(const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s.so", dir, name) < 0)
		abort();
	return p;
}

/* fm_loader_load_file must refuse `name` with exactly `want` ({F}: the file's path). */
static void expect_refused(struct fm_loader *l, const char *name, const char *want)
{
	char *path = so(name);
	char err[512] = "";
	const struct fm_loaded_plugin *p = fm_loader_load_file(l, path, err, sizeof(err));
	CHECK(p == NULL);
	char *w = unit_replace(strdup(want), "{F}", path);
	CHECK_STR(err, w);
	free(w);
	free(path);
}

static void test_refusals(void)
{
	struct fm_loader l;
	CHECK(fm_loader_init(&l, dir) == 0);
	char want[512];

	snprintf(want, sizeof(want),
	         "{F} is not binary compatible: plugin ABI 2.%d, this feedmill has ABI 1.%d "
	         "(rebuild the plugin against the installed feedmill SDK)",
	         FM_ABI_MINOR, FM_ABI_MINOR);
	expect_refused(&l, "bad_abi_major", want);
	snprintf(want, sizeof(want),
	         "{F} is not binary compatible: plugin ABI 1.%d, this feedmill has ABI 1.%d "
	         "(rebuild the plugin against the installed feedmill SDK)",
	         FM_ABI_MINOR + 1, FM_ABI_MINOR);
	expect_refused(&l, "bad_abi_minor", want);
	snprintf(want, sizeof(want),
	         "{F} is not binary compatible: descriptor size %zu, ABI 1.%d needs at least %zu "
	         "(this feedmill has ABI 1.%d)",
	         offsetof(struct fm_plugin, commands), FM_ABI_MINOR,
	         offsetof(struct fm_plugin, commands) + sizeof(void *), FM_ABI_MINOR);
	expect_refused(&l, "bad_struct_size", want);
	expect_refused(&l, "bad_prepare_alone", "{F}: descriptor has prepare but no release");
	expect_refused(&l, "bad_no_entry",
	               "{F} is not a feedmill plugin: no symbol fm_plugin_entry");
	expect_refused(&l, "bad_null_entry", "{F}: fm_plugin_entry() returned no descriptor");
	/* the offset is the struct's size: 16 on LP64 */
	snprintf(want, sizeof(want),
	         "{F}: option 'label' lands outside the plugin's config struct (offset %zu + %zu > "
	         "config_size %zu)",
	         sizeof(int64_t) + sizeof(char *), sizeof(char *), sizeof(int64_t) + sizeof(char *));
	expect_refused(&l, "bad_option_offset", want);
	expect_refused(&l, "bad_no_process", "{F}: descriptor lacks init, process or fini");
	expect_refused(&l, "bad_no_name", "{F}: descriptor has no name or kind");
	expect_refused(&l, "bad_enum_choices",
	               "{F}: option 'flavour' is a choice without choices");
	CHECK(l.loaded == NULL); /* nothing refused stays registered */

	/* not a shared object at all */
	char tmp[] = "/tmp/fm-test-loader-XXXXXX";
	CHECK(mkdtemp(tmp) != NULL);
	char *junk = NULL;
	if (asprintf(&junk, "%s/junk_text.so", tmp) < 0)
		abort();
	FILE *f = fopen(junk, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("this is not an ELF file\n", f);
		fclose(f);
	}
	char err[512] = "";
	CHECK(fm_loader_load_file(&l, junk, err, sizeof(err)) == NULL);
	char *prefix = NULL;
	if (asprintf(&prefix, "cannot load plugin %s: ", junk) < 0)
		abort();
	CHECK(strncmp(err, prefix, strlen(prefix)) == 0);
	free(prefix);
	unlink(junk);
	/* a file that does not exist */
	CHECK(fm_loader_load_file(&l, junk, err, sizeof(err)) == NULL);
	CHECK(strstr(err, junk) != NULL);
	free(junk);
	rmdir(tmp);
	fm_loader_fini(&l);
}

static size_t count_options(const struct fm_loaded_plugin *p)
{
	size_t n = 0;
	for (const struct fm_option *o = p->desc.options; o && o->key; o++)
		n++;
	return n;
}

static void test_accepted(void)
{
	struct fm_loader l;
	CHECK(fm_loader_init(&l, dir) == 0);
	char err[512] = "";
	char *path = so("test_minimal");
	const struct fm_loaded_plugin *p = fm_loader_load_file(&l, path, err, sizeof(err));
	CHECK(p != NULL);
	if (!p)
		fprintf(stderr, "refused: %s\n", err);
	if (p) {
		CHECK_STR(p->id, "test_minimal");
		CHECK_STR(p->path, path);
		CHECK(p->desc.abi_major == FM_ABI_MAJOR && p->desc.abi_minor == FM_ABI_MINOR);
		CHECK(count_options(p) == 2);
		/* loading the same file again gives the same plugin, not a second copy */
		CHECK(fm_loader_load_file(&l, path, err, sizeof(err)) == p);
		/* and by id, through the directory */
		CHECK(fm_loader_get(&l, "test_minimal", err, sizeof(err)) == p);
		CHECK(fm_loader_find_kind(&l, "test") == p);
	}
	free(path);

	/* a larger descriptor from the same major (a later minor's layout, declared as 1.0) */
	path = so("test_roomy");
	p = fm_loader_load_file(&l, path, err, sizeof(err));
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->id, "test_roomy");
		CHECK(p->desc.commands == NULL);
		CHECK(p->desc.struct_size > sizeof(struct fm_plugin));
	}
	free(path);

	/* a plugin built against ABI 1.0, before prepare() existed: it loads, and the host does
	 * not read the fields it predates (what follows its descriptor in memory) */
	path = so("test_old");
	p = fm_loader_load_file(&l, path, err, sizeof(err));
	CHECK(p != NULL);
	if (p) {
		CHECK(p->desc.abi_minor == 0);
		CHECK(p->desc.prepare == NULL && p->desc.release == NULL);
	}
	free(path);

	/* 1.3 added check(): a 1.3 plugin's is seen; a plugin built against 1.2 has none, even
	 * when its descriptor is followed in memory by a pointer where check() would be, and
	 * even when its struct_size claims the whole 1.3 layout */
	path = so("test_withcheck");
	p = fm_loader_load_file(&l, path, err, sizeof(err));
	CHECK(p != NULL && p->desc.check != NULL);
	free(path);
	const char *const v12[] = {"test_v12", "test_v12roomy"};
	for (size_t i = 0; i < 2; i++) {
		path = so(v12[i]);
		p = fm_loader_load_file(&l, path, err, sizeof(err));
		CHECK(p != NULL);
		if (p) {
			CHECK(p->desc.abi_minor == 2);
			CHECK(p->desc.check == NULL);
			CHECK(p->desc.process != NULL && p->desc.fini != NULL);
		}
		free(path);
	}

	/* the file name promises one plugin, the descriptor another */
	CHECK(fm_loader_get(&l, "test_liar", err, sizeof(err)) == NULL);
	char *want = NULL;
	if (asprintf(&want, "%s/test_liar.so declares itself test_other, not test_liar", dir) < 0)
		abort();
	CHECK_STR(err, want);
	free(want);

	CHECK(fm_loader_get(&l, "test_absent", err, sizeof(err)) == NULL);
	if (asprintf(&want, "unknown plugin 'test_absent': no test_absent.so in %s", dir) < 0)
		abort();
	CHECK_STR(err, want);
	free(want);
	fm_loader_fini(&l);
}

struct collected {
	int n;
	int abi, minimal_named;
};

static void on_error(const char *msg, void *arg)
{
	struct collected *c = arg;
	c->n++;
	if (strstr(msg, "bad_abi_major.so is not binary compatible: plugin ABI 2."))
		c->abi++;
	if (strstr(msg, "test_minimal"))
		c->minimal_named++;
}

/* Scanning a folder with bad plugins reports each one and loads the good ones. */
static void test_load_all(void)
{
	struct fm_loader l;
	CHECK(fm_loader_init(&l, dir) == 0);
	struct collected c = {0};
	fm_loader_load_all(&l, on_error, &c);
	CHECK(c.n == 10); /* the ten bad_*.so */
	CHECK(c.abi == 1);
	CHECK(c.minimal_named == 0);
	int good = 0;
	for (const struct fm_loaded_plugin *p = l.loaded; p; p = p->next)
		good++;
	/* test_minimal, test_roomy, test_old, test_withcheck, test_v12, test_v12roomy, and
	 * test_liar (as test_other) */
	CHECK(good == 7);
	fm_loader_fini(&l);
}

/* `feedmill plugins FILE.so`: exit 1 and the reason for a refused plugin, 0 for a good one. */
static int run_plugins_cmd(const char *path, char **err_out, char **out_out)
{
	return unit_run_feedmill((const char *[]){"plugins", path, NULL}, out_out, err_out);
}

static void test_plugins_command(void)
{
	char *path = so("bad_abi_major");
	char *out = NULL, *err = NULL;
	CHECK(run_plugins_cmd(path, &err, &out) == 1);
	char *want = NULL;
	if (asprintf(&want,
	             "feedmill plugins: %s is not binary compatible: plugin ABI 2.%d, this feedmill "
	             "has ABI 1.%d (rebuild the plugin against the installed feedmill SDK)\n",
	             path, FM_ABI_MINOR, FM_ABI_MINOR) < 0)
		abort();
	CHECK(err && strstr(err, want) != NULL);
	free(want);
	free(out);
	free(err);
	free(path);

	path = so("bad_null_entry");
	CHECK(run_plugins_cmd(path, &err, &out) == 1);
	CHECK(err && strstr(err, "returned no descriptor") != NULL);
	free(out);
	free(err);
	free(path);

	path = so("test_minimal");
	CHECK(run_plugins_cmd(path, &err, &out) == 0);
	char head[64];
	snprintf(head, sizeof(head), "test_minimal 0.0.1 (ABI 1.%d)", FM_ABI_MINOR);
	CHECK(out && strncmp(out, head, strlen(head)) == 0);
	CHECK(out && strstr(out, "level") != NULL);
	free(out);
	free(err);
	free(path);
}

/* `feedmill pipe KIND` loads the plugins of that kind, found by their file names (KIND_*), and
 * nothing else: another kind's libraries (libcurl, libxml2) stay out of the process. */
static void test_find_kind_loads_only_that_kind(void)
{
	struct fm_loader l;
	CHECK(fm_loader_init(&l, dir) == 0);
	CHECK(fm_loader_find_kind(&l, "nosuch") == NULL);
	CHECK(l.loaded == NULL);
	const struct fm_loaded_plugin *p = fm_loader_find_kind(&l, "test");
	CHECK(p != NULL);
	if (p)
		CHECK_STR(p->desc.kind, "test");
	size_t n = 0;
	for (const struct fm_loaded_plugin *q = l.loaded; q; q = q->next) {
		CHECK(strncmp(q->id, "test_", 5) == 0);
		n++;
	}
	CHECK(n >= 3); /* test_minimal, test_old, test_roomy (test_liar loads too, as test_other) */
	fm_loader_fini(&l);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_loader DIR_OF_TEST_PLUGINS\n");
		return 2;
	}
	dir = argv[1];
	fm_log_set_level(FM_LOG_ERR);
	test_refusals();
	test_accepted();
	test_load_all();
	test_find_kind_loads_only_that_kind();
	test_plugins_command();
	return fmt_done("test_loader");
}
