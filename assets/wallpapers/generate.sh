#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Regenerates ArgoBox's wallpapers with ImageMagick (no downloaded images).
set -euo pipefail
cd "$(dirname "$0")"
W=1920 H=1080
# calm-dusk: deep blue to violet, two soft glows
convert -size ${W}x${H} gradient:'#141a2a'-'#2a2440' \
	\( -size ${W}x${H} xc:none -fill '#3d8bfd40' -draw "circle 1450,300 1450,780" -blur 0x160 \) -composite \
	\( -size ${W}x${H} xc:none -fill '#7a5cff30' -draw "circle 350,900 350,1300" -blur 0x180 \) -composite \
	-depth 8 -define png:compression-level=9 calm-dusk.png
# mist: pale blue-grey morning, for the light theme
convert -size ${W}x${H} gradient:'#e8eef6'-'#cdd8e8' \
	\( -size ${W}x${H} xc:none -fill '#ffffff90' -draw "ellipse 600,350 700,260 0,360" -blur 0x150 \) -composite \
	\( -size ${W}x${H} xc:none -fill '#9fb8dd60' -draw "ellipse 1500,850 600,300 0,360" -blur 0x170 \) -composite \
	-depth 8 -define png:compression-level=9 mist.png
