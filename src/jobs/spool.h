/*
 * spool: feed files dropped into a directory, taken in by `dzong serve`.
 *
 *   SPOOL/<feed>/FILE         waiting (one directory per parser of lib/feed.h)
 *   SPOOL/.done/<feed>/FILE   taken in (or found already taken in: same content)
 *   SPOOL/.failed/<feed>/FILE the parser refused it; FILE.reason says why
 *
 * A thread scans every interval_s seconds. It takes a regular file whose
 * name does not start with '.' once it has not changed for settle_s
 * seconds (writers should write elsewhere, or under a dot name, and rename
 * into place). Each file runs through ingest_run (kind "spool", its path as
 * source, its content fingerprint as key). Several nodes may share the
 * directory: the store's claim of the ingest decides which node takes a
 * file (the other one sees it busy and leaves it), and a move that finds the
 * file gone (another node moved it) is not an error.
 */
#ifndef DZ_SPOOL_H
#define DZ_SPOOL_H
#include <stdbool.h>
#include "lib/dz_err.h"
#include "lib/feed.h"
#include "lib/pipeline.h"
#include "store/store.h"

typedef struct spool_config {
    const char *dir;                  /* the spool directory */
    int interval_s;                   /* between scans; 0: 5 */
    int settle_s;                     /* a file must be this old (mtime); 0: 2 */
    feed_options opt;                 /* template for every file: schema (shadowserver), mapping (csv) */
    const pipeline_config *pipeline;  /* NULL: defaults */
    const char *node;                 /* NULL: "host:pid" */
} spool_config;

typedef struct spool spool;

/* Creates dir, one subdirectory per feed, .done/<feed> and .failed/<feed> (mode 0700; existing ones are kept). */
dz_code spool_prepare_dirs(const char *dir, dz_err *e);
/* Starts the scanning thread. cfg is copied; what its pointers point to must outlive spool_stop. */
dz_code spool_start(store *st, const spool_config *cfg, spool **out, dz_err *e);
/* Stops after the file in hand (an interrupted ingest resumes from its checkpoint later). */
void spool_stop(spool *sp);
/* One scan in the calling thread; returns how many files were moved to .done or .failed. */
int spool_scan(store *st, const spool_config *cfg);

#endif
