// SPDX-License-Identifier: GPL-2.0-or-later
// The desktop page's boot watchdog (a classic script: it runs even when a module does not).
// desktop.js starts only once its whole module graph (noVNC) has loaded; if one of those
// requests never gets an answer, the page would say "Opening a connection…" forever. After
// BOOT_TIMEOUT_MS without desktop.js having started, the page reloads once; if that load
// stalls too, it says so (data-state="load-failed") instead of reloading in a loop.
// ?boot_timeout_ms=N (1000..60000) shortens the wait for tests.
(function () {
	'use strict';
	var KEY = 'argobox-boot-reloaded';
	var ms = 15000;
	var m = /[?&]boot_timeout_ms=(\d+)/.exec(location.search);
	if (m) {
		ms = Math.min(60000, Math.max(1000, Number(m[1])));
	}
	setTimeout(function () {
		if (window.argobox) {
			sessionStorage.removeItem(KEY);
			return;
		}
		if (!sessionStorage.getItem(KEY)) {
			sessionStorage.setItem(KEY, '1');
			location.reload();
			return;
		}
		sessionStorage.removeItem(KEY);
		var detail = document.getElementById('status-detail');
		if (detail) {
			detail.textContent = 'The page did not finish loading (the server did not answer a request). Reload the page to try again.';
		}
		document.body.dataset.state = 'load-failed';
	}, ms);
})();
