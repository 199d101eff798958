'use strict';
// mocha's spec output, plus the counts written to $LOCAL_AI_MOCHA_STATS, so that
// scripts/test.mjs can add up exact totals across stages instead of parsing text.
const fs = require('node:fs');
const Mocha = require('mocha');

class TallyReporter extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
            const file = process.env.LOCAL_AI_MOCHA_STATS;
            if (!file) return;
            const { passes, failures, pending } = runner.stats;
            fs.writeFileSync(file, JSON.stringify({ passes, failures, pending }));
        });
    }
}

module.exports = TallyReporter;
