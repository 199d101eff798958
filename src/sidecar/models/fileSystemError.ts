/**
 * A refusal of the local file system (the models folder is a file, a name is too long for the disk, no
 * permission, a read-only disk, a link loop) as a typed error with its own exit code, so it never reads
 * as a network failure and never reaches the user as a raw errno stack.
 */
import { ErrorCode, LocalAiError } from '../../common/errors';
import { printable } from '../../common/format';

const MEANINGS: Record<string, string> = {
    ENOTDIR: 'a part of the path is a file, not a folder',
    EEXIST: 'a file is in the way of a folder',
    ENAMETOOLONG: 'a name is too long for this file system',
    EACCES: 'permission denied',
    EPERM: 'the operation is not permitted',
    EROFS: 'the disk is read-only',
    ELOOP: 'the path goes through a loop of symbolic links',
    EISDIR: 'a folder is where a file should be',
};

/** The typed error for a file-system errno, undefined for anything else (the caller keeps its own error then). */
export function fileSystemError(error: unknown, file?: string): LocalAiError | undefined {
    const errno = error as NodeJS.ErrnoException | undefined;
    const meaning = errno?.code ? MEANINGS[errno.code] : undefined;
    if (!meaning) return undefined;
    const where = file ?? errno?.path;
    return new LocalAiError(
        ErrorCode.FileSystemError,
        `The models folder cannot be used${where ? ` at ${printable(where)}` : ''}: ${meaning} (${errno?.code}).`,
        {
            file: where,
            hint: 'Choose a models folder you can write to (--models-dir, LOCAL_AI_MODELS_PATH or localAi.modelsPath).',
        },
    );
}
