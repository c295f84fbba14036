// SPDX-License-Identifier: GPL-2.0-or-later
// The browser's keyboard layout as an XKB layout name, for a desktop that has none yet
// (docs/web.md "Keyboard layout"). Pure functions, tested by tests/e2e/keyboard-layout.test.mjs.
//
// The desktop receives scancodes, so its XKB layout must match the keyboard in front of the
// user. navigator.keyboard.getLayoutMap() (Chromium) says what the keys type: that decides. Where
// it is missing (Firefox, Safari) the browser's language stands in.

// From a layout map (KeyboardEvent.code → the character the key types), or null if unsure.
export function layoutFromMap(map) {
	const k = (code) => map.get(code);
	if (!k('KeyQ')) {
		return null;
	}
	if (k('KeyQ') === 'й') {
		return 'ru';
	}
	if (k('KeyQ') === 'a' && k('KeyW') === 'z') {
		return k('KeyM') === ',' ? 'fr' : 'be';
	}
	if (k('KeyZ') === 'y') {
		// QWERTZ: German (ß on Minus), Swiss (' on Minus), Czech, Hungarian…
		if (k('Minus') === 'ß') {
			return 'de';
		}
		if (k('Minus') === "'") {
			return 'ch';
		}
		return null;
	}
	if (k('Semicolon') === 'ñ') {
		return 'es';
	}
	if (k('Semicolon') === 'ò') {
		return 'it';
	}
	if (k('KeyQ') === 'q' && k('KeyZ') === 'z') {
		if (k('Backslash') === '#') {
			return 'gb'; // UK ISO: # next to Enter
		}
		if (k('Semicolon') === ';' && k('Quote') === "'" && k('Backslash') === '\\') {
			return 'us';
		}
	}
	return null;
}

const BY_LANGUAGE = {
	'en-us': 'us', 'en-gb': 'gb', 'en-ie': 'ie', 'en-au': 'us', 'en-ca': 'us', 'en-in': 'in', en: 'us',
	'de-ch': 'ch', de: 'de',
	'fr-be': 'be', 'fr-ca': 'ca', 'fr-ch': 'ch(fr)', fr: 'fr',
	'es-mx': 'latam', 'es-ar': 'latam', es: 'es',
	'it-ch': 'ch(fr)', it: 'it',
	'pt-br': 'br', pt: 'pt',
	nl: 'us', sv: 'se', da: 'dk', nb: 'no', nn: 'no', no: 'no', fi: 'fi', is: 'is',
	pl: 'pl', cs: 'cz', sk: 'sk', hu: 'hu', ro: 'ro', sl: 'si', hr: 'hr', et: 'ee', lv: 'lv', lt: 'lt',
	ru: 'ru', uk: 'ua', bg: 'bg', el: 'gr', tr: 'tr', he: 'il', ar: 'ara',
	ja: 'jp', ko: 'kr', zh: 'us',
};

// From a BCP 47 language tag ("de-DE", "en-GB"), or null.
export function layoutFromLanguage(lang) {
	if (typeof lang !== 'string' || !lang) {
		return null;
	}
	const tag = lang.toLowerCase().split('-');
	return BY_LANGUAGE[`${tag[0]}-${tag[1] ?? ''}`] ?? BY_LANGUAGE[tag[0]] ?? null;
}

// The layout and where it came from: 'layout-map', 'language' or 'default'.
export async function browserLayout(nav = globalThis.navigator) {
	if (nav?.keyboard?.getLayoutMap) {
		try {
			const layout = layoutFromMap(await nav.keyboard.getLayoutMap());
			if (layout) {
				return { layout, source: 'layout-map' };
			}
		} catch {
			// not focused, or not allowed here: the language decides
		}
	}
	const layout = layoutFromLanguage(nav?.language);
	return layout ? { layout, source: 'language' } : { layout: 'us', source: 'default' };
}

// What the session accepts (session/vnc.c, wm/deskstate.c).
export function validLayoutName(s) {
	return typeof s === 'string' && /^[a-z]{2,12}(\([a-z0-9_]{1,32}\))?$/.test(s);
}
