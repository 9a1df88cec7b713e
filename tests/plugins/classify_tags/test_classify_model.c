/* The trained topic model: `feedmill train` (the plugin's command, through the real binary)
 * writes a model; the classify stage with `model = PATH` sets category and category_score. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <feedmill/plugin.h>

#include "harness.h"

static char dir[] = "/tmp/fmt-model-XXXXXX";


static char *category_of(fmt_stage *s, const char *title, const char *text, double *score)
{
	json_t *doc = json_pack("{s:s, s:s, s:s}", "id", "x", "title", title, "text", text);
	json_t *out = NULL;
	CHECK(fmt_stage_process(s, doc, &out, NULL) == FM_PASS);
	json_t *d = json_array_get(out, 0);
	const char *c = json_string_value(json_object_get(d, "category"));
	json_t *sc = json_object_get(d, "category_score");
	CHECK(json_is_real(sc));
	*score = json_real_value(sc);
	char *res = c ? strdup(c) : NULL;
	json_decref(out);
	return res;
}

#define CHECK_CATEGORY(s, title, text, expected)                                                 \
	do {                                                                                     \
		double score_;                                                                   \
		char *got_ = category_of(s, title, text, &score_);                               \
		CHECK_STR(got_, expected);                                                       \
		CHECK(score_ > 0.0 && score_ <= 1.0);                                            \
		free(got_);                                                                      \
	} while (0)

int main(void)
{
	const char *bin = getenv("FEEDMILL_BIN");
	const char *data = getenv("FM_TEST_DATA_DIR");
	if (!bin || !data || !mkdtemp(dir)) {
		fprintf(stderr, "FEEDMILL_BIN and FM_TEST_DATA_DIR must be set\n");
		return 1;
	}
	char *model = NULL, *train = NULL, *setting = NULL, *broken = NULL;
	if (asprintf(&model, "%s/topics.model", dir) < 0 ||
	    asprintf(&train, "%s/classify/topics-train.jsonl", data) < 0 ||
	    asprintf(&setting, "model=%s", model) < 0 ||
	    asprintf(&broken, "model=%s/classify/broken.model", data) < 0)
		return 1;

	/* Train: exit 0 and a model file. */
	char *cmd = NULL;
	if (asprintf(&cmd, "'%s' train --out '%s' < '%s'", bin, model, train) < 0)
		return 1;
	CHECK(system(cmd) == 0);
	struct stat st;
	CHECK(stat(model, &st) == 0 && st.st_size > 0);
	/* The model path must be new: a second run refuses to overwrite it. */
	CHECK(system(cmd) != 0);
	free(cmd);
	/* One label only: nothing to learn, non-zero exit, no model. */
	if (asprintf(&cmd, "grep '\"cycling\"' '%s' | '%s' train --out '%s/one.model' 2>/dev/null",
	             train, bin, dir) < 0)
		return 1;
	CHECK(system(cmd) != 0);
	free(cmd);
	if (asprintf(&cmd, "%s/one.model", dir) < 0)
		return 1;
	CHECK(access(cmd, F_OK) != 0);
	free(cmd);

	/* Classify documents it has not seen. */
	const char *settings[] = {setting, NULL};
	fmt_stage *s = fmt_stage_open("classify_tags", settings, NULL);
	CHECK(s != NULL);
	if (s) {
		CHECK_CATEGORY(s, "Telescope weather", "A clear night sky for the telescope: look for the moon and stars.",
		               "astronomy");
		CHECK_CATEGORY(s, "New lanes", "The city opens cycle lanes so more people can ride a bike to work.",
		               "cycling");
		CHECK_CATEGORY(s, "Autumn jobs", "Spread compost on the beds and keep the soil moist for the roots.",
		               "gardening");
		/* A document without title or text still gets one of the labels. */
		json_t *out = NULL;
		CHECK(fmt_stage_process_str(s, "{\"id\":\"empty\"}", &out, NULL) == FM_PASS);
		const char *c = json_string_value(json_object_get(json_array_get(out, 0), "category"));
		CHECK(c && (!strcmp(c, "astronomy") || !strcmp(c, "cycling") || !strcmp(c, "gardening")));
		json_decref(out);
		fmt_stage_close(s);
	}

	/* A damaged model fails init (the message names FILE:LINE). */
	const char *bad[] = {broken, NULL};
	s = fmt_stage_open("classify_tags", bad, NULL);
	CHECK(s == NULL);
	fmt_stage_close(s);

	/* A header that claims more than the file holds is refused, saying so, before memory is
	 * taken for it (in a child limited to 256 MB, which the claim, 20 million features,
	 * would pass: it used to fail, when it did, for want of memory). */
	char *liar = NULL, *lset = NULL, *lerr = NULL;
	if (asprintf(&liar, "%s/liar.model", dir) < 0 || asprintf(&lset, "model=%s", liar) < 0 ||
	    asprintf(&lerr, "%s/liar.err", dir) < 0)
		return 1;
	FILE *f = fopen(liar, "w");
	if (f) {
		fputs("feedmill-topic-model 1\nlabels 3\na\nb\nc\nbias 0 0 0\nfeatures 20000000\n"
		      "word\t1.5\t0.1 -0.1 0.2\n", f);
		fclose(f);
	}
	pid_t pid = fork();
	if (pid == 0) {
		FILE *ef = freopen(lerr, "w", stderr);
		(void)ef;
		struct rlimit lim = {256u << 20, 256u << 20};
		setrlimit(RLIMIT_AS, &lim);
		const char *lbad[] = {lset, NULL};
		fmt_stage *ls = fmt_stage_open("classify_tags", lbad, NULL);
		_exit(ls == NULL ? 0 : 1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	char said[2048] = "";
	f = fopen(lerr, "r");
	if (f) {
		size_t got = fread(said, 1, sizeof(said) - 1, f);
		said[got] = '\0';
		fclose(f);
	}
	CHECK(strstr(said, "declares 20000000 features, more than a file of") != NULL);
	unlink(liar);
	unlink(lerr);
	free(liar);
	free(lset);
	free(lerr);

	unlink(model);
	rmdir(dir);
	free(model);
	free(train);
	free(setting);
	free(broken);
	return fmt_done("classify_model");
}
