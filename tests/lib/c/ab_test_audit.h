/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Audit capture for the cmocka tests of code that audits (tests/lib/c, library
 * ab_testlib_audit: link it with LIBS in ab_unit_test).
 *
 *   ab_test_audit_start()                 audit_open("/dev/null") and a listener that keeps
 *                                         every event from now on, oldest first (what an earlier
 *                                         start kept is dropped)
 *   ab_test_audit_events()                the events kept (borrowed: the capture owns them)
 *   ab_test_audit_count(event, outcome)   how many of them are EVENT with OUTCOME (any outcome
 *                                         when NULL)
 *   ab_test_audit_stop()                  the listener off and the events freed; the audit log
 *                                         stays open (audit_close() is the caller's)
 */
#ifndef AB_TEST_AUDIT_H
#define AB_TEST_AUDIT_H

#include <jansson.h>

void ab_test_audit_start(void);
json_t *ab_test_audit_events(void);
int ab_test_audit_count(const char *event, const char *outcome);
void ab_test_audit_stop(void);

#endif
