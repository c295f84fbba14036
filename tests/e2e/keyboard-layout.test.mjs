// SPDX-License-Identifier: GPL-2.0-or-later
// Unit tests for web/js/keyboard.js: the browser's keyboard layout as an XKB layout name.

import assert from 'node:assert/strict';
import test from 'node:test';
import { browserLayout, layoutFromLanguage, layoutFromMap, validLayoutName } from '../../web/js/keyboard.js';

// What navigator.keyboard.getLayoutMap() gives for a few keys of each layout.
const MAPS = {
	us: { KeyQ: 'q', KeyW: 'w', KeyZ: 'z', KeyM: 'm', Minus: '-', Semicolon: ';', Quote: "'", Backslash: '\\' },
	gb: { KeyQ: 'q', KeyW: 'w', KeyZ: 'z', KeyM: 'm', Minus: '-', Semicolon: ';', Quote: "'", Backslash: '#' },
	de: { KeyQ: 'q', KeyW: 'w', KeyZ: 'y', KeyM: 'm', Minus: 'ß', Semicolon: 'ö', Quote: 'ä', Backslash: '#' },
	ch: { KeyQ: 'q', KeyW: 'w', KeyZ: 'y', KeyM: 'm', Minus: "'", Semicolon: 'ö', Quote: 'ä', Backslash: '$' },
	fr: { KeyQ: 'a', KeyW: 'z', KeyZ: 'w', KeyM: ',', Minus: ')', Semicolon: 'm', Quote: 'ù', Backslash: '*' },
	be: { KeyQ: 'a', KeyW: 'z', KeyZ: 'w', KeyM: ',', Minus: ')', Semicolon: 'm', Quote: 'ù', Backslash: 'µ' },
	es: { KeyQ: 'q', KeyW: 'w', KeyZ: 'z', KeyM: 'm', Minus: "'", Semicolon: 'ñ', Quote: '´', Backslash: 'ç' },
	ru: { KeyQ: 'й', KeyW: 'ц', KeyZ: 'я', KeyM: 'ь', Minus: '-', Semicolon: 'ж', Quote: 'э', Backslash: '\\' },
};
MAPS.be.KeyM = ';'; // Belgian AZERTY: the M key types ';' not ','

test('layout maps name the layout', () => {
	for (const [want, keys] of Object.entries(MAPS)) {
		assert.equal(layoutFromMap(new Map(Object.entries(keys))), want, want);
	}
	assert.equal(layoutFromMap(new Map()), null, 'an empty map says nothing');
	assert.equal(layoutFromMap(new Map([['KeyQ', 'q'], ['KeyZ', 'y'], ['Minus', '+']])), null, 'unknown QWERTZ');
});

test('languages name a layout', () => {
	assert.equal(layoutFromLanguage('de-DE'), 'de');
	assert.equal(layoutFromLanguage('de-CH'), 'ch');
	assert.equal(layoutFromLanguage('fr-FR'), 'fr');
	assert.equal(layoutFromLanguage('fr-BE'), 'be');
	assert.equal(layoutFromLanguage('en-GB'), 'gb');
	assert.equal(layoutFromLanguage('en-US'), 'us');
	assert.equal(layoutFromLanguage('en'), 'us');
	assert.equal(layoutFromLanguage('pt-BR'), 'br');
	assert.equal(layoutFromLanguage('xx-YY'), null);
	assert.equal(layoutFromLanguage(''), null);
	assert.equal(layoutFromLanguage(undefined), null);
});

test('browserLayout: the layout map first, then the language, then us', async () => {
	const withMap = (keys, language) => ({
		language,
		keyboard: { getLayoutMap: async () => new Map(Object.entries(keys)) },
	});
	assert.deepEqual(await browserLayout(withMap(MAPS.fr, 'en-US')), { layout: 'fr', source: 'layout-map' });
	assert.deepEqual(await browserLayout(withMap(MAPS.us, 'de-DE')), { layout: 'us', source: 'layout-map' });
	assert.deepEqual(await browserLayout({ language: 'de-DE' }), { layout: 'de', source: 'language' });
	const failing = { language: 'en-GB', keyboard: { getLayoutMap: async () => { throw new Error('no focus'); } } };
	assert.deepEqual(await browserLayout(failing), { layout: 'gb', source: 'language' });
	assert.deepEqual(await browserLayout({ language: 'tlh' }), { layout: 'us', source: 'default' });
});

test('every name we can produce is one the session accepts', () => {
	for (const keys of Object.values(MAPS)) {
		assert.ok(validLayoutName(layoutFromMap(new Map(Object.entries(keys)))));
	}
	for (const l of ['de-DE', 'fr-CH', 'es-MX', 'en-IN', 'ar', 'ja']) {
		assert.ok(validLayoutName(layoutFromLanguage(l)), l);
	}
	assert.equal(validLayoutName('de;rm'), false);
	assert.equal(validLayoutName('US'), false);
});
