/* SPDX-License-Identifier: GPL-2.0-or-later */
/* workspace: switching the current workspace and moving windows between them. */
#include "wm.h"
#include "ab_util.h"

void
workspace_switch(int ws)
{
	if (ws < 0 || ws >= wm.ds.ws_count || ws == wm.ds.ws_current)
		return;
	wm.ds.ws_current = ws;
	/* map the new workspace's windows before unmapping the old ones: less flicker */
	for (struct client *c = wm.clients; c; c = c->next) {
		if (client_visible(c))
			client_show_hide(c);
	}
	for (struct client *c = wm.clients; c; c = c->next) {
		if (!client_visible(c))
			client_show_hide(c);
	}
	ewmh_update_desktops();
	client_focus_top();
	taskbar_draw();
	state_changed();
}

void
workspace_send(struct client *c, int ws)
{
	if (c->ws < 0 || ws < 0 || ws >= wm.ds.ws_count || c->ws == ws)
		return;
	c->ws = ws;
	ewmh_set_client_state(c);
	client_show_hide(c);
	if (wm.focus == c && !client_visible(c))
		client_focus_top();
	taskbar_draw();
	state_changed();
}
