// The tests that may be skipped, each with the reason; any other skipped test fails `npm test`
// (scripts/test.mjs), so a test cannot quietly stop running. Matched against mocha's full title.

/** @type {{ title: RegExp, why: string, allowedInCi: boolean }[]} */
export const ALLOWED_SKIPS = [
    {
        title: /the disk fills up mid-download/,
        why: 'it mounts a small tmpfs, which needs root; CI runs as root, so there it must run',
        allowedInCi: false,
    },
];

/**
 * The skipped tests no entry allows, with why each one fails the run.
 * @param {string[]} skipped full titles
 * @param {{ ci?: boolean }} [options] ci: default process.env.CI
 * @returns {{ title: string, why: string }[]}
 */
export function unexpectedSkips(skipped, { ci = Boolean(process.env.CI) } = {}) {
    return skipped.flatMap((title) => {
        const allowed = ALLOWED_SKIPS.find((entry) => entry.title.test(title));
        if (!allowed) return [{ title, why: 'no entry in scripts/allowed-skips.mjs allows this skip' }];
        if (ci && !allowed.allowedInCi) return [{ title, why: `allowed outside CI only (${allowed.why})` }];
        return [];
    });
}
