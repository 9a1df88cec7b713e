/*
 * jemalloc's settings for the feedmill binary (linked only with -Dallocator=jemalloc).
 * jemalloc reads this symbol when it starts; MALLOC_CONF in the environment overrides it
 * (https://jemalloc.net/jemalloc.3.html, "TUNING").
 *
 * narenas:2 (jemalloc's default is four per CPU): feedmill's documents are made on one thread
 * and freed on another (a fetch worker parses, the hub and the outputs free), so each arena
 * keeps pages for what passes through it, and more arenas mostly multiply what is kept. On the
 * poll kit's first poll (2,000 feeds, 2 cores) peak RSS was 55-58 MB with the default and
 * 47-53 MB with two arenas, at the same CPU. Thread caches still serve most allocations
 * without touching an arena's lock.
 */
const char *malloc_conf;
const char *malloc_conf = "narenas:2";
