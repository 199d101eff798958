'use strict';
// mocha's spec output, plus the counts written to $LOCAL_AI_MOCHA_STATS, so that
// scripts/test.mjs can add up exact totals across stages instead of parsing text.
// Skipped tests are listed by full title: the runner fails a skip nobody allowed.
const fs = require('node:fs');
const Mocha = require('mocha');

class TallyReporter extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        const skipped = [];
        runner.on(Mocha.Runner.constants.EVENT_TEST_PENDING, (test) => skipped.push(test.fullTitle()));
        runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
            const file = process.env.LOCAL_AI_MOCHA_STATS;
            if (!file) return;
            const { passes, failures } = runner.stats;
            fs.writeFileSync(file, JSON.stringify({ passes, failures, skipped }));
        });
    }
}

module.exports = TallyReporter;
