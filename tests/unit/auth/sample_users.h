/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The auth unit tests' group fixture: the sample config's users (config/argobox.sample.json)
 * in `db`, audit to /dev/null. Include after cmocka.h, users.h and audit.h; pass
 * sample_users_setup/sample_users_teardown to AB_TEST_MAIN. */
#ifndef AB_TEST_SAMPLE_USERS_H
#define AB_TEST_SAMPLE_USERS_H

static struct users_db *db;

static int
sample_users_setup(void **state)
{
	(void)state;
	struct ab_err err = {0};
	if (users_load_file(AB_SOURCE_DIR "/config/argobox.sample.json", &db, &err) < 0)
		fail_msg("%s", err.msg);
	audit_open("/dev/null", NULL);
	return 0;
}

static int
sample_users_teardown(void **state)
{
	(void)state;
	users_free(db);
	audit_close();
	return 0;
}

#endif
