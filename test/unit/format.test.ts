import * as assert from 'node:assert/strict';
import { formatBytes, formatDuration, printable } from '../../src/common/format';

describe('format', () => {
    it('writes sizes in the largest unit that keeps them above one, so a small model never reads "0.0 GB"', () => {
        assert.equal(formatBytes(6 * 1024 ** 3), '6.0 GB');
        assert.equal(formatBytes(9.1 * 1024 ** 3), '9.1 GB');
        assert.equal(formatBytes(38 * 1024 ** 2), '38 MB');
        assert.equal(formatBytes(300 * 1024), '300 KB');
        assert.equal(formatBytes(300), '300 bytes');
        assert.equal(formatBytes(-5), '0 bytes');
    });

    it('writes durations short enough for the status bar', () => {
        assert.equal(formatDuration(45), '45s');
        assert.equal(formatDuration(80), '1m20s');
        assert.equal(formatDuration(7500), '2h05m');
    });

    it('prints a hostile name on one line, without its escape sequences', () => {
        assert.equal(printable('evil\nInstalled /etc/passwd'), 'evil?Installed /etc/passwd');
        assert.equal(printable('\u001b[2Jred\u007f\u009b\u2028x'), '?[2Jred???x');
        assert.equal(printable('Qwen2.5 Coder · 1.5B ★'), 'Qwen2.5 Coder · 1.5B ★');
    });
});
