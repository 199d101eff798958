/** Commands about the sidecar process itself. */
import type { CommandRow } from './commandRow';
import type { ExtensionServices } from '../services';

export function sidecarCommands({ sidecar, log }: ExtensionServices): CommandRow[] {
    return [
        { id: 'localAi.restartSidecar', run: () => sidecar.restart() },
        { id: 'localAi.showLogs', run: () => log.show() },
    ];
}
