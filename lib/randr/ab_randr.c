/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_randr: RandR screen resizing (see ab_randr.h). */
#include "ab_randr.h"

#include <X11/extensions/Xrandr.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static RRMode
find_or_create_mode(Display *dpy, Window root, XRRScreenResources *res, RROutput out, int w, int h)
{
	for (int i = 0; i < res->nmode; i++)
		if ((int)res->modes[i].width == w && (int)res->modes[i].height == h)
			return res->modes[i].id;
	char name[32];
	snprintf(name, sizeof(name), "%dx%d", w, h);
	XRRModeInfo mi = {0};
	mi.width = (unsigned)w;
	mi.height = (unsigned)h;
	mi.name = name;
	mi.nameLength = (unsigned)strlen(name);
	mi.hTotal = (unsigned)w;
	mi.vTotal = (unsigned)h;
	mi.dotClock = (unsigned long)w * (unsigned long)h * 60;
	RRMode m = XRRCreateMode(dpy, root, &mi);
	XRRAddOutputMode(dpy, out, m);
	return m;
}

int
ab_randr_set_size(Display *dpy, Window root, int w, int h)
{
	XRRScreenResources *res = XRRGetScreenResourcesCurrent(dpy, root);
	if (!res)
		return -ENOTSUP;
	if (res->noutput < 1 || res->ncrtc < 1) {
		XRRSetScreenSize(dpy, root, w, h, w * 254 / 960, h * 254 / 960);
	} else {
		RROutput out = res->outputs[0];
		RRCrtc crtc = res->crtcs[0];
		RRMode mode = find_or_create_mode(dpy, root, res, out, w, h);
		XRRSetCrtcConfig(dpy, res, crtc, CurrentTime, 0, 0, None, RR_Rotate_0, NULL, 0);
		XRRSetScreenSize(dpy, root, w, h, w * 254 / 960, h * 254 / 960);
		XRRSetCrtcConfig(dpy, res, crtc, CurrentTime, 0, 0, mode, RR_Rotate_0, &out, 1);
	}
	XRRFreeScreenResources(res);
	return 0;
}
