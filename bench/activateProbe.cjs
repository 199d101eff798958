// The extension host's side of bench/activate.bench.ts, loaded as the window's extensionTestsPath (plain
// CommonJS, so it needs no build). It waits for Local AI to be active, then appends one line to
// $LOCAL_AI_ACTIVATE_PROBE_OUT: the extension host's own performance marks around loading the bundle
// (module evaluation included) and around activate(), and the activationMs the extension exports.
// The extension host records those marks whoever triggers the activation (onStartupFinished or this probe).
const fs = require('node:fs');
const vscode = require('vscode');

const EXTENSION_ID = 'local-ai.local-ai';

/** The span between two of the extension host's marks, in ms (Date.now() resolution), if both were recorded. */
function span(marks, from, to) {
    const start = marks.find((mark) => mark.name === `${from}/${EXTENSION_ID}`);
    const end = marks.find((mark) => mark.name === `${to}/${EXTENSION_ID}`);
    return start && end ? end.startTime - start.startTime : null;
}

exports.run = async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    if (!extension) throw new Error(`${EXTENSION_ID} is not installed in this extension host`);
    const activatedByProbe = !extension.isActive;
    const api = await extension.activate();
    const marks = globalThis.MonacoPerformanceMarks?.getMarks() ?? [];
    const sample = {
        activatedByProbe,
        loadMs: span(marks, 'code/extHost/willLoadExtensionCode', 'code/extHost/didLoadExtensionCode'),
        activateMs: span(marks, 'code/extHost/willActivateExtension', 'code/extHost/didActivateExtension'),
        exportedActivationMs: api.activationMs,
    };
    fs.appendFileSync(process.env.LOCAL_AI_ACTIVATE_PROBE_OUT, `${JSON.stringify(sample)}\n`);
};
