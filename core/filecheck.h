/*
 * `feedmill check` beyond the option tables: every stage's and output's plugin loads and
 * verifies the files its settings name (rules, models, ...) through its check() (ABI 1.3),
 * and what it logs as an error becomes a problem of the configuration.
 */
#ifndef FM_CORE_FILECHECK_H
#define FM_CORE_FILECHECK_H

#include "config.h"
#include "diag.h"

/* Call check() for each stage and output of a validated configuration whose plugin has one
 * and whose options were accepted (the others are reported already), but for remote stages,
 * whose files are on another host. Each message the plugin
 * logs at error level is added to diag at the line of the option whose value it contains (the
 * longest such value; else at the section's header, as "stage 'NAME': message"); a failure
 * with no message gets one. Returns 0, or -EINVAL when anything was added. */
int fm_config_check_files(const struct fm_config *cfg, struct fm_diag *diag);

#endif
