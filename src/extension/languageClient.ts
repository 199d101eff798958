/**
 * vscode-languageclient, evaluated on first use instead of when the extension loads: it is about half of the
 * bundle, and only the sidecar's start needs it, which comes after activation (#21 §4: activate() ≤ 20 ms).
 */
import type * as LanguageClientModule from 'vscode-languageclient/node';

let loaded: typeof LanguageClientModule | undefined;

export function languageClient(): typeof LanguageClientModule {
    // A require inside a function: esbuild keeps the package in the bundle but runs its module code only here.
    loaded ??= require('vscode-languageclient/node') as typeof LanguageClientModule;
    return loaded;
}
