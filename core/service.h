/*
 * The service manager protocol: readiness, stopping and watchdog notifications to systemd.
 * This is the sd_notify(3) datagram protocol written out (one AF_UNIX datagram of "KEY=VALUE"
 * lines to $NOTIFY_SOCKET), so the binary does not link libsystemd and its dependencies: the
 * one-shot tools start measurably faster without them.
 */
#ifndef FM_CORE_SERVICE_H
#define FM_CORE_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

/* True when a service manager listens ($NOTIFY_SOCKET is set). */
bool fm_service_managed(void);
/* Send "READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=..."; 0, or -errno. No-op when not
 * managed. */
int fm_service_notify(const char *state);
/* The watchdog interval the unit asks for ($WATCHDOG_USEC, for this process), 0 if none. */
uint64_t fm_service_watchdog_usec(void);

#endif
