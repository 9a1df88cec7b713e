/*
 * Plugin loader: finds KIND_NAME.so in the plugin directories, dlopens it, checks its
 * descriptor (ABI version, struct size, option table) and keeps it loaded for the process's
 * life. A plugin that does not fit is refused with a message naming the file and both versions.
 */
#ifndef FM_CORE_LOADER_H
#define FM_CORE_LOADER_H

#include <stddef.h>

#include <feedmill/plugin.h>

struct fm_loaded_plugin {
	char *id;   /* "clean_readable" */
	char *path; /* the .so it came from */
	void *handle;
	struct fm_plugin desc; /* the plugin's descriptor, zero-padded to the host's layout */
	struct fm_loaded_plugin *next;
};

struct fm_loader {
	char **dirs; /* searched in order */
	size_t ndirs;
	struct fm_loaded_plugin *loaded;
};

/* Directories to search, in order: configured (a colon-separated list; may be NULL) wins;
 * else $FEEDMILL_PLUGIN_DIR (also a list); else the build tree's plugins/ beside the
 * executable; else the installed FM_PLUGIN_DIR. */
int fm_loader_init(struct fm_loader *l, const char *configured_dir);
void fm_loader_fini(struct fm_loader *l);

/* Load (once) and return the plugin with this id; NULL with a message in err. */
const struct fm_loaded_plugin *fm_loader_get(struct fm_loader *l, const char *id, char *err,
                                             size_t errlen);
/* Load a plugin from an explicit file path (tests, `feedmill plugins FILE`). */
const struct fm_loaded_plugin *fm_loader_load_file(struct fm_loader *l, const char *path,
                                                   char *err, size_t errlen);
/* Load every plugin found in the directories; problems are reported through the callback. */
void fm_loader_load_all(struct fm_loader *l, void (*on_error)(const char *msg, void *arg),
                        void *arg);
/* The plugin providing command `name`, among those loaded. */
const struct fm_loaded_plugin *fm_loader_find_command(struct fm_loader *l, const char *name,
                                                      const struct fm_command **cmd);
/* The plugin of this kind (for `feedmill pipe dedupe` without a configuration), loaded if it
 * is not yet: the bundled one, else the first by id among the files named KIND_*. */
const struct fm_loaded_plugin *fm_loader_find_kind(struct fm_loader *l, const char *kind);
/* The paths searched, as one string for messages ("a:b:c"). Caller frees. */
char *fm_loader_dirs_text(const struct fm_loader *l);

#endif
