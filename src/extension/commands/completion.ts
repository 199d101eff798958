/** Toggle Code Completion and Snooze for 5 Minutes, for the command table (commands/index.ts). */
import type { CompletionState } from '../completion/completionState';
import type { CommandRow } from './commandRow';

export function completionCommands(state: CompletionState): CommandRow[] {
    return [
        { id: 'localAi.snoozeCompletion', run: () => state.snooze() },
        { id: 'localAi.toggleCompletion', run: () => state.toggle() },
    ];
}
