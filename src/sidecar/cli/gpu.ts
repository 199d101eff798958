/**
 * `local-ai gpu status | enable [--backend cuda|vulkan] | disable`: the GPU backends fetched on demand, as the
 * editor's Enable / Disable GPU Acceleration commands handle them, with the models command's exit codes.
 */
import { formatBytes, printable } from '../../common/format';
import type { GpuFetchProgress, GpuStatus } from '../../common/protocol';
import { label } from '../gpu';
import { disposeServices, type Services } from '../services';
import { defineCommand } from './commandLine';
import { createCliServices } from './context';

interface GpuArgs {
    backend?: 'cuda' | 'vulkan';
    json: boolean;
}

export const gpuCommand = defineCommand(
    {
        name: 'gpu',
        summary: 'Show, fetch or remove the GPU build of llama.cpp (CUDA, Vulkan)',
        positionals: [
            {
                name: 'action',
                required: 'name an action.',
                choiceColumn: 29,
                choices: [
                    { name: 'status', summary: 'installed backends, their sizes and folders, and what llama.cpp runs on' },
                    {
                        name: 'enable',
                        synopsis: '[--backend cuda|vulkan]',
                        summary: 'fetch the backend for this GPU from the npm registry, verified; resumes',
                    },
                    { name: 'disable', summary: 'delete every fetched backend (llama.cpp uses the CPU build again)' },
                ],
            },
        ],
        options: {
            backend: {
                type: 'string',
                value: 'B',
                choices: ['cuda', 'vulkan'],
                description: "cuda (NVIDIA) or vulkan (AMD, Intel, NVIDIA); default: the GPU's",
            },
            json: { type: 'boolean', description: 'print JSON instead of text' },
            'backends-dir': { type: 'string', value: 'D', description: 'backends folder (default: LOCAL_AI_GPU_DIR, else ~/.local-ai/gpu-backends)' },
            verbose: { type: 'boolean', description: 'log details on stderr' },
        },
        optionColumn: 19,
        description: `GPU builds of llama.cpp are node-llama-cpp's packages (@node-llama-cpp/<platform>-<arch>-<backend>, at exactly
the bundled version), fetched from the npm registry, checked against the registry's sha512 integrity before
they are unpacked, and used from the next start. macOS needs none: Metal is part of the build that ships.`,
        footer: `Environment: npm_config_registry (a mirror), HTTPS_PROXY, LOCAL_AI_OFFLINE=1, LOCAL_AI_HARDWARE_PROFILE.

Exit codes:
  0  done            1  unexpected error       2  bad usage, or no GPU to fetch a backend for
  3  a tarball arrived corrupted (nothing was installed, its bytes were deleted)
  5  offline, network or registry failure (a partial tarball is kept)   9  the backends folder is not writable
  130  interrupted (the partial tarball is kept)`,
    },
    async ({ values, positionals }) => {
        const services = createCliServices({ verbose: values.verbose, backendsDir: values['backends-dir'] });
        const args: GpuArgs = { backend: values.backend as GpuArgs['backend'], json: values.json };
        try {
            return await actions[positionals.action](services, args);
        } finally {
            await disposeServices(services);
        }
    },
);

const actions = {
    async status(s: Services, args: GpuArgs): Promise<number> {
        // Whether an installed backend loads is only known once llama.cpp has tried it.
        if ((await s.gpu.folder.installed()).length > 0) await s.llama.get();
        const status = await s.gpu.status();
        process.stdout.write(args.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
        return 0;
    },

    async enable(s: Services, args: GpuArgs): Promise<number> {
        const controller = new AbortController();
        const interrupt = () => controller.abort();
        process.on('SIGINT', interrupt);
        process.on('SIGTERM', interrupt);
        try {
            if (!args.json) {
                const { offer, advice } = await s.gpu.offer(args.backend, controller.signal);
                if (offer) process.stderr.write(`${printable(offer.summary)}\n`);
                if (advice) process.stderr.write(`${printable(advice)}\n`);
            }
            const result = await s.gpu.enable(args.backend, progressPrinter(args.json), controller.signal);
            if (args.json) {
                process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
                return 0;
            }
            const { installed } = result;
            const what = `${label(installed.backend)} (${formatBytes(installed.sizeBytes)}) in ${printable(installed.folder)}`;
            process.stdout.write(result.downloaded ? `Installed ${what}; llama.cpp uses it from the next command.\n` : `Already installed: ${what}\n`);
            return 0;
        } finally {
            process.off('SIGINT', interrupt);
            process.off('SIGTERM', interrupt);
        }
    },

    async disable(s: Services, args: GpuArgs): Promise<number> {
        const result = await s.gpu.disable();
        if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        else if (result.removed.length === 0) process.stdout.write('No GPU backend was installed.\n');
        else for (const folder of result.removed) process.stdout.write(`removed ${printable(folder)}\n`);
        return 0;
    },
} satisfies Record<string, (s: Services, args: GpuArgs) => Promise<number>>;

function formatStatus(status: GpuStatus): string {
    const rows: [string, string][] = [
        ['node-llama-cpp', `${status.nodeLlamaCppVersion} (${status.target})`],
        ['Backends folder', status.backendsPath],
        ['Can fetch', status.fetchable.length > 0 ? status.fetchable.map(label).join(', ') : 'nothing'],
    ];
    if (status.installed.length === 0) rows.push(['Installed', 'none']);
    for (const each of status.installed) rows.push(['Installed', `${label(each.backend)}, ${formatBytes(each.sizeBytes)}, ${each.folder}`]);
    rows.push(['llama.cpp', status.active ? `runs on ${status.active.toUpperCase()}` : 'not started']);
    rows.push(['Status', status.message]);
    const width = Math.max(...rows.map(([name]) => name.length));
    return `${rows.map(([name, value]) => `${name.padEnd(width)}  ${printable(value)}`).join('\n')}\n`;
}

/** One line per phase and per tenth of the download on stderr; nothing with --json. */
function progressPrinter(json: boolean): (progress: GpuFetchProgress) => void {
    let last = '';
    return (p) => {
        if (json) return;
        const tenth = p.totalBytes > 0 ? Math.floor((p.bytes / p.totalBytes) * 10) : 0;
        const line = `${p.phase} ${p.package} ${p.phase === 'download' ? `${tenth * 10}%` : ''}`.trimEnd();
        if (line === last) return;
        last = line;
        process.stderr.write(`${line}  ${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}\n`);
    };
}
