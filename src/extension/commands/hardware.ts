/**
 * "Local AI: Show Hardware Report": the sidecar's report as a readable Markdown document, with the GPU
 * acceleration offer when there is one, and "Copy for a Bug Report": the same facts as plain text on the
 * clipboard (no paths, no secrets).
 */
import * as os from 'node:os';
import * as vscode from 'vscode';
import { formatBytes } from '../../common/format';
import type { GpuInfo, HardwareReport } from '../../common/hardware';
import { HardwareRequest } from '../../common/protocol';
import { runAction } from '../gpu/gpuAcceleration';
import { BACKEND_NAMES, ENABLE_ACTION, type GpuOfferView } from '../gpu/gpuText';
import type { ExtensionServices } from '../services';
import type { CommandRow } from './commandRow';

/** Read-only documents of this scheme hold the last report; nothing is written to disk. */
export const HARDWARE_REPORT_SCHEME = 'local-ai-hardware';
const REPORT_URI = vscode.Uri.from({ scheme: HARDWARE_REPORT_SCHEME, path: '/Local AI Hardware Report.md' });
const COPY_ACTION = 'Copy for a Bug Report';

function simdText(report: HardwareReport): string {
    const { simd } = report.cpu;
    const found = [simd.avx ? 'AVX' : '', simd.avx2 ? 'AVX2' : '', simd.avx512 ? 'AVX-512' : '', simd.neon ? 'NEON' : ''].filter(Boolean);
    return found.length ? found.join(', ') : 'none of AVX/AVX2/AVX-512/NEON';
}

function gpuState(gpu: GpuInfo): string {
    return gpu.usable ? `usable with ${gpu.backend?.toUpperCase() ?? 'a GPU backend'}` : `not usable: ${gpu.unusableReason ?? 'unknown reason'}`;
}

function summary(report: HardwareReport): string {
    const active = report.backend.active;
    return active === 'cpu' ? 'llama.cpp runs on the CPU.' : `llama.cpp runs on the GPU with ${active.toUpperCase()}.`;
}

/** The facts as label/value pairs, shared by the Markdown and the plain-text versions. */
function sections(report: HardwareReport): { title: string; rows: [string, string][] }[] {
    const { os, cpu, memory, gpus, backend } = report;
    return [
        { title: 'System', rows: [['OS', `${os.distro ?? os.platform} ${os.release} (${os.platform}, ${os.arch})`]] },
        {
            title: 'CPU',
            rows: [
                ['Model', cpu.model],
                ['Cores', `${cpu.physicalCores} physical, ${cpu.logicalCores} logical, ${cpu.mathCores} used for inference`],
                ['SIMD', simdText(report)],
            ],
        },
        {
            title: 'Memory',
            rows: [
                [
                    'RAM',
                    `${formatBytes(memory.totalBytes)} total, ${formatBytes(memory.freeBytes)} free${memory.unified ? ' (unified: shared with the GPU)' : ''}`,
                ],
                ['Swap', memory.swapTotalBytes > 0 ? `${formatBytes(memory.swapTotalBytes)} total, ${formatBytes(memory.swapFreeBytes)} free` : 'none'],
                ['Bandwidth', `about ${Math.round(memory.bandwidthBytesPerSecond / 1e9)} GB/s (estimated)`],
            ],
        },
        {
            title: 'GPUs',
            rows:
                gpus.length === 0
                    ? [['GPU', 'none detected']]
                    : gpus.map((gpu, i): [string, string] => [
                          `GPU ${i + 1}`,
                          `${gpu.vendor} ${gpu.model}, ${formatBytes(gpu.vramTotalBytes)} VRAM${gpu.vramFreeBytes !== undefined ? ` (${formatBytes(gpu.vramFreeBytes)} free)` : ''}, driver ${gpu.driver ?? 'unknown'}; ${gpuState(gpu)}`,
                      ]),
        },
        {
            title: 'llama.cpp',
            rows: [
                ['Runs on', backend.active.toUpperCase()],
                ['Available', backend.available.map((b) => b.toUpperCase()).join(', ')],
                ...(backend.cpuReason ? [['Why the CPU', backend.cpuReason] as [string, string]] : []),
            ],
        },
        ...(report.gpuBackends ? [gpuBackendsSection(report.gpuBackends)] : []),
    ];
}

/** The GPU builds fetched on demand: each with its size and folder, and why the last one asked for did not load. */
function gpuBackendsSection(backends: NonNullable<HardwareReport['gpuBackends']>): { title: string; rows: [string, string][] } {
    const rows = backends.installed.map((installed): [string, string] => [
        BACKEND_NAMES[installed.backend],
        `${installed.packages.join(', ')} ${installed.nodeLlamaCppVersion}, ${formatBytes(installed.sizeBytes)} in ${installed.folder}`,
    ]);
    if (rows.length === 0) rows.push(['Installed', 'none (only the build that ships with the extension)']);
    if (backends.loadFailure) rows.push(['Did not load', backends.loadFailure]);
    if (backends.advice) rows.push(['What to do', backends.advice]);
    return { title: 'GPU backends', rows };
}

function escapeCell(text: string): string {
    return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function reportMarkdown(report: HardwareReport, offer?: GpuOfferView): string {
    const parts = [
        '# Local AI hardware report',
        '',
        `${summary(report)}${report.backend.cpuReason ? ` ${report.backend.cpuReason}` : ''}`,
        '',
        `_Detected ${report.detectedAt}. Run **Local AI: Copy for a Bug Report** to copy a plain-text version._`,
    ];
    if (offer) {
        // Named as the Command Palette lists them: "Try Vulkan Instead" is Enable GPU Acceleration, which now offers Vulkan.
        const titles = offer.actions
            .filter((action) => action.command)
            .map((action) => (action.command === ENABLE_ACTION.command ? ENABLE_ACTION.title : action.title));
        const actions = [...new Set(titles)].map((title) => `**Local AI: ${title}**`);
        parts.push('', `> **GPU acceleration:** ${offer.headline}${actions.length > 0 ? ` Run ${actions.join(' or ')}.` : ''}`);
    }
    for (const section of sections(report)) {
        parts.push(
            '',
            `## ${section.title}`,
            '',
            '| | |',
            '|---|---|',
            ...section.rows.map(([label, value]) => `| ${escapeCell(label)} | ${escapeCell(value)} |`),
        );
    }
    return `${parts.join('\n')}\n`;
}

/**
 * Plain text for an issue: the machine's facts and versions, never a token or the user's home folder (a
 * reason such as a library that failed to load can name a file under it: it reads `~` instead).
 */
export function reportPlainText(report: HardwareReport, versions: { extension: string; vscode: string }, home = os.homedir()): string {
    const lines = [`Local AI ${versions.extension}, VS Code ${versions.vscode}`, summary(report)];
    for (const section of sections(report)) {
        lines.push('', `[${section.title}]`, ...section.rows.map(([label, value]) => `${label}: ${value}`));
    }
    lines.push('', `Detected: ${report.detectedAt}`);
    const text = `${lines.join('\n')}\n`;
    return home.length > 1 ? text.split(home).join('~') : text;
}

/** Serves the last report to the editor and the Markdown preview; refreshed on every Show. */
class HardwareReportProvider implements vscode.TextDocumentContentProvider {
    private readonly changes = new vscode.EventEmitter<vscode.Uri>();
    readonly onDidChange = this.changes.event;
    report: HardwareReport | undefined;
    offer: GpuOfferView | undefined;

    set(report: HardwareReport, offer: GpuOfferView | undefined): void {
        this.report = report;
        this.offer = offer;
        this.changes.fire(REPORT_URI);
    }

    provideTextDocumentContent(): string {
        return this.report
            ? reportMarkdown(this.report, this.offer)
            : '# Local AI hardware report\n\nRun **Local AI: Show Hardware Report** to detect the hardware.\n';
    }

    dispose(): void {
        this.changes.dispose();
    }
}

/**
 * Resolves once an already open report shows `report`: VS Code applies a content provider's change to an open
 * document asynchronously, so opening it again right after `set` could still return the previous text.
 * Call it before `set`. Bounded: an update that never comes leaves the old text, as VS Code would.
 */
function reportShown(report: HardwareReport, offer: GpuOfferView | undefined): Promise<void> {
    const open = vscode.workspace.textDocuments.find((document) => document.uri.toString() === REPORT_URI.toString());
    const text = reportMarkdown(report, offer);
    if (!open || open.getText() === text) return Promise.resolve();
    return new Promise((resolve) => {
        const done = () => {
            subscription.dispose();
            clearTimeout(timer);
            resolve();
        };
        const subscription = vscode.workspace.onDidChangeTextDocument((event) => {
            if (event.document.uri.toString() === REPORT_URI.toString() && event.document.getText() === text) done();
        });
        const timer = setTimeout(done, 5_000);
    });
}

export function hardwareCommands(services: ExtensionServices): CommandRow[] {
    const provider = new HardwareReportProvider();
    services.context.subscriptions.push(
        provider,
        vscode.workspace.registerTextDocumentContentProvider(HARDWARE_REPORT_SCHEME, provider),
        // An open report follows the offer (a fetch ended, the sidecar restarted on it); not every progress tick.
        services.gpu.onDidChange(() => {
            const offer = services.gpu.view;
            if (provider.report && JSON.stringify(offer) !== JSON.stringify(provider.offer)) provider.set(provider.report, offer);
        }),
    );

    const fetchReport = (refresh: boolean) =>
        vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Local AI: detecting hardware…' }, () =>
            services.sidecar.request(HardwareRequest.type, { refresh }),
        );

    const copy = async () => {
        const report = provider.report ?? (await fetchReport(false));
        const extension = (services.context.extension.packageJSON as { version?: string }).version ?? 'unknown';
        await vscode.env.clipboard.writeText(reportPlainText(report, { extension, vscode: vscode.version }));
        void vscode.window.showInformationMessage('Local AI: the hardware report was copied; paste it into your bug report.');
    };

    const show = async () => {
        const report = await fetchReport(true);
        // The offer as of now: a GPU build installed or removed since the last look changes it.
        await services.gpu.refresh();
        const updated = reportShown(report, services.gpu.view);
        provider.set(report, services.gpu.view);
        await updated;
        const document = await vscode.workspace.openTextDocument(REPORT_URI);
        await vscode.languages.setTextDocumentLanguage(document, 'markdown');
        try {
            await vscode.commands.executeCommand('markdown.showPreview', REPORT_URI);
        } catch {
            // Without the built-in Markdown extension the source is still readable.
            await vscode.window.showTextDocument(document, { preview: true });
        }
        const actions = provider.offer?.actions ?? [];
        void vscode.window.showInformationMessage(`Local AI: ${summary(report)}`, ...actions.map((action) => action.title), COPY_ACTION).then((choice) => {
            if (choice === COPY_ACTION) return copy();
            return runAction(actions.find((action) => action.title === choice));
        });
        return document.uri.toString();
    };

    return [
        { id: 'localAi.showHardwareReport', run: show },
        { id: 'localAi.copyHardwareReport', run: copy },
    ];
}
