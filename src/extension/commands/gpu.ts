/** Enable GPU Acceleration and Disable GPU Acceleration, for the command table (commands/index.ts). */
import type { FetchableGpuBackend } from '../../common/hardware';
import type { CommandRow } from './commandRow';
import type { GpuAcceleration } from '../gpu/gpuAcceleration';

function backendArgument(argument: unknown): FetchableGpuBackend | undefined {
    return argument === 'cuda' || argument === 'vulkan' ? argument : undefined;
}

export function gpuCommands(gpu: GpuAcceleration): CommandRow[] {
    return [
        { id: 'localAi.enableGpu', run: (argument?: unknown) => gpu.enable(backendArgument(argument)) },
        { id: 'localAi.disableGpu', run: () => gpu.disable() },
    ];
}
