#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fm_build_config.h"
#include "util.h"

/* The 1.0 descriptor ends with `commands`: anything shorter is not a 1.x descriptor. */
#define DESC_MIN_SIZE (offsetof(struct fm_plugin, commands) + sizeof(void *))
/* 1.1 added prepare and release (1.2 added nothing here). */
#define DESC_1_2_SIZE (offsetof(struct fm_plugin, release) + sizeof(void (*)(void *)))
/* 1.3 added check, ack and commit. */
#define DESC_1_3_SIZE (offsetof(struct fm_plugin, commit) + sizeof(int (*)(void *)))

/* How much of a descriptor of this minor the host reads: no field the minor predates, even
 * when struct_size claims more (a descriptor inside a larger struct of the plugin's own), so
 * that a 1.2 plugin's bytes after release are never taken for check(). */
static size_t desc_size_of_minor(uint32_t minor)
{
	if (minor == 0)
		return DESC_MIN_SIZE;
	if (minor <= 2)
		return DESC_1_2_SIZE;
	if (minor == 3)
		return DESC_1_3_SIZE;
	return sizeof(struct fm_plugin);
}

static int add_dir(struct fm_loader *l, const char *dir)
{
	char **p = realloc(l->dirs, (l->ndirs + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	l->dirs = p;
	if (!(l->dirs[l->ndirs] = strdup(dir)))
		return -ENOMEM;
	l->ndirs++;
	return 0;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Add each directory of a colon-separated list. */
static int add_dirs(struct fm_loader *l, const char *list)
{
	int rc = 0;
	const char *p = list;
	while (rc == 0 && *p) {
		size_t n = strcspn(p, ":");
		if (n) {
			char *dir = strndup(p, n);
			rc = dir ? add_dir(l, dir) : -ENOMEM;
			free(dir);
		}
		p += n + (p[n] == ':');
	}
	return rc;
}

int fm_loader_init(struct fm_loader *l, const char *configured_dir)
{
	memset(l, 0, sizeof(*l));
	if (configured_dir && configured_dir[0])
		return add_dirs(l, configured_dir);
	const char *env = getenv("FEEDMILL_PLUGIN_DIR");
	if (env && env[0])
		return add_dirs(l, env);
	int rc = 0;
	char *exe = fm_exe_dir();
	if (exe) {
		char *tree = fm_path_join(exe, "plugins");
		if (tree && is_dir(tree))
			rc = add_dir(l, tree);
		free(tree);
		free(exe);
	}
	if (rc == 0 && l->ndirs == 0)
		rc = add_dir(l, FM_PLUGIN_DIR);
	return rc;
}

void fm_loader_fini(struct fm_loader *l)
{
	/* Plugins stay mapped: instances may still reference their strings until exit. */
	struct fm_loaded_plugin *p = l->loaded;
	while (p) {
		struct fm_loaded_plugin *next = p->next;
		free(p->id);
		free(p->path);
		free(p);
		p = next;
	}
	for (size_t i = 0; i < l->ndirs; i++)
		free(l->dirs[i]);
	free(l->dirs);
	memset(l, 0, sizeof(*l));
}

char *fm_loader_dirs_text(const struct fm_loader *l)
{
	size_t n = 1;
	for (size_t i = 0; i < l->ndirs; i++)
		n += strlen(l->dirs[i]) + 1;
	char *s = calloc(1, n);
	if (!s)
		return NULL;
	for (size_t i = 0; i < l->ndirs; i++) {
		if (i)
			strcat(s, ":");
		strcat(s, l->dirs[i]);
	}
	return s;
}

static size_t opt_slot_size(enum fm_opt_type t)
{
	switch (t) {
	case FM_OPT_STR:
	case FM_OPT_PATH:
	case FM_OPT_ENUM: return sizeof(char *);
	case FM_OPT_INT:
	case FM_OPT_DURATION: return sizeof(int64_t);
	case FM_OPT_SIZE: return sizeof(uint64_t);
	case FM_OPT_BOOL: return sizeof(bool);
	case FM_OPT_DOUBLE: return sizeof(double);
	case FM_OPT_LIST: return sizeof(struct fm_strlist);
	}
	return 0;
}

/* Check what a descriptor promises before anything of it is called. */
static int validate(const char *path, const struct fm_plugin *d, char *err, size_t errlen)
{
	if (!d->name || !d->kind || !d->name[0] || !d->kind[0]) {
		snprintf(err, errlen, "%s: descriptor has no name or kind", path);
		return -EINVAL;
	}
	if (!d->init || !d->process || !d->fini) {
		snprintf(err, errlen, "%s: descriptor lacks init, process or fini", path);
		return -EINVAL;
	}
	if (d->prepare && !d->release) {
		snprintf(err, errlen, "%s: descriptor has prepare but no release", path);
		return -EINVAL;
	}
	for (const struct fm_option *o = d->options; o && o->key; o++) {
		size_t sz = opt_slot_size(o->type);
		if (sz == 0) {
			snprintf(err, errlen, "%s: option '%s' has an unknown type %d", path, o->key,
			         (int)o->type);
			return -EINVAL;
		}
		if (o->offset + sz > d->config_size) {
			snprintf(err, errlen,
			         "%s: option '%s' lands outside the plugin's config struct "
			         "(offset %zu + %zu > config_size %zu)",
			         path, o->key, o->offset, sz, d->config_size);
			return -EINVAL;
		}
		if (o->offset % (sz > sizeof(void *) ? sizeof(void *) : sz) != 0) {
			snprintf(err, errlen, "%s: option '%s' is not aligned in the config struct "
			         "(offset %zu; use offsetof)", path, o->key, o->offset);
			return -EINVAL;
		}
		if (o->type == FM_OPT_ENUM && !o->choices) {
			snprintf(err, errlen, "%s: option '%s' is a choice without choices", path,
			         o->key);
			return -EINVAL;
		}
	}
	return 0;
}

const struct fm_loaded_plugin *fm_loader_load_file(struct fm_loader *l, const char *path,
                                                   char *err, size_t errlen)
{
	for (struct fm_loaded_plugin *p = l->loaded; p; p = p->next)
		if (strcmp(p->path, path) == 0)
			return p;

	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, errlen, "cannot load plugin %s: %s", path, dlerror());
		return NULL;
	}
	fm_plugin_entry_fn entry = (fm_plugin_entry_fn)dlsym(h, FM_PLUGIN_ENTRY_NAME);
	if (!entry) {
		snprintf(err, errlen, "%s is not a feedmill plugin: no symbol %s", path,
		         FM_PLUGIN_ENTRY_NAME);
		goto fail;
	}
	const struct fm_plugin *d = entry();
	if (!d) {
		snprintf(err, errlen, "%s: %s() returned no descriptor", path, FM_PLUGIN_ENTRY_NAME);
		goto fail;
	}
	if (d->abi_major != FM_ABI_MAJOR || d->abi_minor > FM_ABI_MINOR) {
		snprintf(err, errlen,
		         "%s is not binary compatible: plugin ABI %u.%u, this feedmill has ABI %u.%u "
		         "(rebuild the plugin against the installed feedmill SDK)",
		         path, d->abi_major, d->abi_minor, FM_ABI_MAJOR, FM_ABI_MINOR);
		goto fail;
	}
	if (d->struct_size < DESC_MIN_SIZE || d->struct_size > 65536) {
		snprintf(err, errlen,
		         "%s is not binary compatible: descriptor size %u, ABI %u.%u needs at least %zu "
		         "(this feedmill has ABI %u.%u)",
		         path, d->struct_size, d->abi_major, d->abi_minor, DESC_MIN_SIZE, FM_ABI_MAJOR,
		         FM_ABI_MINOR);
		goto fail;
	}

	struct fm_loaded_plugin *lp = calloc(1, sizeof(*lp));
	if (!lp) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Read only as much as the plugin says it has; fields it predates stay zero. */
	size_t n = desc_size_of_minor(d->abi_minor);
	memcpy(&lp->desc, d, d->struct_size < n ? d->struct_size : n);
	if (validate(path, &lp->desc, err, errlen) != 0) {
		free(lp);
		goto fail;
	}
	lp->handle = h;
	lp->path = strdup(path);
	if (asprintf(&lp->id, "%s_%s", lp->desc.kind, lp->desc.name) < 0)
		lp->id = NULL;
	if (!lp->path || !lp->id) {
		free(lp->path);
		free(lp->id);
		free(lp);
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	lp->next = l->loaded;
	l->loaded = lp;
	return lp;
fail:
	dlclose(h);
	return NULL;
}

static char *find_file(const struct fm_loader *l, const char *id)
{
	for (size_t i = 0; i < l->ndirs; i++) {
		char *cand[2] = {NULL, NULL};
		if (asprintf(&cand[0], "%s/%s.so", l->dirs[i], id) < 0)
			cand[0] = NULL;
		if (asprintf(&cand[1], "%s/%s/%s.so", l->dirs[i], id, id) < 0)
			cand[1] = NULL;
		for (int k = 0; k < 2; k++) {
			struct stat st;
			if (cand[k] && stat(cand[k], &st) == 0 && S_ISREG(st.st_mode)) {
				free(cand[1 - k]);
				return cand[k];
			}
		}
		free(cand[0]);
		free(cand[1]);
	}
	return NULL;
}

static bool valid_id(const char *id)
{
	if (!id[0])
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	return true;
}

const struct fm_loaded_plugin *fm_loader_get(struct fm_loader *l, const char *id, char *err,
                                             size_t errlen)
{
	for (struct fm_loaded_plugin *p = l->loaded; p; p = p->next)
		if (strcmp(p->id, id) == 0)
			return p;
	if (!valid_id(id)) {
		snprintf(err, errlen, "'%s' is not a plugin name (lower-case letters, digits, _ and -)",
		         id);
		return NULL;
	}
	char *path = find_file(l, id);
	if (!path) {
		char *dirs = fm_loader_dirs_text(l);
		snprintf(err, errlen, "unknown plugin '%s': no %s.so in %s", id, id,
		         dirs ? dirs : "(no plugin directory)");
		free(dirs);
		return NULL;
	}
	const struct fm_loaded_plugin *p = fm_loader_load_file(l, path, err, errlen);
	if (p && strcmp(p->id, id) != 0) {
		snprintf(err, errlen, "%s declares itself %s, not %s", path, p->id, id);
		p = NULL;
	}
	free(path);
	return p;
}

/* Load the plugins of a directory (and of its subdirectories, one level down, as the build
 * tree lays them out); with a prefix, only those whose file or directory name starts with it. */
static void scan_dir(struct fm_loader *l, const char *dir, int depth, const char *prefix,
                     void (*on_error)(const char *, void *), void *arg)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		char *path = fm_path_join(dir, e->d_name);
		if (!path)
			continue;
		size_t n = strlen(e->d_name);
		if (depth == 0 && is_dir(path)) {
			scan_dir(l, path, 1, prefix, on_error, arg);
		} else if (n > 3 && strcmp(e->d_name + n - 3, ".so") == 0) {
			char err[512];
			if (!fm_loader_load_file(l, path, err, sizeof(err)) && on_error)
				on_error(err, arg);
		}
		free(path);
	}
	closedir(d);
}

void fm_loader_load_all(struct fm_loader *l, void (*on_error)(const char *msg, void *arg),
                        void *arg)
{
	for (size_t i = 0; i < l->ndirs; i++)
		scan_dir(l, l->dirs[i], 0, NULL, on_error, arg);
}

const struct fm_loaded_plugin *fm_loader_find_command(struct fm_loader *l, const char *name,
                                                      const struct fm_command **cmd)
{
	for (struct fm_loaded_plugin *p = l->loaded; p; p = p->next)
		for (const struct fm_command *c = p->desc.commands; c && c->name; c++)
			if (strcmp(c->name, name) == 0) {
				*cmd = c;
				return p;
			}
	return NULL;
}

static const struct fm_loaded_plugin *loaded_of_kind(const struct fm_loader *l, const char *kind)
{
	const struct fm_loaded_plugin *best = NULL;
	for (struct fm_loaded_plugin *p = l->loaded; p; p = p->next)
		if (strcmp(p->desc.kind, kind) == 0 && (!best || strcmp(p->id, best->id) < 0))
			best = p;
	return best;
}

const struct fm_loaded_plugin *fm_loader_find_kind(struct fm_loader *l, const char *kind)
{
	/* The bundled plugin of a kind comes first, so that an installed third-party plugin
	 * cannot silently take over `feedmill pipe dedupe`. */
	static const char *const bundled[][2] = {
		{"fetch", "fetch_http"},         {"clean", "clean_readable"},
		{"dedupe", "dedupe_similar"},    {"classify", "classify_tags"},
		{"publish", "publish_jsonl"},
	};
	char err[512];
	for (size_t i = 0; i < sizeof(bundled) / sizeof(bundled[0]); i++) {
		if (strcmp(kind, bundled[i][0]) != 0)
			continue;
		const struct fm_loaded_plugin *p = fm_loader_get(l, bundled[i][1], err, sizeof(err));
		if (p && strcmp(p->desc.kind, kind) == 0)
			return p;
	}
	/* A plugin's id is KIND_NAME and its file is named after its id (fm_loader_get), so only
	 * the files named KIND_* need loading: a stage of one kind does not map every other
	 * plugin's libraries (libcurl, libxml2, ...) into the process. */
	char *prefix = NULL;
	if (asprintf(&prefix, "%s_", kind) < 0)
		return loaded_of_kind(l, kind);
	for (size_t i = 0; i < l->ndirs; i++)
		scan_dir(l, l->dirs[i], 0, prefix, NULL, NULL);
	free(prefix);
	return loaded_of_kind(l, kind);
}
